import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createPool, partnerCall } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** The rewards bridge: a donation through the Payments API rewards the donor; a refund takes it back. */

let ctx: TestContext;
let partner: PartnerFixture;
let account: PaymentsFixture;
let token: string;
before(async () => {
  ctx = await createTestContext();
  partner = await createPartner(ctx.services);
  await createPool(ctx.services, partner.partnerId);
  account = await createPaymentsAccount(ctx.services, partner.partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [123456]);
});
after(async () => {
  await ctx.close();
});

type Json = Record<string, unknown>;
const op = (method: 'PATCH' | 'POST', url: string, body: unknown) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, payload: body as object });
const customer = async (body: Json) => String(((await paymentsCall(ctx, token, 'POST', '/api/customers', body)).json() as Json).customerId);
const donate = async (customerId: string, amount = 2000) => {
  const res = await paymentsCall(ctx, token, 'POST', `/api/customers/${customerId}/charges`, { amount, tip: 500, paymentMethodId: 'pm_card_visa', charityId: 123456 });
  assert.equal(res.statusCode, 200, res.body);
  return String((res.json() as Json).chargeId);
};
const balance = async (user: string) => {
  const res = await partnerCall(ctx, partner.sk, 'GET', `/v1/partner/users/${user}/balance`);
  return res.statusCode === 404 ? null : ((res.json() as Json).balance as number);
};
const jobs = () => ctx.services.db.selectFrom('donation_reward_jobs').selectAll().execute();

test('off by default: no reward', async () => {
  await donate(await customer({ externalId: 'quiet_user' }));
  assert.equal(await ctx.services.donationRewards.runPending(), 0);
  assert.equal(await balance('quiet_user'), null);
});

test('on: the donor (externalId) gets a DONATION reward once for the amount, not the tip; a full refund reverses it', async () => {
  const res = await op('PATCH', `/v1/admin/payments-accounts/${account.accountId}`, { donationRewards: true });
  assert.equal(res.statusCode, 200, res.body);
  const donor = await customer({ externalId: 'donor_77', email: 'd77@example.com' });
  const chargeId = await donate(donor);
  assert.equal(await ctx.services.donationRewards.runPending(), 1);
  assert.equal(await ctx.services.donationRewards.runPending(), 0, 'a job runs once');
  // The default rule: 1 token per currency unit of the $20.00 donation, the $5 tip left out.
  assert.equal(await balance('donor_77'), 20);
  const actions = (await partnerCall(ctx, partner.sk, 'GET', '/v1/partner/actions?limit=100')).json() as { data: Json[] };
  const reward = actions.data.find((a) => a.idempotencyKey === `donation:${chargeId}`)!;
  assert.equal(reward.actionType, 'DONATION');

  // The same job written again (a retried charge transaction, say) gives nothing twice.
  await ctx.services.db.updateTable('donation_reward_jobs').set({ status: 'pending' }).where('charge_id', '=', chargeId).execute();
  await ctx.services.donationRewards.runPending();
  assert.equal(await balance('donor_77'), 20);

  const refund = await op('POST', `/v1/admin/charges/${chargeId}/refund`, {});
  assert.equal(refund.statusCode, 200, refund.body);
  assert.equal(await ctx.services.donationRewards.runPending(), 1);
  assert.equal(await balance('donor_77'), 0);
  assert.deepEqual((await jobs()).filter((j) => j.charge_id === chargeId).map((j) => [j.kind, j.status]).sort(), [['reverse', 'done'], ['reward', 'done']]);
});

test('a customer without externalId, or a guest, is not rewarded', async () => {
  await donate(await customer({ email: 'anon@example.com' }));
  assert.equal(await ctx.services.donationRewards.runPending(), 0);
});
