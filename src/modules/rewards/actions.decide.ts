import { objectId } from '../../platform/crypto/ids.js';
import type { StoredStakeholder } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { accountIds, assertBalanced, TOKEN_ASSET } from '../ledger/index.js';
import { applyPerUserCap, campaignRule, judge, planReward, type CampaignRule, type PoolState } from './actions.engine.js';
import type { NormalizedAction } from './actions.input.js';
import type { CampaignRow, NewActionRow } from './actions.repo.js';
import type { BatchPlan, SubmitOutcome } from './actions.plan.js';
import { actionRow } from './actions.row.js';
import type { PoolWithBalance } from './pools.repo.js';

/**
 * The decisions of one submission batch as pure functions over what the database said, so the two
 * ways a batch is written (optimistic, validated in its one statement, and under row locks) decide
 * exactly alike. Steps 1-3 (duplicates, users, campaigns) are planBatch in actions.plan.ts.
 */

const DAY_MS = 86_400_000;

/** The state the decisions run against: read under lock, or read unlocked and validated on write. */
export interface HotState {
  campaigns: (CampaignRow & { version: string })[];
  pools: (PoolWithBalance & { version: string })[];
  spend: { campaign_id: string; user_id: string; spent: bigint }[];
}

/** One decided action as stored, and what its grants need: the pool account it debits, vesting and expiry. */
export interface DecidedAction {
  row: NewActionRow;
  poolAccount: string | null;
  availableAt: Date | null;
  expiresAt: Date | null;
}

/**
 * What a batch writes. The action rows carry everything else: each stakeholder entry with a
 * transactionId is a credit (a token transaction, a wallet posting and a transaction.completed
 * event), each action with a ledger transaction debits its pool, each action has its
 * action.completed or action.failed event. batchRepo.write derives those rows in SQL.
 */
export interface BatchWrites {
  actions: DecidedAction[];
  /**
   * Every pool account the batch drew on or was refused by: its net change (negative, or 0 when
   * every action on it failed), the balance it was decided against, and whether the decisions depend
   * on that exact balance (an action refused for want of tokens). Otherwise they only need the pool
   * not to go below zero: granted rewards stay right whatever else draws on the pool meanwhile.
   */
  poolDeltas: { poolId: string; accountId: string; delta: bigint; expected: bigint; exact: boolean }[];
  /**
   * Every campaign the batch went through: what it spent, the version and spent budget decided
   * against, and whether the decisions depend on that exact budget (an action refused for budget).
   */
  campaigns: { id: string; units: bigint; spentBefore: bigint; version: string; exact: boolean }[];
  /** Per-user spend of capped campaigns: `expected` null when there was no row yet. */
  userSpend: { campaignId: string; userId: string; units: bigint; expected: bigint | null }[];
  /** Pool rows (status, expiry, vesting) the decisions read, with their versions. */
  poolVersions: { id: string; version: string }[];
  /** Pool balance after the batch, per pool id. */
  poolsAfter: Map<string, bigint>;
}

const byKey = <T>(key: (t: T) => string) => (x: T, y: T) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0);

/** Step 5: every action decided in arrival order against the running balances and budgets. */
export function decideBatch(plan: BatchPlan, state: HotState, now: Date): BatchWrites {
  const { userIds } = plan;
  const rules = new Map<string, CampaignRule>(state.campaigns.map((r) => [r.id, campaignRule(r)]));
  const pools = new Map<string, PoolWithBalance & { version: string }>(state.pools.map((p) => [p.id, p]));
  const poolState = new Map<string, PoolState>(
    state.pools.map((p) => [p.id, { id: p.id, accountId: p.account_id, status: p.status, expiresAt: p.expires_at, balance: BigInt(p.balance) }]),
  );
  const spent = new Map<string, bigint>();
  for (const r of state.spend) spent.set(`${r.campaign_id}:${r.user_id}`, r.spent);
  const spentBefore = new Map(spent);

  const actions: DecidedAction[] = [];
  const campaignSpend = new Map<string, bigint>();
  const exactPools = new Set<string>();
  const exactCampaigns = new Set<string>();
  const userSpend = new Map<string, { campaignId: string; userId: string; units: bigint }>();
  const usedPools = new Set<string>();
  for (const w of plan.decided) {
    const a = w.action;
    const campaign = plan.chosen.get(w.index);
    const rule = campaign ? (rules.get(campaign.id) ?? null) : null;
    if (rule) campaignSpend.set(rule.id, campaignSpend.get(rule.id) ?? 0n);
    const poolId = plan.poolOf(w);
    const pool = poolId ? (poolState.get(poolId) ?? null) : null;
    if (pool) usedPools.add(pool.id);
    const userSpent = new Map<string, bigint>();
    if (rule && rule.perUserCap !== null) {
      for (const uid of userIds.values()) {
        const v = spent.get(`${rule.id}:${uid}`);
        if (v !== undefined) userSpent.set(uid, v);
      }
    }
    const reward = applyPerUserCap(planReward(a, rule), rule, (ext) => userIds.get(ext), userSpent);
    const verdict = judge(reward, rule, pool, now);
    const id = objectId(now);
    if (!verdict.ok) {
      if (verdict.code === 'INSUFFICIENT_POOL' && pool) exactPools.add(pool.id);
      if (verdict.code === 'CAMPAIGN_BUDGET_EXHAUSTED' && rule) exactCampaigns.add(rule.id);
      const row = actionRow(a, id, 'FAILED', rule, pool, 0n, [], null, verdict.code, verdict.message, now, userIds);
      actions.push({ row, poolAccount: null, availableAt: null, expiresAt: null });
      continue;
    }
    const given = reward.allocations.filter((al) => al.units > 0n);
    const ledgerTxId = given.length > 0 && pool ? objectId(now) : null;
    const creditIds = ledgerTxId ? given.map(() => objectId(now)) : [];
    let grant: Omit<DecidedAction, 'row'> = { poolAccount: null, availableAt: null, expiresAt: null };
    if (ledgerTxId && pool) {
      // The ledger transaction written for this action: the pool pays exactly what the wallets get.
      assertBalanced({
        id: ledgerTxId,
        postings: [
          { accountId: pool.accountId, asset: TOKEN_ASSET, amount: -reward.distributedUnits },
          ...given.map((al) => ({ accountId: accountIds.wallet(userIds.get(al.partnerUserId)!), asset: TOKEN_ASSET, amount: al.units })),
        ],
      });
      pool.balance -= reward.distributedUnits;
      const poolRow = pools.get(pool.id)!;
      grant = {
        poolAccount: pool.accountId,
        availableAt: new Date(now.getTime() + (poolRow.vesting_days ?? 0) * DAY_MS),
        expiresAt: poolRow.grant_expiry_days ? new Date(now.getTime() + poolRow.grant_expiry_days * DAY_MS) : null,
      };
      if (rule) {
        rule.budgetSpent += reward.distributedUnits;
        campaignSpend.set(rule.id, campaignSpend.get(rule.id)! + reward.distributedUnits);
        if (rule.perUserCap !== null) {
          for (const al of given) {
            const uid = userIds.get(al.partnerUserId)!;
            const k = `${rule.id}:${uid}`;
            spent.set(k, (spent.get(k) ?? 0n) + al.units);
            const e = userSpend.get(k) ?? { campaignId: rule.id, userId: uid, units: 0n };
            e.units += al.units;
            userSpend.set(k, e);
          }
        }
      }
    }
    let c = 0;
    const stakeholders: StoredStakeholder[] = reward.allocations.map((al) => ({
      stakeholderTypeCode: al.stakeholderTypeCode,
      partnerUserId: al.partnerUserId,
      userId: userIds.get(al.partnerUserId) ?? null,
      units: al.units.toString(),
      transactionId: al.units > 0n && ledgerTxId ? creditIds[c++]! : null,
    }));
    actions.push({ row: actionRow(a, id, 'COMPLETED', rule, pool, reward.distributedUnits, stakeholders, ledgerTxId, null, null, now, userIds), ...grant });
  }

  const poolDeltas = new Map<string, bigint>();
  for (const id of [...usedPools].sort()) poolDeltas.set(poolState.get(id)!.accountId, 0n);
  for (const d of actions) if (d.poolAccount) poolDeltas.set(d.poolAccount, poolDeltas.get(d.poolAccount)! - d.row.tokens_distributed);
  const poolOfAccount = new Map(state.pools.map((p) => [p.account_id, p]));
  const campaignOf = new Map(state.campaigns.map((c) => [c.id, c]));
  const poolsAfter = new Map<string, bigint>();
  for (const id of usedPools) poolsAfter.set(id, poolState.get(id)!.balance);
  return {
    actions,
    poolDeltas: [...poolDeltas]
      .map(([accountId, delta]) => {
        const pool = poolOfAccount.get(accountId)!;
        return { poolId: pool.id, accountId, delta, expected: BigInt(pool.balance), exact: exactPools.has(pool.id) };
      })
      .sort(byKey((p) => p.accountId)),
    campaigns: [...campaignSpend]
      .map(([id, units]) => ({
        id,
        units,
        spentBefore: BigInt(campaignOf.get(id)!.budget_spent),
        version: campaignOf.get(id)!.version,
        exact: exactCampaigns.has(id),
      }))
      .sort(byKey((c) => c.id)),
    userSpend: [...userSpend.entries()]
      .map(([k, u]) => ({ ...u, expected: spentBefore.get(k) ?? null }))
      .sort(byKey((u) => `${u.campaignId}:${u.userId}`)),
    poolVersions: [...usedPools].sort().map((id) => ({ id, version: pools.get(id)!.version })),
    poolsAfter,
  };
}

/** Each action's outcome: its decision, a duplicate of an earlier request, or a refusal. */
export function batchOutcomes(actions: NormalizedAction[], plan: BatchPlan, rows: NewActionRow[]): SubmitOutcome[] {
  const outcomes = [...plan.outcomes];
  const byKeyRow = new Map(rows.map((r) => [r.idempotency_key, r]));
  for (const [key, index] of plan.firstInBatch) {
    const row = byKeyRow.get(key);
    if (row && outcomes[index] === undefined) outcomes[index] = { kind: 'recorded', row };
  }
  // Repeats of a key within this batch resolve against the first occurrence.
  return actions.map((a, i) => {
    const o = outcomes[i];
    if (o) return o;
    const first = outcomes[plan.firstInBatch.get(a.idempotencyKey)!];
    if (first?.kind === 'recorded') return { kind: 'duplicate', original: first.row, sameRequest: first.row.request_hash === a.requestHash };
    return first ?? { kind: 'rejected', error: new AppError('INTERNAL_ERROR', 'action was not decided') };
  });
}
