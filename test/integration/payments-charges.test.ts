import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { moneyAccounts } from '../../src/modules/payments/money-ledger.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { advanceSandbox, DAY_SECONDS, ledgerBalance } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** Contract B6.2 charges on the sandbox processor, B6.3 payments, and the money ledger behind them. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { paymentProcessorAccountId: 'acct_1H34bREfLw79XQY3', percentageCut: 20 });
  await seedDestinations(ctx.services, account.accountId, [1, 7, 8, 42, 123456], [
    { kind: 'giving_account', ref: '11420157' },
    { kind: 'campaign', ref: '77' },
    { kind: 'master_account', ref: 'myusername' },
    { kind: 'subaccount', ref: '123456', masterRef: 'myusername' },
    { kind: 'subaccount', ref: '999', masterRef: 'myusername' },
  ]);
  customerId = ((await call('POST', '/api/customers', { email: 'donor@example.com' })).json() as { customerId: string }).customerId;
});
after(async () => {
  const report = await checkLedger(ctx.services.db);
  assert.ok(report.ok, JSON.stringify(report));
  await ctx.close();
});

type Json = Record<string, unknown>;
function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body === undefined ? {} : { payload: body as object }) });
}
const charge = (body: Json, headers: Record<string, string> = {}) => call('POST', `/api/customers/${customerId}/charges`, body, headers);
const chargeRow = (id: string) => ctx.services.db.selectFrom('charges').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const err = (res: { statusCode: number; body: string }, status: number, code: string, message?: RegExp) => {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as Json;
  assert.equal(body.code, code, res.body);
  if (message) assert.match(String(body.message), message);
  return body;
};
const dest = (kind: string, ref: string, cur = 'USD') => moneyAccounts.destination(account.accountId, { kind: kind as 'charity', ref }, cur);

describe('card charges', () => {
  test('a test card pays: Success, the split recorded, the ledger moved to the cent', async () => {
    const res = await charge({ amount: 5000, paymentMethodId: 'pm_card_visa', charityId: 123456, customerCoveringFee: true, tip: 500, statementDescriptor: 'ALMONER GIVING' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as Json;
    assert.equal(body.status, 'Success');
    assert.match(String(body.chargeId), /^ch_/);
    const row = await chargeRow(String(body.chargeId));
    assert.equal(row.status, 'succeeded');
    // 5000 + tip 500, fee covered: the smallest gross leaving 5500 after 2.9 % + 30 is 5695 (fee 195).
    // The 20 % cut is of the 5000 donation and is not covered: the charity gets 5000 - 1000.
    assert.deepEqual([row.gross, row.fee, row.tip, row.partner_cut, row.destination_amount], [5695n, 195n, 500n, 1000n, 4000n]);
    assert.equal(await ledgerBalance(ctx.services.db, dest('charity', '123456')), 4000n);
    assert.equal(await ledgerBalance(ctx.services.db, moneyAccounts.fees(account.accountId, 'USD')), 195n);
    assert.equal(await ledgerBalance(ctx.services.db, moneyAccounts.tips(account.accountId, 'USD')), 500n);
    assert.equal(await ledgerBalance(ctx.services.db, moneyAccounts.cut('acct_1H34bREfLw79XQY3', 'USD')), 1000n);
    assert.equal(await ledgerBalance(ctx.services.db, moneyAccounts.clearing(account.accountId, 'USD')), -5695n);
  });

  test('JPY has no minor unit: no fixed fee', async () => {
    const res = await charge({ amount: 50000, currency: 'JPY', paymentMethodId: 'pm_card_visa', givingaAccountNumber: '11420157', charityId: 123456 });
    const row = await chargeRow(String((res.json() as Json).chargeId));
    assert.equal(row.currency, 'JPY');
    assert.equal(row.fee, 1450n); // 2.9 % of 50000
    assert.equal(row.partner_cut, 10000n);
  });

  test('declines: 402 CARD_DECLINED with the decline code; the charge is failed and nothing is paid', async () => {
    for (const [pm, code] of [
      ['pm_card_chargeDeclined', 'generic_decline'],
      ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card'],
      ['pm_card_authenticationRequired', 'authentication_required'],
    ]) {
      const before = await ledgerBalance(ctx.services.db, dest('charity', '42'));
      const body = err(await charge({ amount: 2000, paymentMethodId: pm, charityId: 42 }), 402, 'CARD_DECLINED');
      assert.equal(body.declineCode, code);
      const row = await chargeRow(String(body.chargeId));
      assert.equal(row.status, 'failed');
      assert.equal(row.failure_code, code);
      assert.equal(row.ledger_transaction_id, null);
      assert.equal(await ledgerBalance(ctx.services.db, dest('charity', '42')), before);
    }
  });

  test('payments list the customer\'s charges newest first, with the saved test method', async () => {
    const list = (await call('GET', `/api/customers/${customerId}/payments`)).json() as Json[];
    assert.ok(list.length >= 6);
    // Charges made in the same instant (the test clock stands still) may come in any order.
    for (let i = 1; i < list.length; i++) assert.ok(Number(list[i - 1]!.created) >= Number(list[i]!.created), 'newest first');
    assert.equal(list.filter((p) => p.status === 'failed').length, 4);
    const paid = list.find((p) => p.status === 'succeeded' && p.currency === 'usd')!;
    assert.equal(paid.amount, 5695);
    assert.match(String(paid.payment_method), /^pm_/);
  });

  test('a guest charge needs no customer', async () => {
    const res = await call('POST', '/api/customers/charges', { amount: 1000, paymentMethodId: 'pm_card_mastercard', campaignId: 77 });
    assert.equal(res.statusCode, 200, res.body);
    const row = await chargeRow(String((res.json() as Json).chargeId));
    assert.equal(row.customer_id, null);
    assert.equal((row.donation as Json & { destination: Json }).destination.kind, 'campaign');
  });
});

describe('bad input', () => {
  test('amount missing, zero, negative, fractional or too large; bad currency, tip, destination, descriptor, metadata -> 400', async () => {
    const ok = { amount: 1000, paymentMethodId: 'pm_card_visa', charityId: 1 };
    for (const body of [
      { paymentMethodId: 'pm_card_visa', charityId: 1 },
      { ...ok, amount: 0 },
      { ...ok, amount: -100 },
      { ...ok, amount: 10.5 },
      { ...ok, amount: 100_000_000 },
      { ...ok, amount: '1000' },
      { ...ok, currency: 'XXX' },
      { ...ok, tip: -1 },
      { amount: 1000, paymentMethodId: 'pm_card_visa' },
      { ...ok, statementDescriptor: 'A'.repeat(23) },
      { ...ok, statementDescriptor: 'Bad <chars>' },
      { ...ok, statementDescriptor: '12345' },
      { ...ok, metadata: [{ key: 'k', value: 'v'.repeat(501) }] },
      { ...ok, metadata: [{ key: 'k', value: 'a' }, { key: 'k', value: 'b' }] },
      { ...ok, anonymity: 'Secret' },
      { ...ok, carbonOffset: 'maybe' },
      { ...ok, campaignId: 'abc' },
      { ...ok, unknownField: 1 },
    ]) {
      const res = await charge(body as Json);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 120)} -> ${res.body}`);
    }
  });

  test('unknown payment method, or one saved on another customer -> 404', async () => {
    err(await charge({ amount: 1000, paymentMethodId: 'pm_unknown', charityId: 1 }), 404, 'NOT_FOUND');
    const list = (await call('GET', `/api/customers/${customerId}/payments`)).json() as Json[];
    const mine = String(list.find((p) => p.status === 'succeeded')!.payment_method);
    const other = ((await call('POST', '/api/customers', { email: 'other@example.com' })).json() as Json).customerId;
    err(await call('POST', `/api/customers/${other}/charges`, { amount: 1000, paymentMethodId: mine, charityId: 1 }), 404, 'NOT_FOUND');
    err(await call('POST', '/api/customers/cus_missing/charges', { amount: 1000, paymentMethodId: 'pm_card_visa', charityId: 1 }), 404, 'NOT_FOUND');
    // The saved method works for its own customer.
    assert.equal((await charge({ amount: 1000, paymentMethodId: mine, charityId: 1 })).statusCode, 200);
  });
});

describe('destinations', () => {
  test('unknown charity or giving accounts -> 404 naming the field; nothing is charged', async () => {
    const count = async () => (await ctx.services.db.selectFrom('charges').select('id').where('account_id', '=', account.accountId).execute()).length;
    const before = await count();
    for (const [field, value, needle] of [
      ['charityId', 999999, /charityId/],
      ['givingaAccountNumber', '555', /givingaAccountNumber/],
      ['subaccountNumber', '12', /subaccountNumber/],
      ['masterAccountUsername', 'nobody', /masterAccountUsername/],
      ['campaignId', 5, /campaignId/],
    ] as [string, unknown, RegExp][]) {
      err(await charge({ amount: 1000, paymentMethodId: 'pm_card_visa', [field]: value }), 404, 'NOT_FOUND', needle);
    }
    assert.equal(await count(), before);
  });

  test('carbon offset needs no registration; the operator reads every balance', async () => {
    assert.equal((await charge({ amount: 1000, paymentMethodId: 'pm_card_visa', carbonOffset: 'true' })).statusCode, 200);
    const res = await ctx.app.inject({ method: 'GET', url: `/v1/admin/payments-accounts/${account.accountId}/balances`, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    assert.equal(res.statusCode, 200, res.body);
    const balances = res.json() as { ledgerAccountId: string; kind: string; balance: number }[];
    assert.ok(balances.some((b) => b.kind === 'DESTINATION' && b.ledgerAccountId.includes(':carbon_offset:')));
    assert.ok(balances.some((b) => b.kind === 'PARTNER_CUT' && b.ledgerAccountId.includes('acct_1H34bREfLw79XQY3')));
    // The parts of every charge add up: the clearing account is minus the sum of all the others.
    const clearing = balances.filter((b) => b.kind === 'PAYMENTS_CLEARING' && b.ledgerAccountId.endsWith(':USD'))[0]!.balance;
    const usdRest = balances.filter((b) => b.kind !== 'PAYMENTS_CLEARING' && b.ledgerAccountId.endsWith(':USD')).reduce((a, b) => a + b.balance, 0);
    assert.equal(clearing, -usdRest);
  });
});

describe('idempotency', () => {
  test('the same key and body give the first answer; another body is refused; concurrent copies charge once', async () => {
    const body = { amount: 1500, paymentMethodId: 'pm_card_visa', charityId: 7 };
    const first = await charge(body, { 'idempotency-key': 'order-1' });
    const again = await charge(body, { 'idempotency-key': 'order-1' });
    assert.deepEqual(again.json(), first.json());
    err(await charge({ ...body, amount: 1600 }, { 'idempotency-key': 'order-1' }), 422, 'IDEMPOTENCY_KEY_REUSED');
    const declinedBody = { amount: 1500, paymentMethodId: 'pm_card_chargeDeclined', charityId: 7 };
    const d1 = err(await charge(declinedBody, { 'idempotency-key': 'order-2' }), 402, 'CARD_DECLINED');
    const d2 = err(await charge(declinedBody, { 'idempotency-key': 'order-2' }), 402, 'CARD_DECLINED');
    assert.equal(d1.chargeId, d2.chargeId);

    const before = await ledgerBalance(ctx.services.db, dest('charity', '8'));
    const results = await Promise.all(Array.from({ length: 6 }, () => charge({ ...body, charityId: 8 }, { 'idempotency-key': 'order-3' })));
    assert.ok(results.every((r) => r.statusCode === 200));
    assert.equal(new Set(results.map((r) => (r.json() as Json).chargeId)).size, 1);
    const rows = await ctx.services.db.selectFrom('charges').select('id').where('account_id', '=', account.accountId).where('amount', '=', 1500n).where('status', '=', 'succeeded').execute();
    assert.equal(rows.length, 2, 'order-1 and order-3, once each');
    assert.equal((await ledgerBalance(ctx.services.db, dest('charity', '8')))! - (before ?? 0n), 1500n - 74n - 300n);
  });
});

describe('ACH', () => {
  async function bankMethod(outcome: string, status: 'verified' | 'new' = 'verified') {
    const id = `ba_test${Math.random().toString(36).slice(2, 12)}`;
    await ctx.services.db
      .insertInto('payment_methods')
      .values({ id, account_id: account.accountId, customer_id: customerId, type: 'us_bank_account', bank_name: 'STRIPE TEST BANK', bank_last4: '6789', bank_routing: '110000000', status, sandbox_outcome: outcome, created_at: ctx.clock.now() })
      .execute();
    return id;
  }

  test('a bank debit is pending, then settles by the sandbox clock: paid, or failed with nothing paid', async () => {
    const good = (await charge({ amount: 100000, paymentMethodId: await bankMethod('succeeds'), subaccountNumber: '123456' })).json() as Json;
    const bad = (await charge({ amount: 100000, paymentMethodId: await bankMethod('account_closed'), subaccountNumber: '999' })).json() as Json;
    assert.equal(good.status, 'Success');
    assert.equal((await chargeRow(String(good.chargeId))).status, 'pending');
    assert.equal(await ctx.services.charges.settleDue(), 0, 'nothing is due yet');
    await advanceSandbox(ctx, account.partnerId, 4 * DAY_SECONDS);
    assert.equal(await ctx.services.charges.settleDue(), 2);
    const paid = await chargeRow(String(good.chargeId));
    assert.equal(paid.status, 'succeeded');
    // ACH: 0.8 % capped at $5; the cut is 20 %.
    assert.deepEqual([paid.fee, paid.partner_cut, paid.destination_amount], [500n, 20000n, 79500n]);
    assert.equal(await ledgerBalance(ctx.services.db, dest('subaccount', '123456')), 79500n);
    const failed = await chargeRow(String(bad.chargeId));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.failure_code, 'account_closed');
    assert.equal(await ledgerBalance(ctx.services.db, dest('subaccount', '999')), undefined);
  });

  test('an unverified bank account cannot be charged', async () => {
    err(await charge({ amount: 1000, paymentMethodId: await bankMethod('succeeds', 'new'), charityId: 1 }), 409, 'INVALID_STATE', /verif/);
  });
});
