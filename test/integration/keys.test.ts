import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createTestContext, OPERATOR_TOKEN, signed, type TestContext } from '../harness/context.js';

/** API key management through the portal (contract A8.1) and what each change does to signed requests. */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

interface Portal {
  partnerId: string;
  token: string;
}

/** A partner as a new customer gets one: self-registered, PENDING_APPROVAL, no keys yet. */
async function signUp(): Promise<Portal> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/partner/auth/register',
    payload: { email: `k-${randomBytes(5).toString('hex')}@example.com`, password: 'long enough password', partnerName: 'Keys Co' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return { partnerId: res.json().partner.id, token: res.json().accessToken };
}

function portal(p: Portal, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  return ctx.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${p.token}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

interface Created {
  id: string;
  partnerId: string;
  name: string;
  environment: string;
  publicKey: string;
  secretKey: string;
  hmacSecret: string;
}

async function createKey(p: Portal, body: Record<string, unknown> = { name: 'Sandbox Integration', environment: 'sandbox', keyType: 'secret' }) {
  const res = await portal(p, 'POST', '/v1/partner/keys', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Created;
}

/** A signed call with the key's secret key, as a partner's backend would make it. */
function callWith(k: Created) {
  return ctx.app.inject(signed(ctx.clock, { key: k.secretKey, hmacSecret: k.hmacSecret }, 'GET', '/v1/partner/users?page=1&limit=5'));
}

const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

describe('create', () => {
  test('a sandbox key pair: 201 with the documented formats', async () => {
    const p = await signUp();
    const res = await portal(p, 'POST', '/v1/partner/keys', { name: 'Sandbox Integration', environment: 'sandbox', keyType: 'secret' });
    assert.equal(res.statusCode, 201, res.body);
    const k = res.json();
    assert.match(k.id, /^key_[A-Za-z0-9]+$/);
    assert.equal(k.partnerId, p.partnerId);
    assert.equal(k.name, 'Sandbox Integration');
    assert.equal(k.environment, 'sandbox');
    assert.match(k.publicKey, /^pk_test_[0-9a-f]{64}$/);
    assert.match(k.secretKey, /^sk_test_[0-9a-f]{64}$/);
    assert.match(k.hmacSecret, /^[0-9a-f]{64}$/);
    // Three independent secrets, not one value reused.
    assert.notEqual(k.publicKey.slice(8), k.secretKey.slice(8));
    assert.notEqual(k.hmacSecret, k.secretKey.slice(8));
    assert.equal(k.isActive, true);
    assert.equal(k.expiresAt, null);

    // A PENDING_APPROVAL partner can already work in the sandbox with it.
    const call = await callWith(k);
    assert.equal(call.statusCode, 200, call.body);
  });

  test('the secret key and HMAC secret never appear again in list or get', async () => {
    const p = await signUp();
    const k = await createKey(p);
    const list = await portal(p, 'GET', '/v1/partner/keys');
    const one = await portal(p, 'GET', `/v1/partner/keys/${k.id}`);
    const info = await portal(p, 'GET', '/v1/partner/keys/partner-info');
    const me = await portal(p, 'GET', '/v1/partner/auth/me');
    for (const res of [list, one, info, me]) {
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!res.body.includes(k.secretKey), 'secret key leaked');
      assert.ok(!res.body.includes(k.secretKey.slice(8)), 'secret key body leaked');
      assert.ok(!res.body.includes(k.hmacSecret), 'HMAC secret leaked');
      assert.ok(!/"(secretKey|hmacSecret)"/.test(res.body), res.body);
    }
    assert.equal(list.json().length, 1);
    const record = one.json();
    assert.deepEqual(list.json()[0], record);
    assert.deepEqual(Object.keys(record).sort(), [
      'createdAt',
      'environment',
      'expiresAt',
      'id',
      'isActive',
      'lastUsedAt',
      'name',
      'partnerId',
      'publicKey',
      'secretKeyLast4',
    ]);
    assert.equal(record.publicKey, k.publicKey);
    assert.equal(record.secretKeyLast4, k.secretKey.slice(-4));
  });

  test('the database keeps only a SHA-256 of the secret key and a sealed HMAC secret', async () => {
    const p = await signUp();
    const k = await createKey(p);
    const row = await ctx.services.db.selectFrom('api_keys').selectAll().where('id', '=', k.id).executeTakeFirstOrThrow();
    assert.equal(row.secret_key_hash, sha256Hex(k.secretKey));
    assert.ok(row.hmac_secret_sealed?.startsWith('v1:'), String(row.hmac_secret_sealed));
    assert.equal(row.publishable_key, k.publicKey);

    // Every column of every key row, as the database renders it: neither secret in any form.
    const dump = await sql<{ j: string }>`SELECT to_jsonb(k)::text AS j FROM api_keys k`.execute(ctx.services.db);
    assert.ok(dump.rows.length >= 1);
    for (const { j } of dump.rows) {
      for (const secret of [k.secretKey, k.secretKey.slice(8), k.hmacSecret, Buffer.from(k.hmacSecret).toString('base64')]) {
        assert.ok(!j.includes(secret), `api_keys row holds a secret in plain text: ${j}`);
      }
    }
  });

  test('production for a PENDING_APPROVAL partner is 403 PRODUCTION_NOT_APPROVED; after approval 201 with live keys', async () => {
    const p = await signUp();
    const refused = await portal(p, 'POST', '/v1/partner/keys', { name: 'Live', environment: 'production', keyType: 'secret' });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().code, 'PRODUCTION_NOT_APPROVED');
    const keys = await ctx.services.db.selectFrom('api_keys').select('id').where('partner_id', '=', p.partnerId).execute();
    assert.equal(keys.length, 0, 'a refused request must not leave a key behind');

    const approve = await ctx.app.inject({
      method: 'POST',
      url: `/v1/admin/partners/${p.partnerId}/approve`,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    assert.equal(approve.statusCode, 200, approve.body);
    assert.equal(approve.json().status, 'ACTIVE');

    const live = await createKey(p, { name: 'Live', environment: 'production', keyType: 'secret' });
    assert.equal(live.environment, 'production');
    assert.match(live.publicKey, /^pk_live_[0-9a-f]{64}$/);
    assert.match(live.secretKey, /^sk_live_[0-9a-f]{64}$/);
    assert.match(live.hmacSecret, /^[0-9a-f]{64}$/);
    const call = await callWith(live);
    assert.equal(call.statusCode, 200, call.body);
  });

  test('keyType "publishable" still issues the full pair', async () => {
    const p = await signUp();
    const k = await createKey(p, { name: 'Browser', environment: 'sandbox', keyType: 'publishable' });
    assert.match(k.publicKey, /^pk_test_[0-9a-f]{64}$/);
    assert.match(k.secretKey, /^sk_test_[0-9a-f]{64}$/);
  });

  test('bad bodies are 400: unknown environment, missing name, unknown property', async () => {
    const p = await signUp();
    for (const body of [
      { name: 'x', environment: 'staging' },
      { environment: 'sandbox' },
      { name: 'x', environment: 'sandbox', scope: 'all' },
    ]) {
      const res = await portal(p, 'POST', '/v1/partner/keys', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });

  test('key routes need a portal token', async () => {
    for (const [method, url] of [
      ['POST', '/v1/partner/keys'],
      ['GET', '/v1/partner/keys'],
      ['GET', '/v1/partner/keys/partner-info'],
      ['GET', '/v1/partner/keys/key_x'],
      ['PATCH', '/v1/partner/keys/key_x'],
      ['DELETE', '/v1/partner/keys/key_x'],
    ] as const) {
      const res = await ctx.app.inject({ method, url, ...(method === 'POST' || method === 'PATCH' ? { payload: { name: 'x' } } : {}) });
      assert.equal(res.statusCode, 401, `${method} ${url}: ${res.body}`);
    }
  });
});

describe('manage', () => {
  test('PATCH renames', async () => {
    const p = await signUp();
    const k = await createKey(p);
    const res = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { name: 'Renamed' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, 'Renamed');
    assert.equal((await portal(p, 'GET', `/v1/partner/keys/${k.id}`)).json().name, 'Renamed');
    // Renaming changes nothing about the credentials.
    assert.equal((await callWith(k)).statusCode, 200);
  });

  test('PATCH isActive=false refuses the key (401), isActive=true brings it back', async () => {
    const p = await signUp();
    const k = await createKey(p);
    assert.equal((await callWith(k)).statusCode, 200);

    const off = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { isActive: false });
    assert.equal(off.statusCode, 200, off.body);
    assert.equal(off.json().isActive, false);
    const refused = await callWith(k);
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().code, 'KEY_INACTIVE');
    // The publishable half of the pair is off too.
    const widget = await ctx.app.inject({ method: 'GET', url: '/v1/partner/config', headers: { 'x-partner-key': k.publicKey } });
    assert.equal(widget.statusCode, 401, widget.body);

    const on = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { isActive: true });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(on.json().isActive, true);
    assert.equal((await callWith(k)).statusCode, 200);
  });

  test('PATCH expiresAt in the past gives 401 KEY_EXPIRED; clearing it restores the key', async () => {
    const p = await signUp();
    const k = await createKey(p);
    const past = new Date(ctx.clock.now().getTime() - 60_000).toISOString();
    const res = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { expiresAt: past });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().expiresAt, past);
    const refused = await callWith(k);
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().code, 'KEY_EXPIRED');

    const cleared = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { expiresAt: null });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.equal(cleared.json().expiresAt, null);
    assert.equal((await callWith(k)).statusCode, 200);
  });

  test('a future expiry is honoured when the clock reaches it', async () => {
    const p = await signUp();
    const expiresAt = new Date(ctx.clock.now().getTime() + 3600_000).toISOString();
    const k = await createKey(p, { name: 'Short-lived', environment: 'sandbox', expiresAt });
    assert.equal((await portal(p, 'GET', `/v1/partner/keys/${k.id}`)).json().expiresAt, expiresAt);
    assert.equal((await callWith(k)).statusCode, 200);
    ctx.clock.advance(3600_000);
    const refused = await callWith(k);
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().code, 'KEY_EXPIRED');
  });

  test('PATCH with an empty body or an unknown property is 400', async () => {
    const p = await signUp();
    const k = await createKey(p);
    for (const body of [{}, { name: 'x', secretKey: 'sk_test_x' }]) {
      const res = await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
    }
  });

  test('DELETE revokes for good: signed requests 401, GET 404, gone from the list', async () => {
    const p = await signUp();
    const keep = await createKey(p, { name: 'Keep', environment: 'sandbox' });
    const k = await createKey(p, { name: 'Drop', environment: 'sandbox' });
    assert.equal((await callWith(k)).statusCode, 200);

    const del = await portal(p, 'DELETE', `/v1/partner/keys/${k.id}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.deepEqual(del.json(), { id: k.id, deleted: true });

    const refused = await callWith(k);
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().code, 'KEY_REVOKED');
    assert.equal((await portal(p, 'GET', `/v1/partner/keys/${k.id}`)).statusCode, 404);
    assert.deepEqual(
      (await portal(p, 'GET', '/v1/partner/keys')).json().map((r: { id: string }) => r.id),
      [keep.id],
    );
    // A revoked key cannot be revived or deleted twice.
    assert.equal((await portal(p, 'PATCH', `/v1/partner/keys/${k.id}`, { isActive: true })).statusCode, 404);
    assert.equal((await callWith(k)).statusCode, 401);
    assert.equal((await portal(p, 'DELETE', `/v1/partner/keys/${k.id}`)).statusCode, 404);
    // The other pair is untouched.
    assert.equal((await callWith(keep)).statusCode, 200);
  });

  test("another partner's key id is 404 on get, patch and delete, and the key is untouched", async () => {
    const owner = await signUp();
    const other = await signUp();
    const k = await createKey(owner);
    for (const res of [
      await portal(other, 'GET', `/v1/partner/keys/${k.id}`),
      await portal(other, 'PATCH', `/v1/partner/keys/${k.id}`, { isActive: false, name: 'stolen' }),
      await portal(other, 'DELETE', `/v1/partner/keys/${k.id}`),
    ]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'NOT_FOUND');
    }
    // Indistinguishable from a key that does not exist at all.
    const missing = await portal(other, 'GET', '/v1/partner/keys/key_doesnotexist');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'NOT_FOUND');

    const mine = (await portal(owner, 'GET', `/v1/partner/keys/${k.id}`)).json();
    assert.equal(mine.name, 'Sandbox Integration');
    assert.equal(mine.isActive, true);
    assert.equal((await callWith(k)).statusCode, 200);
    assert.deepEqual((await portal(other, 'GET', '/v1/partner/keys')).json(), []);
  });
});

describe('partner-info and usage', () => {
  test('partner-info returns the own Partner record', async () => {
    const p = await signUp();
    const res = await portal(p, 'GET', '/v1/partner/keys/partner-info');
    assert.equal(res.statusCode, 200, res.body);
    const partner = res.json();
    assert.equal(partner.id, p.partnerId);
    assert.equal(partner.name, 'Keys Co');
    assert.equal(partner.status, 'PENDING_APPROVAL');
    assert.equal(partner.tier, 'STANDARD');
    assert.equal(partner.rateLimit, 1000);
    assert.ok(Array.isArray(partner.enabledFeatures));
    assert.ok(Array.isArray(partner.ipAllowlist));
    assert.deepEqual(Object.keys(partner.tipConfig).sort(), ['defaultPercent', 'enabled']);
    assert.ok(!Number.isNaN(Date.parse(partner.createdAt)));
  });

  test('lastUsedAt is null until the key is used, then set to the time of use', async () => {
    const p = await signUp();
    const k = await createKey(p);
    const unused = await portal(p, 'GET', `/v1/partner/keys/${k.id}`);
    assert.equal(unused.json().lastUsedAt, null);

    ctx.clock.advance(42_000);
    const usedAt = ctx.clock.now().toISOString();
    assert.equal((await callWith(k)).statusCode, 200);
    await ctx.services.keys.flushUsage();

    const used = await portal(p, 'GET', `/v1/partner/keys/${k.id}`);
    assert.equal(used.json().lastUsedAt, usedAt);

    // The widget key of the same pair also counts as use, and only moves the time forward.
    ctx.clock.advance(5_000);
    const widget = await ctx.app.inject({ method: 'GET', url: '/v1/partner/config', headers: { 'x-partner-key': k.publicKey } });
    assert.equal(widget.statusCode, 200, widget.body);
    await ctx.services.keys.flushUsage();
    assert.equal((await portal(p, 'GET', `/v1/partner/keys/${k.id}`)).json().lastUsedAt, ctx.clock.now().toISOString());
  });
});
