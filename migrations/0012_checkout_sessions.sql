-- Checkout sessions (contract B6.4): what the hosted checkout page sells, where it sends the donor
-- afterwards, and the payment intent it pays through, so a checkout charge takes the same path
-- (split, ledger, declines) as any other. Line items are kept as one document: they are only ever
-- shown and summed, never queried.
CREATE TABLE checkout_sessions (
  id                 text PRIMARY KEY,
  account_id         text NOT NULL REFERENCES payments_accounts (id),
  customer_id        text REFERENCES payment_customers (id),
  mode               text NOT NULL CHECK (mode IN ('payment', 'subscription')),
  currency           text NOT NULL,
  line_items         jsonb NOT NULL,
  amount             bigint NOT NULL CHECK (amount > 0),
  tip                bigint NOT NULL DEFAULT 0 CHECK (tip >= 0),
  tip_interval       text CHECK (tip_interval IN ('day', 'week', 'month', 'year')),
  success_url        text NOT NULL,
  cancel_url         text NOT NULL,
  payment_method_id  text,
  -- The donation fields as the partner sent them; the payment intent validates them again.
  donation           jsonb NOT NULL,
  status             text NOT NULL CHECK (status IN ('open', 'complete')),
  payment_intent_id  text,
  created_at         timestamptz NOT NULL,
  -- By the partner's sandbox clock, so an expired page can be tried without waiting a day.
  expires_at         timestamptz NOT NULL,
  completed_at       timestamptz
);
CREATE INDEX checkout_sessions_account_idx ON checkout_sessions (account_id, created_at);
