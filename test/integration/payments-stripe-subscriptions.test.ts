import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createStripePaymentsAccount, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { advanceSandbox, DAY_SECONDS } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';
import { cardDeclined, FakeStripe } from '../harness/fake-stripe.js';

/**
 * Subscriptions on a Stripe account (contract B6.9 with processor "stripe"): Stripe Billing bills
 * them. Checks the form parameters Stripe receives for creating, pausing, resuming, cancelling and
 * changing them, that a decline stores nothing, that invoice.paid records each period in the ledger
 * once with the same split as a sandbox period, that our clock never bills them, and that a creation
 * whose answer was lost is finished once. Subscription-mode checkout becomes a Stripe Checkout
 * Session whose completion (or first invoice, whichever arrives first) creates our subscription.
 */

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const CONNECTED = 'acct_1SubsCut0001';
const SUBS = /^\/v1\/subscriptions$/;
let fake: FakeStripe;
let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
let priceId: string;

before(async () => {
  fake = await FakeStripe.start();
  ctx = await createTestContext({ env: { ALMONER_STRIPE_API_BASE: fake.url, ALMONER_STRIPE_MAX_NETWORK_RETRIES: '0', ALMONER_STRIPE_WEBHOOK_SECRET: SECRET } });
  account = await createStripePaymentsAccount(ctx, (await createPartner(ctx.services)).partnerId, OPERATOR_TOKEN);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { paymentProcessorAccountId: CONNECTED, percentageCut: 20 });
  await seedDestinations(ctx.services, account.accountId, [42]);
  customerId = ((await call('POST', '/api/customers', { email: 'subs@example.com' })).json() as { customerId: string }).customerId;
  for (const id of ['pm_1SubsVisa', 'pm_1SubsAmex']) {
    await ctx.services.db
      .insertInto('payment_methods')
      .values({ id, account_id: account.accountId, customer_id: customerId, type: 'card', card_brand: 'visa', card_last4: '4242', status: 'active', created_at: ctx.clock.now() })
      .execute();
  }
  const product = (await call('POST', '/api/products', { name: 'Monthly gift' })).json() as { productId: string };
  priceId = ((await call('POST', `/api/products/${product.productId}/prices`, { interval: 'month', currency: 'usd', unitAmount: 500 })).json() as { priceId: string }).priceId;
});
after(async () => {
  const report = await checkLedger(ctx.services.db);
  await ctx.close();
  await fake.stop();
  assert.ok(report.ok, JSON.stringify(report));
});

type Json = Record<string, unknown>;
type Sub = { subscriptionId: string; status: string; paused: boolean; resumes: string | null; cancelAtPeriodEnd: boolean; cancelAt: string | null; endDate: string | null; amount: number; tip: number; subscriptionItems: { priceId: string; productId: string; unitAmount: number; quantity: number }[]; paymentMethodId: string; currentPeriodEnd: string };
function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
}
const subscribe = (body: Json) => call('POST', `/api/customers/${customerId}/subscriptions`, body);
const manage = (id: string, body: Json) => call('PATCH', `/api/customers/${customerId}/subscriptions/${id}`, body);
const rows = () => ctx.services.db.selectFrom('subscriptions').selectAll().where('account_id', '=', account.accountId).execute();
const rowOf = (id: string) => ctx.services.db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const stripeId = async (id: string) => (await rowOf(id)).processor_ref!;

function deliver(payload: string) {
  const timestamp = Math.floor(ctx.clock.now().getTime() / 1000);
  return ctx.app.inject({
    method: 'POST',
    url: '/api/stripe/webhook',
    headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp }) },
    payload,
  });
}
const event = (type: string, object: Json) =>
  JSON.stringify({ id: `evt_${randomBytes(12).toString('hex')}`, object: 'event', type, livemode: false, created: Math.floor(Date.now() / 1000), data: { object } });

/** An invoice of a Stripe subscription as current API versions send it. */
function invoice(sub: string, amount: number, opts: { metadata?: Json; start?: number; end?: number; id?: string } = {}): Json {
  const start = opts.start ?? Math.floor(Date.now() / 1000);
  const end = opts.end ?? start + 30 * DAY_SECONDS;
  return {
    id: opts.id ?? `in_${randomBytes(10).toString('hex')}`,
    object: 'invoice',
    amount_paid: amount,
    amount_due: amount,
    period_start: start,
    period_end: start,
    parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: opts.metadata ?? {} } },
    payments: { object: 'list', data: [{ payment: { type: 'payment_intent', payment_intent: `pi_${randomBytes(10).toString('hex')}` } }] },
    lines: { object: 'list', data: [{ id: 'il_1', period: { start, end } }] },
  };
}
const chargesOf = (subId: string) =>
  ctx.services.db
    .selectFrom('subscription_invoices as i')
    .innerJoin('charges as c', 'c.id', 'i.charge_id')
    .select(['c.id', 'c.gross', 'c.fee', 'c.partner_cut', 'c.tip', 'c.destination_amount', 'c.ledger_transaction_id', 'i.amount', 'i.tip as invoice_tip'])
    .where('i.subscription_id', '=', subId)
    .execute();

let monthly: Sub;

describe('creating', () => {
  test('a custom amount with a recurring tip: a Stripe Subscription with inline prices, the cut by Connect, our ids in the metadata', async () => {
    const res = await subscribe({ items: [{ unitAmount: 1000, currency: 'USD', interval: 'month', productName: 'Monthly gift' }], tip: 200, tipInterval: 'month', paymentMethodId: 'pm_1SubsVisa', charityId: 42, description: 'Monthly to 42' });
    assert.equal(res.statusCode, 201, res.body);
    monthly = res.json() as Sub;
    assert.match(monthly.subscriptionId, /^sub_/);
    // Products for the inline prices, each under a key of the subscription's, so a retry makes none again.
    const products = fake.find('POST', /^\/v1\/products$/).slice(-2).map((r) => [r.params.name, r.idempotencyKey]);
    assert.deepEqual(products.sort(), [
      ['Monthly gift', `subscription:${monthly.subscriptionId}:product:0`],
      ['Tip', `subscription:${monthly.subscriptionId}:product:tip`],
    ]);
    const req = fake.last('POST', SUBS);
    const created = fake.subscriptions.get(await stripeId(monthly.subscriptionId))!;
    const items = (created.items as { data: { price: { id: string; product: string } }[] }).data;
    assert.deepEqual(req.params, {
      customer: customerId,
      'items[0][price_data][currency]': 'usd',
      'items[0][price_data][product]': items[0]!.price.product,
      'items[0][price_data][unit_amount]': '1000',
      'items[0][price_data][recurring][interval]': 'month',
      'items[0][quantity]': '1',
      'items[1][price_data][currency]': 'usd',
      'items[1][price_data][product]': items[1]!.price.product,
      'items[1][price_data][unit_amount]': '200',
      'items[1][price_data][recurring][interval]': 'month',
      'items[1][quantity]': '1',
      'items[1][metadata][almoner_item]': 'tip',
      default_payment_method: 'pm_1SubsVisa',
      off_session: 'true',
      payment_behavior: 'error_if_incomplete',
      proration_behavior: 'none',
      'transfer_data[destination]': CONNECTED,
      application_fee_percent: '20',
      description: 'Monthly to 42',
      'metadata[almoner_subscription_id]': monthly.subscriptionId,
    });
    assert.equal(req.idempotencyKey, `subscription:${monthly.subscriptionId}`);
    assert.deepEqual([monthly.status, monthly.amount, monthly.tip, monthly.paymentMethodId], ['active', 1000, 200, 'pm_1SubsVisa']);
    assert.equal(monthly.subscriptionItems[0]!.priceId, items[0]!.price.id, "Stripe's inline price is recorded");
    const row = await rowOf(monthly.subscriptionId);
    assert.deepEqual([row.status, row.processor_ref, row.request_hash, row.lease_until], ['active', created.id, null, null]);
  });

  test('a catalogue price with a one-time tip: the price by id, the tip on the first invoice only', async () => {
    const res = await subscribe({ items: [{ priceId, quantity: 2 }], tip: 300, paymentMethodId: 'pm_1SubsVisa', charityId: 42 });
    assert.equal(res.statusCode, 201, res.body);
    const p = fake.last('POST', SUBS).params;
    assert.deepEqual([p['items[0][price]'], p['items[0][quantity]'], p['items[1][price]'], p['items[1][price_data][unit_amount]']], [priceId, '2', undefined, undefined]);
    assert.deepEqual(
      [p['add_invoice_items[0][price_data][currency]'], p['add_invoice_items[0][price_data][unit_amount]'], p['add_invoice_items[0][quantity]']],
      ['usd', '300', '1'],
    );
    assert.match(p['add_invoice_items[0][price_data][product]'] ?? '', /^prod_/);
    const sub = res.json() as Sub & { oneTimeTip: number };
    assert.deepEqual([sub.amount, sub.tip, sub.oneTimeTip], [1000, 0, 300]);
  });

  test('a decline: 402 CARD_DECLINED with the decline code, and nothing stored', async () => {
    const before = await rows();
    fake.next('POST', SUBS, cardDeclined('insufficient_funds', 'Your card has insufficient funds.'));
    const res = await subscribe({ items: [{ unitAmount: 700, currency: 'USD', interval: 'month' }], paymentMethodId: 'pm_1SubsVisa', charityId: 42 });
    assert.equal(res.statusCode, 402, res.body);
    const body = res.json() as Json;
    assert.deepEqual([body.code, body.declineCode, body.message], ['CARD_DECLINED', 'insufficient_funds', 'Your card has insufficient funds.']);
    assert.equal((await rows()).length, before.length, 'no row, not even an incomplete one');
  });

  test('our clock never bills a Stripe subscription: two months on, nothing is charged here', async () => {
    const before = await rowOf(monthly.subscriptionId);
    await advanceSandbox(ctx, account.partnerId, 61 * DAY_SECONDS);
    await ctx.services.subscriptionBilling.billDue();
    const invoices = await ctx.services.db.selectFrom('subscription_invoices').select('id').where('subscription_id', '=', monthly.subscriptionId).execute();
    assert.equal(invoices.length, 0);
    assert.equal((await rowOf(monthly.subscriptionId)).current_period_end.getTime(), before.current_period_end.getTime(), 'the period is Stripe\'s to move');
  });
});

describe('managing', () => {
  const last = () => fake.last('POST', /^\/v1\/subscriptions\/sub_/);

  test('pause with resumesAt (ms): pause_collection[behavior]=void and resumes_at in seconds; resume clears it', async () => {
    const resumesAt = Date.now() + 90 * DAY_SECONDS * 1000;
    const paused = await manage(monthly.subscriptionId, { pause: true, resumesAt });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal(last().path, `/v1/subscriptions/${await stripeId(monthly.subscriptionId)}`);
    assert.deepEqual(last().params, { 'pause_collection[behavior]': 'void', 'pause_collection[resumes_at]': String(Math.floor(resumesAt / 1000)) });
    const sub = paused.json() as Sub;
    assert.equal(sub.paused, true);
    assert.equal(sub.resumes, new Date(Math.floor(resumesAt / 1000) * 1000).toISOString());
    const resumed = await manage(monthly.subscriptionId, { pause: false });
    assert.deepEqual(last().params, { pause_collection: '' });
    assert.deepEqual([(resumed.json() as Sub).paused, (resumed.json() as Sub).resumes], [false, null]);
  });

  test('cancelAtPeriodEnd and cancelAt (ms in our API, seconds at Stripe); cancelAt null clears it', async () => {
    const atEnd = await manage(monthly.subscriptionId, { cancelAtPeriodEnd: true });
    assert.deepEqual(last().params, { cancel_at_period_end: 'true' });
    assert.equal((atEnd.json() as Sub).cancelAtPeriodEnd, true);
    const cancelAt = Date.now() + 200 * DAY_SECONDS * 1000;
    const at = await manage(monthly.subscriptionId, { cancelAtPeriodEnd: false, cancelAt });
    assert.deepEqual(last().params, { cancel_at_period_end: 'false', cancel_at: String(Math.floor(cancelAt / 1000)) });
    assert.equal((at.json() as Sub).cancelAt, new Date(Math.floor(cancelAt / 1000) * 1000).toISOString());
    const cleared = await manage(monthly.subscriptionId, { cancelAt: null });
    assert.deepEqual(last().params, { cancel_at: '' });
    assert.equal((cleared.json() as Sub).cancelAt, null);
    const past = await manage(monthly.subscriptionId, { cancelAt: Date.now() - 1000 });
    assert.equal(past.statusCode, 400, past.body);
  });

  test('new items with proration: the old items deleted, the new priced, proration_behavior sent, the tip item kept', async () => {
    const sid = await stripeId(monthly.subscriptionId);
    const before = (fake.subscriptions.get(sid)!.items as { data: { id: string; metadata: Json }[] }).data;
    const donationItem = before.find((i) => !i.metadata.almoner_item)!;
    const res = await manage(monthly.subscriptionId, { items: [{ unitAmount: 2500, currency: 'USD', interval: 'month', productName: 'Bigger gift' }], prorationBehaviour: 'always_invoice' });
    assert.equal(res.statusCode, 200, res.body);
    const p = last().params;
    assert.equal(p['items[0][id]'], donationItem.id);
    assert.equal(p['items[0][deleted]'], 'true');
    assert.deepEqual([p['items[1][price_data][unit_amount]'], p['items[1][price_data][recurring][interval]'], p['items[1][quantity]']], ['2500', 'month', '1']);
    assert.equal(p['items[2][id]'], undefined, 'the tip item is not touched');
    assert.deepEqual([p.proration_behavior, p.payment_behavior], ['always_invoice', 'error_if_incomplete']);
    const sub = res.json() as Sub;
    assert.equal(sub.amount, 2500);
    assert.match(sub.subscriptionItems[0]!.priceId, /^price_/);
  });

  test('a change Stripe declines (always_invoice): 402 and nothing changes here', async () => {
    const before = await rowOf(monthly.subscriptionId);
    fake.next('POST', /^\/v1\/subscriptions\/sub_/, cardDeclined('card_declined'));
    const res = await manage(monthly.subscriptionId, { items: [{ unitAmount: 9900, currency: 'USD', interval: 'month' }], prorationBehaviour: 'always_invoice' });
    assert.equal(res.statusCode, 402, res.body);
    assert.equal((res.json() as Json).code, 'CARD_DECLINED');
    assert.equal((await rowOf(monthly.subscriptionId)).amount, before.amount);
  });

  test('a new payment method becomes the default_payment_method', async () => {
    const res = await manage(monthly.subscriptionId, { paymentMethodId: 'pm_1SubsAmex' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(last().params, { default_payment_method: 'pm_1SubsAmex' });
    assert.equal((res.json() as Sub).paymentMethodId, 'pm_1SubsAmex');
    const unknown = await manage(monthly.subscriptionId, { paymentMethodId: 'pm_not_saved' });
    assert.equal(unknown.statusCode, 404, unknown.body);
  });
});

describe('invoices from Stripe', () => {
  test('invoice.paid, delivered five times at once: one charge with the sandbox split and one ledger transaction; the period moves', async () => {
    const sid = await stripeId(monthly.subscriptionId);
    const before = await rowOf(monthly.subscriptionId);
    const start = Math.floor(before.current_period_end.getTime() / 1000);
    const paid = invoice(sid, 2700, { start, end: start + 30 * DAY_SECONDS });
    const payload = event('invoice.paid', paid);
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(payload)));
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200]);
    assert.deepEqual(answers.map((a) => (a.json() as Json).duplicate).sort(), [false, true, true, true, true]);
    // Another event about the same invoice changes nothing either.
    assert.equal((await deliver(event('invoice.paid', paid))).statusCode, 200);
    const charges = await chargesOf(monthly.subscriptionId);
    assert.equal(charges.length, 1);
    const c = charges[0]!;
    // 2500 a month plus the 200 tip: fee 2.9 % + 30 of 2700, cut 20 % of 2500, the tip, the rest to charity 42.
    assert.deepEqual([c.gross, c.tip, c.partner_cut, c.fee, c.destination_amount], [2700n, 200n, 500n, 108n, 1892n]);
    assert.deepEqual([c.amount, c.invoice_tip], [2500n, 200n]);
    assert.notEqual(c.ledger_transaction_id, null);
    const txs = await ctx.services.db.selectFrom('ledger_transactions').select('id').where('reference', '=', c.id).execute();
    assert.equal(txs.length, 1);
    const after = await rowOf(monthly.subscriptionId);
    assert.equal(after.current_period_start.getTime(), start * 1000);
    assert.equal(after.current_period_end.getTime(), (start + 30 * DAY_SECONDS) * 1000);
    assert.ok((await checkLedger(ctx.services.db)).ok);
  });

  test('invoice.payment_failed makes it past_due; the next invoice.paid makes it active again', async () => {
    const sid = await stripeId(monthly.subscriptionId);
    assert.equal((await deliver(event('invoice.payment_failed', { ...invoice(sid, 2700), amount_paid: 0 }))).statusCode, 200);
    assert.equal((await rowOf(monthly.subscriptionId)).status, 'past_due');
    assert.equal((await deliver(event('invoice.paid', invoice(sid, 2700)))).statusCode, 200);
    assert.equal((await rowOf(monthly.subscriptionId)).status, 'active');
  });

  test('customer.subscription.updated and .deleted mirror Stripe\'s state', async () => {
    const sid = await stripeId(monthly.subscriptionId);
    const current = fake.subscriptions.get(sid)!;
    assert.equal((await deliver(event('customer.subscription.updated', { ...current, status: 'past_due', cancel_at_period_end: true }))).statusCode, 200);
    const updated = await rowOf(monthly.subscriptionId);
    assert.deepEqual([updated.status, updated.cancel_at_period_end], ['past_due', true]);
    const ended = Math.floor(Date.now() / 1000);
    assert.equal((await deliver(event('customer.subscription.deleted', { ...current, status: 'canceled', ended_at: ended }))).statusCode, 200);
    const deleted = await rowOf(monthly.subscriptionId);
    assert.deepEqual([deleted.status, deleted.ended_at?.getTime()], ['canceled', ended * 1000]);
  });
});

describe('cancelling', () => {
  test('DELETE cancels at Stripe; our row mirrors the answer; a canceled one cannot be managed', async () => {
    const res = await subscribe({ items: [{ priceId }], paymentMethodId: 'pm_1SubsVisa', charityId: 42 });
    assert.equal(res.statusCode, 201, res.body);
    const id = (res.json() as Sub).subscriptionId;
    const gone = await call('DELETE', `/api/customers/${customerId}/subscriptions/${id}`);
    assert.equal(gone.statusCode, 200, gone.body);
    assert.equal(fake.last('DELETE', /^\/v1\/subscriptions\//).path, `/v1/subscriptions/${await stripeId(id)}`);
    const sub = gone.json() as Sub;
    assert.equal(sub.status, 'canceled');
    assert.notEqual(sub.endDate, null);
    const again = await manage(id, { pause: true });
    assert.equal(again.statusCode, 409, again.body);
  });
});

describe('a creation whose answer was lost', () => {
  function failNextLink() {
    const faults = ctx.services.stripeSubscriptions.faults;
    faults.beforeLinkCommit = () => {
      delete faults.beforeLinkCommit;
      throw new Error('Connection terminated unexpectedly');
    };
  }
  const incomplete = async () => (await rows()).filter((r) => r.status === 'incomplete');

  test('the same request again, without any key, gets the one subscription Stripe created', async () => {
    const body = { items: [{ unitAmount: 1300, currency: 'USD', interval: 'month' }], paymentMethodId: 'pm_1SubsVisa', charityId: 42, notes: 'lost once' };
    const created = fake.subscriptions.size;
    failNextLink();
    const lost = await subscribe(body);
    assert.equal(lost.statusCode, 503, lost.body);
    const [row] = await incomplete();
    assert.ok(row, 'left incomplete');
    const list = (await call('GET', `/api/customers/${customerId}/subscriptions`)).json() as Sub[];
    assert.equal(list.some((s) => s.subscriptionId === row.id), false, 'an incomplete subscription is not shown');
    const retry = await subscribe(body);
    assert.equal(retry.statusCode, 201, retry.body);
    assert.equal((retry.json() as Sub).subscriptionId, row.id);
    assert.equal(fake.subscriptions.size, created + 1, 'one subscription created at Stripe');
    assert.equal(fake.find('POST', SUBS).filter((r) => r.idempotencyKey === `subscription:${row.id}`).length, 2, 'asked twice, one key');
    const next = await subscribe(body);
    assert.notEqual((next.json() as Sub).subscriptionId, row.id, 'once told, the same request is a new subscription');
  });

  test('the worker sweep finishes it; its first invoice.paid is then recorded on it', async () => {
    failNextLink();
    const lost = await subscribe({ items: [{ unitAmount: 1400, currency: 'USD', interval: 'month' }], paymentMethodId: 'pm_1SubsVisa', charityId: 42 });
    assert.equal(lost.statusCode, 503, lost.body);
    const [row] = await incomplete();
    const swept = await Promise.all([ctx.services.stripeSubscriptions.reconcile(), ctx.services.stripeSubscriptions.reconcile()]);
    assert.equal(swept[0] + swept[1], 1);
    const linked = await rowOf(row!.id);
    assert.equal(linked.status, 'active');
    assert.equal(fake.subscriptions.has(linked.processor_ref!), true);
    assert.equal((await deliver(event('invoice.paid', invoice(linked.processor_ref!, 1400)))).statusCode, 200);
    assert.equal((await chargesOf(row!.id)).length, 1);
  });

  test('an invoice.paid that arrives before the row knows Stripe\'s id finds it by our id in the metadata', async () => {
    failNextLink();
    const lost = await subscribe({ items: [{ unitAmount: 1600, currency: 'USD', interval: 'month' }], paymentMethodId: 'pm_1SubsVisa', charityId: 42 });
    assert.equal(lost.statusCode, 503, lost.body);
    const [row] = await incomplete();
    const sid = [...fake.subscriptions.values()].find((s) => (s.metadata as Json).almoner_subscription_id === row!.id)!.id as string;
    const res = await deliver(event('invoice.paid', invoice(sid, 1600, { metadata: { almoner_subscription_id: row!.id } })));
    assert.equal(res.statusCode, 200, res.body);
    const linked = await rowOf(row!.id);
    assert.deepEqual([linked.status, linked.processor_ref], ['active', sid]);
    assert.equal((await chargesOf(row!.id)).length, 1);
    assert.equal(await ctx.services.stripeSubscriptions.reconcile(), 0);
  });
});

describe('subscription-mode checkout', () => {
  const SESSIONS = /^\/v1\/checkout\/sessions$/;
  const body = {
    mode: 'subscription',
    currency: 'USD',
    items: [{ unitAmount: 1500, currency: 'USD', interval: 'month', productName: 'Monthly' }],
    tip: 100,
    tipInterval: 'month',
    charityId: 42,
    successURL: 'https://partner.example/thanks',
    cancelURL: 'https://partner.example/cancel',
  };
  /** The subscription Stripe Checkout creates when the donor pays. */
  function checkoutSubscription(id: string, reference: string) {
    const start = Math.floor(Date.now() / 1000);
    const item = (price: string, amount: number) => ({ id: `si_${price}`, object: 'subscription_item', price: { id: price, object: 'price', product: `prod_${price}`, unit_amount: amount }, quantity: 1, metadata: {}, current_period_start: start, current_period_end: start + 30 * DAY_SECONDS });
    fake.objects.set(id, {
      id,
      object: 'subscription',
      status: 'active',
      customer: customerId,
      default_payment_method: 'pm_1CheckoutCard',
      cancel_at_period_end: false,
      cancel_at: null,
      pause_collection: null,
      ended_at: null,
      start_date: start,
      metadata: { almoner_checkout: reference },
      items: { object: 'list', data: [item('price_1Monthly', 1500), item('price_1TipLine', 100)] },
    });
  }

  test('a Stripe Checkout Session in subscription mode: recurring lines, the cut and our reference on the subscription, Stripe\'s URL', async () => {
    const res = await call('POST', `/api/customers/${customerId}/checkout`, body);
    assert.equal(res.statusCode, 200, res.body);
    const session = res.json() as { id: string; url: string };
    assert.equal(session.url, `https://checkout.stripe.com/c/pay/${session.id}`);
    const p = fake.last('POST', SESSIONS).params;
    assert.equal(p.mode, 'subscription');
    assert.equal(p.customer, customerId);
    assert.deepEqual(
      [p['line_items[0][price_data][unit_amount]'], p['line_items[0][price_data][recurring][interval]'], p['line_items[0][price_data][product_data][name]'], p['line_items[0][quantity]']],
      ['1500', 'month', 'Monthly', '1'],
    );
    assert.deepEqual([p['line_items[1][price_data][unit_amount]'], p['line_items[1][price_data][recurring][interval]'], p['line_items[1][price_data][product_data][name]']], ['100', 'month', 'Tip']);
    assert.equal(p['subscription_data[application_fee_percent]'], '20');
    assert.equal(p['subscription_data[transfer_data][destination]'], CONNECTED);
    assert.match(p['subscription_data[metadata][almoner_checkout]'] ?? '', /^checkout:/);
    assert.equal(p['payment_intent_data[application_fee_amount]'], undefined);
    const row = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
    assert.deepEqual([row.mode, row.processor_url, row.processor_key], ['subscription', session.url, p['subscription_data[metadata][almoner_checkout]']]);

    // The donor pays on Stripe's page: checkout.session.completed creates our subscription from Stripe's.
    checkoutSubscription('sub_1FromCheckout', row.processor_key!);
    const completed = event('checkout.session.completed', { id: session.id, object: 'checkout.session', mode: 'subscription', subscription: 'sub_1FromCheckout', payment_intent: null, payment_status: 'paid' });
    const answers = await Promise.all([deliver(completed), deliver(completed)]);
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200]);
    const subs = (await rows()).filter((r) => r.processor_ref === 'sub_1FromCheckout');
    assert.equal(subs.length, 1);
    const sub = subs[0]!;
    assert.deepEqual([sub.status, sub.amount, sub.tip, sub.tip_interval, sub.payment_method_id, sub.customer_id], ['active', 1500n, 100n, 'month', 'pm_1CheckoutCard', customerId]);
    assert.equal(sub.items[0]!.priceId, 'price_1Monthly');
    const listed = (await call('GET', `/api/customers/${customerId}/subscriptions`)).json() as Sub[];
    assert.ok(listed.some((s) => s.subscriptionId === sub.id));
    const session2 = await ctx.services.db.selectFrom('checkout_sessions').select('status').where('id', '=', session.id).executeTakeFirstOrThrow();
    assert.equal(session2.status, 'complete');

    // Its first invoice records the period's charge, the tip apart.
    assert.equal((await deliver(event('invoice.paid', invoice('sub_1FromCheckout', 1600)))).statusCode, 200);
    const [c] = await chargesOf(sub.id);
    assert.deepEqual([c?.gross, c?.tip, c?.partner_cut], [1600n, 100n, 300n]);
  });

  test('the first invoice.paid arriving before checkout.session.completed: the subscription is created from the session it names, once', async () => {
    const res = await call('POST', `/api/customers/${customerId}/checkout`, body);
    assert.equal(res.statusCode, 200, res.body);
    const session = res.json() as { id: string };
    const reference = fake.last('POST', SESSIONS).params['subscription_data[metadata][almoner_checkout]']!;
    checkoutSubscription('sub_1EarlyInvoice', reference);
    const paid = await deliver(event('invoice.paid', invoice('sub_1EarlyInvoice', 1600, { metadata: { almoner_checkout: reference } })));
    assert.equal(paid.statusCode, 200, paid.body);
    const [sub] = (await rows()).filter((r) => r.processor_ref === 'sub_1EarlyInvoice');
    assert.ok(sub);
    assert.equal((await chargesOf(sub.id)).length, 1);
    const completed = await deliver(event('checkout.session.completed', { id: session.id, object: 'checkout.session', mode: 'subscription', subscription: 'sub_1EarlyInvoice', payment_intent: null, payment_status: 'paid' }));
    assert.equal(completed.statusCode, 200, completed.body);
    assert.equal((await rows()).filter((r) => r.processor_ref === 'sub_1EarlyInvoice').length, 1);
    assert.equal((await chargesOf(sub.id)).length, 1);
  });
});
