import { organizationsRepo } from '../../src/modules/organizations/index.js';
import { createHmac } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Services } from '../../src/services.js';
import type { TestContext } from '../harness/context.js';

export interface PaymentsFixture {
  partnerId: string;
  accountId: string;
  secretKey: string;
  publicKey: string;
  partnerNumber: number;
}

/** A sandbox payments account for a partner, created the way an operator would. */
export async function createPaymentsAccount(services: Services, partnerId: string, environment: 'sandbox' | 'production' = 'sandbox'): Promise<PaymentsFixture> {
  const a = await services.paymentsAccounts.create(partnerId, { environment });
  return { partnerId, accountId: a.accountId, secretKey: a.secretKey, publicKey: a.publicKey, partnerNumber: a.partnerNumber };
}

/** Contract B3.1: hex(HMAC-SHA256(secret key, String(epoch))). */
export const epochHmac = (secretKey: string, epoch: number) => createHmac('sha256', secretKey).update(String(epoch)).digest('hex');

export async function paymentsToken(ctx: TestContext, account: PaymentsFixture): Promise<string> {
  const hashEpoch = Math.floor(ctx.clock.now().getTime() / 1000);
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/api/partners/${account.accountId}/authenticate`,
    payload: { hashEpoch, hmac: epochHmac(account.secretKey, hashEpoch) },
  });
  if (res.statusCode !== 200) throw new Error(`authenticate failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { token: string }).token;
}

/** A Payments API call with a bearer token. */
export function paymentsCall(ctx: TestContext, token: string, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse> {
  const opts: InjectOptions = { method: method as InjectOptions['method'], url, headers: { authorization: `Bearer ${token}` } };
  if (body !== undefined) opts.payload = body as InjectOptions['payload'];
  return ctx.app.inject(opts);
}

/** Charities and giving accounts the tests send money to (destinations must exist). */
export async function seedDestinations(services: Services, accountId: string, charityIds: number[] = [1, 7, 8, 42, 123456], refs: { kind: 'giving_account' | 'subaccount' | 'master_account' | 'campaign'; ref: string; masterRef?: string }[] = []) {
  for (const id of charityIds) {
    await organizationsRepo.ensure(services.db, { id, slug: `test-charity-${id}`, name: `Test charity ${id}` });
  }
  for (const r of refs) await services.destinations.addGivingAccount(accountId, r);
}

export const STRIPE_SECRET_KEY = 'sk_test_51AlmonerTestSecretKey0000000000';
export const STRIPE_PUBLISHABLE_KEY = 'pk_test_51AlmonerTestPublishableKey000000';

/** A Stripe payments account, created through the operator route as an operator would. */
export async function createStripePaymentsAccount(ctx: TestContext, partnerId: string, operatorToken: string): Promise<PaymentsFixture> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/v1/admin/partners/${partnerId}/payments-accounts`,
    headers: { authorization: `Bearer ${operatorToken}` },
    payload: { environment: 'sandbox', processor: 'stripe', stripeSecretKey: STRIPE_SECRET_KEY, stripePublishableKey: STRIPE_PUBLISHABLE_KEY },
  });
  if (res.statusCode !== 201) throw new Error(`creating a Stripe payments account failed: ${res.statusCode} ${res.body}`);
  const a = res.json() as { accountId: string; secretKey: string; publicKey: string; partnerNumber: number };
  return { partnerId, accountId: a.accountId, secretKey: a.secretKey, publicKey: a.publicKey, partnerNumber: a.partnerNumber };
}
