import type { Services } from '../../services.js';
import { literalsFromRawBody } from './campaigns.rules.js';

export const SANDBOX_POOL_TOKENS = 1_000_000n;

/**
 * The demo partner's rewards, ready on first start: an active, funded sandbox pool and a default
 * campaign (1 token per currency unit for the common action types), so a PURCHASE of 49.99 for
 * user_42 earns 50 tokens straight away. Creates only what is missing.
 */
export async function ensureSandboxRewards(services: Services, partnerId: string) {
  const scope = { partnerId, environment: 'sandbox' as const };
  const pools = await services.pools.list(scope, 1, 1);
  if (pools.total === 0) {
    await services.pools.create(scope, { name: 'Sandbox pool', initialUnits: SANDBOX_POOL_TOKENS * 100n, lowBalanceThresholdUnits: 10_000n * 100n });
  }
  const campaigns = await services.campaigns.list(scope, { page: 1, limit: 1, includeArchived: true });
  if (campaigns.total === 0) {
    const raw = JSON.stringify({
      name: 'Default rewards',
      description: '1 token per currency unit, split evenly among the stakeholders',
      status: 'ACTIVE',
      actionTypes: ['PURCHASE', 'DONATION', 'VOLUNTEER', 'REFERRAL', 'ADVOCACY'],
      multiplier: 1,
    });
    await services.campaigns.create(scope, JSON.parse(raw), literalsFromRawBody(raw));
  }
}
