import { formatMultiplier, formatTokens } from './distribution.js';
import type { CampaignRow } from './campaigns.repo.js';
import { percentToJson, tierAmountToJson } from './campaigns.rules.js';
import type { CampaignType } from './campaigns.schemas.js';

/** A stored campaign as the API shows it: amounts, percents and multipliers as JSON numbers. */
export function toCampaign(row: CampaignRow): CampaignType {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    actionTypes: row.action_types,
    multiplier: formatMultiplier(BigInt(row.multiplier_bp)),
    splits: row.splits.map((s) => ({ stakeholderTypeCode: s.stakeholderTypeCode, percent: percentToJson(s.percent) })),
    tiers: row.tiers.map((t) => ({
      minAmount: tierAmountToJson(t.minAmountMinor),
      maxAmount: t.maxAmountMinor === null ? null : tierAmountToJson(t.maxAmountMinor),
      multiplier: formatMultiplier(BigInt(t.multiplierBp)),
    })),
    schedule: {
      startsAt: row.starts_at?.toISOString() ?? null,
      endsAt: row.ends_at?.toISOString() ?? null,
      timezone: row.timezone,
      autoStart: row.auto_start,
    },
    budget: {
      totalTokens: row.budget_total === null ? null : formatTokens(BigInt(row.budget_total)),
      spentTokens: formatTokens(BigInt(row.budget_spent)),
      perUserCap: row.per_user_cap === null ? null : formatTokens(BigInt(row.per_user_cap)),
    },
    tokenPoolId: row.token_pool_id,
    priority: row.priority,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
