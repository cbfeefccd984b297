-- The rewards bridge: a succeeded donation through the Payments API rewards the donor with tokens
-- (a DONATION action) when the account has it on and the customer's externalId names a partner user;
-- a full refund reverses it. Jobs are written in the charge's or refund's own transaction and run by
-- the worker, so a reward is never lost and, keyed by the charge, never given twice.
ALTER TABLE payments_accounts ADD COLUMN donation_rewards boolean NOT NULL DEFAULT false;

CREATE TABLE donation_reward_jobs (
  charge_id   text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('reward', 'reverse')),
  account_id  text NOT NULL REFERENCES payments_accounts (id),
  status      text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  action_id   text,
  last_error  text,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (charge_id, kind)
);
CREATE INDEX donation_reward_jobs_pending_idx ON donation_reward_jobs (created_at) WHERE status = 'pending';
