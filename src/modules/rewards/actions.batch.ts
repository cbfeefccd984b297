import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { writeEvents, type OutboxEvent } from '../../platform/outbox/outbox.js';
import type { NormalizedAction } from './actions.input.js';
import { usersRepo } from '../users/users.repo.js';
import type { CampaignRow, Scope } from './actions.repo.js';
import { batchRepo, keyTaken } from './actions.batch.repo.js';
import type { WriteChecks } from './actions.batch.write.js';
import { batchOutcomes, decideBatch, type BatchWrites } from './actions.decide.js';
import { batchDependencies, planBatch, type BatchPlan, type SubmitOutcome } from './actions.plan.js';
import { afterPoolBalanceChange, poolQuietRange } from './pools.balance.js';
import type { PoolWithBalance } from './pools.repo.js';

export type { SubmitOutcome } from './actions.plan.js';

const SERIALIZATION_FAILURE = '40001';
const DEADLOCK = '40P01';
const MAX_REMEMBERED_USERS = 200_000;

const lostRace = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return code === SERIALIZATION_FAILURE || code === DEADLOCK || keyTaken(err);
};

type Versioned<T> = T & { version: string };

/** What the last batch of a partner and environment left behind, as this process wrote it. */
interface ScopeState {
  /** ACTIVE, unarchived campaigns: the set a campaign is picked from. */
  running: Versioned<CampaignRow>[];
  defaultPoolId: string | null;
  /** Every pool the running campaigns and the default pool draw on. */
  pools: Map<string, Versioned<PoolWithBalance>>;
}

const scopeKey = (scope: Scope) => `${scope.partnerId}|${scope.environment}`;

/**
 * Submission batches of one process: each batch of one partner and environment is one database
 * transaction, and each submission still gets its own outcome (recorded, a duplicate of an earlier
 * request, or rejected).
 *
 * The usual batch is one statement, one round trip, no explicit transaction: it is decided in memory
 * against the state the previous batch of the same partner left (the running campaigns, the pools,
 * the users' ids), and its one write checks that what the decisions rest on still holds
 * (rewards_batch_guard in batchRepo.write): the campaigns' rules and the running set unchanged, and
 * for balances and budgets only what the decisions need. A granted reward needs the pool to end at
 * zero or more (and where no refill, alert or status change follows), and its campaign within budget;
 * only a refusal for want of tokens or budget needs the exact balance or budget it saw. So other
 * processes drawing on the same pool do not make each other's batches fail. When a check fails (a
 * reversal, a refill, a campaign edit, another process near a limit) the batch is decided again under
 * row locks and the state is read afresh. What is not remembered (a first batch, a user not seen yet,
 * a named campaign that is not running, per-user caps) is read first, in one more round trip. Batches
 * that create users, or that move a pool across a refill or alert threshold, go the locked way at
 * once: those steps need the transaction around them.
 *
 * Idempotency keys are not looked up on the usual way: the write claims them through the unique
 * index, which refuses a key used before, so a retried request costs its batch the locked way.
 */
export class SubmitBatches {
  private readonly states = new Map<string, ScopeState>();
  /** (partner, environment, externalUserId) -> user id. Users are never deleted or renamed. */
  private readonly userIds = new Map<string, string>();

  constructor(private readonly db: Kysely<Database>) {}

  async run(scope: Scope, actions: NormalizedAction[], now: Date): Promise<SubmitOutcome[]> {
    const key = scopeKey(scope);
    const externalIds = [...new Set(actions.flatMap((a) => a.stakeholders.map((s) => s.partnerUserId)))];
    const unknownUsers = externalIds.filter((e) => !this.userIds.has(`${key}|${e}`));
    const remembered = this.states.get(key);
    const explicit = [...new Set(actions.map((a) => a.campaignId).filter((c): c is string => c !== null))];
    const capped = remembered?.running.some((c) => c.per_user_cap !== null) ?? false;
    const needsRead = !remembered || capped || unknownUsers.length > 0 || explicit.some((id) => !remembered.running.some((c) => c.id === id));

    let state: ScopeState;
    let campaigns: Versioned<CampaignRow>[];
    let spend: { campaign_id: string; user_id: string; spent: bigint }[] = [];
    if (needsRead) {
      // The users are read with the rest, for the per-user spend rows of capped campaigns (read for
      // every batch while a capped campaign runs, never remembered).
      const read = await batchRepo.snapshot(this.db, scope, [], externalIds, explicit, now);
      for (const u of read.users) this.remember(key, u.external_user_id, u.id);
      state = {
        running: read.campaigns.filter((c) => c.status === 'ACTIVE' && c.archived_at === null),
        defaultPoolId: read.defaultPoolId,
        pools: new Map(read.pools.map((p) => [p.id, p])),
      };
      this.states.set(key, state);
      campaigns = read.campaigns;
      spend = read.spend;
    } else {
      state = remembered;
      campaigns = remembered.running;
    }
    const users = externalIds.flatMap((e) => {
      const id = this.userIds.get(`${key}|${e}`);
      return id ? [{ id, external_user_id: e }] : [];
    });
    const plan = planBatch(actions, { existing: [], users, campaigns, defaultPoolId: state.defaultPoolId }, now);
    const writes = plan.toCreate.size === 0 ? decideBatch(plan, { campaigns, pools: [...state.pools.values()], spend }, now) : null;
    const checks = writes && this.checksFor(state, plan, writes);
    if (writes && checks) {
      try {
        await batchRepo.write(this.db, scope, writes, now, checks);
        this.advance(state, writes, now);
        return batchOutcomes(actions, plan, writes.actions.map((d) => d.row));
      } catch (err) {
        if (!lostRace(err)) throw err;
      }
    }
    this.states.delete(key);
    const outcomes = await this.db.transaction().execute((trx) => submitLocked(trx, scope, actions, now));
    return outcomes;
  }

  /**
   * What the write must find for decisions made on remembered state: the running campaigns and the
   * default pool unchanged, and each pool the batch draws on ending where nothing follows from its
   * new balance (refill, alert, status change), whatever else drew on it meanwhile. Null when a pool
   * would end outside that range: the batch then goes the locked way, where those follow-ups run.
   */
  private checksFor(state: ScopeState, plan: BatchPlan, writes: BatchWrites): WriteChecks | null {
    const poolRanges = new Map<string, { min: bigint; max: bigint | null }>();
    for (const [id, after] of writes.poolsAfter) {
      const pool = state.pools.get(id)!;
      if (after === pool.balance) continue;
      const range = poolQuietRange(pool);
      if (!range || after < range.min || (range.max !== null && after > range.max)) return null;
      poolRanges.set(id, range);
    }
    const checks: WriteChecks = { running: state.running.map((c) => ({ id: c.id, version: c.version })), poolRanges };
    if (plan.decided.some((w) => !plan.chosen.get(w.index)?.token_pool_id)) checks.defaultPoolId = state.defaultPoolId;
    return checks;
  }

  private remember(key: string, externalId: string, userId: string) {
    if (this.userIds.size >= MAX_REMEMBERED_USERS) this.userIds.delete(this.userIds.keys().next().value!);
    this.userIds.set(`${key}|${externalId}`, userId);
  }

  /** The state after a batch this process wrote: new balances and budgets (versions do not change). */
  private advance(state: ScopeState, writes: BatchWrites, now: Date) {
    // By what the batch spent, not the balance it arrived at: with more than one batch in flight,
    // another may have been decided on the same state and advanced it meanwhile.
    for (const d of writes.poolDeltas) {
      const pool = state.pools.get(d.poolId)!;
      state.pools.set(d.poolId, { ...pool, balance: BigInt(pool.balance) + d.delta, debits_total: BigInt(pool.debits_total) - d.delta });
    }
    const units = new Map(writes.campaigns.filter((c) => c.units > 0n).map((c) => [c.id, c.units]));
    state.running = state.running.map((c) => {
      const spent = units.get(c.id);
      return spent === undefined ? c : { ...c, budget_spent: BigInt(c.budget_spent) + spent, updated_at: now };
    });
  }
}

/**
 * The locked way: read, create the users the batch needs, lock the campaigns, pool accounts and spend
 * rows it goes through (in the one order every writer uses), decide against the locked values, write,
 * and run what a pool's new balance sets off (refill, alerts, status) in the same transaction.
 */
async function submitLocked(trx: Transaction<Database>, scope: Scope, actions: NormalizedAction[], now: Date): Promise<SubmitOutcome[]> {
  const snapshot = await batchRepo.snapshot(
    trx,
    scope,
    [...new Set(actions.map((a) => a.idempotencyKey))],
    [...new Set(actions.flatMap((a) => a.stakeholders.map((s) => s.partnerUserId)))],
    [...new Set(actions.map((a) => a.campaignId).filter((c): c is string => c !== null))],
    now,
  );
  const plan = planBatch(actions, snapshot, now);
  if (plan.toCreate.size > 0) {
    await usersRepo.insertMany(trx, scope, [...plan.toCreate.values()]);
    // Another writer may have created some of them first: read back the ids that won.
    for (const u of await usersRepo.findMany(trx, scope, [...plan.toCreate.keys()])) plan.userIds.set(u.external_user_id, u.id);
  }
  const deps = batchDependencies(plan);
  const locked = await batchRepo.lock(trx, deps.campaignIds, deps.poolIds, deps.capped, [...plan.userIds.values()]);
  const writes = decideBatch(plan, locked, now);
  await batchRepo.write(trx, scope, writes, now);
  const followUps: OutboxEvent[] = [];
  for (const pool of locked.pools) {
    const after = writes.poolsAfter.get(pool.id);
    if (after !== undefined && after !== pool.balance) await afterPoolBalanceChange(trx, pool, after, now, followUps);
  }
  // Pool alerts and refills are rare; their events follow in their own statement.
  await writeEvents(trx, followUps);
  return batchOutcomes(actions, plan, writes.actions.map((d) => d.row));
}
