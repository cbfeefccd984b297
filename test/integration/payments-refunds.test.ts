import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { moneyAccounts } from '../../src/modules/payments/money-ledger.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { ledgerBalance } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** Operator refunds: the split reversed in proportion, never beyond what a part received. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { percentageCut: 20 });
  await seedDestinations(ctx.services, account.accountId, [123456]);
});
after(async () => {
  const report = await checkLedger(ctx.services.db);
  assert.ok(report.ok, JSON.stringify(report));
  await ctx.close();
});

type Json = Record<string, unknown>;
const refund = (chargeId: string, body: Json = {}) =>
  ctx.app.inject({ method: 'POST', url: `/v1/admin/charges/${chargeId}/refund`, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, payload: body });
const charge = async (pm = 'pm_card_visa') => {
  const res = await paymentsCall(ctx, token, 'POST', '/api/customers/charges', { amount: 5000, tip: 300, paymentMethodId: pm, charityId: 123456 });
  return String((res.json() as Json).chargeId);
};
const charity = () => ledgerBalance(ctx.services.db, moneyAccounts.destination(account.accountId, { kind: 'charity', ref: '123456' }, 'USD'));

test('a full refund reverses every part; the charge is refunded and cannot be refunded again', async () => {
  const before = (await charity()) ?? 0n;
  const id = await charge();
  const res = await refund(id);
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { chargeId: id, status: 'refunded', amount: 5300, refundedAmount: 5300, gross: 5300 });
  assert.equal(await charity(), before);
  assert.equal((await refund(id)).statusCode, 409);
});

test('partial refunds add up to the gross exactly, part by part', async () => {
  const id = await charge();
  for (const amount of [1000, 1, 2999]) assert.equal((await refund(id, { amount })).statusCode, 200);
  const tooMuch = await refund(id, { amount: 1301 });
  assert.equal(tooMuch.statusCode, 400, tooMuch.body);
  const last = await refund(id);
  assert.deepEqual(last.json(), { chargeId: id, status: 'refunded', amount: 1300, refundedAmount: 5300, gross: 5300 });
  const postings = await ctx.services.db
    .selectFrom('ledger_postings as p')
    .innerJoin('ledger_transactions as t', 't.id', 'p.transaction_id')
    .select(['p.account_id', 'p.amount'])
    .where('t.reference', '=', id)
    .execute();
  const byAccount = new Map<string, bigint>();
  for (const p of postings) byAccount.set(p.account_id, (byAccount.get(p.account_id) ?? 0n) + BigInt(p.amount));
  for (const [accountId, sum] of byAccount) assert.equal(sum, 0n, `${accountId} is not back to zero`);
});

test('a declined charge, an unknown charge, a bad amount', async () => {
  const declined = await paymentsCall(ctx, token, 'POST', '/api/customers/charges', { amount: 5000, paymentMethodId: 'pm_card_chargeDeclined', charityId: 123456 });
  assert.equal((await refund(String((declined.json() as Json).chargeId))).statusCode, 409);
  assert.equal((await refund('ch_nope')).statusCode, 404);
  assert.equal((await refund(await charge(), { amount: 0 })).statusCode, 400);
});
