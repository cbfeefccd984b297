/**
 * A pool's side of the ledger: the accounts a partner's tokens move through, funding transactions,
 * and what a change of a pool's balance sets off (refill, alerts, status), shared by pool funding,
 * reward batches and reversals.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database, Environment } from '../../platform/db/schema.js';
import { objectId } from '../../platform/crypto/ids.js';
import { newEvent, type OutboxEvent } from '../../platform/outbox/outbox.js';
import { accountIds, ledgerRepo, postTransactions, TOKEN_ASSET } from '../ledger/index.js';
import { formatTokens } from './distribution.js';
import { poolsRepo, type PoolWithBalance } from './pools.repo.js';

type Trx = Transaction<Database>;
type Scope = { partnerId: string; environment: Environment };

export function fundingTx(scope: Scope, kind: string, fromAccount: string, toAccount: string, units: bigint, reference: string, at: Date) {
  return {
    id: objectId(at),
    partnerId: scope.partnerId,
    environment: scope.environment,
    kind,
    reference,
    createdAt: at,
    postings: [
      { accountId: fromAccount, asset: TOKEN_ASSET, amount: -units },
      { accountId: toAccount, asset: TOKEN_ASSET, amount: units },
    ],
  };
}

export async function ensurePartnerAccounts(trx: Trx | Kysely<Database>, scope: Scope) {
  const { partnerId, environment } = scope;
  await ledgerRepo.ensureAccounts(trx, [
    { id: accountIds.issuance(partnerId, environment, TOKEN_ASSET), partnerId, environment, kind: 'ISSUANCE', asset: TOKEN_ASSET, allowNegative: true },
    { id: accountIds.allocation(partnerId, environment, TOKEN_ASSET), partnerId, environment, kind: 'ALLOCATION', asset: TOKEN_ASSET },
    { id: accountIds.redemption(partnerId, environment, TOKEN_ASSET), partnerId, environment, kind: 'REDEMPTION', asset: TOKEN_ASSET },
    { id: accountIds.expired(partnerId, environment, TOKEN_ASSET), partnerId, environment, kind: 'EXPIRED', asset: TOKEN_ASSET },
  ]);
}

/**
 * The balances at which afterPoolBalanceChange() has nothing to do (no refill, no alert crossing, no
 * status change): from `min` to `max` (null: no upper bound); null when there are none. Reward batches
 * written optimistically, in one statement, stay inside it and have the statement check that the
 * pool really ends inside it; afterPoolBalanceChange() returns early inside it, so the two cannot
 * disagree.
 */
export function poolQuietRange(pool: PoolWithBalance): { min: bigint; max: bigint | null } | null {
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  let min = 0n;
  let top: bigint | null = null;
  const lower = (v: bigint) => (top = top === null || v < top ? v : top);
  const refillThreshold = BigInt(pool.auto_refill_threshold);
  if (pool.auto_refill_enabled && BigInt(pool.auto_refill_amount) > 0n) min = max(min, refillThreshold);
  const threshold = BigInt(pool.low_balance_threshold);
  if (pool.low_balance_alerted) lower(threshold - 1n);
  else if (threshold > 0n) min = max(min, threshold);
  if (pool.status === 'ACTIVE') min = max(min, 1n);
  if (pool.status === 'DEPLETED') lower(0n);
  return top !== null && top < min ? null : { min, max: top };
}

/** Whether afterPoolBalanceChange() has anything to do at this balance. */
export function poolReactsTo(pool: PoolWithBalance, balance: bigint): boolean {
  const quiet = poolQuietRange(pool);
  return quiet === null || balance < quiet.min || (quiet.max !== null && balance > quiet.max);
}

/**
 * What a change of a pool's balance sets off, inside the same database transaction: auto-refill
 * from the partner's allocation when the balance falls under the refill threshold, then one
 * token_pool.low_balance per downward crossing of the alert threshold, token_pool.depleted at zero,
 * and the DEPLETED/ACTIVE status that follows the balance. Returns the balance after refill.
 */
export async function afterPoolBalanceChange(trx: Trx, pool: PoolWithBalance, balance: bigint, now: Date, events: OutboxEvent[]): Promise<bigint> {
  if (!poolReactsTo(pool, balance)) return balance;
  const scope = { partnerId: pool.partner_id, environment: pool.environment };
  let current = balance;
  const refillThreshold = BigInt(pool.auto_refill_threshold);
  const refillAmount = BigInt(pool.auto_refill_amount);
  if (pool.auto_refill_enabled && refillAmount > 0n && current < refillThreshold) {
    const allocationId = accountIds.allocation(pool.partner_id, pool.environment, TOKEN_ASSET);
    const [available] = (await ledgerRepo.lockAccounts(trx, [allocationId])).values();
    const units = available === undefined ? 0n : available < refillAmount ? available : refillAmount;
    if (units > 0n) {
      const balances = await postTransactions(trx, [fundingTx(scope, 'REFILL', allocationId, pool.account_id, units, pool.id, now)]);
      current = balances.get(pool.account_id) ?? current + units;
    }
  }
  const threshold = BigInt(pool.low_balance_threshold);
  const patch: Record<string, unknown> = {};
  if (threshold > 0n && current < threshold && !pool.low_balance_alerted) {
    patch.low_balance_alerted = true;
    events.push(
      newEvent(pool.partner_id, pool.environment, 'token_pool.low_balance', {
        tokenPoolId: pool.id,
        balance: formatTokens(current),
        threshold: formatTokens(threshold),
        environment: pool.environment,
      }, now),
    );
  } else if (current >= threshold && pool.low_balance_alerted) {
    patch.low_balance_alerted = false;
  }
  if (current === 0n && pool.status === 'ACTIVE') {
    patch.status = 'DEPLETED';
    events.push(newEvent(pool.partner_id, pool.environment, 'token_pool.depleted', { tokenPoolId: pool.id, environment: pool.environment }, now));
  } else if (current > 0n && pool.status === 'DEPLETED') {
    patch.status = 'ACTIVE';
  }
  if (Object.keys(patch).length > 0) await poolsRepo.update(trx, pool.id, { ...patch, updated_at: now });
  return current;
}
