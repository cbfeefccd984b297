-- Idempotency-Key on Payments API writes that move money: the first request with a key records
-- its answer in the same transaction as its effect; a retry with the same body gets that answer
-- back, a different body with the same key is refused.
CREATE TABLE payments_idempotency (
  account_id   text NOT NULL REFERENCES payments_accounts (id),
  key          text NOT NULL,
  request_hash text NOT NULL,
  status_code  integer NOT NULL,
  response     jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, key)
);
