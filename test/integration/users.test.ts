import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createTestContext, signed, type SigningKey, type TestContext } from '../harness/context.js';

/** Partner users (contract A8.4) through signed requests against a real database. */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

function call(key: SigningKey, method: string, url: string, body?: unknown) {
  return ctx.app.inject(signed(ctx.clock, key, method, url, body));
}

const prodKey = (p: PartnerFixture): SigningKey => ({ key: p.production!.secretKey, hmacSecret: p.production!.hmacSecret });

describe('create, get, patch', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services);
  });

  test('create returns 201 with the user', async () => {
    const body = { externalUserId: 'user_42', email: 'customer@example.com', firstName: 'Jane', lastName: 'Doe', metadata: { plan: 'gold', visits: 3 } };
    const res = await call(p.sk, 'POST', '/v1/partner/users', body);
    assert.equal(res.statusCode, 201, res.body);
    const user = res.json();
    assert.match(user.id, /^[0-9a-f]{24}$/);
    assert.equal(user.externalUserId, 'user_42');
    assert.equal(user.email, 'customer@example.com');
    assert.equal(user.firstName, 'Jane');
    assert.equal(user.lastName, 'Doe');
    assert.deepEqual(user.metadata, { plan: 'gold', visits: 3 });
    assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
    assert.ok(!Number.isNaN(Date.parse(user.updatedAt)));

    const got = await call(p.sk, 'GET', '/v1/partner/users/user_42');
    assert.equal(got.statusCode, 200, got.body);
    assert.deepEqual(got.json(), user);
    // A read route accepts the publishable key too (contract A4.5).
    const viaPk = await call(p.pk, 'GET', '/v1/partner/users/user_42');
    assert.equal(viaPk.statusCode, 200, viaPk.body);
    assert.deepEqual(viaPk.json(), user);
  });

  test('only externalUserId is required; the rest defaults to null and {}', async () => {
    const res = await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'minimal' });
    assert.equal(res.statusCode, 201, res.body);
    const user = res.json();
    assert.equal(user.email, null);
    assert.equal(user.firstName, null);
    assert.equal(user.lastName, null);
    assert.deepEqual(user.metadata, {});
  });

  test('an external id with characters that need escaping in a path round-trips', async () => {
    const externalUserId = 'jane+1@example.com:ü';
    const created = await call(p.sk, 'POST', '/v1/partner/users', { externalUserId });
    assert.equal(created.statusCode, 201, created.body);
    const url = `/v1/partner/users/${encodeURIComponent(externalUserId)}`;
    const got = await call(p.sk, 'GET', url);
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json().externalUserId, externalUserId);
    const patched = await call(p.sk, 'PATCH', url, { firstName: 'Escaped' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().firstName, 'Escaped');
  });

  test('a duplicate externalUserId is 409 USER_EXISTS and leaves the first one as it was', async () => {
    await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'dup-1', email: 'first@example.com' });
    const res = await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'dup-1', email: 'second@example.com' });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'USER_EXISTS');
    assert.equal((await call(p.sk, 'GET', '/v1/partner/users/dup-1')).json().email, 'first@example.com');
  });

  test('an unknown external id is 404', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { firstName: 'Nobody' }],
    ] as const) {
      const res = await call(p.sk, method, '/v1/partner/users/does-not-exist', body);
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'NOT_FOUND');
    }
  });

  test('patch changes metadata, email and names; fields not sent stay; null clears', async () => {
    const created = (await call(p.sk, 'POST', '/v1/partner/users', {
      externalUserId: 'patch-me',
      email: 'old@example.com',
      firstName: 'Old',
      lastName: 'Name',
      metadata: { a: 1 },
    })).json();

    const meta = await call(p.sk, 'PATCH', '/v1/partner/users/patch-me', { metadata: { b: 2, nested: { ok: true } } });
    assert.equal(meta.statusCode, 200, meta.body);
    // metadata is replaced as a whole, not merged.
    assert.deepEqual(meta.json().metadata, { b: 2, nested: { ok: true } });
    assert.equal(meta.json().email, 'old@example.com');
    assert.equal(meta.json().firstName, 'Old');

    const names = await call(p.sk, 'PATCH', '/v1/partner/users/patch-me', { email: 'new@example.com', firstName: 'New', lastName: null });
    assert.equal(names.statusCode, 200, names.body);
    const user = names.json();
    assert.equal(user.email, 'new@example.com');
    assert.equal(user.firstName, 'New');
    assert.equal(user.lastName, null);
    assert.deepEqual(user.metadata, { b: 2, nested: { ok: true } });
    assert.equal(user.id, created.id);
    assert.equal(user.externalUserId, 'patch-me');
    assert.equal(user.createdAt, created.createdAt);
    assert.ok(Date.parse(user.updatedAt) >= Date.parse(created.updatedAt));
    assert.deepEqual((await call(p.sk, 'GET', '/v1/partner/users/patch-me')).json(), user);
  });

  test('bad bodies are 400: missing externalUserId, bad email, unknown property, empty patch, id with a slash', async () => {
    for (const body of [
      { email: 'x@example.com' },
      { externalUserId: 'bad-email', email: 'not-an-email' },
      { externalUserId: 'extra', role: 'admin' },
      { externalUserId: 'has space' },
      { externalUserId: 'a/b' },
      { externalUserId: '' },
      { externalUserId: 12345 },
    ]) {
      const res = await call(p.sk, 'POST', '/v1/partner/users', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
    await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'valid-for-patch' });
    for (const body of [{}, { externalUserId: 'renamed' }, { email: 'nope' }]) {
      const res = await call(p.sk, 'PATCH', '/v1/partner/users/valid-for-patch', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
    }
  });

  test('writes need the secret key: the publishable key gets 403 SECRET_KEY_REQUIRED', async () => {
    const create = await call(p.pk, 'POST', '/v1/partner/users', { externalUserId: 'via-pk' });
    assert.equal(create.statusCode, 403, create.body);
    assert.equal(create.json().code, 'SECRET_KEY_REQUIRED');
    const patch = await call(p.pk, 'PATCH', '/v1/partner/users/user_42', { firstName: 'Mallory' });
    assert.equal(patch.statusCode, 403, patch.body);
    assert.equal((await call(p.sk, 'GET', '/v1/partner/users/via-pk')).statusCode, 404);
    assert.equal((await call(p.sk, 'GET', '/v1/partner/users/user_42')).json().firstName, 'Jane');
  });
});

describe('time', () => {
  test("users are stamped by the partner's clock: sandbox time travel applies, production keeps real time", async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const DAY = 86_400_000;
    await ctx.services.partnerClock.advance(p.partnerId, 10 * DAY);
    const expected = ctx.clock.now().getTime() + 10 * DAY;
    const sandbox = await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'traveller' });
    assert.equal(sandbox.statusCode, 201, sandbox.body);
    assert.equal(Date.parse(sandbox.json().createdAt), expected);
    assert.equal(sandbox.json().updatedAt, sandbox.json().createdAt);
    await ctx.services.partnerClock.advance(p.partnerId, DAY);
    const patched = await call(p.sk, 'PATCH', '/v1/partner/users/traveller', { firstName: 'Later' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(Date.parse(patched.json().updatedAt), expected + DAY);
    assert.equal(patched.json().createdAt, sandbox.json().createdAt);

    const production = await call(prodKey(p), 'POST', '/v1/partner/users', { externalUserId: 'traveller' });
    assert.equal(production.statusCode, 201, production.body);
    assert.equal(Date.parse(production.json().createdAt), ctx.clock.now().getTime());
  });
});

describe('list', () => {
  test('pagination envelope {data,page,limit,total}, pages that do not overlap, newest first', async () => {
    const p = await createPartner(ctx.services);
    const ids = ['l-1', 'l-2', 'l-3', 'l-4', 'l-5'];
    for (const externalUserId of ids) {
      assert.equal((await call(p.sk, 'POST', '/v1/partner/users', { externalUserId })).statusCode, 201);
    }

    const defaults = await call(p.sk, 'GET', '/v1/partner/users');
    assert.equal(defaults.statusCode, 200, defaults.body);
    const all = defaults.json();
    assert.deepEqual(Object.keys(all).sort(), ['data', 'limit', 'page', 'total']);
    assert.equal(all.page, 1);
    assert.equal(all.limit, 20);
    assert.equal(all.total, 5);
    assert.deepEqual(
      all.data.map((u: { externalUserId: string }) => u.externalUserId),
      [...ids].reverse(),
    );

    const seen: string[] = [];
    for (const page of [1, 2, 3]) {
      const res = await call(p.sk, 'GET', `/v1/partner/users?page=${page}&limit=2`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.page, page);
      assert.equal(body.limit, 2);
      assert.equal(body.total, 5);
      assert.equal(body.data.length, page < 3 ? 2 : 1);
      seen.push(...body.data.map((u: { externalUserId: string }) => u.externalUserId));
    }
    assert.deepEqual(seen, [...ids].reverse());

    const beyond = (await call(p.sk, 'GET', '/v1/partner/users?page=4&limit=2')).json();
    assert.deepEqual(beyond.data, []);
    assert.equal(beyond.total, 5);

    assert.equal((await call(p.sk, 'GET', '/v1/partner/users?limit=100')).statusCode, 200);
  });

  test('limit above 100, limit 0, page 0, non-numbers and unknown parameters are 400', async () => {
    const p = await createPartner(ctx.services);
    for (const q of ['limit=101', 'limit=1000', 'limit=0', 'page=0', 'page=-1', 'limit=abc', 'page=1.5', 'sort=name']) {
      const res = await call(p.sk, 'GET', `/v1/partner/users?${q}`);
      assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });
});

describe('isolation', () => {
  test('a user created with a production key is invisible to the sandbox key, and vice versa', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const live = prodKey(p);

    assert.equal((await call(live, 'POST', '/v1/partner/users', { externalUserId: 'live-only', firstName: 'Live' })).statusCode, 201);
    assert.equal((await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'test-only', firstName: 'Test' })).statusCode, 201);

    assert.equal((await call(p.sk, 'GET', '/v1/partner/users/live-only')).statusCode, 404);
    assert.equal((await call(p.pk, 'GET', '/v1/partner/users/live-only')).statusCode, 404);
    assert.equal((await call(p.sk, 'PATCH', '/v1/partner/users/live-only', { firstName: 'Changed' })).statusCode, 404);
    assert.equal((await call(live, 'GET', '/v1/partner/users/test-only')).statusCode, 404);
    assert.equal((await call(live, 'PATCH', '/v1/partner/users/test-only', { firstName: 'Changed' })).statusCode, 404);

    const sandboxList = (await call(p.sk, 'GET', '/v1/partner/users')).json();
    const liveList = (await call(live, 'GET', '/v1/partner/users')).json();
    assert.deepEqual(sandboxList.data.map((u: { externalUserId: string }) => u.externalUserId), ['test-only']);
    assert.equal(sandboxList.total, 1);
    assert.deepEqual(liveList.data.map((u: { externalUserId: string }) => u.externalUserId), ['live-only']);
    assert.equal(liveList.total, 1);

    // The same external id may exist once per environment: they are separate users.
    const twin = await call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'live-only', firstName: 'Sandbox twin' });
    assert.equal(twin.statusCode, 201, twin.body);
    assert.equal((await call(live, 'GET', '/v1/partner/users/live-only')).json().firstName, 'Live');
    assert.equal((await call(p.sk, 'GET', '/v1/partner/users/live-only')).json().firstName, 'Sandbox twin');
  });

  test("another partner's user is 404, exactly like a missing one, and cannot be changed", async () => {
    const owner = await createPartner(ctx.services);
    const other = await createPartner(ctx.services);
    assert.equal((await call(owner.sk, 'POST', '/v1/partner/users', { externalUserId: 'mine', email: 'mine@example.com' })).statusCode, 201);

    const get = await call(other.sk, 'GET', '/v1/partner/users/mine');
    const missing = await call(other.sk, 'GET', '/v1/partner/users/never-existed');
    assert.equal(get.statusCode, 404, get.body);
    assert.equal(get.json().code, missing.json().code);
    const patch = await call(other.sk, 'PATCH', '/v1/partner/users/mine', { email: 'stolen@example.com' });
    assert.equal(patch.statusCode, 404, patch.body);
    assert.deepEqual((await call(other.sk, 'GET', '/v1/partner/users')).json().data, []);

    // The other partner can have its own "mine"; the owner's is untouched.
    assert.equal((await call(other.sk, 'POST', '/v1/partner/users', { externalUserId: 'mine' })).statusCode, 201);
    assert.equal((await call(owner.sk, 'GET', '/v1/partner/users/mine')).json().email, 'mine@example.com');
  });
});

describe('concurrency', () => {
  test('20 concurrent creates of one externalUserId: exactly one 201, the rest 409 USER_EXISTS', async () => {
    const p = await createPartner(ctx.services);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(p.sk, 'POST', '/v1/partner/users', { externalUserId: 'racer', metadata: { attempt: i } }),
      ),
    );
    const created = results.filter((r) => r.statusCode === 201);
    const conflicts = results.filter((r) => r.statusCode === 409);
    assert.equal(created.length, 1, results.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    assert.equal(conflicts.length, 19, results.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
    for (const r of conflicts) assert.equal(r.json().code, 'USER_EXISTS');

    const rows = await ctx.services.db
      .selectFrom('partner_users')
      .selectAll()
      .where('partner_id', '=', p.partnerId)
      .where('external_user_id', '=', 'racer')
      .execute();
    assert.equal(rows.length, 1);
    // The stored user is the one the 201 returned.
    assert.equal(rows[0]!.id, created[0]!.json().id);
    assert.deepEqual(rows[0]!.metadata, created[0]!.json().metadata);
  });
});
