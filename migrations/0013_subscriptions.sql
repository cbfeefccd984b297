-- Subscriptions (contract B6.9): recurring donations billed every interval by the account's clock
-- (the partner's sandbox clock in the sandbox), with recurring or one-time tips, pause and resume,
-- cancellation now, at a time or at the period's end, and prorated item changes.
CREATE TABLE subscriptions (
  id                    text PRIMARY KEY,
  account_id            text NOT NULL REFERENCES payments_accounts (id),
  customer_id           text NOT NULL REFERENCES payment_customers (id),
  currency              text NOT NULL,
  interval              text NOT NULL CHECK (interval IN ('day', 'week', 'month', 'year')),
  items                 jsonb NOT NULL,
  amount                bigint NOT NULL CHECK (amount > 0),
  tip                   bigint NOT NULL DEFAULT 0 CHECK (tip >= 0),
  tip_interval          text CHECK (tip_interval IN ('day', 'week', 'month', 'year')),
  one_time_tip          bigint NOT NULL DEFAULT 0 CHECK (one_time_tip >= 0),
  payment_method_id     text NOT NULL,
  donation              jsonb NOT NULL,
  status                text NOT NULL CHECK (status IN ('active', 'past_due', 'canceled')),
  paused                boolean NOT NULL DEFAULT false,
  resumes_at            timestamptz,
  cancel_at_period_end  boolean NOT NULL DEFAULT false,
  cancel_at             timestamptz,
  proration_behaviour   text NOT NULL DEFAULT 'create_proration' CHECK (proration_behaviour IN ('none', 'always_invoice', 'create_proration')),
  -- A prorated change waiting for the next invoice (negative: a credit).
  pending_proration     bigint NOT NULL DEFAULT 0,
  start_date            timestamptz NOT NULL,
  current_period_start  timestamptz NOT NULL,
  current_period_end    timestamptz NOT NULL,
  ended_at              timestamptz,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);
CREATE INDEX subscriptions_customer_idx ON subscriptions (customer_id, created_at, id);
CREATE INDEX subscriptions_account_idx ON subscriptions (account_id, created_at, id);
CREATE INDEX subscriptions_due_idx ON subscriptions (current_period_end) WHERE status <> 'canceled';

-- One row per billing of a period: paid (with its charge), failed, or void (paused).
CREATE TABLE subscription_invoices (
  id              text PRIMARY KEY,
  subscription_id text NOT NULL REFERENCES subscriptions (id),
  period_start    timestamptz NOT NULL,
  period_end      timestamptz NOT NULL,
  amount          bigint NOT NULL,
  tip             bigint NOT NULL,
  proration       bigint NOT NULL DEFAULT 0,
  status          text NOT NULL CHECK (status IN ('paid', 'failed', 'void', 'pending')),
  charge_id       text,
  created_at      timestamptz NOT NULL,
  UNIQUE (subscription_id, period_start, status)
);
CREATE INDEX subscription_invoices_sub_idx ON subscription_invoices (subscription_id, created_at);
