-- Payments API catalogue: products and prices (contract B6.8) and Stripe Connect accounts that take
-- a partner's cut (B6.11).
CREATE TABLE payment_products (
  id         text PRIMARY KEY,
  account_id text NOT NULL REFERENCES payments_accounts (id),
  name       text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX payment_products_list_idx ON payment_products (account_id, created_at, id);

CREATE TABLE payment_prices (
  id                 text PRIMARY KEY,
  account_id         text NOT NULL REFERENCES payments_accounts (id),
  product_id         text NOT NULL REFERENCES payment_products (id),
  currency           text NOT NULL,
  unit_amount        bigint NOT NULL CHECK (unit_amount > 0),
  type               text NOT NULL CHECK (type IN ('one_time', 'recurring')),
  recurring_interval text CHECK (recurring_interval IN ('day', 'week', 'month', 'year')),
  is_custom_amount   boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL,
  CHECK ((type = 'recurring') = (recurring_interval IS NOT NULL))
);
CREATE INDEX payment_prices_product_idx ON payment_prices (product_id, created_at, id);

-- The cut is kept in basis points so 2.5 % is exact; the API shows percentageCut as a number.
CREATE TABLE connected_accounts (
  id           text PRIMARY KEY,
  account_id   text NOT NULL REFERENCES payments_accounts (id),
  cut_bps      integer NOT NULL CHECK (cut_bps BETWEEN 0 AND 10000),
  description  text,
  is_default   boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL
);
CREATE INDEX connected_accounts_account_idx ON connected_accounts (account_id, created_at, id);
-- At most one default per payments account: the one charges pay the partner's cut to.
CREATE UNIQUE INDEX connected_accounts_default_idx ON connected_accounts (account_id) WHERE is_default;
