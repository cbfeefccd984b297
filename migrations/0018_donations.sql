-- Donation links (contract A8.3): a partner's widget or backend asks for a link to donate to a
-- nonprofit of the directory; the donation it stands for is tracked here until it completes, fails
-- or is abandoned, and its reward (a DONATION action for the donor and the referrer) is given once.
CREATE TABLE donations (
  id                  text PRIMARY KEY,            -- partnerDonationId
  partner_id          text NOT NULL REFERENCES partners (id),
  environment         text NOT NULL CHECK (environment IN ('sandbox', 'production')),
  organization_id     integer NOT NULL REFERENCES organizations (id),
  provider            text NOT NULL CHECK (provider IN ('stripe', 'every.org')),
  frequency           text NOT NULL CHECK (frequency IN ('once', 'monthly')),
  amount              bigint NOT NULL CHECK (amount > 0),
  tip                 bigint NOT NULL DEFAULT 0 CHECK (tip >= 0),
  currency            text NOT NULL,
  donor_email         text,
  first_name          text,
  last_name           text,
  external_user_id    text,
  referral_code       text,
  success_url         text,
  cancel_url          text,
  metadata            jsonb NOT NULL DEFAULT '{}',
  link_url            text NOT NULL,
  status              text NOT NULL CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  failure_reason      text,
  checkout_session_id text UNIQUE,
  provider_ref        text,                        -- Every.org's chargeId
  reward_status       text NOT NULL DEFAULT 'none' CHECK (reward_status IN ('none', 'pending', 'done', 'failed')),
  action_id           text,
  tokens_awarded      bigint,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  completed_at        timestamptz
);
CREATE INDEX donations_partner_idx ON donations (partner_id, environment, created_at DESC);
-- The sweep's two questions: which open stripe donations may have been paid, which rewards are owed.
CREATE INDEX donations_open_idx ON donations (created_at) WHERE status IN ('PENDING', 'FAILED') AND checkout_session_id IS NOT NULL;
CREATE INDEX donations_reward_pending_idx ON donations (completed_at) WHERE reward_status = 'pending';
