-- Payments API (Givinga-compatible, contract part B): payments accounts, the partner number the
-- tokens and customers carry, and customers.

-- The Payments API identifies a partner by a number (JWT `partnerId`, Customer.partnerId).
CREATE TABLE payments_partners (
  partner_id text PRIMARY KEY REFERENCES partners (id),
  number     integer GENERATED ALWAYS AS IDENTITY UNIQUE
);

-- An account (acct_...) is what a partner authenticates as. Its secret key is the HMAC key of
-- authenticate, so it must be recoverable: stored sealed, never in plain text. Processor secrets
-- (a Stripe secret key) are sealed the same way.
CREATE TABLE payments_accounts (
  id                    text PRIMARY KEY,
  partner_id            text NOT NULL REFERENCES partners (id),
  environment           text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  processor             text NOT NULL CHECK (processor IN ('sandbox', 'stripe')),
  description           text,
  secret_sealed         text NOT NULL,
  public_key            text NOT NULL,
  processor_secret_sealed text,
  is_active             boolean NOT NULL DEFAULT true,
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_accounts_partner_idx ON payments_accounts (partner_id, created_at);

-- Customers carry the processor's id (cus_...): the sandbox makes its own, Stripe's are Stripe's.
CREATE TABLE payment_customers (
  id                        text PRIMARY KEY,
  account_id                text NOT NULL REFERENCES payments_accounts (id),
  first_name                text,
  last_name                 text,
  email                     text,
  external_id               text,
  default_payment_method_id text,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL
);
CREATE UNIQUE INDEX payment_customers_external_idx ON payment_customers (account_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX payment_customers_list_idx ON payment_customers (account_id, created_at, id);
