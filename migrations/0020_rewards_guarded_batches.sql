-- Reward submission batches are written in one statement that checks, as it writes, that the rows
-- the batch was decided against are unchanged (the pool balance, the campaign and per-user spend
-- rows, the idempotency keys still free). When a check fails the statement must not commit any
-- part of the batch: this raises a serialization failure, which aborts the statement, and the
-- batch is decided again under row locks.
CREATE FUNCTION rewards_batch_guard(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'reward batch decided against changed rows: %', what USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN true;
END
$$;
