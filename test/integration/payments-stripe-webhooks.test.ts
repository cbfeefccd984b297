import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createStripePaymentsAccount, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';
import { FakeStripe } from '../harness/fake-stripe.js';

/**
 * POST /api/stripe/webhook: signed with the SDK's test header, verified on the raw body, applied
 * once per event id (five concurrent deliveries, one effect), and mapped onto charges, refunds,
 * saved methods and payment intents. The ledger must check clean afterwards.
 */

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
let fake: FakeStripe;
let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
let bankCharge: { id: string; ref: string };

before(async () => {
  fake = await FakeStripe.start();
  ctx = await createTestContext({
    env: { ALMONER_STRIPE_API_BASE: fake.url, ALMONER_STRIPE_MAX_NETWORK_RETRIES: '0', ALMONER_STRIPE_WEBHOOK_SECRET: `whsec_other,${SECRET}` },
  });
  account = await createStripePaymentsAccount(ctx, (await createPartner(ctx.services)).partnerId, OPERATOR_TOKEN);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { paymentProcessorAccountId: 'acct_1HookCut', percentageCut: 10 });
  await seedDestinations(ctx.services, account.accountId, [42]);
  customerId = ((await call('POST', '/api/customers', { email: 'hooks@example.com' })).json() as { customerId: string }).customerId;
  bankCharge = await pendingBankCharge('ba_1HookBank0001', 'pi_hook_ach_0001');
});
after(async () => {
  const report = await checkLedger(ctx.services.db);
  await ctx.close();
  await fake.stop();
  assert.ok(report.ok, JSON.stringify(report));
});

type Json = Record<string, unknown>;
function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
}

function event(type: string, object: Json, overrides: Json = {}): string {
  return JSON.stringify({ id: `evt_${randomBytes(12).toString('hex')}`, object: 'event', type, livemode: false, created: Math.floor(Date.now() / 1000), data: { object }, ...overrides });
}

function deliver(payload: string, signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET })) {
  return ctx.app.inject({ method: 'POST', url: '/api/stripe/webhook', headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature }, payload });
}

const charge = (id: string) => ctx.services.db.selectFrom('charges').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const eventRow = (payload: string) =>
  ctx.services.db.selectFrom('stripe_events').selectAll().where('id', '=', (JSON.parse(payload) as { id: string }).id).executeTakeFirst();
const ledgerTransactions = (reference: string) => ctx.services.db.selectFrom('ledger_transactions').select(['id', 'kind']).where('reference', '=', reference).execute();

/** An ACH charge Stripe accepted and is still processing. */
async function pendingBankCharge(methodId: string, piId: string) {
  await ctx.services.db
    .insertInto('payment_methods')
    .values({ id: methodId, account_id: account.accountId, customer_id: customerId, type: 'us_bank_account', bank_name: 'STRIPE TEST BANK', bank_last4: '6789', status: 'verified', created_at: ctx.clock.now() })
    .execute();
  fake.next('POST', /^\/v1\/payment_intents$/, (r) => ({ status: 200, body: { id: piId, object: 'payment_intent', amount: Number(r.params.amount), status: 'processing', last_payment_error: null } }));
  const res = await call('POST', `/api/customers/${customerId}/charges`, { amount: 20000, paymentMethodId: methodId, charityId: 42 });
  assert.equal(res.statusCode, 200, res.body);
  return { id: (res.json() as { chargeId: string }).chargeId, ref: piId };
}

const pi = (id: string, status: string, extra: Json = {}) => ({ id, object: 'payment_intent', amount: 20000, amount_received: 20000, status, payment_method: 'ba_1HookBank0001', ...extra });

describe('signatures', () => {
  test('a bad, a missing, a stale or another secret\'s signature: 400 INVALID_SIGNATURE and nothing recorded or changed', async () => {
    const payload = event('payment_intent.succeeded', pi(bankCharge.ref, 'succeeded'));
    const tampered = payload.replace('"amount":20000', '"amount":20001');
    for (const [what, res] of [
      ['another secret', await deliver(payload, Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_attacker' }))],
      ['no header', await ctx.app.inject({ method: 'POST', url: '/api/stripe/webhook', headers: { 'content-type': 'application/json' }, payload })],
      ['garbage', await deliver(payload, 'not-a-signature')],
      ['body changed after signing', await deliver(tampered, Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET }))],
      ['ten minutes old', await deliver(payload, Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: Math.floor(Date.now() / 1000) - 600 }))],
    ] as const) {
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assert.equal((res.json() as Json).code, 'INVALID_SIGNATURE', what);
    }
    // Correctly signed but not an event at all: still a 400, with nothing recorded.
    const empty = await deliver('', Stripe.webhooks.generateTestHeaderString({ payload: '', secret: SECRET }));
    assert.equal(empty.statusCode, 400, empty.body);
    assert.equal(await eventRow(payload), undefined);
    assert.equal((await charge(bankCharge.id)).status, 'pending');
  });
});

describe('payments', () => {
  test('payment_intent.succeeded settles the pending debit: the charge succeeds and its ledger transaction is posted once', async () => {
    const payload = event('payment_intent.succeeded', pi(bankCharge.ref, 'succeeded'));
    const res = await deliver(payload);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { received: true, duplicate: false });
    const row = await charge(bankCharge.id);
    assert.equal(row.status, 'succeeded');
    assert.equal((await ledgerTransactions(row.id)).length, 1);
    assert.equal((await eventRow(payload))?.outcome, 'applied');
    assert.equal((await eventRow(payload))?.account_id, account.accountId);
    assert.ok((await checkLedger(ctx.services.db)).ok);
  });

  test('the same event delivered five times at once: one effect, four duplicates, all 200', async () => {
    const other = await pendingBankCharge('ba_1HookBank0002', 'pi_hook_ach_0002');
    const payload = event('payment_intent.succeeded', pi(other.ref, 'succeeded', { payment_method: 'ba_1HookBank0002' }));
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(payload)));
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200]);
    assert.deepEqual(answers.map((a) => (a.json() as Json).duplicate).sort(), [false, true, true, true, true]);
    assert.equal((await ledgerTransactions(other.id)).length, 1);
    assert.equal((await charge(other.id)).status, 'succeeded');
  });

  test('payment_intent.payment_failed fails a pending debit with Stripe\'s code; nothing is posted', async () => {
    const failing = await pendingBankCharge('ba_1HookBank0003', 'pi_hook_ach_0003');
    const res = await deliver(
      event('payment_intent.payment_failed', pi(failing.ref, 'requires_payment_method', { last_payment_error: { code: 'payment_method_provider_decline', decline_code: 'insufficient_funds', message: 'The bank account has insufficient funds.' } })),
    );
    assert.equal(res.statusCode, 200, res.body);
    const row = await charge(failing.id);
    assert.deepEqual([row.status, row.failure_code], ['failed', 'insufficient_funds']);
    assert.equal((await ledgerTransactions(failing.id)).length, 0);
  });

  test('charge.refunded from Stripe\'s dashboard records the refund; the same total again changes nothing', async () => {
    const refunded = (total: number) => event('charge.refunded', { id: 'ch_stripe_1', object: 'charge', payment_intent: bankCharge.ref, amount: 20000, amount_refunded: total, refunded: total === 20000 });
    assert.equal((await deliver(refunded(5000))).statusCode, 200);
    assert.equal((await charge(bankCharge.id)).refunded_amount, 5000n);
    assert.equal((await deliver(refunded(5000))).statusCode, 200);
    assert.equal((await charge(bankCharge.id)).refunded_amount, 5000n, 'a new event id with the same total refunds nothing more');
    assert.deepEqual((await ledgerTransactions(bankCharge.id)).map((t) => t.kind).sort(), ['CHARGE', 'REFUND']);
  });

  test('a payment intent created through the API and confirmed with Stripe.js becomes a charge when Stripe says it succeeded', async () => {
    await ctx.services.db.insertInto('payment_methods').values({ id: 'pm_1HookCard', account_id: account.accountId, customer_id: customerId, type: 'card', card_brand: 'visa', card_last4: '4242', status: 'active', created_at: ctx.clock.now() }).execute();
    const created = await call('POST', `/api/customers/${customerId}/payment-intents`, { amount: 3000, charityId: 42 });
    assert.equal(created.statusCode, 200, created.body);
    const secret = (created.json() as { clientSecret: string }).clientSecret;
    const intentId = secret.slice(0, secret.indexOf('_secret_'));
    const res = await deliver(event('payment_intent.succeeded', { id: intentId, object: 'payment_intent', amount: 3000, amount_received: 3000, status: 'succeeded', payment_method: 'pm_1HookCard' }));
    assert.equal(res.statusCode, 200, res.body);
    const intent = await ctx.services.db.selectFrom('payment_intents').selectAll().where('id', '=', intentId).executeTakeFirstOrThrow();
    assert.equal(intent.status, 'succeeded');
    const row = await charge(intent.charge_id!);
    assert.equal(row.status, 'succeeded');
    assert.equal(row.processor_ref, intentId);
  });
});

describe('setup intents', () => {
  test('setup_intent.succeeded saves the card Stripe.js collected to the customer, described by Stripe', async () => {
    const res = await call('POST', `/api/customers/${customerId}/setup-intents`);
    assert.equal(res.statusCode, 200, res.body);
    const secret = res.json() as string;
    assert.match(secret, /^seti_.+_secret_/);
    assert.deepEqual(fake.last('POST', /^\/v1\/setup_intents$/).params, { customer: customerId, usage: 'off_session' });
    const setupId = secret.slice(0, secret.indexOf('_secret_'));
    fake.objects.set('pm_1SavedByJs', { id: 'pm_1SavedByJs', object: 'payment_method', type: 'card', card: { brand: 'mastercard', last4: '4444', exp_month: 3, exp_year: 2031 }, billing_details: { name: 'Jenny Rosen', email: 'hooks@example.com' } });
    const hook = await deliver(event('setup_intent.succeeded', { id: setupId, object: 'setup_intent', status: 'succeeded', customer: customerId, payment_method: 'pm_1SavedByJs' }));
    assert.equal(hook.statusCode, 200, hook.body);
    const methods = (await call('GET', `/api/customers/${customerId}/payment-methods`)).json() as { id: string; card: { brand: string; last4: string } | null }[];
    const saved = methods.find((m) => m.id === 'pm_1SavedByJs');
    assert.deepEqual(saved?.card && { brand: saved.card.brand, last4: saved.card.last4 }, { brand: 'mastercard', last4: '4444' });
  });
});

describe('events that change nothing', () => {
  test('an unknown type: 200, recorded as ignored', async () => {
    const payload = event('customer.tax_id.created', { id: 'txi_1', object: 'tax_id' });
    const res = await deliver(payload);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await eventRow(payload))?.outcome, 'ignored');
  });

  test('an object we do not know, or a live-mode event about a test account: 200, recorded as unmatched', async () => {
    const unknown = event('payment_intent.succeeded', pi('pi_not_ours', 'succeeded'));
    assert.equal((await deliver(unknown)).statusCode, 200);
    assert.equal((await eventRow(unknown))?.outcome, 'unmatched');
    const live = await pendingBankCharge('ba_1HookBank0004', 'pi_hook_ach_0004');
    const liveEvent = event('payment_intent.succeeded', pi(live.ref, 'succeeded', { payment_method: 'ba_1HookBank0004' }), { livemode: true });
    assert.equal((await deliver(liveEvent)).statusCode, 200);
    assert.equal((await eventRow(liveEvent))?.outcome, 'unmatched');
    assert.equal((await charge(live.id)).status, 'pending');
  });
});
