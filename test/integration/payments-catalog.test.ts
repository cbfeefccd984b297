import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** Contract B6.8 products and prices, B6.11 connected accounts. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let other: string;
before(async () => {
  ctx = await createTestContext();
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  other = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId));
});
after(async () => {
  await ctx.close();
});

const call = (method: string, url: string, body?: unknown) => paymentsCall(ctx, token, method, url, body);
type Json = Record<string, unknown>;
const err = (res: { statusCode: number; body: string }, status: number, code: string) => {
  assert.equal(res.statusCode, status, res.body);
  assert.equal((JSON.parse(res.body) as Json).code, code);
};

describe('products and prices', () => {
  test("the demo app's calls: create a product, then a monthly price; read productId and priceId", async () => {
    const productData = (await call('POST', '/api/products', { name: 'Monthly subscription donation to 123456' })).json() as Json;
    assert.match(String(productData.productId), /^prod_/);
    assert.equal(productData.name, 'Monthly subscription donation to 123456');
    const res = await call('POST', `/api/products/${productData.productId}/prices`, { interval: 'month', currency: 'usd', unitAmount: 500 });
    assert.equal(res.statusCode, 200, res.body);
    const intervalData = res.json() as Json;
    assert.match(String(intervalData.priceId), /^price_/);
    assert.deepEqual(intervalData, {
      priceId: intervalData.priceId,
      isCustomAmount: false,
      currency: 'USD',
      unitAmount: 500,
      recurringInterval: 'month',
      productId: productData.productId,
      type: 'recurring',
    });
    ctx.clock.advance(1); // the list is oldest first; with equal times the order would be the ids'
    const once = (await call('POST', `/api/products/${productData.productId}/prices`, { currency: 'JPY', unitAmount: 50000 })).json() as Json;
    assert.equal(once.type, 'one_time');
    assert.equal(once.recurringInterval, null);
    const prices = (await call('GET', `/api/products/${productData.productId}/prices`)).json() as Json[];
    assert.deepEqual(prices.map((p) => p.priceId), [intervalData.priceId, once.priceId]);
    const products = (await call('GET', '/api/products')).json() as Json[];
    assert.ok(products.some((p) => p.productId === productData.productId));
  });

  test('bad prices -> 400; unknown or foreign product -> 404', async () => {
    const product = (await call('POST', '/api/products', { name: 'P' })).json() as Json;
    const url = `/api/products/${product.productId}/prices`;
    for (const body of [
      { currency: 'usd' },
      { currency: 'usd', unitAmount: 0 },
      { currency: 'usd', unitAmount: -5 },
      { currency: 'usd', unitAmount: 4.5 },
      { currency: 'usd', unitAmount: 100_000_000 },
      { currency: 'usd', unitAmount: 500, interval: 'fortnight' },
      { currency: 'USD', unitAmount: 500, interval: 'USD' },
      { currency: 'XYZ', unitAmount: 500 },
      { currency: 'dollars', unitAmount: 500 },
    ]) {
      err(await call('POST', url, body), 400, 'VALIDATION_ERROR');
    }
    err(await call('POST', '/api/products', {}), 400, 'VALIDATION_ERROR');
    err(await call('POST', '/api/products', { name: '' }), 400, 'VALIDATION_ERROR');
    err(await call('POST', '/api/products/prod_missing/prices', { currency: 'usd', unitAmount: 500 }), 404, 'NOT_FOUND');
    err(await paymentsCall(ctx, other, 'GET', url), 404, 'NOT_FOUND');
    err(await paymentsCall(ctx, other, 'POST', url, { currency: 'usd', unitAmount: 500 }), 404, 'NOT_FOUND');
    assert.ok(!((await paymentsCall(ctx, other, 'GET', '/api/products')).json() as Json[]).some((p) => p.productId === product.productId));
  });
});

describe('connected accounts', () => {
  const op = (url: string, body: unknown) => ctx.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, payload: body as object });

  test('registered by the operator, read by the partner with the contract shape', async () => {
    const res = await op(`/v1/admin/payments-accounts/${account.accountId}/connected-accounts`, {
      paymentProcessorAccountId: 'acct_1H34bREfLw79XQY3',
      percentageCut: 20,
      description: 'My test account',
    });
    assert.equal(res.statusCode, 201, res.body);
    const expected = { paymentProcessorAccountId: 'acct_1H34bREfLw79XQY3', percentageCut: 20, description: 'My test account' };
    assert.deepEqual(res.json(), expected);
    assert.deepEqual((await call('GET', '/api/connected-accounts/acct_1H34bREfLw79XQY3')).json(), expected);
    assert.deepEqual((await call('GET', '/api/connected-accounts')).json(), [expected]);
    const fractional = await op(`/v1/admin/payments-accounts/${account.accountId}/connected-accounts`, { percentageCut: 2.5 });
    assert.equal((fractional.json() as Json).percentageCut, 2.5);
  });

  test('bad input: duplicate id 409, unknown account 404, cut out of range or with 3 decimals 400, foreign read 404', async () => {
    const url = `/v1/admin/payments-accounts/${account.accountId}/connected-accounts`;
    assert.equal((await op(url, { paymentProcessorAccountId: 'acct_dup00001', percentageCut: 5 })).statusCode, 201);
    err(await op(url, { paymentProcessorAccountId: 'acct_dup00001', percentageCut: 5 }), 409, 'CONFLICT');
    err(await op('/v1/admin/payments-accounts/acct_nope/connected-accounts', { percentageCut: 5 }), 404, 'NOT_FOUND');
    for (const body of [{ percentageCut: 101 }, { percentageCut: -1 }, { percentageCut: 2.555 }, { percentageCut: '20' }, {}]) {
      err(await op(url, body), 400, 'VALIDATION_ERROR');
    }
    err(await paymentsCall(ctx, other, 'GET', '/api/connected-accounts/acct_dup00001'), 404, 'NOT_FOUND');
  });
});
