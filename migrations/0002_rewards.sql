-- Rewards: a double-entry ledger, token pools, campaigns, actions, partner-facing token
-- transactions (which double as the grants that vest and expire), stakeholder types and the outbox.

-- A partner's sandbox can run ahead of real time so vesting, expiry and schedules can be tried out.
ALTER TABLE partners ADD COLUMN sandbox_clock_offset_ms bigint NOT NULL DEFAULT 0;

-- ---------------------------------------------------------------- ledger
-- Account ids are deterministic ("pool:<id>", "wallet:<userId>", "issuance:<partner>:<env>") so a
-- batch of postings can be written without first looking ids up.
CREATE TABLE ledger_accounts (
  id             text PRIMARY KEY,
  partner_id     text REFERENCES partners (id),
  environment    text CHECK (environment IN ('sandbox', 'production')),
  kind           text NOT NULL CHECK (kind IN ('POOL', 'WALLET', 'ISSUANCE', 'ALLOCATION', 'REDEMPTION', 'EXPIRED')),
  asset          text NOT NULL,
  balance        bigint NOT NULL DEFAULT 0,
  -- Lifetime sums, kept with the balance: a wallet's lifetime earnings, a pool's distributions.
  credits_total  bigint NOT NULL DEFAULT 0,
  debits_total   bigint NOT NULL DEFAULT 0,
  -- Only issuance accounts (where tokens come into existence) may go below zero.
  allow_negative boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (allow_negative OR balance >= 0),
  CHECK (balance = credits_total - debits_total)
);
CREATE INDEX ledger_accounts_partner_idx ON ledger_accounts (partner_id, environment, kind);

CREATE TABLE ledger_transactions (
  id          text PRIMARY KEY,
  partner_id  text,
  environment text CHECK (environment IN ('sandbox', 'production')),
  kind        text NOT NULL,
  reference   text,
  created_at  timestamptz NOT NULL
);

-- Append-only. A posting adds `amount` to its account's balance; a transaction's postings sum to
-- zero per asset (written that way by the ledger module and proven by the ledger check).
--
-- The append-only tables on the reward hot path (ledger transactions and postings, actions, token
-- transactions, outbox events) carry no foreign keys: each row is written by the engine in the same
-- transaction as the rows it refers to, and a foreign-key check per row (an index probe and a
-- KEY SHARE lock on hot parent rows such as the pool) cost more than the rest of the insert. The
-- ledger check reports any posting whose account or transaction is missing.
CREATE TABLE ledger_postings (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id text NOT NULL,
  account_id     text NOT NULL,
  asset          text NOT NULL,
  amount         bigint NOT NULL CHECK (amount <> 0),
  created_at     timestamptz NOT NULL
);
CREATE INDEX ledger_postings_account_idx ON ledger_postings (account_id, created_at, id);

-- ---------------------------------------------------------------- rewards configuration
CREATE TABLE stakeholder_types (
  partner_id text NOT NULL REFERENCES partners (id),
  code       text NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]{0,39}$'),
  name       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partner_id, code)
);

CREATE TABLE token_pools (
  id                    text PRIMARY KEY,
  partner_id            text NOT NULL REFERENCES partners (id),
  environment           text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  name                  text NOT NULL,
  status                text NOT NULL CHECK (status IN ('PENDING_APPROVAL', 'ACTIVE', 'DEPLETED', 'EXPIRED', 'CLOSED')),
  account_id            text NOT NULL UNIQUE REFERENCES ledger_accounts (id),
  vesting_days          integer CHECK (vesting_days >= 0),
  grant_expiry_days     integer CHECK (grant_expiry_days > 0),
  expires_at            timestamptz,
  redemption_rules      jsonb,
  auto_refill_enabled   boolean NOT NULL DEFAULT false,
  auto_refill_threshold bigint NOT NULL DEFAULT 0 CHECK (auto_refill_threshold >= 0),
  auto_refill_amount    bigint NOT NULL DEFAULT 0 CHECK (auto_refill_amount >= 0),
  low_balance_threshold bigint NOT NULL DEFAULT 0 CHECK (low_balance_threshold >= 0),
  -- Set when token_pool.low_balance was emitted, cleared when the balance rises above the
  -- threshold again: one event per crossing.
  low_balance_alerted   boolean NOT NULL DEFAULT false,
  created_at            timestamptz NOT NULL,
  updated_at            timestamptz NOT NULL
);
CREATE INDEX token_pools_partner_idx ON token_pools (partner_id, environment, status, created_at);

CREATE TABLE token_pool_requests (
  id            text PRIMARY KEY,
  partner_id    text NOT NULL REFERENCES partners (id),
  environment   text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  token_pool_id text REFERENCES token_pools (id),
  amount        bigint NOT NULL CHECK (amount > 0),
  reason        text,
  status        text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'DECLINED')),
  decided_at    timestamptz,
  decision_note text,
  created_at    timestamptz NOT NULL
);
CREATE INDEX token_pool_requests_status_idx ON token_pool_requests (status, created_at);

CREATE TABLE campaigns (
  id             text PRIMARY KEY,
  partner_id     text NOT NULL REFERENCES partners (id),
  environment    text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  name           text NOT NULL,
  description    text,
  status         text NOT NULL CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'ENDED')),
  -- A campaign switched to ACTIVE before its start date waits as DRAFT and starts on schedule.
  auto_start     boolean NOT NULL DEFAULT false,
  action_types   jsonb NOT NULL,
  multiplier_bp  bigint NOT NULL CHECK (multiplier_bp > 0),
  tiers          jsonb NOT NULL DEFAULT '[]',
  splits         jsonb NOT NULL DEFAULT '[]',
  starts_at      timestamptz,
  ends_at        timestamptz,
  timezone       text NOT NULL DEFAULT 'UTC',
  budget_total   bigint CHECK (budget_total > 0),
  budget_spent   bigint NOT NULL DEFAULT 0 CHECK (budget_spent >= 0),
  per_user_cap   bigint CHECK (per_user_cap > 0),
  token_pool_id  text REFERENCES token_pools (id),
  priority       integer NOT NULL DEFAULT 0,
  archived_at    timestamptz,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  CHECK (budget_total IS NULL OR budget_spent <= budget_total),
  CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX campaigns_partner_idx ON campaigns (partner_id, environment, status, priority DESC);

CREATE TABLE campaign_user_spend (
  campaign_id text NOT NULL REFERENCES campaigns (id),
  user_id     text NOT NULL REFERENCES partner_users (id),
  spent       bigint NOT NULL CHECK (spent >= 0),
  PRIMARY KEY (campaign_id, user_id)
);

-- ---------------------------------------------------------------- actions
CREATE TABLE actions (
  id                 text PRIMARY KEY,
  partner_id         text NOT NULL,
  environment        text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  idempotency_key    text NOT NULL,
  -- SHA-256 of the canonical request: a retry must match it exactly to get the original result.
  request_hash       text NOT NULL,
  action_type        text NOT NULL,
  amount_minor       bigint NOT NULL,
  currency           text NOT NULL,
  status             text NOT NULL CHECK (status IN ('COMPLETED', 'FAILED', 'PARTIALLY_REVERSED', 'REVERSED')),
  campaign_id        text,
  token_pool_id      text,
  tokens_distributed bigint NOT NULL DEFAULT 0,
  tokens_reversed    bigint NOT NULL DEFAULT 0,
  -- [{stakeholderTypeCode, partnerUserId, userId, units, transactionId}]
  stakeholders       jsonb NOT NULL,
  ledger_transaction_id text,
  metadata           jsonb NOT NULL DEFAULT '{}',
  failure_code       text,
  failure_message    text,
  reversed_at        timestamptz,
  created_at         timestamptz NOT NULL,
  UNIQUE (partner_id, environment, idempotency_key),
  CHECK (tokens_reversed <= tokens_distributed)
);
CREATE INDEX actions_list_idx ON actions (partner_id, environment, created_at DESC, id DESC);

CREATE TABLE action_reversals (
  id                    text PRIMARY KEY,
  action_id             text NOT NULL REFERENCES actions (id),
  partner_id            text NOT NULL REFERENCES partners (id),
  environment           text NOT NULL,
  idempotency_key       text,
  request_hash          text NOT NULL,
  requested_units       bigint NOT NULL CHECK (requested_units > 0),
  reversed_units        bigint NOT NULL CHECK (reversed_units >= 0),
  shortfall_units       bigint NOT NULL DEFAULT 0 CHECK (shortfall_units >= 0),
  forced                boolean NOT NULL DEFAULT false,
  reason                text,
  ledger_transaction_id text REFERENCES ledger_transactions (id),
  created_at            timestamptz NOT NULL,
  UNIQUE (action_id, idempotency_key)
);

-- Partner-facing token movements of one user (A8.6). CREDIT rows are also the grants: `remaining`
-- is what is left of them, spent and expired oldest first; `available_at` is when vesting ends.
CREATE TABLE token_transactions (
  id                    text PRIMARY KEY,
  partner_id            text NOT NULL,
  environment           text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  user_id               text NOT NULL,
  external_user_id      text NOT NULL,
  action_id             text,
  stakeholder_type_code text,
  type                  text NOT NULL CHECK (type IN ('CREDIT', 'REVERSAL', 'REDEMPTION', 'EXPIRY')),
  amount                bigint NOT NULL CHECK (amount > 0),
  remaining             bigint NOT NULL DEFAULT 0 CHECK (remaining >= 0 AND remaining <= amount),
  available_at          timestamptz,
  expires_at            timestamptz,
  status                text NOT NULL CHECK (status IN ('COMPLETED', 'PENDING', 'REVERSED')),
  token_pool_id         text,
  campaign_id           text,
  ledger_transaction_id text NOT NULL,
  -- Redemptions carry the caller's idempotency key and a fingerprint of what was asked.
  idempotency_key       text,
  request_hash          text,
  reason                text,
  created_at            timestamptz NOT NULL
);
CREATE UNIQUE INDEX token_transactions_idempotency_idx ON token_transactions (partner_id, environment, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX token_transactions_list_idx ON token_transactions (partner_id, environment, created_at DESC, id DESC);
CREATE INDEX token_transactions_user_idx ON token_transactions (user_id, created_at DESC, id DESC);
CREATE INDEX token_transactions_action_idx ON token_transactions (action_id);

-- ---------------------------------------------------------------- outbox
-- Every event is written here in the same transaction as the change it reports; delivery reads it.
CREATE TABLE outbox_events (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Random 96-bit ids; a unique index would cost every event an index insert for nothing.
  id          text NOT NULL,
  partner_id  text NOT NULL,
  environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  type        text NOT NULL,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX outbox_events_partner_idx ON outbox_events (partner_id, environment, seq);
