import type { Services } from '../../src/services.js';

/** A funded sandbox pool for a partner, created the way an operator would. */
export async function createPool(
  services: Services,
  partnerId: string,
  options: { tokens?: bigint; environment?: 'sandbox' | 'production'; vestingDays?: number; grantExpiryDays?: number; lowBalanceThresholdUnits?: bigint } = {},
) {
  const pool = await services.pools.create(
    { partnerId, environment: options.environment ?? 'sandbox' },
    {
      name: 'Test pool',
      initialUnits: (options.tokens ?? 1_000_000n) * 100n,
      vestingDays: options.vestingDays ?? null,
      grantExpiryDays: options.grantExpiryDays ?? null,
      ...(options.lowBalanceThresholdUnits !== undefined ? { lowBalanceThresholdUnits: options.lowBalanceThresholdUnits } : {}),
    },
  );
  if (options.environment === 'production') await services.pools.approve(pool.id);
  return pool;
}

export const purchase = (key: string, amount: string, users: string[] = ['user_42'], extra: Record<string, unknown> = {}) =>
  `{"idempotencyKey":${JSON.stringify(key)},"actionType":"PURCHASE","amount":${amount},"currency":"USD","stakeholders":[${users
    .map((u) => `{"stakeholderTypeCode":"CUSTOMER","partnerUserId":${JSON.stringify(u)}}`)
    .join(',')}],"autoCreateUsers":true${Object.entries(extra)
    .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join('')}}`;
