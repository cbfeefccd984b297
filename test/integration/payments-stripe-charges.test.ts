import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createStripePaymentsAccount, paymentsToken, seedDestinations, STRIPE_SECRET_KEY, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';
import { cardDeclined, FakeStripe, stripeError } from '../harness/fake-stripe.js';

/**
 * Charges on a Stripe account (contract B6.2 with processor "stripe"): the official SDK against a
 * local Stripe-like server. Checks the request Stripe receives (parameter names, types, keys) and
 * how its answers and failures become ours.
 */

let fake: FakeStripe;
let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
const CONNECTED = 'acct_1PartnerCut0001';

before(async () => {
  fake = await FakeStripe.start();
  ctx = await createTestContext({ env: { ALMONER_STRIPE_API_BASE: fake.url, ALMONER_STRIPE_MAX_NETWORK_RETRIES: '1' } });
  account = await createStripePaymentsAccount(ctx, (await createPartner(ctx.services)).partnerId, OPERATOR_TOKEN);
  token = await paymentsToken(ctx, account);
  await ctx.services.catalog.createConnected(account.accountId, { paymentProcessorAccountId: CONNECTED, percentageCut: 20 });
  await seedDestinations(ctx.services, account.accountId, [42]);
  const res = await call('POST', '/api/customers', { email: 'donor@example.com', firstName: 'Jenny', lastName: 'Rosen', externalId: 'user-1' });
  assert.equal(res.statusCode, 201, res.body);
  customerId = (res.json() as { customerId: string }).customerId;
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
const chargeRows = () => ctx.services.db.selectFrom('charges').selectAll().where('account_id', '=', account.accountId).execute();
const PI_PATH = /^\/v1\/payment_intents$/;

/** A method the donor saved with Stripe.js (Stripe's own id), as the setup_intent.succeeded webhook records it. */
async function savedMethod(id: string, type: 'card' | 'us_bank_account' = 'card') {
  await ctx.services.db
    .insertInto('payment_methods')
    .values({
      id,
      account_id: account.accountId,
      customer_id: customerId,
      type,
      card_brand: type === 'card' ? 'visa' : null,
      card_last4: type === 'card' ? '4242' : null,
      card_exp_month: type === 'card' ? 12 : null,
      card_exp_year: type === 'card' ? 2034 : null,
      bank_name: type === 'card' ? null : 'STRIPE TEST BANK',
      bank_last4: type === 'card' ? null : '6789',
      status: type === 'card' ? 'active' : 'verified',
      sandbox_outcome: null,
      created_at: ctx.clock.now(),
    })
    .execute();
  return id;
}

describe('customers', () => {
  test('a customer is created at Stripe with the secret key, and its id is Stripe\'s', () => {
    const req = fake.last('POST', /^\/v1\/customers$/);
    assert.equal(req.authorization, `Bearer ${STRIPE_SECRET_KEY}`);
    assert.match(String(req.stripeVersion), /^\d{4}-\d{2}-\d{2}/);
    assert.deepEqual(req.params, { email: 'donor@example.com', name: 'Jenny Rosen', 'metadata[external_id]': 'user-1' });
    assert.match(customerId, /^cus_/);
  });

  test('an update reaches Stripe too', async () => {
    const res = await call('PUT', `/api/customers/${customerId}`, { firstName: 'Jen' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(fake.last('POST', new RegExp(`^/v1/customers/${customerId}$`)).params, { name: 'Jen Rosen' });
  });
});

describe('card charges', () => {
  test('a PaymentIntent confirmed off-session with the saved card: a destination charge whose application fee is the cut', async () => {
    const pm = await savedMethod('pm_1SavedVisa0001');
    const res = await charge(
      { amount: 5000, paymentMethodId: pm, charityId: 42, description: 'Spring gift', statementDescriptor: 'SPRING GIFT', metadata: [{ key: 'campaign', value: 'spring' }] },
      { 'idempotency-key': 'order-1' },
    );
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as Json;
    assert.equal(body.status, 'Success');
    const req = fake.last('POST', PI_PATH);
    assert.deepEqual(req.params, {
      amount: '5000',
      currency: 'usd',
      payment_method: pm,
      'automatic_payment_methods[enabled]': 'true',
      'automatic_payment_methods[allow_redirects]': 'never',
      confirm: 'true',
      off_session: 'true',
      customer: customerId,
      description: 'Spring gift',
      statement_descriptor_suffix: 'SPRING GIFT',
      'metadata[campaign]': 'spring',
      // Our charge id, which finds the charge again should Stripe's answer never be recorded.
      'metadata[almoner_charge_id]': body.chargeId,
      'transfer_data[destination]': CONNECTED,
      application_fee_amount: '1000',
    });
    assert.equal(req.idempotencyKey, `charge:${account.accountId}:order-1`);
    const row = (await chargeRows()).find((r) => r.id === body.chargeId)!;
    assert.equal(row.status, 'succeeded');
    assert.match(String(row.processor_ref), /^pi_/);
    assert.notEqual(row.ledger_transaction_id, null);
    assert.deepEqual([row.gross, row.partner_cut], [5000n, 1000n]);
  });

  test('the same Idempotency-Key again: the first answer, and Stripe is not asked twice', async () => {
    const before = fake.find('POST', PI_PATH).length;
    const res = await charge(
      { amount: 5000, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42, description: 'Spring gift', statementDescriptor: 'SPRING GIFT', metadata: [{ key: 'campaign', value: 'spring' }] },
      { 'idempotency-key': 'order-1' },
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(fake.find('POST', PI_PATH).length, before);
  });

  test('a decline: 402 CARD_DECLINED with Stripe\'s decline code, the charge failed and nothing paid', async () => {
    fake.next('POST', PI_PATH, cardDeclined('insufficient_funds', 'Your card has insufficient funds.'));
    const res = await charge({ amount: 2000, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 });
    assert.equal(res.statusCode, 402, res.body);
    const body = res.json() as Json;
    assert.equal(body.code, 'CARD_DECLINED');
    assert.equal(body.declineCode, 'insufficient_funds');
    assert.equal(body.message, 'Your card has insufficient funds.');
    const row = (await chargeRows()).find((r) => r.id === body.chargeId)!;
    assert.equal(row.status, 'failed');
    assert.equal(row.failure_code, 'insufficient_funds');
    assert.equal(row.ledger_transaction_id, null);
  });

  test('3-D Secure wanted: the donor is not there to pass it, so it is declined as authentication_required', async () => {
    fake.next('POST', PI_PATH, (r) => ({ status: 200, body: { id: 'pi_3ds_0001', object: 'payment_intent', amount: Number(r.params.amount), status: 'requires_action', last_payment_error: null } }));
    const res = await charge({ amount: 2000, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 });
    assert.equal(res.statusCode, 402, res.body);
    assert.equal((res.json() as Json).declineCode, 'authentication_required');
  });
});

describe('Stripe failing', () => {
  for (const [what, answer, status, code] of [
    ['a 500', stripeError(500, { type: 'api_error', message: 'Something went wrong on our end' }), 502, 'PROCESSOR_ERROR'],
    ['a dropped connection', 'drop' as const, 503, 'PROCESSOR_UNAVAILABLE'],
  ] as const) {
    test(`${what}, retried by the SDK with the same key: ${status} ${code}, the charge left processing; our retry with the same Idempotency-Key then pays it once`, async () => {
      const charges = (await chargeRows()).length;
      const sent = fake.find('POST', PI_PATH).length;
      fake.next('POST', PI_PATH, answer, 2);
      const key = `retry-${code}`;
      const res = await charge({ amount: 1500, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 }, { 'idempotency-key': key });
      assert.equal(res.statusCode, status, res.body);
      const body = res.json() as Json;
      assert.equal(body.code, code);
      assert.doesNotMatch(String(body.message), /at .*\.ts|stack/i);
      assert.match(String(body.message), /is processing until Stripe's answer is known/);
      // Stripe may have taken it: the charge stays, processing, with nothing posted until Stripe says.
      const inDoubt = (await chargeRows()).filter((r) => r.status === 'processing');
      assert.equal(inDoubt.length, 1);
      assert.equal(inDoubt[0]!.ledger_transaction_id, null);
      const again = await charge({ amount: 1500, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 }, { 'idempotency-key': key });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((again.json() as Json).chargeId, inDoubt[0]!.id, 'the same charge, now paid');
      const attempts = fake.find('POST', PI_PATH).slice(sent);
      assert.equal(attempts.length, 3, 'two SDK attempts, then our retry');
      assert.deepEqual(new Set(attempts.map((a) => a.idempotencyKey)), new Set([`charge:${account.accountId}:${key}`]));
      assert.equal((await chargeRows()).length, charges + 1);
      assert.equal((await chargeRows()).filter((r) => r.status === 'processing').length, 0);
    });
  }

  test('rate limited (429): 503 with Retry-After', async () => {
    fake.next('POST', PI_PATH, stripeError(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests' }));
    const res = await charge({ amount: 1500, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal((res.json() as Json).code, 'PROCESSOR_UNAVAILABLE');
    assert.ok(res.headers['retry-after']);
  });

  test('Stripe refusing the request: 400 with Stripe\'s message, and nothing recorded (Stripe took nothing)', async () => {
    const charges = (await chargeRows()).length;
    fake.next('POST', PI_PATH, stripeError(400, { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_method', message: "No such PaymentMethod: 'pm_1SavedVisa0001'" }));
    const res = await charge({ amount: 1500, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 }, { 'idempotency-key': 'refused-1' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal((await chargeRows()).length, charges);
    const again = await charge({ amount: 1500, paymentMethodId: 'pm_1SavedVisa0001', charityId: 42 }, { 'idempotency-key': 'refused-1' });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal((await chargeRows()).length, charges + 1);
    assert.equal((res.json() as Json).code, 'PROCESSOR_REJECTED');
    assert.match(String((res.json() as Json).message), /No such PaymentMethod/);
  });
});

describe('bank debits', () => {
  test('ACH: the debit is processing, the charge pending with Stripe\'s mandate stated; the sandbox clock never settles it', async () => {
    const ba = await savedMethod('ba_1VerifiedBank0001', 'us_bank_account');
    fake.next('POST', PI_PATH, (r) => ({ status: 200, body: { id: 'pi_ach_0001', object: 'payment_intent', amount: Number(r.params.amount), status: 'processing', last_payment_error: null } }));
    const res = await charge({ amount: 10000, paymentMethodId: ba, charityId: 42, statementDescriptor: 'ACH GIFT' });
    assert.equal(res.statusCode, 200, res.body);
    const req = fake.last('POST', PI_PATH);
    assert.equal(req.params['mandate_data[customer_acceptance][type]'], 'offline');
    assert.equal(req.params.statement_descriptor, 'ACH GIFT');
    const row = (await chargeRows()).find((r) => r.id === (res.json() as Json).chargeId)!;
    assert.equal(row.status, 'pending');
    assert.equal(row.processor_ref, 'pi_ach_0001');
    ctx.clock.advance(30 * 86_400_000);
    await ctx.services.charges.settleDue();
    const after = (await chargeRows()).find((r) => r.id === row.id)!;
    assert.equal(after.status, 'pending', 'Stripe settles it and says so by webhook');
    assert.equal(after.ledger_transaction_id, null);
  });
});

describe('catalogue and checkout', () => {
  test('products and prices are created at Stripe and keep Stripe\'s ids', async () => {
    token = await paymentsToken(ctx, account); // the clock moved a month ahead above
    const product = await call('POST', '/api/products', { name: 'Monthly gift' });
    assert.equal(product.statusCode, 200, product.body);
    const productId = (product.json() as { productId: string }).productId;
    assert.match(productId, /^prod_/);
    assert.deepEqual(fake.last('POST', /^\/v1\/products$/).params, { name: 'Monthly gift' });
    const price = await call('POST', `/api/products/${productId}/prices`, { interval: 'month', currency: 'usd', unitAmount: 500 });
    assert.equal(price.statusCode, 200, price.body);
    assert.deepEqual(fake.last('POST', /^\/v1\/prices$/).params, { currency: 'usd', unit_amount: '500', product: productId, 'recurring[interval]': 'month' });
    assert.equal((price.json() as { priceId: string }).priceId.startsWith('price_'), true);
  });

  test('a checkout session is a Stripe Checkout Session: Stripe\'s id and hosted URL, the cut as the application fee', async () => {
    const res = await call('POST', `/api/customers/${customerId}/checkout`, {
      currency: 'USD',
      amount: 5000,
      productName: 'Account funding',
      quantity: 1,
      tip: 300,
      charityId: 42,
      successURL: 'https://partner.example/thanks',
      cancelURL: 'https://partner.example/cancel',
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { id: string; url: string };
    assert.match(body.id, /^cs_test_/);
    assert.equal(body.url, `https://checkout.stripe.com/c/pay/${body.id}`);
    const p = fake.last('POST', /^\/v1\/checkout\/sessions$/).params;
    assert.equal(p.mode, 'payment');
    assert.equal(p.customer, customerId);
    assert.equal(p.success_url, 'https://partner.example/thanks?session_id={CHECKOUT_SESSION_ID}');
    assert.equal(p.cancel_url, 'https://partner.example/cancel');
    assert.deepEqual(
      [p['line_items[0][price_data][currency]'], p['line_items[0][price_data][unit_amount]'], p['line_items[0][price_data][product_data][name]'], p['line_items[0][quantity]']],
      ['usd', '5000', 'Account funding', '1'],
    );
    assert.deepEqual([p['line_items[1][price_data][unit_amount]'], p['line_items[1][price_data][product_data][name]']], ['300', 'Tip']);
    assert.equal(p['payment_intent_data[transfer_data][destination]'], CONNECTED);
    assert.equal(p['payment_intent_data[application_fee_amount]'], '1000');
    const row = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    assert.equal(row.processor_url, body.url);
  });
});
