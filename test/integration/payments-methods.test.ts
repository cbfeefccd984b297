import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken } from '../factories/payments.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** Contract B6.6, B6.7 and the default/delete rows of B6.10: setup intents and saved cards. */

let ctx: TestContext;
let token: string;
let otherToken: string;
before(async () => {
  ctx = await createTestContext({ now: new Date('2026-03-15T12:00:00Z') });
  const p = await createPartner(ctx.services);
  token = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, p.partnerId));
  const q = await createPartner(ctx.services);
  otherToken = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, q.partnerId));
});
after(async () => {
  await ctx.close();
});

type Json = Record<string, unknown>;
const call = (method: string, url: string, body?: unknown) => paymentsCall(ctx, token, method, url, body);
const confirm = (body: unknown) => ctx.app.inject({ method: 'POST', url: '/sandbox/setup-intents/confirm', payload: body as Json });

function assertError(res: { statusCode: number; body: string }, status: number, code: string, message?: RegExp) {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as { code: string; message: string };
  assert.equal(body.code, code, res.body);
  if (message) assert.match(body.message, message);
}

async function customer(t = token): Promise<string> {
  const res = await paymentsCall(ctx, t, 'POST', '/api/customers', { email: `c${Math.random()}@example.com` });
  assert.equal(res.statusCode, 201, res.body);
  return String((res.json() as Json).customerId);
}

async function setupIntent(customerId: string, t = token): Promise<string> {
  const res = await paymentsCall(ctx, t, 'POST', `/api/customers/${customerId}/setup-intents`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as string;
}

/** Saves a card the way the payment page does; returns its pm_ id. */
async function saveCard(customerId: string, source: Json = { paymentMethod: 'pm_card_visa' }, t = token): Promise<string> {
  const res = await confirm({ clientSecret: await setupIntent(customerId, t), ...source });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal((res.json() as Json).status, 'succeeded', res.body);
  return String((res.json() as Json).paymentMethod);
}

const card = (number: string, extra: Json = {}) => ({ card: { number, expMonth: 12, expYear: 2030, cvc: '123', ...extra } });
const methods = async (customerId: string) => (await call('GET', `/api/customers/${customerId}/payment-methods`)).json() as Json[];

describe('setup intents', () => {
  test('customer and guest setup intents answer a bare JSON string client secret', async () => {
    const cus = await customer();
    const res = await call('POST', `/api/customers/${cus}/setup-intents`);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.match(res.body, /^"seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"$/);
    const guest = await call('POST', '/api/customers/setup-intents');
    assert.equal(guest.statusCode, 200, guest.body);
    assert.match(guest.json() as string, /^seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/);
    assert.notEqual(guest.json(), res.json());
  });

  test('confirming with a test card saves it on the customer with the card table details', async () => {
    const cus = await customer();
    const secret = await setupIntent(cus);
    const res = await confirm({ clientSecret: secret, ...card('5555 5555 5555 4444', { expMonth: 4, expYear: 29 }), billingDetails: { name: 'Ada' } });
    assert.equal(res.statusCode, 200, res.body);
    const intent = res.json() as Json;
    assert.equal(intent.status, 'succeeded');
    assert.equal(intent.customerId, cus);
    assert.equal(intent.nextAction, null);
    assert.equal(intent.id, secret.split('_secret_')[0]);
    const [pm] = await methods(cus);
    assert.deepEqual(pm, {
      id: intent.paymentMethod,
      type: 'card',
      card: { brand: 'mastercard', last4: '4444', exp_month: 4, exp_year: 2029 },
      us_bank_account: null,
      billing_details: { name: 'Ada', email: null, phone: null },
      created: Math.floor(ctx.clock.now().getTime() / 1000),
      isDefault: false,
    });
    const row = await ctx.services.db.selectFrom('payment_methods').selectAll().where('id', '=', String(intent.paymentMethod)).executeTakeFirstOrThrow();
    assert.equal(row.sandbox_outcome, 'succeeds');
    // An intent is used once.
    assertError(await confirm({ clientSecret: secret, paymentMethod: 'pm_card_visa' }), 409, 'INVALID_STATE', /already succeeded/);
  });

  test('a declining test card still saves, remembering its outcome for charge time', async () => {
    const cus = await customer();
    const pm = await saveCard(cus, card('4000000000009995'));
    const row = await ctx.services.db.selectFrom('payment_methods').selectAll().where('id', '=', pm).executeTakeFirstOrThrow();
    assert.equal(row.sandbox_outcome, 'insufficient_funds');
    assert.equal(row.customer_id, cus);
    const viaId = await saveCard(cus, { paymentMethod: 'pm_card_chargeDeclined' });
    const row2 = await ctx.services.db.selectFrom('payment_methods').selectAll().where('id', '=', viaId).executeTakeFirstOrThrow();
    assert.equal(row2.sandbox_outcome, 'generic_decline');
  });

  test('a 3-D Secure card waits in requires_action; authenticate true saves it', async () => {
    const cus = await customer();
    const secret = await setupIntent(cus);
    const first = await confirm({ clientSecret: secret, ...card('4000002500003155') });
    assert.equal(first.statusCode, 200, first.body);
    const intent = first.json() as Json;
    assert.equal(intent.status, 'requires_action');
    assert.deepEqual(intent.nextAction, { type: 'authenticate', method: 'POST', url: '/sandbox/setup-intents/confirm', body: { clientSecret: secret, authenticate: true } });
    assert.deepEqual(await methods(cus), [], 'not attached before authentication');
    const next = intent.nextAction as { url: string; body: Json };
    const done = await ctx.app.inject({ method: 'POST', url: next.url, payload: next.body });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal((done.json() as Json).status, 'succeeded');
    assert.deepEqual((await methods(cus)).map((m) => m.id), [intent.paymentMethod]);
    assertError(await confirm({ clientSecret: secret, authenticate: true }), 409, 'INVALID_STATE');
  });

  test('failing 3-D Secure returns the intent to requires_payment_method with the error; another card can follow', async () => {
    const cus = await customer();
    const secret = await setupIntent(cus);
    assert.equal(((await confirm({ clientSecret: secret, paymentMethod: 'pm_card_authenticationRequired' })).json() as Json).status, 'requires_action');
    const failed = await confirm({ clientSecret: secret, authenticate: false });
    assert.equal(failed.statusCode, 200, failed.body);
    const intent = failed.json() as Json;
    assert.equal(intent.status, 'requires_payment_method');
    assert.equal(intent.paymentMethod, null);
    assert.equal((intent.lastError as Json).code, 'setup_intent_authentication_failure');
    assertError(await confirm({ clientSecret: secret, authenticate: true }), 409, 'INVALID_STATE', /requires_action/);
    const ok = await confirm({ clientSecret: secret, paymentMethod: 'pm_card_visa' });
    assert.equal((ok.json() as Json).status, 'succeeded');
    assert.equal((ok.json() as Json).lastError, null);
    assert.equal((await methods(cus)).length, 1);
  });

  test('a guest setup intent saves a card attached to nobody', async () => {
    const secret = (await call('POST', '/api/customers/setup-intents')).json() as string;
    const res = await confirm({ clientSecret: secret, paymentMethod: 'pm_card_visa' });
    assert.equal((res.json() as Json).status, 'succeeded', res.body);
    assert.equal((res.json() as Json).customerId, null);
  });

  test('bad cards -> 400 saying what is wrong, and the intent stays usable', async () => {
    const cus = await customer();
    const secret = await setupIntent(cus);
    const cases: [Json, RegExp][] = [
      [card('4242424242424241'), /not a valid card number/],
      [card('4242'), /not a valid card number/],
      [card('4111111111111111'), /test card numbers only/],
      [card('4242424242424242', { expMonth: 2, expYear: 2026 }), /expired in 02\/2026/],
      [card('4242424242424242', { expYear: 2019 }), /expired/],
      [card('4242424242424242', { cvc: undefined }), /cvc is required/],
      [card('4242424242424242', { cvc: '12' }), /cvc must be 3 or 4 digits/],
      [{ paymentMethod: 'pm_card_unknown' }, /Unknown test payment method/],
      [{}, /exactly one of/],
      [{ ...card('4242424242424242'), paymentMethod: 'pm_card_visa' }, /exactly one of/],
    ];
    for (const [source, message] of cases) assertError(await confirm({ clientSecret: secret, ...source }), 400, 'VALIDATION_ERROR', message);
    for (const body of [
      { clientSecret: secret, ...card('4242424242424242', { expMonth: 13 }) },
      { clientSecret: secret, paymentMethod: 'pm_card_visa', extra: 1 },
      { paymentMethod: 'pm_card_visa' },
    ]) {
      assertError(await confirm(body), 400, 'VALIDATION_ERROR');
    }
    // This month is still valid.
    assert.equal((await confirm({ clientSecret: secret, ...card('4242424242424242', { expMonth: 3, expYear: 2026 }) })).statusCode, 200);
  });

  test('a wrong, malformed or foreign-looking client secret -> 404', async () => {
    const secret = await setupIntent(await customer());
    const [id] = secret.split('_secret_');
    for (const clientSecret of [`${id}_secret_wrong`, `${id}_secret_${'x'.repeat(24)}`, 'seti_nope_secret_abc', 'not-a-secret', id!]) {
      assertError(await confirm({ clientSecret, paymentMethod: 'pm_card_visa' }), 404, 'NOT_FOUND', /client secret/);
    }
  });

  test("unknown or another account's customer -> 404", async () => {
    assertError(await call('POST', '/api/customers/cus_nope/setup-intents'), 404, 'NOT_FOUND');
    const theirs = await customer(otherToken);
    assertError(await call('POST', `/api/customers/${theirs}/setup-intents`), 404, 'NOT_FOUND');
    assertError(await call('GET', `/api/customers/${theirs}/payment-methods`), 404, 'NOT_FOUND');
  });
});

describe('list, default, delete', () => {
  test('the list is newest first and excludes detached methods', async () => {
    const cus = await customer();
    const a = await saveCard(cus);
    ctx.clock.advance(1000);
    const b = await saveCard(cus, { paymentMethod: 'pm_card_amex' });
    ctx.clock.advance(1000);
    const c = await saveCard(cus, { paymentMethod: 'pm_card_discover' });
    assert.deepEqual((await methods(cus)).map((m) => m.id), [c, b, a]);
    const del = await call('DELETE', `/api/customers/${cus}/payment-methods/${b}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { id: b, deleted: true });
    assert.deepEqual((await methods(cus)).map((m) => m.id), [c, a]);
    assertError(await call('DELETE', `/api/customers/${cus}/payment-methods/${b}`), 404, 'NOT_FOUND');
    assertError(await call('POST', `/api/customers/${cus}/payment-methods/${b}/default`), 404, 'NOT_FOUND');
  });

  test('default by POST or PUT sets isDefault and the customer row; deleting the default clears it', async () => {
    const cus = await customer();
    const a = await saveCard(cus);
    const b = await saveCard(cus, { paymentMethod: 'pm_card_mastercard' });
    const res = await call('POST', `/api/customers/${cus}/payment-methods/${a}/default`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { defaultPaymentMethod: a });
    assert.deepEqual((await methods(cus)).filter((m) => m.isDefault).map((m) => m.id), [a]);
    assert.deepEqual((await call('PUT', `/api/customers/${cus}/payment-methods/${b}/default`)).json(), { defaultPaymentMethod: b });
    assert.deepEqual((await methods(cus)).filter((m) => m.isDefault).map((m) => m.id), [b]);
    const row = () => ctx.services.db.selectFrom('payment_customers').select('default_payment_method_id').where('id', '=', cus).executeTakeFirstOrThrow();
    assert.equal((await row()).default_payment_method_id, b);
    await call('DELETE', `/api/customers/${cus}/payment-methods/${a}`);
    assert.equal((await row()).default_payment_method_id, b, 'deleting another method keeps the default');
    await call('DELETE', `/api/customers/${cus}/payment-methods/${b}`);
    assert.equal((await row()).default_payment_method_id, null);
  });

  test("a method of another customer or another account -> 404 on default, delete and verify", async () => {
    const mine = await customer();
    const sibling = await customer();
    const siblings = await saveCard(sibling);
    const theirCustomer = await customer(otherToken);
    const theirs = await saveCard(theirCustomer, { paymentMethod: 'pm_card_visa' }, otherToken);
    for (const [cus, pm] of [
      [mine, siblings],
      [mine, theirs],
      [theirCustomer, theirs],
      [mine, 'pm_nope'],
      ['cus_nope', siblings],
    ]) {
      assertError(await call('POST', `/api/customers/${cus}/payment-methods/${pm}/default`), 404, 'NOT_FOUND');
      assertError(await call('DELETE', `/api/customers/${cus}/payment-methods/${pm}`), 404, 'NOT_FOUND');
      assertError(await call('POST', `/api/customers/${cus}/payment-methods/${pm}/verify`, { values: [32, 45] }), 404, 'NOT_FOUND');
    }
    assert.equal((await methods(sibling)).length, 1, 'still there');
  });

  test('two concurrent deletes: one deletes, the other finds nothing', async () => {
    const cus = await customer();
    const pm = await saveCard(cus);
    const results = await Promise.all([0, 1, 2].map(() => call('DELETE', `/api/customers/${cus}/payment-methods/${pm}`)));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 404, 404]);
  });
});
