-- The Stripe processor: Stripe webhook events, and the Stripe ids our rows are found by when an
-- event arrives. Customers, payment methods, setup and payment intents, checkout sessions,
-- subscriptions, products and prices of a Stripe account keep Stripe's own id as their id, so
-- only what has no Stripe twin of its own needs a reference column.

-- One row per Stripe event id, written in the same transaction as the event's effect: a second
-- delivery of the event (Stripe retries, or delivers concurrently) finds the row and changes
-- nothing. Events that change nothing (unknown types, objects we do not know) are kept too, so
-- their redelivery is answered the same way.
CREATE TABLE stripe_events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  livemode    boolean NOT NULL,
  account_id  text REFERENCES payments_accounts (id),
  -- What the event did: applied, ignored (unknown type) or unmatched (no row of ours).
  outcome     text NOT NULL CHECK (outcome IN ('applied', 'ignored', 'unmatched')),
  received_at timestamptz NOT NULL
);
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at);

-- The Stripe PaymentIntent that took a charge's money; events about it settle, fail or refund it.
ALTER TABLE charges ADD COLUMN processor_ref text;
CREATE UNIQUE INDEX charges_processor_ref_idx ON charges (processor_ref) WHERE processor_ref IS NOT NULL;

-- The Stripe invoice a subscription period was billed by; invoice.paid records each one once.
ALTER TABLE subscription_invoices ADD COLUMN processor_ref text;
CREATE UNIQUE INDEX subscription_invoices_processor_ref_idx ON subscription_invoices (processor_ref) WHERE processor_ref IS NOT NULL;

-- Stripe's hosted page of a checkout session (the sandbox serves its own page instead).
ALTER TABLE checkout_sessions ADD COLUMN processor_url text;
