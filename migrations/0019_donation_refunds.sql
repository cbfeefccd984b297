-- A refunded donation gives its reward back: the refund's own transaction marks the reversal as
-- owed, and it is then carried out once (the reversal is keyed by the donation), whoever runs it.
ALTER TABLE donations ADD COLUMN refunded_at timestamptz;
ALTER TABLE donations ADD COLUMN reversal_status text NOT NULL DEFAULT 'none'
  CHECK (reversal_status IN ('none', 'pending', 'done', 'failed'));
CREATE INDEX donations_reversal_pending_idx ON donations (refunded_at) WHERE reversal_status = 'pending';
