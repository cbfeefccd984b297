import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { advanceSandbox, DAY_SECONDS } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** Contract B6.9: subscriptions billed by the sandbox clock, with tips, pause, resume, cancel and proration. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
let monthly: string;
before(async () => {
  // Mid-month, so "one month later" is unambiguous.
  ctx = await createTestContext({ now: new Date('2026-03-10T12:00:00Z') });
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [123456], [{ kind: 'master_account', ref: 'corp' }, { kind: 'subaccount', ref: '123456', masterRef: 'corp' }]);
  customerId = String(((await call('POST', '/api/customers', { email: 'sub@example.com' })).json() as Json).customerId);
  const product = (await call('POST', '/api/products', { name: 'Monthly subscription donation to 123456' })).json() as Json;
  monthly = String(((await call('POST', `/api/products/${product.productId}/prices`, { interval: 'month', currency: 'usd', unitAmount: 500 })).json() as Json).priceId);
});
after(async () => {
  assert.ok((await checkLedger(ctx.services.db)).ok);
  await ctx.close();
});

type Json = Record<string, unknown>;
function call(method: string, url: string, body?: unknown) {
  return paymentsCall(ctx, token, method, url, body);
}
const subscribe = async (body: Json) => {
  const res = await call('POST', `/api/customers/${customerId}/subscriptions`, body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Json;
};
const invoices = (subId: unknown) =>
  ctx.services.db.selectFrom('subscription_invoices').selectAll().where('subscription_id', '=', String(subId)).orderBy('period_start').orderBy('created_at').execute();
const manage = (subId: unknown, body: Json) => call('PUT', `/api/customers/${customerId}/subscriptions/${subId}`, body);
const DEMO = (extra: Json = {}) => ({ items: [{ quantity: 1, priceId: monthly }], paymentMethodId: 'pm_card_visa', subaccountNumber: '123456', charityId: 123456, matchRequested: false, notes: 'hi', ...extra });

describe('the demo flow', () => {
  test('subscribe bills the first month; two months later two more; pause voids, resume bills; cancel at period end', async () => {
    const sub = await subscribe(DEMO({ tip: 100, tipInterval: 'month' }));
    assert.match(String(sub.subscriptionId), /^sub_/);
    assert.equal(sub.startDate, '2026-03-10T12:00:00.000Z');
    assert.equal(sub.currentPeriodEnd, '2026-04-10T12:00:00.000Z');
    assert.deepEqual([sub.tip, sub.tipInterval, sub.tipCurrency, sub.paused, sub.endDate], [100, 'month', 'USD', false, null]);
    assert.deepEqual((sub.subscriptionItems as Json[])[0], { priceId: monthly, productId: (sub.subscriptionItems as Json[])[0]!.productId, unitAmount: 500, quantity: 1, currency: 'USD', interval: 'month' });
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => [i.status, i.amount, i.tip]), [['paid', 500n, 100n]]);

    await advanceSandbox(ctx, account.partnerId, 61 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => i.status), ['paid', 'paid', 'paid']);
    assert.equal(((await call('GET', `/api/subscriptions/${sub.subscriptionId}`)).json() as Json).currentPeriodEnd, '2026-06-10T12:00:00.000Z');

    const paused = (await manage(sub.subscriptionId, { pause: true })).json() as Json;
    assert.equal(paused.paused, true);
    await advanceSandbox(ctx, account.partnerId, 31 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => i.status), ['paid', 'paid', 'paid', 'void']);

    const resumed = (await manage(sub.subscriptionId, { pause: false })).json() as Json;
    assert.equal(resumed.paused, false);
    await advanceSandbox(ctx, account.partnerId, 31 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => i.status).slice(-1), ['paid']);

    await manage(sub.subscriptionId, { cancelAtPeriodEnd: true });
    await advanceSandbox(ctx, account.partnerId, 31 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    const ended = (await call('GET', `/api/subscriptions/${sub.subscriptionId}`)).json() as Json;
    assert.equal(ended.status, 'canceled');
    assert.equal(ended.endDate, ended.currentPeriodEnd);
    assert.equal((await invoices(sub.subscriptionId)).length, 5, 'nothing is billed for the period it ended at');
    const charges = (await call('GET', `/api/customers/${customerId}/payments`)).json() as Json[];
    assert.equal(charges.filter((c) => c.status === 'succeeded').length, 4, 'one charge per paid invoice');
  });

  test('a paused subscription with resumesAt resumes by itself', async () => {
    const sub = await subscribe(DEMO());
    const now = (await ctx.services.partnerClock.now(account.partnerId, 'sandbox')).getTime();
    await manage(sub.subscriptionId, { pause: true, resumesAt: now + 40 * 86_400_000 });
    await advanceSandbox(ctx, account.partnerId, 70 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => i.status), ['paid', 'void', 'paid']);
    assert.equal(((await call('GET', `/api/subscriptions/${sub.subscriptionId}`)).json() as Json).paused, false);
  });
});

describe('tips, proration, cancel', () => {
  test('a tip without tipInterval is charged once with the first period', async () => {
    const sub = await subscribe(DEMO({ tip: 300 }));
    assert.deepEqual([sub.tip, sub.oneTimeTip, sub.oneTimeTipCurrency], [0, 300, 'USD']);
    await advanceSandbox(ctx, account.partnerId, 31 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.deepEqual((await invoices(sub.subscriptionId)).map((i) => i.tip), [300n, 0n]);
  });

  test('items changed mid-period: always_invoice charges the difference now, create_proration adds it to the next invoice, none ignores it', async () => {
    const big = { items: [{ unitAmount: 1100, currency: 'usd', interval: 'month', productName: 'Bigger gift' }] };
    for (const [behaviour, nowCharged, nextProration] of [
      ['always_invoice', true, 0n],
      ['create_proration', false, null],
      ['none', false, 0n],
    ] as [string, boolean, bigint | null][]) {
      const sub = await subscribe(DEMO());
      await advanceSandbox(ctx, account.partnerId, 10 * DAY_SECONDS);
      const res = await manage(sub.subscriptionId, { ...big, prorationBehaviour: behaviour });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as Json).amount, 1100);
      const list = await invoices(sub.subscriptionId);
      assert.equal(list.length, nowCharged ? 2 : 1, behaviour);
      if (nowCharged) assert.ok(list[1]!.amount > 0n && list[1]!.amount < 600n, `prorated ${list[1]!.amount}`);
      const row = await ctx.services.db.selectFrom('subscriptions').select('pending_proration').where('id', '=', String(sub.subscriptionId)).executeTakeFirstOrThrow();
      if (nextProration === null) assert.ok(row.pending_proration > 0n && row.pending_proration < 600n);
      else assert.equal(row.pending_proration, nextProration);
      await call('DELETE', `/api/customers/${customerId}/subscriptions/${sub.subscriptionId}`);
    }
  });

  test('DELETE cancels at once and nothing more is billed; a canceled subscription cannot be managed', async () => {
    const sub = await subscribe(DEMO());
    const res = await call('DELETE', `/api/customers/${customerId}/subscriptions/${sub.subscriptionId}`);
    assert.equal(res.statusCode, 200);
    assert.equal((res.json() as Json).status, 'canceled');
    await advanceSandbox(ctx, account.partnerId, 40 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    assert.equal((await invoices(sub.subscriptionId)).length, 1);
    assert.equal((await manage(sub.subscriptionId, { pause: true })).statusCode, 409);
  });

  test('lists: the account and the customer', async () => {
    const all = (await call('GET', '/api/subscriptions')).json() as Json[];
    const mine = (await call('GET', `/api/customers/${customerId}/subscriptions`)).json() as Json[];
    assert.ok(Array.isArray(mine) && mine.length === all.length && all.length >= 5);
  });
});

describe('bad input', () => {
  test('tipInterval a currency, mixed intervals, one-time prices, unknown price, bad cancelAt -> 400/404; a decline creates nothing', async () => {
    const product = (await call('POST', '/api/products', { name: 'Mixed' })).json() as Json;
    const weekly = String(((await call('POST', `/api/products/${product.productId}/prices`, { interval: 'week', currency: 'usd', unitAmount: 100 })).json() as Json).priceId);
    const once = String(((await call('POST', `/api/products/${product.productId}/prices`, { currency: 'usd', unitAmount: 100 })).json() as Json).priceId);
    const post = (body: Json) => call('POST', `/api/customers/${customerId}/subscriptions`, body);
    for (const body of [
      DEMO({ tip: 100, tipInterval: 'USD' }),
      DEMO({ tip: 100, tipInterval: 'week' }),
      DEMO({ items: [{ priceId: monthly }, { priceId: weekly }] }),
      DEMO({ items: [{ priceId: once }] }),
      DEMO({ items: [{ unitAmount: 500, currency: 'usd' }] }),
      DEMO({ items: [] }),
      DEMO({ tipCurrency: 'EUR', tip: 5, tipInterval: 'month' }),
    ]) {
      assert.equal((await post(body)).statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await post(DEMO({ items: [{ priceId: 'price_nope' }] }))).statusCode, 404);
    const before = (await call('GET', `/api/customers/${customerId}/subscriptions`)).json() as Json[];
    const declined = await post(DEMO({ paymentMethodId: 'pm_card_chargeDeclined' }));
    assert.equal(declined.statusCode, 402, declined.body);
    assert.equal((declined.json() as Json).code, 'CARD_DECLINED');
    assert.equal(((await call('GET', `/api/customers/${customerId}/subscriptions`)).json() as Json[]).length, before.length);
    const sub = await subscribe(DEMO());
    assert.equal((await manage(sub.subscriptionId, { cancelAt: 1000 })).statusCode, 400);
    assert.equal((await manage(sub.subscriptionId, { resumesAt: Date.now() + 86_400_000 * 400 })).statusCode, 400, 'resumesAt without pause');
    assert.equal((await call('PUT', `/api/customers/${customerId}/subscriptions/sub_nope`, { pause: true })).statusCode, 404);
  });
});
