-- The expiry sweep looks for a partner's grants that still hold tokens and are past their expiry.
-- Without an index it read every token transaction the partner ever had, on every sweep. Only live
-- grants that can expire are indexed, so the index stays as small as what is left to expire, and
-- rewards from pools without expiry add nothing to it.
CREATE INDEX token_transactions_expiry_idx ON token_transactions (partner_id, environment, expires_at)
  WHERE type = 'CREDIT' AND remaining > 0 AND expires_at IS NOT NULL;
