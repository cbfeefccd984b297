-- A delivery's latest attempt, when it succeeded, is recorded on the delivery row only (last_attempt_at,
-- last_status_code, last_latency_ms, delivered_at), not also as a webhook_attempts row: a delivery that
-- succeeds at its first attempt, nearly every one, then costs one row update instead of an update and an
-- insert. webhook_attempts keeps every failed attempt, and a success once a later attempt follows it (a
-- manual retry writes it there before queuing the new attempt). The attempt log of a delivery is its
-- attempt rows plus, when it is SUCCEEDED, the success on its row.

-- Health counts the successes on delivery rows by their time, per endpoint.
CREATE INDEX webhook_deliveries_succeeded_idx ON webhook_deliveries (endpoint_id, last_attempt_at) WHERE status = 'SUCCEEDED';

-- Attempt rows written before this that say the same as their delivery's row would be counted twice.
DELETE FROM webhook_attempts a
USING webhook_deliveries d
WHERE d.status = 'SUCCEEDED'
  AND a.delivery_id = d.id
  AND a.succeeded
  AND a.attempted_at = d.last_attempt_at
  AND a.id = (SELECT max(x.id) FROM webhook_attempts x WHERE x.delivery_id = d.id);
