import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/** Contract B6.1: customers, scoped to the token's account. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let otherToken: string;
before(async () => {
  ctx = await createTestContext();
  const p = await createPartner(ctx.services);
  account = await createPaymentsAccount(ctx.services, p.partnerId);
  token = await paymentsToken(ctx, account);
  const q = await createPartner(ctx.services);
  otherToken = await paymentsToken(ctx, await createPaymentsAccount(ctx.services, q.partnerId));
});
after(async () => {
  await ctx.close();
});

const call = (method: string, url: string, body?: unknown) => paymentsCall(ctx, token, method, url, body);
type Json = Record<string, unknown>;

function assertError(res: { statusCode: number; body: string }, status: number, code: string, message?: RegExp) {
  assert.equal(res.statusCode, status, res.body);
  const body = JSON.parse(res.body) as { code: string; message: string; statusCode: number; error: string };
  assert.equal(body.code, code);
  assert.equal(body.statusCode, status);
  if (message) assert.match(body.message, message);
}

describe('create and read', () => {
  let created: Json;
  test('POST /api/customers -> 201 Customer with the numeric partnerId', async () => {
    const res = await call('POST', '/api/customers', { firstName: 'John', lastName: 'Doe', email: 'john@example.com', externalId: '2jk4h2n3un4' });
    assert.equal(res.statusCode, 201, res.body);
    created = res.json() as Json;
    assert.match(String(created.customerId), /^cus_[0-9A-Za-z]{14}$/);
    assert.deepEqual(created, {
      firstName: 'John',
      lastName: 'Doe',
      customerId: created.customerId,
      partnerId: account.partnerNumber,
      email: 'john@example.com',
      externalId: '2jk4h2n3un4',
    });
  });

  test('GET by id, by external id, and in the list', async () => {
    assert.deepEqual((await call('GET', `/api/customers/${created.customerId}`)).json(), created);
    assert.deepEqual((await call('GET', '/api/customers/external/2jk4h2n3un4')).json(), created);
    const list = (await call('GET', '/api/customers')).json() as Json[];
    assert.ok(Array.isArray(list));
    assert.deepEqual(list.find((c) => c.customerId === created.customerId), created);
  });

  test('the list pages with limit and startingAfter, oldest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(String(((await call('POST', '/api/customers', { email: `page${i}@example.com` })).json() as Json).customerId));
    const all = ((await call('GET', '/api/customers')).json() as Json[]).map((c) => c.customerId);
    const first = ((await call('GET', '/api/customers?limit=2')).json() as Json[]).map((c) => c.customerId);
    assert.deepEqual(first, all.slice(0, 2));
    const rest = ((await call('GET', `/api/customers?startingAfter=${first[1]}`)).json() as Json[]).map((c) => c.customerId);
    assert.deepEqual(rest, all.slice(2));
    assertError(await call('GET', '/api/customers?startingAfter=cus_nope'), 404, 'NOT_FOUND');
    assertError(await call('GET', '/api/customers?limit=0'), 400, 'VALIDATION_ERROR');
  });

  test('PUT and PATCH update names and email; externalId cannot change', async () => {
    const put = await call('PUT', `/api/customers/${created.customerId}`, { firstName: 'Jane', email: 'jane@example.com' });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal((put.json() as Json).firstName, 'Jane');
    assert.equal((put.json() as Json).lastName, 'Doe');
    const patch = await call('PATCH', `/api/customers/${created.customerId}`, { lastName: 'Roe' });
    assert.equal((patch.json() as Json).lastName, 'Roe');
    assert.equal((patch.json() as Json).email, 'jane@example.com');
    assertError(await call('PUT', `/api/customers/${created.customerId}`, { externalId: 'other' }), 400, 'VALIDATION_ERROR', /externalId cannot be changed/);
    assert.equal((await call('PUT', `/api/customers/${created.customerId}`, { externalId: '2jk4h2n3un4' })).statusCode, 200);
  });
});

describe('bad input', () => {
  test('neither email nor externalId -> 400', async () => {
    assertError(await call('POST', '/api/customers', { firstName: 'Nobody' }), 400, 'VALIDATION_ERROR', /email or externalId/);
  });

  test('a duplicate externalId -> 409 pointing at the existing customer', async () => {
    assert.equal((await call('POST', '/api/customers', { externalId: 'dup-1' })).statusCode, 201);
    assertError(await call('POST', '/api/customers', { externalId: 'dup-1' }), 409, 'CONFLICT', /external\/dup-1/);
    // Concurrent creates of one externalId: exactly one wins.
    const results = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/api/customers', { externalId: 'race-1' })));
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409]);
  });

  test('a bad email, an unknown field, a too-long name -> 400', async () => {
    assertError(await call('POST', '/api/customers', { email: 'not-an-email' }), 400, 'VALIDATION_ERROR');
    assertError(await call('POST', '/api/customers', { email: 'a@example.com', nickname: 'x' }), 400, 'VALIDATION_ERROR', /nickname/);
    assertError(await call('POST', '/api/customers', { email: 'a@example.com', firstName: 'x'.repeat(101) }), 400, 'VALIDATION_ERROR');
  });

  test("another account's customer -> 404, exactly like a missing one", async () => {
    const mine = (await call('POST', '/api/customers', { externalId: 'private-1' })).json() as Json;
    for (const [method, url, body] of [
      ['GET', `/api/customers/${mine.customerId}`],
      ['PUT', `/api/customers/${mine.customerId}`, { firstName: 'Mallory' }],
      ['GET', '/api/customers/external/private-1'],
    ] as [string, string, unknown][]) {
      assertError(await paymentsCall(ctx, otherToken, method, url, body), 404, 'NOT_FOUND');
    }
    assert.equal(((await call('GET', `/api/customers/${mine.customerId}`)).json() as Json).firstName, null);
    assert.ok(!((await paymentsCall(ctx, otherToken, 'GET', '/api/customers')).json() as Json[]).some((c) => c.customerId === mine.customerId));
  });
});
