-- Payments API money movement: payment methods, setup and payment intents, and charges.

-- Cards are pm_..., bank accounts ba_... (contract B6.10). A sandbox method remembers which test
-- outcome it stands for (the card number or pm_card_* id it came from), so charges behave like
-- Stripe's test mode. Deleting a method detaches it; charges keep pointing at it.
CREATE TABLE payment_methods (
  id               text PRIMARY KEY,
  account_id       text NOT NULL REFERENCES payments_accounts (id),
  customer_id      text REFERENCES payment_customers (id),
  type             text NOT NULL CHECK (type IN ('card', 'us_bank_account')),
  card_brand       text,
  card_last4       text,
  card_exp_month   integer,
  card_exp_year    integer,
  bank_name        text,
  bank_last4       text,
  bank_routing     text,
  -- Bank accounts: new -> verified | verification_failed (3 wrong tries lock it). Cards: active.
  status           text NOT NULL CHECK (status IN ('active', 'new', 'verified', 'verification_failed')),
  verify_attempts  integer NOT NULL DEFAULT 0,
  sandbox_outcome  text,
  billing_details  jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL,
  detached_at      timestamptz
);
CREATE INDEX payment_methods_customer_idx ON payment_methods (customer_id, created_at, id) WHERE detached_at IS NULL;

CREATE TABLE setup_intents (
  id                text PRIMARY KEY,
  account_id        text NOT NULL REFERENCES payments_accounts (id),
  customer_id       text REFERENCES payment_customers (id),
  client_secret     text NOT NULL,
  status            text NOT NULL CHECK (status IN ('requires_payment_method', 'requires_action', 'succeeded', 'canceled')),
  payment_method_id text,
  last_error        jsonb,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);

-- The donation a payment intent, checkout session or subscription charge is for: destination,
-- flags, free text and metadata (contract B4), kept as one document because nothing queries inside it.
CREATE TABLE payment_intents (
  id                     text PRIMARY KEY,
  account_id             text NOT NULL REFERENCES payments_accounts (id),
  customer_id            text REFERENCES payment_customers (id),
  client_secret          text NOT NULL,
  amount                 bigint NOT NULL CHECK (amount > 0),
  tip                    bigint NOT NULL DEFAULT 0 CHECK (tip >= 0),
  currency               text NOT NULL,
  status                 text NOT NULL CHECK (status IN ('requires_payment_method', 'requires_action', 'processing', 'succeeded', 'canceled')),
  payment_method_id      text,
  persist_payment_method boolean NOT NULL DEFAULT false,
  donation               jsonb NOT NULL,
  charge_id              text,
  last_error             jsonb,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL
);
CREATE INDEX payment_intents_customer_idx ON payment_intents (customer_id, created_at, id);

-- One row per attempt to take money. Amounts in the currency's minor units: gross = fee +
-- partner_cut + tip + destination_amount. A failed charge moves no money and has no ledger
-- transaction; a succeeded one has exactly one.
CREATE TABLE charges (
  id                     text PRIMARY KEY,
  account_id             text NOT NULL REFERENCES payments_accounts (id),
  customer_id            text REFERENCES payment_customers (id),
  payment_intent_id      text,
  payment_method_id      text NOT NULL,
  method_type            text NOT NULL CHECK (method_type IN ('card', 'us_bank_account')),
  currency               text NOT NULL,
  amount                 bigint NOT NULL CHECK (amount > 0),
  tip                    bigint NOT NULL CHECK (tip >= 0),
  gross                  bigint NOT NULL,
  fee                    bigint NOT NULL,
  partner_cut            bigint NOT NULL,
  destination_amount     bigint NOT NULL,
  connected_account_id   text,
  status                 text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
  failure_code           text,
  failure_message        text,
  donation               jsonb NOT NULL,
  ledger_transaction_id  text,
  refunded_amount        bigint NOT NULL DEFAULT 0,
  settles_at             timestamptz,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  CHECK (gross = fee + partner_cut + tip + destination_amount)
);
CREATE INDEX charges_customer_idx ON charges (customer_id, created_at, id);
CREATE INDEX charges_settling_idx ON charges (settles_at) WHERE status = 'pending';

-- Money accounts of the payments ledger. Ids are deterministic per (account, currency) like the
-- token accounts, e.g. "pay:clearing:<acct>:USD".
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN (
  'POOL', 'WALLET', 'ISSUANCE', 'ALLOCATION', 'REDEMPTION', 'EXPIRED',
  'PAYMENTS_CLEARING', 'PROCESSOR_FEES', 'PARTNER_CUT', 'PLATFORM_TIPS', 'DESTINATION'
));
