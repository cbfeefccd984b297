import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { PROCESSOR_LEASE_MS, KEY_REPLAY_MS } from '../../src/modules/payments/charges.processing.js';
import { createPartner } from '../factories/partners.js';
import { createStripePaymentsAccount, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';
import { FakeStripe } from '../harness/fake-stripe.js';

/**
 * A Stripe charge cannot be lost between Stripe and our database: the row is committed as
 * processing before Stripe is asked, so when recording Stripe's answer fails (simulated here by a
 * fault inside the recording transaction, after Stripe took the money) the charge is found
 * processing, and asking again (the same request, the worker's sweep, or the webhook) settles it
 * exactly once, with Stripe's first PaymentIntent and never a second.
 */

const SECRET = `whsec_${randomBytes(16).toString('hex')}`;
const PI_PATH = /^\/v1\/payment_intents$/;
let fake: FakeStripe;
let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;

before(async () => {
  fake = await FakeStripe.start();
  ctx = await createTestContext({ env: { ALMONER_STRIPE_API_BASE: fake.url, ALMONER_STRIPE_MAX_NETWORK_RETRIES: '0', ALMONER_STRIPE_WEBHOOK_SECRET: SECRET } });
  account = await createStripePaymentsAccount(ctx, (await createPartner(ctx.services)).partnerId, OPERATOR_TOKEN);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { paymentProcessorAccountId: 'acct_1CrashCut', percentageCut: 10 });
  await seedDestinations(ctx.services, account.accountId, [42]);
  customerId = ((await call('POST', '/api/customers', { email: 'crash@example.com' })).json() as { customerId: string }).customerId;
  await ctx.services.db
    .insertInto('payment_methods')
    .values({ id: 'pm_1CrashVisa', account_id: account.accountId, customer_id: customerId, type: 'card', card_brand: 'visa', card_last4: '4242', status: 'active', created_at: ctx.clock.now() })
    .execute();
});
after(async () => {
  const report = await checkLedger(ctx.services.db);
  await ctx.close();
  await fake.stop();
  assert.ok(report.ok, JSON.stringify(report));
});

type Json = Record<string, unknown>;
function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body === undefined ? {} : { payload: body as object }) });
}
const charge = (body: Json, headers: Record<string, string> = {}) => call('POST', `/api/customers/${customerId}/charges`, body, headers);
const row = (id: string) => ctx.services.db.selectFrom('charges').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const processing = () => ctx.services.db.selectFrom('charges').selectAll().where('account_id', '=', account.accountId).where('status', '=', 'processing').execute();
const postings = (chargeId: string) => ctx.services.db.selectFrom('ledger_transactions').select('id').where('reference', '=', chargeId).execute();
/** PaymentIntents the fake created for one charge: a replay under the same key creates none. */
const intentsFor = (chargeId: string) => [...fake.paymentIntents.values()].filter((pi) => (pi.metadata as Record<string, string>).almoner_charge_id === chargeId);

function succeededEvent(pi: Record<string, unknown>) {
  return JSON.stringify({
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    data: { object: { ...pi, status: 'succeeded', amount_received: pi.amount, payment_method: 'pm_1CrashVisa' } },
  });
}

function deliver(payload: string) {
  return ctx.app.inject({
    method: 'POST',
    url: '/api/stripe/webhook',
    // Signed at our clock's time, which these tests move ahead.
    headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET, timestamp: Math.floor(ctx.clock.now().getTime() / 1000) }) },
    payload,
  });
}

/** The next recording of a Stripe answer fails before it commits, as a dropped database connection would. */
function failNextRecording() {
  const faults = ctx.services.charges.processing.faults;
  faults.beforeOutcomeCommit = () => {
    delete faults.beforeOutcomeCommit;
    throw new Error('Connection terminated unexpectedly');
  };
}

/** A charge Stripe took whose recording failed: answered 503, left processing. */
async function lostAnswer(body: Json, headers: Record<string, string> = {}) {
  const before = new Set((await processing()).map((r) => r.id));
  failNextRecording();
  const res = await charge(body, headers);
  assert.equal(res.statusCode, 503, res.body);
  assert.equal((res.json() as Json).code, 'SERVICE_UNAVAILABLE');
  assert.match(String((res.json() as Json).message), /stays processing/);
  const left = (await processing()).filter((r) => !before.has(r.id));
  assert.equal(left.length, 1, 'the charge is found processing');
  assert.equal(left[0]!.ledger_transaction_id, null);
  assert.equal(intentsFor(left[0]!.id).length, 1, 'Stripe took it once');
  return left[0]!;
}

describe('a commit that fails after Stripe took the money', () => {
  test('the worker sweep asks Stripe again under the same key: settled succeeded exactly once, with the first PaymentIntent', async () => {
    const lost = await lostAnswer({ amount: 2500, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    const pi = intentsFor(lost.id)[0]!;
    // Concurrent sweeps: the lease lets one ask; the others find nothing to do.
    const swept = await Promise.all([ctx.services.charges.reconcileProcessing(), ctx.services.charges.reconcileProcessing(), ctx.services.charges.reconcileProcessing()]);
    assert.equal(swept.reduce((a, b) => a + b, 0), 1);
    const settled = await row(lost.id);
    assert.equal(settled.status, 'succeeded');
    assert.equal(settled.processor_ref, pi.id);
    assert.equal(settled.answered_at, null, 'nobody has been told yet');
    assert.equal((await postings(lost.id)).length, 1);
    assert.equal(intentsFor(lost.id).length, 1, 'no second PaymentIntent');
    const asks = fake.find('POST', PI_PATH).filter((r) => r.idempotencyKey === lost.processor_key);
    assert.equal(asks.length, 2, 'the first attempt and the sweep\'s replay, under one key');
    assert.equal(await ctx.services.charges.reconcileProcessing(), 0);
    assert.ok((await checkLedger(ctx.services.db)).ok);

    // The client, never told, sends the same request again without a key: it learns this charge's outcome.
    const retry = await charge({ amount: 2500, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.equal((retry.json() as Json).chargeId, lost.id);
    assert.equal(intentsFor(lost.id).length, 1);
    assert.notEqual((await row(lost.id)).answered_at, null);
    // Told once, the same request is a new donation.
    const next = await charge({ amount: 2500, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    assert.equal(next.statusCode, 200, next.body);
    assert.notEqual((next.json() as Json).chargeId, lost.id);
  });

  test('a retry without Idempotency-Key right after the failure pays nothing twice: Stripe saw one PaymentIntent created', async () => {
    const body = { amount: 3100, paymentMethodId: 'pm_1CrashVisa', charityId: 42, description: 'retried' };
    const creates = fake.paymentIntents.size;
    const lost = await lostAnswer(body);
    const retry = await charge(body);
    assert.equal(retry.statusCode, 200, retry.body);
    assert.equal((retry.json() as Json).chargeId, lost.id, 'the retry is given the first charge');
    assert.equal(fake.paymentIntents.size, creates + 1, 'one PaymentIntent created at Stripe');
    const settled = await row(lost.id);
    assert.deepEqual([settled.status, settled.processor_ref], ['succeeded', intentsFor(lost.id)[0]!.id]);
    assert.equal((await postings(lost.id)).length, 1);
    assert.equal(await ctx.services.charges.reconcileProcessing(), 0);
  });

  test('with an Idempotency-Key: the retry with the key settles and answers the same charge', async () => {
    const lost = await lostAnswer({ amount: 1800, paymentMethodId: 'pm_1CrashVisa', charityId: 42 }, { 'idempotency-key': 'crash-key-1' });
    const retry = await charge({ amount: 1800, paymentMethodId: 'pm_1CrashVisa', charityId: 42 }, { 'idempotency-key': 'crash-key-1' });
    assert.equal(retry.statusCode, 200, retry.body);
    assert.equal((retry.json() as Json).chargeId, lost.id);
    assert.equal(intentsFor(lost.id).length, 1);
    const sent = fake.find('POST', PI_PATH).length;
    const replayed = await charge({ amount: 1800, paymentMethodId: 'pm_1CrashVisa', charityId: 42 }, { 'idempotency-key': 'crash-key-1' });
    assert.deepEqual(replayed.json(), retry.json());
    assert.equal(fake.find('POST', PI_PATH).length, sent, 'a finished key is answered from our table');
  });

  test('a crashed process still holds the charge: the retry is told to wait (409) and asks nothing; after the lease it settles', async () => {
    const body = { amount: 4200, paymentMethodId: 'pm_1CrashVisa', charityId: 42 };
    const lost = await lostAnswer(body);
    // A process that died holding the lease never gave it back.
    await ctx.services.db.updateTable('charges').set({ lease_until: new Date(ctx.clock.now().getTime() + PROCESSOR_LEASE_MS) }).where('id', '=', lost.id).execute();
    const sent = fake.find('POST', PI_PATH).length;
    const busy = await charge(body);
    assert.equal(busy.statusCode, 409, busy.body);
    assert.equal((busy.json() as Json).code, 'CONFLICT');
    assert.ok(busy.headers['retry-after']);
    assert.equal(await ctx.services.charges.reconcileProcessing(), 0, 'the sweep leaves a leased charge alone');
    assert.equal(fake.find('POST', PI_PATH).length, sent);
    ctx.clock.advance(PROCESSOR_LEASE_MS + 1000);
    token = await paymentsToken(ctx, account);
    const retry = await charge(body);
    assert.equal(retry.statusCode, 200, retry.body);
    assert.equal((retry.json() as Json).chargeId, lost.id);
    assert.equal(intentsFor(lost.id).length, 1);
    assert.equal((await postings(lost.id)).length, 1);
  });

  test('the payment_intent.succeeded webhook settles it by the charge id in the metadata; the sweep then finds nothing', async () => {
    const lost = await lostAnswer({ amount: 5300, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    const pi = intentsFor(lost.id)[0]!;
    const payload = succeededEvent(pi);
    const deliveries = await Promise.all(Array.from({ length: 3 }, () => deliver(payload)));
    assert.deepEqual(deliveries.map((d) => d.statusCode), [200, 200, 200]);
    const settled = await row(lost.id);
    assert.deepEqual([settled.status, settled.processor_ref], ['succeeded', pi.id]);
    assert.equal((await postings(lost.id)).length, 1);
    ctx.clock.advance(PROCESSOR_LEASE_MS + 1000);
    assert.equal(await ctx.services.charges.reconcileProcessing(), 0);
    assert.equal((await postings(lost.id)).length, 1);
  });

  test('the webhook settles it while the sweep is still asking Stripe: the sweep records nothing more', async () => {
    const lost = await lostAnswer({ amount: 5400, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    const pi = intentsFor(lost.id)[0]!;
    fake.next('POST', PI_PATH, async () => {
      const hook = await deliver(succeededEvent(pi));
      assert.equal(hook.statusCode, 200, hook.body);
      return { status: 200, body: { ...pi, status: 'succeeded' } };
    });
    assert.equal(await ctx.services.charges.reconcileProcessing(), 1);
    const settled = await row(lost.id);
    assert.deepEqual([settled.status, settled.processor_ref], ['succeeded', pi.id]);
    assert.equal((await postings(lost.id)).length, 1, 'posted once, by the webhook');
  });

  test('a decline whose recording failed is settled failed with Stripe\'s code, and nothing is posted', async () => {
    fake.next('POST', PI_PATH, (r) => ({
      status: 200,
      body: { id: 'pi_crash_declined', object: 'payment_intent', amount: Number(r.params.amount), status: 'requires_payment_method', metadata: {}, last_payment_error: { code: 'card_declined', decline_code: 'do_not_honor', message: 'Your card was declined.' } },
    }));
    failNextRecording();
    const res = await charge({ amount: 6100, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    assert.equal(res.statusCode, 503, res.body);
    const [lost] = await processing();
    assert.ok(lost);
    // Stripe would replay its first answer under the key; the fake replays only its canned answers.
    fake.next('POST', PI_PATH, (r) => ({
      status: 200,
      body: { id: 'pi_crash_declined', object: 'payment_intent', amount: Number(r.params.amount), status: 'requires_payment_method', metadata: {}, last_payment_error: { code: 'card_declined', decline_code: 'do_not_honor', message: 'Your card was declined.' } },
    }));
    assert.equal(await ctx.services.charges.reconcileProcessing(), 1);
    const settled = await row(lost.id);
    assert.deepEqual([settled.status, settled.failure_code, settled.processor_ref], ['failed', 'do_not_honor', 'pi_crash_declined']);
    assert.equal((await postings(lost.id)).length, 0);
  });

  test('a day later Stripe\'s key is gone: the sweep looks the PaymentIntent up by the charge id in its metadata instead of paying again', async () => {
    const lost = await lostAnswer({ amount: 7300, paymentMethodId: 'pm_1CrashVisa', charityId: 42 });
    // The worker was down for a day: the charge's lease long expired.
    ctx.clock.advance(KEY_REPLAY_MS + 60_000);
    const sent = fake.find('POST', PI_PATH).length;
    assert.equal(await ctx.services.charges.reconcileProcessing(), 1);
    assert.equal(fake.find('POST', PI_PATH).length, sent, 'no charge attempt after the key expired');
    assert.match(fake.last('GET', /^\/v1\/payment_intents\/search$/).params.query ?? '', new RegExp(`metadata\\['almoner_charge_id'\\]:'${lost.id}'`));
    assert.equal((await row(lost.id)).status, 'succeeded');
    assert.equal((await postings(lost.id)).length, 1);
  });
});
