import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken } from '../factories/payments.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** Contract B6.10: bank accounts from a bank token (micro-deposits) or from Plaid (verified at once). */

let ctx: TestContext;
let token: string;
let otherToken: string;
let partnerName: string;
before(async () => {
  ctx = await createTestContext();
  const p = await createPartner(ctx.services);
  partnerName = (await ctx.services.db.selectFrom('partners').select('name').where('id', '=', p.partnerId).executeTakeFirstOrThrow()).name;
  token = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, p.partnerId));
  const q = await createPartner(ctx.services);
  otherToken = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, q.partnerId));
});
after(async () => {
  await ctx.close();
});

type Json = Record<string, unknown>;
const call = (method: string, url: string, body?: unknown) => paymentsCall(ctx, token, method, url, body);

function assertError(res: { statusCode: number; body: string }, status: number, code: string, message?: RegExp) {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as { code: string; message: string };
  assert.equal(body.code, code, res.body);
  if (message) assert.match(body.message, message);
}

async function customer(t = token): Promise<string> {
  const res = await paymentsCall(ctx, t, 'POST', '/api/customers', { email: `b${Math.random()}@example.com` });
  assert.equal(res.statusCode, 201, res.body);
  return String((res.json() as Json).customerId);
}

async function bankToken(accountNumber = '000123456789', accountHolderName = 'Jenny Rosen'): Promise<string> {
  const res = await ctx.app.inject({ method: 'POST', url: '/sandbox/bank-tokens', payload: { routingNumber: '110000000', accountNumber, accountHolderName } });
  assert.equal(res.statusCode, 200, res.body);
  const id = String((res.json() as Json).id);
  assert.match(id, /^btok_/);
  return id;
}

async function newBank(customerId: string, path = 'bank-accounts'): Promise<string> {
  const res = await call('POST', `/api/customers/${customerId}/${path}`, { token: await bankToken() });
  assert.equal(res.statusCode, 200, res.body);
  return String((res.json() as Json).id);
}

const verify = (cus: string, ba: string, values: unknown) => call('POST', `/api/customers/${cus}/payment-methods/${ba}/verify`, { values });
const row = (id: string) => ctx.services.db.selectFrom('payment_methods').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('bank token and micro-deposits', () => {
  test('a bank token attaches a new bank account; [32, 45] verifies it', async () => {
    const cus = await customer();
    const res = await call('POST', `/api/customers/${cus}/bank-accounts`, { token: await bankToken('000123456789', 'Jenny Rosen') });
    assert.equal(res.statusCode, 200, res.body);
    const ba = res.json() as Json;
    assert.match(String(ba.id), /^ba_/);
    assert.deepEqual(ba, {
      id: ba.id,
      object: 'bank_account',
      status: 'new',
      bank_name: 'STRIPE TEST BANK',
      last4: '6789',
      routing_number: '110000000',
      account_holder_name: 'Jenny Rosen',
    });
    const [listed] = (await call('GET', `/api/customers/${cus}/payment-methods`)).json() as Json[];
    assert.equal(listed!.type, 'us_bank_account');
    assert.equal(listed!.card, null);
    assert.deepEqual(listed!.us_bank_account, { bank_name: 'STRIPE TEST BANK', last4: '6789', routing_number: '110000000', status: 'new' });
    assert.equal((listed!.billing_details as Json).name, 'Jenny Rosen');
    assertError(await call('POST', `/api/customers/${cus}/payment-methods/${ba.id}/default`), 409, 'INVALID_STATE', /verify it/);

    const ok = await verify(cus, String(ba.id), [45, 32]);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { id: ba.id, status: 'verified' });
    assert.equal((await row(String(ba.id))).sandbox_outcome, 'succeeds');
    assertError(await verify(cus, String(ba.id), [32, 45]), 409, 'INVALID_STATE', /already verified/);
    assert.equal((await call('POST', `/api/customers/${cus}/payment-methods/${ba.id}/default`)).statusCode, 200);
  });

  test('the failing test accounts attach too, remembering how their debits will end', async () => {
    const cus = await customer();
    const res = await call('POST', `/api/customers/${cus}/ach/stripe`, { token: await bankToken('000222222227') });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await row(String((res.json() as Json).id))).sandbox_outcome, 'insufficient_funds');
  });

  test('wrong amounts -> 400 with the attempts left; the third locks it; then 409 even with the right amounts', async () => {
    const cus = await customer();
    const ba = await newBank(cus);
    const first = await verify(cus, ba, [32, 46]);
    assertError(first, 400, 'VALIDATION_ERROR', /2 attempts left/);
    assert.equal((first.json() as { details: Json[] }).details[0]!.attemptsLeft, 2);
    assertError(await verify(cus, ba, [1, 2]), 400, 'VALIDATION_ERROR', /1 attempt left/);
    assert.equal((await row(ba)).verify_attempts, 2);
    assert.equal((await row(ba)).status, 'new');
    assertError(await verify(cus, ba, [45, 45]), 400, 'VALIDATION_ERROR', /last attempt.*locked/);
    assert.equal((await row(ba)).status, 'verification_failed');
    assertError(await verify(cus, ba, [32, 45]), 409, 'INVALID_STATE', /locked/);
    assert.equal((await row(ba)).verify_attempts, 3, 'a locked account counts no more tries');
    const [listed] = (await call('GET', `/api/customers/${cus}/payment-methods`)).json() as Json[];
    assert.equal((listed!.us_bank_account as Json).status, 'verification_failed');
    assertError(await call('PUT', `/api/customers/${cus}/payment-methods/${ba}/default`), 409, 'INVALID_STATE');
  });

  test('concurrent wrong guesses cannot share an attempt: exactly three count', async () => {
    const cus = await customer();
    const ba = await newBank(cus);
    const results = await Promise.all(Array.from({ length: 6 }, () => verify(cus, ba, [10, 20])));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [400, 400, 400, 409, 409, 409]);
    assert.equal((await row(ba)).verify_attempts, 3);
    assert.equal((await row(ba)).status, 'verification_failed');
  });

  test('verify body validation and cards -> 400 / 409', async () => {
    const cus = await customer();
    const ba = await newBank(cus);
    for (const values of [[32], [32, 45, 1], [32.5, 45], ['32', '45'], [0, 45], [100, 45], '32,45', null]) {
      assertError(await verify(cus, ba, values), 400, 'VALIDATION_ERROR');
    }
    assertError(await call('POST', `/api/customers/${cus}/payment-methods/${ba}/verify`, {}), 400, 'VALIDATION_ERROR');
    assert.equal((await row(ba)).verify_attempts, 0, 'malformed bodies are not attempts');
    const secret = (await call('POST', `/api/customers/${cus}/setup-intents`)).json() as string;
    const pm = String(((await ctx.app.inject({ method: 'POST', url: '/sandbox/setup-intents/confirm', payload: { clientSecret: secret, paymentMethod: 'pm_card_visa' } })).json() as Json).paymentMethod);
    assertError(await verify(cus, pm, [32, 45]), 409, 'INVALID_STATE', /is a card/);
  });

  test('bad tokens and bad sandbox bank details -> 400', async () => {
    const cus = await customer();
    for (const t of ['tok_visa', 'btok_', 'btok_!!!!', `btok_${Buffer.from('["999","x"]').toString('base64url')}`, `btok_${Buffer.from('not json').toString('base64url')}`]) {
      assertError(await call('POST', `/api/customers/${cus}/bank-accounts`, { token: t }), 400, 'VALIDATION_ERROR', /sandbox bank token/);
    }
    for (const body of [{}, { token: '' }, { token: 'btok_x', extra: 1 }]) {
      assertError(await call('POST', `/api/customers/${cus}/bank-accounts`, body), 400, 'VALIDATION_ERROR');
    }
    const sandbox = (payload: Json) => ctx.app.inject({ method: 'POST', url: '/sandbox/bank-tokens', payload });
    assertError(await sandbox({ routingNumber: '021000021', accountNumber: '000123456789', accountHolderName: 'J' }), 400, 'VALIDATION_ERROR', /110000000/);
    assertError(await sandbox({ routingNumber: '110000000', accountNumber: '123456789', accountHolderName: 'J' }), 400, 'VALIDATION_ERROR', /test account numbers/);
    assertError(await sandbox({ routingNumber: '110000000', accountNumber: '000123456789' }), 400, 'VALIDATION_ERROR');
    assertError(await sandbox({ routingNumber: '11000000a', accountNumber: '000123456789', accountHolderName: 'J' }), 400, 'VALIDATION_ERROR');
    assert.deepEqual((await call('GET', `/api/customers/${cus}/payment-methods`)).json(), []);
  });
});

describe('Plaid', () => {
  test('a link token for the sandbox, under both spellings, named for the partner', async () => {
    const cus = await customer();
    for (const path of ['plaid/link-token', 'plaid-link-token']) {
      const res = await call('GET', `/api/customers/${cus}/${path}`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as Json;
      assert.equal(body.environment, 'sandbox');
      assert.equal(body.clientName, partnerName);
      assert.match(String(body.linkToken), /^link-sandbox-[0-9a-f-]{36}$/);
    }
  });

  test('a sandbox public token yields a verified bank account at once, under both spellings', async () => {
    const cus = await customer();
    for (const path of ['plaid', 'ach/plaid']) {
      const res = await call('POST', `/api/customers/${cus}/${path}`, { values: 'public-sandbox-5c3a2b1e-0000-4f00-9a00-abcdef012345', accountId: 'vzeNDwK7KQIm4yEog683uElbp9GRLEFXGK98D' });
      assert.equal(res.statusCode, 200, res.body);
      const ba = res.json() as Json;
      assert.match(String(ba.id), /^ba_/);
      assert.equal(ba.status, 'verified');
      assert.deepEqual((await call('POST', `/api/customers/${cus}/payment-methods/${ba.id}/default`)).json(), { defaultPaymentMethod: ba.id });
    }
    assert.equal(((await call('GET', `/api/customers/${cus}/payment-methods`)).json() as Json[]).length, 2);
  });

  test('anything but a sandbox public token -> 400; a bad body -> 400', async () => {
    const cus = await customer();
    for (const values of ['public-development-abc', 'access-sandbox-abc', 'public-sandbox-', 'link-sandbox-abc']) {
      assertError(await call('POST', `/api/customers/${cus}/plaid`, { values, accountId: 'acc' }), 400, 'VALIDATION_ERROR', /public-sandbox/);
    }
    for (const body of [{ values: 'public-sandbox-abc' }, { accountId: 'acc' }, { values: ['public-sandbox-abc'], accountId: 'acc' }, { values: 'public-sandbox-abc', accountId: '' }]) {
      assertError(await call('POST', `/api/customers/${cus}/plaid`, body), 400, 'VALIDATION_ERROR');
    }
  });

  test("unknown or another account's customer -> 404 on every bank route", async () => {
    const theirs = await customer(otherToken);
    const btok = await bankToken();
    for (const cus of ['cus_nope', theirs]) {
      assertError(await call('GET', `/api/customers/${cus}/plaid/link-token`), 404, 'NOT_FOUND');
      assertError(await call('POST', `/api/customers/${cus}/plaid`, { values: 'public-sandbox-abc', accountId: 'acc' }), 404, 'NOT_FOUND');
      assertError(await call('POST', `/api/customers/${cus}/bank-accounts`, { token: btok }), 404, 'NOT_FOUND');
    }
    const theirBank = String(((await paymentsCall(ctx, otherToken, 'POST', `/api/customers/${theirs}/bank-accounts`, { token: btok })).json() as Json).id);
    const mine = await customer();
    assertError(await verify(mine, theirBank, [32, 45]), 404, 'NOT_FOUND');
    assertError(await verify(theirs, theirBank, [32, 45]), 404, 'NOT_FOUND');
    assert.equal((await row(theirBank)).status, 'new');
  });
});
