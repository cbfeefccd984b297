-- Webhook endpoints (contract A8.9). Secrets are stored sealed (SecretBox, purpose-bound), never in
-- plain text. During a rotation the previous secret keeps signing until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
  id                         text PRIMARY KEY,
  partner_id                 text NOT NULL REFERENCES partners (id),
  environment                text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  url                        text NOT NULL CHECK (char_length(url) <= 2048),
  description                text,
  event_types                jsonb NOT NULL DEFAULT '[]',
  receive_all_events         boolean NOT NULL DEFAULT false,
  headers                    jsonb NOT NULL DEFAULT '{}',
  secret_sealed              text NOT NULL,
  previous_secret_sealed     text,
  previous_secret_expires_at timestamptz,
  is_active                  boolean NOT NULL DEFAULT true,
  disabled_reason            text,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_list_idx ON webhook_endpoints (partner_id, environment, created_at DESC, id DESC);
