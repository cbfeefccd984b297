import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PoolWithBalance } from './pools.repo.js';
import { poolQuietRange, poolReactsTo } from './pools.balance.js';

/**
 * poolQuietRange() is what optimistic reward batches are checked against; it must be exactly the
 * balances at which afterPoolBalanceChange() does nothing. The reference below is that function's
 * rules written out one by one: a refill under the refill threshold, an alert on a downward crossing,
 * the alert cleared on the way back up, DEPLETED at zero and ACTIVE again above it.
 */
function reactsByTheRules(pool: PoolWithBalance, balance: bigint): boolean {
  if (pool.auto_refill_enabled && BigInt(pool.auto_refill_amount) > 0n && balance < BigInt(pool.auto_refill_threshold)) return true;
  const threshold = BigInt(pool.low_balance_threshold);
  if (threshold > 0n && balance < threshold && !pool.low_balance_alerted) return true;
  if (balance >= threshold && pool.low_balance_alerted) return true;
  if (balance === 0n && pool.status === 'ACTIVE') return true;
  if (balance > 0n && pool.status === 'DEPLETED') return true;
  return false;
}

const small = fc.bigInt({ min: 0n, max: 40n });
const poolArb = fc.record({
  auto_refill_enabled: fc.boolean(),
  auto_refill_amount: small,
  auto_refill_threshold: small,
  low_balance_threshold: small,
  low_balance_alerted: fc.boolean(),
  status: fc.constantFrom('ACTIVE', 'DEPLETED', 'EXPIRED', 'CLOSED', 'PENDING_APPROVAL'),
}) as unknown as fc.Arbitrary<PoolWithBalance>;

test('a pool reacts to a balance exactly when the rules say so, and never inside its quiet range', () => {
  fc.assert(
    fc.property(poolArb, fc.bigInt({ min: 0n, max: 50n }), (pool, balance) => {
      assert.equal(poolReactsTo(pool, balance), reactsByTheRules(pool, balance));
      const range = poolQuietRange(pool);
      const inside = range !== null && balance >= range.min && (range.max === null || balance <= range.max);
      assert.equal(inside, !reactsByTheRules(pool, balance));
    }),
    { numRuns: 3000 },
  );
});
