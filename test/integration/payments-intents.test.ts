import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** Contract B6.5 payment intents, confirmed through the sandbox's Stripe.js stand-in. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [123456], [{ kind: 'giving_account', ref: '11420157' }, { kind: 'master_account', ref: 'corp' }, { kind: 'subaccount', ref: '123456', masterRef: 'corp' }]);
  customerId = ((await paymentsCall(ctx, token, 'POST', '/api/customers', { email: 'pi@example.com' })).json() as { customerId: string }).customerId;
});
after(async () => {
  assert.ok((await checkLedger(ctx.services.db)).ok);
  await ctx.close();
});

type Json = Record<string, unknown>;
const card = (number: string) => ({ number, expMonth: 12, expYear: 2034, cvc: '123' });
const create = async (body: Json, customer: string | null = customerId) => {
  const res = await paymentsCall(ctx, token, 'POST', customer ? `/api/customers/${customer}/payment-intents` : '/api/customers/payment-intents', body);
  assert.equal(res.statusCode, 200, res.body);
  const secret = String((res.json() as Json).clientSecret);
  assert.match(secret, /^pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/);
  return secret;
};
const confirm = async (body: Json) => {
  const res = await ctx.app.inject({ method: 'POST', url: '/sandbox/payment-intents/confirm', payload: body });
  return { status: res.statusCode, body: res.json() as Json };
};
const DEMO = { amount: 5000, currency: 'USD', customerCoveringFee: false, matchRequested: false, subaccountNumber: '123456', persistPaymentMethod: false };

describe('payment intents', () => {
  test("the demo app's body: create, confirm with a test card, succeeded with a charge", async () => {
    const clientSecret = await create(DEMO);
    const r = await confirm({ clientSecret, card: card('4242 4242 4242 4242') });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'succeeded');
    const charge = await ctx.services.db.selectFrom('charges').selectAll().where('id', '=', String(r.body.chargeId)).executeTakeFirstOrThrow();
    assert.equal(charge.status, 'succeeded');
    assert.equal(charge.payment_intent_id, r.body.id);
    const payments = (await paymentsCall(ctx, token, 'GET', `/api/customers/${customerId}/payments`)).json() as Json[];
    assert.ok(payments.some((p) => p.id === r.body.id && p.status === 'succeeded'));
    assert.equal((await confirm({ clientSecret, card: card('4242424242424242') })).status, 409, 'a paid intent cannot be paid again');
    // persistPaymentMethod false: the card is not saved to the customer.
    const methods = (await paymentsCall(ctx, token, 'GET', `/api/customers/${customerId}/payment-methods`)).json() as Json[];
    assert.equal(methods.length, 0);
  });

  test('JPY and a guest intent (the demo app\'s second body)', async () => {
    const clientSecret = await create({ amount: 50000, currency: 'JPY', givingaAccountNumber: '11420157', charityId: 123456 }, null);
    const r = await confirm({ clientSecret, paymentMethod: 'pm_card_visa' });
    assert.equal(r.body.status, 'succeeded');
    assert.equal(r.body.currency, 'JPY');
  });

  test('a decline leaves the intent open with lastError; another card then pays', async () => {
    const clientSecret = await create(DEMO);
    const declined = await confirm({ clientSecret, card: card('4000000000009995') });
    assert.equal(declined.status, 200);
    assert.equal(declined.body.status, 'requires_payment_method');
    assert.deepEqual(declined.body.lastError, { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' });
    const paid = await confirm({ clientSecret, card: card('4242424242424242') });
    assert.equal(paid.body.status, 'succeeded');
    assert.equal(paid.body.lastError, null);
  });

  test('3-D Secure: requires_action, then authenticate passes (or fails back to requires_payment_method)', async () => {
    const clientSecret = await create(DEMO);
    const challenged = await confirm({ clientSecret, card: card('4000002500003155') });
    assert.equal(challenged.body.status, 'requires_action');
    assert.deepEqual(challenged.body.nextAction, { type: 'authenticate', method: 'POST', url: '/sandbox/payment-intents/confirm', body: { clientSecret, authenticate: true } });
    assert.equal((await confirm({ clientSecret, authenticate: true })).body.status, 'succeeded');

    const other = await create(DEMO);
    await confirm({ clientSecret: other, paymentMethod: 'pm_card_threeDSecure2Required' });
    const failed = await confirm({ clientSecret: other, authenticate: false });
    assert.equal(failed.body.status, 'requires_payment_method');
    assert.equal((failed.body.lastError as Json).code, 'payment_intent_authentication_failure');
  });

  test('persistPaymentMethod saves the card; a saved paymentMethodId pays without a card', async () => {
    const first = await create({ ...DEMO, persistPaymentMethod: true });
    await confirm({ clientSecret: first, card: card('5555555555554444') });
    const methods = (await paymentsCall(ctx, token, 'GET', `/api/customers/${customerId}/payment-methods`)).json() as Json[];
    assert.equal(methods.length, 1);
    const saved = String(methods[0]!.id);
    const second = await create({ ...DEMO, paymentMethodId: saved });
    const r = await confirm({ clientSecret: second });
    assert.equal(r.body.status, 'succeeded');
    assert.equal(r.body.paymentMethod, saved);
    const retrieved = await ctx.app.inject({ method: 'POST', url: '/sandbox/payment-intents/retrieve', payload: { clientSecret: second } });
    assert.equal((retrieved.json() as Json).status, 'succeeded');
  });
});

describe('bad input', () => {
  test('amount missing or bad, unknown destination, foreign method -> 400/404', async () => {
    for (const body of [{ currency: 'USD', subaccountNumber: '123456' }, { ...DEMO, amount: 0 }, { ...DEMO, amount: 1.5 }, { ...DEMO, currency: 'ZZZ' }]) {
      assert.equal((await paymentsCall(ctx, token, 'POST', `/api/customers/${customerId}/payment-intents`, body)).statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await paymentsCall(ctx, token, 'POST', `/api/customers/${customerId}/payment-intents`, { ...DEMO, subaccountNumber: '404' })).statusCode, 404);
    assert.equal((await paymentsCall(ctx, token, 'POST', `/api/customers/${customerId}/payment-intents`, { ...DEMO, paymentMethodId: 'pm_nope' })).statusCode, 404);
    assert.equal((await paymentsCall(ctx, token, 'POST', '/api/customers/cus_nope/payment-intents', DEMO)).statusCode, 404);
  });

  test('confirm: wrong secret 404, bad card 400, two sources 400, nothing to pay with 400', async () => {
    const clientSecret = await create(DEMO);
    assert.equal((await confirm({ clientSecret: `${clientSecret}x`, paymentMethod: 'pm_card_visa' })).status, 404);
    assert.equal((await confirm({ clientSecret: 'pi_abc_secret_def', paymentMethod: 'pm_card_visa' })).status, 404);
    assert.equal((await confirm({ clientSecret, card: card('4242424242424241') })).status, 400);
    assert.equal((await confirm({ clientSecret, card: { number: '4242424242424242', expMonth: 1, expYear: 2020, cvc: '123' } })).status, 400);
    assert.equal((await confirm({ clientSecret, card: card('4242424242424242'), paymentMethod: 'pm_card_visa' })).status, 400);
    assert.equal((await confirm({ clientSecret })).status, 400);
    assert.equal((await confirm({ clientSecret, authenticate: true })).status, 409);
  });
});
