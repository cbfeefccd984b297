import type { StoredSplit, StoredTier } from '../../platform/db/schema.js';
import { distribute, MULTIPLIER_SCALE, rewardTokens, tierFor, type Tier } from './distribution.js';
import type { NormalizedAction } from './actions.input.js';

/**
 * The reward rules as pure functions over plain data, shared by submit (inside its locked batch)
 * and quote (on a snapshot): what an action is worth, who gets what, and whether the campaign's
 * budget, the per-user cap and the pool allow it.
 */

/** Tier bounds are stored as major units × 10^4, so one campaign works for any currency. */
export const TIER_DIGITS = 4;

export interface CampaignRule {
  id: string;
  multiplierBp: bigint;
  tiers: Tier[];
  splits: { stakeholderTypeCode: string; percent: number }[];
  budgetTotal: bigint | null;
  budgetSpent: bigint;
  perUserCap: bigint | null;
  tokenPoolId: string | null;
}

export function campaignRule(row: {
  id: string;
  multiplier_bp: bigint | string | number;
  tiers: StoredTier[];
  splits: StoredSplit[];
  budget_total: bigint | string | number | null;
  budget_spent: bigint | string | number;
  per_user_cap: bigint | string | number | null;
  token_pool_id: string | null;
}): CampaignRule {
  return {
    id: row.id,
    multiplierBp: BigInt(row.multiplier_bp),
    tiers: row.tiers.map((t) => ({
      minAmountMinor: BigInt(t.minAmountMinor),
      maxAmountMinor: t.maxAmountMinor === null ? null : BigInt(t.maxAmountMinor),
      multiplierBp: BigInt(t.multiplierBp),
    })),
    splits: row.splits.map((s) => ({ stakeholderTypeCode: s.stakeholderTypeCode, percent: Number(s.percent) })),
    budgetTotal: row.budget_total === null ? null : BigInt(row.budget_total),
    budgetSpent: BigInt(row.budget_spent),
    perUserCap: row.per_user_cap === null ? null : BigInt(row.per_user_cap),
    tokenPoolId: row.token_pool_id,
  };
}

export interface Plan {
  totalUnits: bigint;
  tier: Tier | null;
  multiplierBp: bigint;
  allocations: { stakeholderTypeCode: string; partnerUserId: string; units: bigint }[];
  distributedUnits: bigint;
  undistributedUnits: bigint;
}

/** Without a campaign: 1 token per currency unit, split evenly. */
export function planReward(action: Pick<NormalizedAction, 'amountMinor' | 'digits' | 'stakeholders'>, campaign: CampaignRule | null): Plan {
  const amountInTierUnits = action.amountMinor * 10n ** BigInt(TIER_DIGITS - action.digits);
  const tier = campaign && campaign.tiers.length > 0 ? (tierFor(amountInTierUnits, campaign.tiers) ?? null) : null;
  const multiplierBp = campaign?.multiplierBp ?? MULTIPLIER_SCALE;
  const totalUnits = rewardTokens({
    amountMinor: action.amountMinor,
    currencyDigits: action.digits,
    multiplierBp,
    // An amount in a gap between tiers earns the plain multiplier.
    tierMultiplierBp: tier?.multiplierBp ?? MULTIPLIER_SCALE,
    tokensPerUnitBp: MULTIPLIER_SCALE,
  });
  const d = distribute({
    totalUnits,
    stakeholders: action.stakeholders,
    splits: campaign && campaign.splits.length > 0 ? campaign.splits : null,
  });
  return { totalUnits, tier, multiplierBp, allocations: d.allocations, distributedUnits: d.distributedUnits, undistributedUnits: d.undistributedUnits };
}

/**
 * Trims each stakeholder's share to what the campaign's per-user cap still allows (the rest stays in
 * the pool). `spent` maps a user id to what that user already received from this campaign.
 */
export function applyPerUserCap(plan: Plan, campaign: CampaignRule | null, userIdOf: (partnerUserId: string) => string | undefined, spent: Map<string, bigint>): Plan {
  if (!campaign || campaign.perUserCap === null) return plan;
  const cap = campaign.perUserCap;
  const given = new Map<string, bigint>();
  const allocations = plan.allocations.map((a) => {
    const userId = userIdOf(a.partnerUserId) ?? `new:${a.partnerUserId}`;
    const already = (spent.get(userId) ?? 0n) + (given.get(userId) ?? 0n);
    const room = cap > already ? cap - already : 0n;
    const units = a.units < room ? a.units : room;
    given.set(userId, (given.get(userId) ?? 0n) + units);
    return { ...a, units };
  });
  const distributedUnits = allocations.reduce((s, a) => s + a.units, 0n);
  return { ...plan, allocations, distributedUnits, undistributedUnits: plan.totalUnits - distributedUnits };
}

export interface PoolState {
  id: string;
  accountId: string;
  status: string;
  expiresAt: Date | null;
  balance: bigint;
}

export type Verdict = { ok: true } | { ok: false; code: 'INSUFFICIENT_POOL' | 'CAMPAIGN_BUDGET_EXHAUSTED'; message: string };

export function judge(plan: Plan, campaign: CampaignRule | null, pool: PoolState | null, now: Date): Verdict {
  if (!pool) {
    return { ok: false, code: 'INSUFFICIENT_POOL', message: 'There is no active token pool in this environment; ask for one with POST /v1/partner/token-pools/request' };
  }
  if (pool.status !== 'ACTIVE' && pool.status !== 'DEPLETED') {
    return { ok: false, code: 'INSUFFICIENT_POOL', message: `Token pool ${pool.id} is ${pool.status} and cannot fund rewards` };
  }
  if (pool.expiresAt && pool.expiresAt.getTime() <= now.getTime()) {
    return { ok: false, code: 'INSUFFICIENT_POOL', message: `Token pool ${pool.id} expired at ${pool.expiresAt.toISOString()}` };
  }
  if (campaign && campaign.budgetTotal !== null && campaign.budgetSpent + plan.distributedUnits > campaign.budgetTotal) {
    return { ok: false, code: 'CAMPAIGN_BUDGET_EXHAUSTED', message: `Campaign ${campaign.id} has not enough budget left for this reward` };
  }
  if (pool.balance < plan.distributedUnits) {
    return { ok: false, code: 'INSUFFICIENT_POOL', message: 'Token pool balance is insufficient; request more allocation with POST /v1/partner/token-pools/request' };
  }
  return { ok: true };
}
