-- Partners, their portal logins, API keys, partner users and API usage.
-- Account-level rows (partners, portal users) span both environments; everything a key can reach
-- carries partner_id and environment so one key never sees the other environment's data.

CREATE TABLE partners (
  id               text PRIMARY KEY,
  name             text NOT NULL,
  slug             text NOT NULL UNIQUE,
  status           text NOT NULL DEFAULT 'PENDING_APPROVAL'
                   CHECK (status IN ('PENDING_APPROVAL', 'ACTIVE', 'SUSPENDED')),
  tier             text NOT NULL DEFAULT 'STANDARD'
                   CHECK (tier IN ('STANDARD', 'PROFESSIONAL', 'ENTERPRISE')),
  rate_limit       integer NOT NULL CHECK (rate_limit > 0),
  enabled_features jsonb NOT NULL DEFAULT '["ACTIONS", "DONATIONS"]',
  tip_config       jsonb NOT NULL DEFAULT '{"enabled": true, "defaultPercent": 10}',
  webhook_url      text,
  contact_email    text,
  ip_allowlist     jsonb NOT NULL DEFAULT '[]',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_users (
  id                   text PRIMARY KEY,
  partner_id           text NOT NULL REFERENCES partners (id),
  email                text NOT NULL UNIQUE CHECK (email = lower(email)),
  name                 text,
  password_hash        text NOT NULL,
  failed_login_count   integer NOT NULL DEFAULT 0,
  last_failed_login_at timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX portal_users_partner_idx ON portal_users (partner_id);

CREATE TABLE api_keys (
  id                 text PRIMARY KEY,
  partner_id         text NOT NULL REFERENCES partners (id),
  environment        text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  name               text NOT NULL,
  publishable_key    text NOT NULL UNIQUE,
  -- Only a SHA-256 of the secret key is kept: it is 256 random bits, so a slow hash adds nothing.
  secret_key_hash    text NOT NULL UNIQUE,
  secret_key_last4   text NOT NULL,
  -- AES-256-GCM under the master key; NULL marks a legacy pair whose sk_ value is the HMAC key.
  hmac_secret_sealed text,
  is_active          boolean NOT NULL DEFAULT true,
  expires_at         timestamptz,
  revoked_at         timestamptz,
  last_used_at       timestamptz,
  created_by         text REFERENCES portal_users (id),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_partner_idx ON api_keys (partner_id, created_at);

CREATE TABLE partner_users (
  id               text PRIMARY KEY,
  partner_id       text NOT NULL REFERENCES partners (id),
  environment      text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  external_user_id text NOT NULL,
  email            text,
  first_name       text,
  last_name        text,
  metadata         jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (partner_id, environment, external_user_id)
);
CREATE INDEX partner_users_list_idx ON partner_users (partner_id, environment, created_at DESC, id DESC);

-- Aggregated in memory and flushed in batches, so counting never sits on a request's path.
CREATE TABLE api_usage_daily (
  partner_id        text NOT NULL REFERENCES partners (id),
  environment       text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  day               date NOT NULL,
  method            text NOT NULL,
  route             text NOT NULL,
  status_code       integer NOT NULL,
  request_count     bigint NOT NULL,
  total_duration_ms bigint NOT NULL,
  PRIMARY KEY (partner_id, environment, day, method, route, status_code)
);
