import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { closeWithLedgerCheck, createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/**
 * Anonymity is stored with each donation and honoured wherever a donor is shown to someone other
 * than the donor's partner: the nonprofit's donation report and the employer's match requests.
 */
let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
const CHARITY = 424242;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [CHARITY], [
    { kind: 'master_account', ref: 'acme' },
    { kind: 'subaccount', ref: '5001', masterRef: 'acme' },
  ]);
  const res = await paymentsCall(ctx, token, 'POST', '/api/customers', { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.org' });
  customerId = String((res.json() as Json).customerId);
});
after(closeWithLedgerCheck(() => ctx, 'anonymity'));

type Json = Record<string, unknown>;
const op = (url: string) => ctx.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
const donate = async (anonymity: string | undefined, extra: Json = {}) => {
  const res = await paymentsCall(ctx, token, 'POST', `/api/customers/${customerId}/charges`, {
    amount: 1000,
    paymentMethodId: 'pm_card_visa',
    charityId: CHARITY,
    ...(anonymity ? { anonymity } : {}),
    ...extra,
  });
  assert.equal(res.statusCode, 200, res.body);
  return String((res.json() as Json).chargeId);
};

test("the nonprofit's report shows each donor only as far as the donation's anonymity allows", async () => {
  const full = await donate('Full Transparency');
  const partial = await donate('Partial Transparency');
  const anonymous = await donate('Anonymous');
  const unset = await donate(undefined);
  const placeholder = await donate('string');
  const res = await op(`/v1/admin/organizations/${CHARITY}/donations`);
  assert.equal(res.statusCode, 200, res.body);
  const rows = new Map(((res.json() as Json).donations as Json[]).map((d) => [d.chargeId, d]));
  assert.deepEqual(rows.get(full)!.donor, { name: 'Ada Lovelace', email: 'ada@example.org' });
  assert.deepEqual(rows.get(partial)!.donor, { name: 'Ada Lovelace', email: null });
  for (const id of [anonymous, unset, placeholder]) {
    assert.equal(rows.get(id)!.donor, null, id);
    assert.equal(rows.get(id)!.anonymity, 'Anonymous');
  }
  assert.doesNotMatch(JSON.stringify([...rows.values()].filter((r) => r.anonymity === 'Anonymous')), /Ada|ada@|cus_/);
  assert.equal((await op('/v1/admin/organizations/999999999/donations')).statusCode, 404);
});

test("the employer's match requests hide an anonymous donor, customer id included", async () => {
  const open = await donate('Full Transparency', { matchRequested: true, subaccountNumber: '5001' });
  const hidden = await donate('Anonymous', { matchRequested: true, subaccountNumber: '5001' });
  const list = (await op(`/v1/admin/payments-accounts/${account.accountId}/match-requests`)).json() as Json[];
  const byCharge = new Map(list.map((m) => [m.chargeId, m]));
  assert.deepEqual(byCharge.get(open)!.donor, { name: 'Ada Lovelace', email: 'ada@example.org' });
  assert.equal(byCharge.get(open)!.customerId, customerId);
  assert.equal(byCharge.get(hidden)!.donor, null);
  assert.equal(byCharge.get(hidden)!.customerId, null);
  // The partner itself still sees its own customer's payments in full.
  const mine = await paymentsCall(ctx, token, 'GET', `/api/customers/${customerId}/payments`);
  assert.ok(JSON.stringify(mine.json()).includes(hidden));
});
