-- Webhook delivery: fan-out of outbox events to subscribed endpoints, a work queue of deliveries and
-- a log of every attempt.

-- Outbox rows are read in (xid, seq) order and only below the oldest transaction still running, so a
-- transaction that commits late can never be skipped by a reader that moved past a higher seq.
ALTER TABLE outbox_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_events_xid_idx ON outbox_events (xid, seq);

-- How far fan-out has read the outbox. One row; the fan-out holds an advisory lock while it moves it.
CREATE TABLE webhook_fanout_cursor (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  xid       xid8 NOT NULL,
  seq       bigint NOT NULL
);
INSERT INTO webhook_fanout_cursor (singleton, xid, seq) VALUES (true, '0', 0);

-- Delivery health, kept on the endpoint so the disable rules and the dashboard read one row.
ALTER TABLE webhook_endpoints
  ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
  ADD COLUMN failing_since        timestamptz,
  ADD COLUMN last_success_at      timestamptz,
  ADD COLUMN last_failure_at      timestamptz,
  ADD COLUMN disabled_at          timestamptz;

-- One row per (endpoint, event). status PENDING waits for next_attempt_at; DELIVERING is claimed by a
-- dispatcher until next_attempt_at (the lease), after which any dispatcher may claim it again.
CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY,
  endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  partner_id       text NOT NULL,
  environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  event_id         text NOT NULL,
  event_type       text NOT NULL,
  event_created_at timestamptz NOT NULL,
  -- The event's data is read from the outbox row, or from payload for events that never enter the
  -- outbox (webhook.test goes to one endpoint only).
  outbox_seq       bigint,
  payload          jsonb,
  status           text NOT NULL CHECK (status IN ('PENDING', 'DELIVERING', 'SUCCEEDED', 'FAILED')),
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  next_attempt_at  timestamptz,
  claim_token      text,
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_latency_ms  integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  CHECK (outbox_seq IS NOT NULL OR payload IS NOT NULL)
);
-- Fan-out inserts with ON CONFLICT DO NOTHING: an event reaches an endpoint once, whatever happens.
CREATE UNIQUE INDEX webhook_deliveries_event_idx ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('PENDING', 'DELIVERING');
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id   text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  endpoint_id   text NOT NULL,
  attempted_at  timestamptz NOT NULL,
  succeeded     boolean NOT NULL,
  status_code   integer,
  latency_ms    integer NOT NULL,
  error         text
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, attempted_at);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
