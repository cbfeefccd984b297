import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, SignJWT } from 'jose';
import { ensureSandboxPayments } from '../../src/modules/payments/sandbox.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, epochHmac, paymentsCall, paymentsToken, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** Contract B3: HMAC-of-epoch authentication and the bearer token every other /api route needs. */

let ctx: TestContext;
let account: PaymentsFixture;
let partnerName: string;
before(async () => {
  ctx = await createTestContext();
  partnerName = `Givers ${Date.now()}`;
  const p = await createPartner(ctx.services, { name: partnerName });
  account = await createPaymentsAccount(ctx.services, p.partnerId);
});
after(async () => {
  await ctx.close();
});

const now = () => Math.floor(ctx.clock.now().getTime() / 1000);
const authenticate = (accountId: string, body: unknown) =>
  ctx.app.inject({ method: 'POST', url: `/api/partners/${accountId}/authenticate`, payload: body as object });

describe('authenticate', () => {
  test("the contract's test vector", () => {
    assert.equal(epochHmac('sk_test_example', 1622657001), '38c060de9bb81ed4a5d9bdf03b63aaeda75b092821c5679f3c3e05b74bc8ad2a');
  });

  test('a fresh epoch signed with the secret key gives a 7800 s HS256 token with the contract claims and the public key', async () => {
    const epoch = now();
    const res = await authenticate(account.accountId, { hashEpoch: epoch, hmac: epochHmac(account.secretKey, epoch) });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { token: string; publicKey: string };
    assert.equal(body.publicKey, account.publicKey);
    assert.match(body.publicKey, /^pk_test_/);
    const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString());
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    const claims = decodeJwt(body.token) as Record<string, unknown>;
    assert.equal(claims.partnerId, account.partnerNumber);
    assert.equal(typeof claims.partnerId, 'number');
    assert.equal(claims.accountId, account.accountId);
    assert.equal(claims.roleId, 1);
    assert.equal(claims.name, partnerName);
    assert.match(String(claims.idempotencyKey), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(claims.iat, epoch);
    assert.ok(Math.abs((claims.exp as number) - (ctx.clock.now().getTime() / 1000 + 7800)) < 0.01);
    // Uppercase hex is the same digest.
    const upper = await authenticate(account.accountId, { hashEpoch: epoch, hmac: epochHmac(account.secretKey, epoch).toUpperCase() });
    assert.equal(upper.statusCode, 200);
  });

  test('stale, future, wrong HMAC, unknown or malformed account -> 401 with the one error body', async () => {
    const cases: [string, number, string][] = [
      ['60 s old', now() - 60, account.secretKey],
      ['an hour old', now() - 3600, account.secretKey],
      ['6 s in the future', now() + 6, account.secretKey],
      ['wrong key', now(), 'psk_test_wrong'],
    ];
    for (const [what, epoch, key] of cases) {
      const res = await authenticate(account.accountId, { hashEpoch: epoch, hmac: epochHmac(key, epoch) });
      assert.equal(res.statusCode, 401, `${what}: ${res.body}`);
      const body = res.json() as { code: string; message: string; statusCode: number };
      assert.equal(body.code, 'UNAUTHORIZED');
      assert.equal(body.statusCode, 401);
      assert.match(body.message, /^Unauthorized/);
    }
    // 59 s old and 5 s ahead are inside the window.
    for (const epoch of [now() - 59, now() + 5]) {
      assert.equal((await authenticate(account.accountId, { hashEpoch: epoch, hmac: epochHmac(account.secretKey, epoch) })).statusCode, 200);
    }
    for (const id of ['acct_unknown0000000', 'not-an-account']) {
      const res = await authenticate(id, { hashEpoch: now(), hmac: epochHmac(account.secretKey, now()) });
      assert.equal(res.statusCode, 401, res.body);
    }
  });

  test('a malformed body -> 400 naming the field', async () => {
    for (const body of [{}, { hashEpoch: now() }, { hmac: 'ab' }, { hashEpoch: 'yesterday', hmac: 'ab' }, { hashEpoch: 1.5, hmac: 'ab' }, { hashEpoch: now(), hmac: 'ab', extra: 1 }]) {
      const res = await authenticate(account.accountId, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.body}`);
      assert.equal((res.json() as { code: string }).code, 'VALIDATION_ERROR');
    }
  });

  test('a suspended partner cannot authenticate', async () => {
    const p = await createPartner(ctx.services);
    const a = await createPaymentsAccount(ctx.services, p.partnerId);
    await ctx.services.partners.setStatus(p.partnerId, 'SUSPENDED');
    const res = await authenticate(a.accountId, { hashEpoch: now(), hmac: epochHmac(a.secretKey, now()) });
    assert.equal(res.statusCode, 403, res.body);
  });
});

describe('bearer token', () => {
  test('works on /api routes, also with a doubled slash', async () => {
    const token = await paymentsToken(ctx, account);
    assert.equal((await paymentsCall(ctx, token, 'GET', '/api/customers')).statusCode, 200);
    assert.equal((await paymentsCall(ctx, token, 'GET', '/api//customers')).statusCode, 200);
  });

  test('missing, malformed, tampered, foreign-key or expired tokens -> 401', async () => {
    const token = await paymentsToken(ctx, account);
    const [h, p, s] = token.split('.');
    const claims = decodeJwt(token);
    const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode('not the server key'));
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, partnerId: 999 })).toString('base64url')}.${s}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    for (const [what, headers] of [
      ['no header', {}],
      ['not bearer', { authorization: `Basic ${token}` }],
      ['garbage', { authorization: 'Bearer abc.def.ghi' }],
      ['tampered payload', { authorization: `Bearer ${tampered}` }],
      ['alg none', { authorization: `Bearer ${none}` }],
      ['signed with another key', { authorization: `Bearer ${forged}` }],
    ] as [string, Record<string, string>][]) {
      const res = await ctx.app.inject({ method: 'GET', url: '/api/customers', headers });
      assert.equal(res.statusCode, 401, `${what}: ${res.body}`);
    }
    ctx.clock.advance(7801 * 1000);
    try {
      const res = await paymentsCall(ctx, token, 'GET', '/api/customers');
      assert.equal(res.statusCode, 401, res.body);
      assert.equal((res.json() as { code: string }).code, 'TOKEN_EXPIRED');
    } finally {
      ctx.clock.advance(-7801 * 1000);
    }
  });

  test('a Partner API portal token is not a Payments token', async () => {
    const p = await createPartner(ctx.services);
    const res = await ctx.app.inject({ method: 'GET', url: '/api/customers', headers: { authorization: `Bearer ${p.accessToken}` } });
    assert.equal(res.statusCode, 401, res.body);
  });
});

describe('documents', () => {
  test('the Payments API has its own OpenAPI document and page; the Partner API document links to it and leaves /api out', async () => {
    const payments = (await ctx.app.inject({ method: 'GET', url: '/payments-api/openapi.json' })).json() as { paths: Record<string, unknown>; info: { title: string } };
    assert.match(payments.info.title, /Payments API/);
    assert.ok(payments.paths['/api/partners/{accountId}/authenticate']);
    assert.ok(Object.keys(payments.paths).every((p) => p.startsWith('/api/')));
    const partner = (await ctx.app.inject({ method: 'GET', url: '/partner-api/openapi.json' })).json() as { paths: Record<string, unknown>; info: { description: string } };
    assert.ok(Object.keys(partner.paths).every((p) => !p.startsWith('/api/')));
    assert.match(partner.info.description, /\/payments-api/);
    const page = await ctx.app.inject({ method: 'GET', url: '/payments-api' });
    assert.ok(page.statusCode === 200 || page.statusCode === 302, `${page.statusCode}`);
    const json = (await ctx.app.inject({ method: 'GET', url: '/payments-api/json' })).json() as { paths: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.paths), Object.keys(payments.paths), 'the page shows the Payments API document');
  });
});

describe('sandbox first start', () => {
  test('the demo credentials gain accountId and paymentsSecretKey once; they authenticate; a restart reuses them', async () => {
    const p = await createPartner(ctx.services);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'almoner-pay-'));
    const base = { partnerId: p.partnerId, portalEmail: p.email, portalPassword: p.password, keyId: p.sandbox.keyId, publishableKey: p.sandbox.publishableKey, secretKey: p.sandbox.secretKey, hmacSecret: p.sandbox.hmacSecret };
    const first = await ensureSandboxPayments(ctx.services, dir, base);
    assert.match(String(first.accountId), /^acct_/);
    assert.match(String(first.paymentsSecretKey), /^psk_test_[0-9a-f]{48}$/);
    const onDisk = JSON.parse(await readFile(path.join(dir, 'sandbox-credentials.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(onDisk, first);
    const again = await ensureSandboxPayments(ctx.services, dir, first);
    assert.deepEqual(again, first);
    const epoch = now();
    const res = await authenticate(String(first.accountId), { hashEpoch: epoch, hmac: epochHmac(String(first.paymentsSecretKey), epoch) });
    assert.equal(res.statusCode, 200, res.body);

    // The document's charge sample, pasted verbatim, succeeds against the seeded sample ids.
    const token = (res.json() as { token: string }).token;
    const sample = {
      amount: 2000, paymentMethodId: 'ba_xx123xx', tip: 1000, charityId: 123456, subaccountNumber: '123456',
      givingaAccountNumber: '11420157', masterAccountUsername: 'myusername', carbonOffset: true, campaignId: true,
      currency: 'USD', matchRequested: false, customerCoveringFee: false, customerCoveringPartnerCut: false,
      description: 'Testing!', statementDescriptor: 'Givinga Donation', notes: 'string', activityId: 'string',
      activityId2: 'string', activityId3: 'string', anonymity: 'string', metadata: [],
    };
    const charged = await ctx.app.inject({ method: 'POST', url: '/api/customers/cus_12345/charges', headers: { authorization: `Bearer ${token}` }, payload: sample });
    assert.equal(charged.statusCode, 200, charged.body);
    assert.equal((charged.json() as { status: string }).status, 'Success');
    const connected = await ctx.app.inject({ method: 'GET', url: '/api/connected-accounts', headers: { authorization: `Bearer ${token}` } });
    assert.equal((connected.json() as { percentageCut: number }[])[0]!.percentageCut, 20);
  });
});

describe('operator', () => {
  const op = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    ctx.app.inject({ method, url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, ...(body ? { payload: body as object } : {}) });

  test('creates an account whose secret key authenticates, and lists it without the secret', async () => {
    const p = await createPartner(ctx.services);
    const res = await op('POST', `/v1/admin/partners/${p.partnerId}/payments-accounts`, { environment: 'sandbox', description: 'Main' });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json() as { accountId: string; secretKey: string; publicKey: string; processor: string };
    assert.equal(created.processor, 'sandbox');
    const epoch = now();
    assert.equal((await authenticate(created.accountId, { hashEpoch: epoch, hmac: epochHmac(created.secretKey, epoch) })).statusCode, 200);
    const list = await op('GET', `/v1/admin/partners/${p.partnerId}/payments-accounts`);
    assert.equal(list.statusCode, 200);
    assert.equal((list.json() as unknown[]).length, 1);
    assert.ok(!list.body.includes(created.secretKey));
    const stored = await ctx.services.db.selectFrom('payments_accounts').select('secret_sealed').where('id', '=', created.accountId).executeTakeFirstOrThrow();
    assert.ok(!stored.secret_sealed.includes(created.secretKey), 'the secret key is stored sealed');
  });

  test('unknown partner -> 404; bad body -> 400; no operator token -> 401', async () => {
    assert.equal((await op('POST', '/v1/admin/partners/000000000000000000000000/payments-accounts', { environment: 'sandbox' })).statusCode, 404);
    const p = await createPartner(ctx.services);
    for (const body of [{}, { environment: 'staging' }, { environment: 'sandbox', processor: 'paypal' }, { environment: 'sandbox', processor: 'stripe' }]) {
      const res = await op('POST', `/v1/admin/partners/${p.partnerId}/payments-accounts`, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.body}`);
    }
    const anon = await ctx.app.inject({ method: 'POST', url: `/v1/admin/partners/${p.partnerId}/payments-accounts`, payload: { environment: 'sandbox' } });
    assert.equal(anon.statusCode, 401);
  });
});
