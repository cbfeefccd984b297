import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { sha256Hex } from '../../src/platform/crypto/signing.js';
import { createPartner } from '../factories/partners.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

test('/healthz and /readyz', async () => {
  assert.deepEqual((await ctx.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const ready = await ctx.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready' });
});

test('/readyz is 503 while a migration is pending', async () => {
  const other = await createTestContext();
  try {
    await sql`DELETE FROM schema_migrations WHERE version = '0001'`.execute(other.services.db);
    const res = await other.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { status: 'unavailable', reason: 'migrations pending' });
  } finally {
    await other.close();
  }
});

test('API usage is counted per partner, environment, route and status', async () => {
  const p = await createPartner(ctx.services);
  for (let i = 0; i < 3; i++) {
    assert.equal((await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users?page=1'))).statusCode, 200);
  }
  assert.equal((await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users/nobody'))).statusCode, 404);
  // Flushed on close of the recorder or by its timer; closing a second app is not needed: wait for the timer.
  const deadline = Date.now() + 10_000;
  let rows: Awaited<ReturnType<typeof ctx.services.usage.totals>> = [];
  while (Date.now() < deadline) {
    rows = await ctx.services.usage.totals(p.partnerId);
    if (rows.length >= 2) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const byRoute = Object.fromEntries(rows.map((r) => [`${r.method} ${r.route} ${r.status_code}`, Number(r.request_count)]));
  assert.deepEqual(byRoute, {
    'GET /v1/partner/users 200': 3,
    'GET /v1/partner/users/:externalId 404': 1,
  });
  assert.ok(rows.every((r) => r.environment === 'sandbox'));
});

test('legacy key pairs without an HMAC secret sign with the sk_ value and get a deprecation header', async () => {
  const p = await createPartner(ctx.services);
  const sk = `sk_test_${randomBytes(32).toString('hex')}`;
  const pk = `pk_test_${randomBytes(32).toString('hex')}`;
  await ctx.services.db
    .insertInto('api_keys')
    .values({
      id: `key_legacy${randomBytes(6).toString('hex')}`,
      partner_id: p.partnerId,
      environment: 'sandbox',
      name: 'legacy',
      publishable_key: pk,
      secret_key_hash: sha256Hex(sk),
      secret_key_last4: sk.slice(-4),
      hmac_secret_sealed: null,
      expires_at: null,
      created_by: null,
    })
    .execute();
  const ok = await ctx.app.inject(signed(ctx.clock, { key: sk, hmacSecret: sk }, 'GET', '/v1/partner/users'));
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.headers.deprecation, 'true');
  // A publishable key cannot stand in for the missing secret.
  const viaPk = await ctx.app.inject(signed(ctx.clock, { key: pk, hmacSecret: pk }, 'GET', '/v1/partner/users'));
  assert.equal(viaPk.statusCode, 401);
  assert.equal(viaPk.json().code, 'INVALID_SIGNATURE');
});

test('every response carries a request id, and a well-formed incoming one is kept', async () => {
  const res = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-abc.123' } });
  assert.equal(res.headers['x-request-id'], 'trace-abc.123');
  const bad = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'has spaces <script>' } });
  assert.match(String(bad.headers['x-request-id']), /^req_/);
});

test('a deployment that serves one environment refuses the other one\'s keys', async () => {
  const sandboxOnly = await createTestContext({ env: { ALMONER_KEY_ENVIRONMENTS: 'sandbox' } });
  try {
    const p = await createPartner(sandboxOnly.services, { withProduction: true });
    const live = { key: p.production!.secretKey, hmacSecret: p.production!.hmacSecret };
    const res = await sandboxOnly.app.inject(signed(sandboxOnly.clock, live, 'GET', '/v1/partner/users'));
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'KEY_ENVIRONMENT_MISMATCH');
    assert.equal((await sandboxOnly.app.inject(signed(sandboxOnly.clock, p.sk, 'GET', '/v1/partner/users'))).statusCode, 200);
  } finally {
    await sandboxOnly.close();
  }
});
