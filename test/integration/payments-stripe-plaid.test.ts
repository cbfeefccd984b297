import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createStripePaymentsAccount, paymentsToken } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';
import { FakePlaid, PLAID_ACCOUNT_ID, VALID_PUBLIC_TOKEN } from '../harness/fake-plaid.js';
import { FakeStripe } from '../harness/fake-stripe.js';

/** Plaid through the official SDK against a local Plaid-like server, for a Stripe account (contract B6.10). */

let stripe: FakeStripe;
let plaid: FakePlaid;
let ctx: TestContext;
let token: string;
let customerId: string;

before(async () => {
  stripe = await FakeStripe.start();
  plaid = await FakePlaid.start();
  ctx = await createTestContext({
    env: { ALMONER_STRIPE_API_BASE: stripe.url, ALMONER_PLAID_CLIENT_ID: 'plaid-client', ALMONER_PLAID_SECRET: 'plaid-secret', ALMONER_PLAID_API_BASE: plaid.url },
  });
  const account = await createStripePaymentsAccount(ctx, (await createPartner(ctx.services)).partnerId, OPERATOR_TOKEN);
  token = await paymentsToken(ctx, account);
  customerId = ((await call('POST', '/api/customers', { email: 'ach@example.com' })).json() as { customerId: string }).customerId;
});
after(async () => {
  await ctx.close();
  await stripe.stop();
  await plaid.stop();
});

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
}

test('a Link token for the customer: Auth, US, English, our customer id as the Plaid user, credentials in headers only', async () => {
  const res = await call('GET', `/api/customers/${customerId}/plaid/link-token`);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { environment: string; clientName: string; linkToken: string };
  assert.equal(body.environment, 'sandbox');
  assert.match(body.linkToken, /^link-sandbox-/);
  const req = plaid.last('/link/token/create');
  assert.deepEqual([req.clientId, req.secret], ['plaid-client', 'plaid-secret']);
  assert.deepEqual(req.body.user, { client_user_id: customerId });
  assert.deepEqual([req.body.products, req.body.country_codes, req.body.language], [['auth'], ['US'], 'en']);
  assert.equal(req.body.client_name, body.clientName);
  assert.equal(JSON.stringify(req.body).includes('plaid-secret'), false);
});

test('exchange: the public token becomes a Stripe bank token attached to the customer, a verified bank account', async () => {
  const res = await call('POST', `/api/customers/${customerId}/plaid`, { values: VALID_PUBLIC_TOKEN, accountId: PLAID_ACCOUNT_ID });
  assert.equal(res.statusCode, 200, res.body);
  const bank = res.json() as { id: string; status: string };
  assert.match(bank.id, /^ba_/);
  assert.equal(bank.status, 'verified');
  assert.equal(plaid.last('/item/public_token/exchange').body.public_token, VALID_PUBLIC_TOKEN);
  const btok = plaid.last('/processor/stripe/bank_account_token/create');
  assert.equal(btok.body.account_id, PLAID_ACCOUNT_ID);
  const source = stripe.last('POST', new RegExp(`^/v1/customers/${customerId}/sources$`));
  assert.match(source.params.source!, /^btok_plaid_/);
});

test('a public token Plaid refuses: 400 with Plaid\'s code, nothing attached', async () => {
  const before = stripe.find('POST', /\/sources$/).length;
  const res = await call('POST', `/api/customers/${customerId}/plaid`, { values: 'public-sandbox-wrong', accountId: PLAID_ACCOUNT_ID });
  assert.equal(res.statusCode, 400, res.body);
  assert.equal((res.json() as { code: string }).code, 'PROCESSOR_REJECTED');
  assert.match((res.json() as { message: string }).message, /INVALID_PUBLIC_TOKEN/);
  assert.equal(stripe.find('POST', /\/sources$/).length, before);
});
