-- Employer match requests (matchRequested on a donation): requested -> approved | declined, and an
-- approved request -> paid, when the employer's master account pays the same amount to the same
-- destination.
CREATE TABLE match_requests (
  id             text PRIMARY KEY,
  account_id     text NOT NULL REFERENCES payments_accounts (id),
  charge_id      text NOT NULL UNIQUE,
  customer_id    text,
  amount         bigint NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  destination    jsonb NOT NULL,
  employer_ref   text,
  status         text NOT NULL CHECK (status IN ('requested', 'approved', 'declined', 'paid')),
  decline_reason text,
  ledger_transaction_id text,
  created_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  paid_at        timestamptz
);
CREATE INDEX match_requests_account_idx ON match_requests (account_id, status, created_at);
