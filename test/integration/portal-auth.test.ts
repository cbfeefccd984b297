import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestContext, type TestContext } from '../harness/context.js';

/**
 * Portal auth (contract A8.2): register, login, the login throttle, token refresh and /me, all
 * through HTTP against a real database.
 */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

const uniqueEmail = (tag = 'u') => `${tag}-${randomBytes(5).toString('hex')}@example.com`;
const PASSWORD = 'correct horse battery staple';

/** Each throttle test uses its own client address, so the per-address counter of one test never leaks into another. */
let nextAddress = 1;
const freshAddress = () => `10.20.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;

async function register(body: Record<string, unknown>) {
  return ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/register', payload: body });
}

async function login(email: string, password: string, remoteAddress?: string) {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/partner/auth/login',
    payload: { email, password },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

async function me(accessToken: string) {
  return ctx.app.inject({ method: 'GET', url: '/v1/partner/auth/me', headers: { authorization: `Bearer ${accessToken}` } });
}

/** The error body without the per-request id, for comparing two failures. */
function withoutRequestId(body: Record<string, unknown>) {
  const { requestId, ...rest } = body;
  assert.equal(typeof requestId, 'string');
  return rest;
}

describe('register', () => {
  test('creates a PENDING_APPROVAL partner and returns a usable token pair', async () => {
    const email = uniqueEmail('reg');
    const res = await register({ email, password: PASSWORD, partnerName: 'Acme Rewards', name: 'Ada' });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(typeof body.accessToken, 'string');
    assert.equal(typeof body.refreshToken, 'string');
    assert.notEqual(body.accessToken, body.refreshToken);
    assert.ok(body.expiresIn > 0);
    assert.deepEqual(body.user, { id: body.user.id, email, name: 'Ada' });
    assert.match(body.user.id, /^[0-9a-f]{24}$/);
    assert.equal(body.partner.status, 'PENDING_APPROVAL');
    assert.equal(body.partner.name, 'Acme Rewards');
    assert.equal(body.partner.tier, 'STANDARD');
    assert.equal(body.partner.rateLimit, 1000);
    assert.equal(body.partner.contactEmail, email);
    assert.match(body.partner.id, /^[0-9a-f]{24}$/);
    // No key pair exists yet, so there is no publishable key to show.
    assert.equal(body.publishableKey, null);
    // The password never comes back in any form.
    assert.ok(!res.body.includes(PASSWORD));
    assert.ok(!res.body.includes('argon2'));

    const who = await me(body.accessToken);
    assert.equal(who.statusCode, 200, who.body);
    assert.equal(who.json().user.id, body.user.id);
  });

  test('stores the email in lower case and refuses a duplicate, whatever its case, with 409', async () => {
    const email = uniqueEmail('dup');
    const first = await register({ email: email.toUpperCase(), password: PASSWORD, partnerName: 'First' });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.json().user.email, email);

    for (const variant of [email, email.toUpperCase(), `${email[0]!.toUpperCase()}${email.slice(1)}`]) {
      const again = await register({ email: variant, password: PASSWORD, partnerName: 'Second' });
      assert.equal(again.statusCode, 409, `${variant}: ${again.body}`);
      assert.equal(again.json().code, 'EMAIL_TAKEN');
      assert.equal(again.json().statusCode, 409);
    }
    // The losing attempts created no partner of their own.
    const partners = await ctx.services.db.selectFrom('partners').select('id').where('name', '=', 'Second').execute();
    assert.equal(partners.length, 0);
  });

  test('two concurrent registrations of one email: one 201, one 409', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all([
      register({ email, password: PASSWORD, partnerName: 'Racer One' }),
      register({ email, password: PASSWORD, partnerName: 'Racer Two' }),
    ]);
    const statuses = results.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [201, 409], results.map((r) => r.body).join('\n'));
  });
});

describe('login', () => {
  let email: string;
  before(async () => {
    email = uniqueEmail('login');
    const res = await register({ email, password: PASSWORD, partnerName: 'Login Co' });
    assert.equal(res.statusCode, 201, res.body);
  });

  test('the right password returns 200 with a session', async () => {
    const res = await login(email, PASSWORD, freshAddress());
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(body.user.email, email);
    assert.equal(body.partner.status, 'PENDING_APPROVAL');
    assert.equal((await me(body.accessToken)).statusCode, 200);
  });

  test('the email is matched case-insensitively', async () => {
    const res = await login(email.toUpperCase(), PASSWORD, freshAddress());
    assert.equal(res.statusCode, 200, res.body);
  });

  test('a wrong password and an unknown email get the identical 401, with no hint which one was wrong', async () => {
    const wrongPassword = await login(email, 'not the password at all', freshAddress());
    const unknownEmail = await login(uniqueEmail('nobody'), PASSWORD, freshAddress());
    assert.equal(wrongPassword.statusCode, 401, wrongPassword.body);
    assert.equal(unknownEmail.statusCode, 401, unknownEmail.body);
    assert.equal(wrongPassword.json().code, 'INVALID_CREDENTIALS');
    assert.deepEqual(withoutRequestId(wrongPassword.json()), withoutRequestId(unknownEmail.json()));
    assert.equal(wrongPassword.json().details, undefined);
    // Neither response sets headers the other lacks (e.g. a Retry-After only for known accounts).
    assert.equal(wrongPassword.headers['retry-after'], undefined);
    assert.equal(unknownEmail.headers['retry-after'], undefined);
  });
});

describe('login throttle', () => {
  test('after 5 failures the next attempt gets 429 TOO_MANY_ATTEMPTS with Retry-After, even with the right password', async () => {
    const email = uniqueEmail('throttle');
    assert.equal((await register({ email, password: PASSWORD, partnerName: 'Throttled' })).statusCode, 201);
    const ip = freshAddress();

    for (let i = 1; i <= 5; i++) {
      const res = await login(email, `wrong-${i}-password`, ip);
      assert.equal(res.statusCode, 401, `attempt ${i}: ${res.body}`);
    }
    const row = await ctx.services.db
      .selectFrom('portal_users')
      .select('failed_login_count')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal(row.failed_login_count, 5);

    const blocked = await login(email, PASSWORD, ip);
    assert.equal(blocked.statusCode, 429, blocked.body);
    assert.equal(blocked.json().code, 'TOO_MANY_ATTEMPTS');
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${blocked.headers['retry-after']}`);

    // The block is per account, not per address: another address is slowed as well.
    const elsewhere = await login(email, PASSWORD, freshAddress());
    assert.equal(elsewhere.statusCode, 429, elsewhere.body);

    // Just before Retry-After has passed, still blocked.
    ctx.clock.advance(retryAfter * 1000 - 1);
    assert.equal((await login(email, PASSWORD, ip)).statusCode, 429);

    ctx.clock.advance(1);
    const ok = await login(email, PASSWORD, ip);
    assert.equal(ok.statusCode, 200, ok.body);

    // Success resets the counter: the next failure is a plain 401 and the one after is not blocked.
    const reset = await ctx.services.db
      .selectFrom('portal_users')
      .select('failed_login_count')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.equal(reset.failed_login_count, 0);
    assert.equal((await login(email, 'wrong again password', ip)).statusCode, 401);
    assert.equal((await login(email, PASSWORD, ip)).statusCode, 200);
  });

  test('the delay grows with further failures', async () => {
    const email = uniqueEmail('grow');
    assert.equal((await register({ email, password: PASSWORD, partnerName: 'Growing' })).statusCode, 201);
    const ip = freshAddress();
    for (let i = 0; i < 5; i++) assert.equal((await login(email, 'bad password!', ip)).statusCode, 401);
    const first = Number((await login(email, 'bad password!', ip)).headers['retry-after']);
    ctx.clock.advance(first * 1000);
    // Allowed to try again, fails again: the next wait is longer.
    assert.equal((await login(email, 'bad password!', ip)).statusCode, 401);
    const second = await login(email, 'bad password!', ip);
    assert.equal(second.statusCode, 429);
    assert.ok(Number(second.headers['retry-after']) > first, `${second.headers['retry-after']} > ${first}`);
  });

  test('an unknown email is slowed exactly like a known one, so the 429 reveals nothing', async () => {
    const email = uniqueEmail('ghost');
    const ip = freshAddress();
    for (let i = 0; i < 5; i++) assert.equal((await login(email, 'whatever password', ip)).statusCode, 401);
    const blocked = await login(email, 'whatever password', ip);
    assert.equal(blocked.statusCode, 429, blocked.body);
    assert.equal(blocked.json().code, 'TOO_MANY_ATTEMPTS');
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
  });
});

describe('refresh', () => {
  test('a refresh token buys a new working pair; the access token is refused as a refresh token', async () => {
    const email = uniqueEmail('refresh');
    const reg = (await register({ email, password: PASSWORD, partnerName: 'Refreshing' })).json();

    // Let the access token expire (15 min) so the refresh is what keeps the session alive.
    ctx.clock.advance(16 * 60 * 1000);
    const expired = await me(reg.accessToken);
    assert.equal(expired.statusCode, 401, expired.body);
    assert.equal(expired.json().code, 'TOKEN_EXPIRED');

    const res = await ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/refresh', payload: { refreshToken: reg.refreshToken } });
    assert.equal(res.statusCode, 200, res.body);
    const pair = res.json();
    assert.notEqual(pair.accessToken, reg.accessToken);
    assert.notEqual(pair.refreshToken, reg.refreshToken);
    assert.equal(pair.user.id, reg.user.id);
    assert.equal(pair.partner.id, reg.partner.id);
    assert.equal((await me(pair.accessToken)).statusCode, 200);

    // The new refresh token works too.
    const again = await ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/refresh', payload: { refreshToken: pair.refreshToken } });
    assert.equal(again.statusCode, 200, again.body);

    const wrongUse = await ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/refresh', payload: { refreshToken: pair.accessToken } });
    assert.equal(wrongUse.statusCode, 401, wrongUse.body);
    assert.equal(wrongUse.json().code, 'INVALID_TOKEN');

    // And the other way round: a refresh token does not open portal routes.
    const refreshAsAccess = await me(pair.refreshToken);
    assert.equal(refreshAsAccess.statusCode, 401, refreshAsAccess.body);
    assert.equal(refreshAsAccess.json().code, 'INVALID_TOKEN');
  });

  test('garbage, forged and unsigned tokens get 401', async () => {
    const reg = (await register({ email: uniqueEmail('tamper'), password: PASSWORD, partnerName: 'Tamper' })).json();
    const [h, p, s] = (reg.refreshToken as string).split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    // Same signature, another subject: the signature no longer matches.
    const forged = `${h}.${b64({ ...payload, sub: 'ffffffffffffffffffffffff' })}.${s}`;
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
    for (const refreshToken of ['not-a-jwt', forged, unsigned]) {
      const res = await ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/refresh', payload: { refreshToken } });
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().code, 'INVALID_TOKEN');
    }
  });
});

describe('me', () => {
  test('returns the user, the partner and the active publishable key', async () => {
    const email = uniqueEmail('me');
    const reg = (await register({ email, password: PASSWORD, partnerName: 'Me Inc', name: 'Grace' })).json();
    const initial = (await me(reg.accessToken)).json();
    assert.deepEqual(initial.user, { id: reg.user.id, email, name: 'Grace' });
    assert.equal(initial.partner.id, reg.partner.id);
    assert.equal(initial.partner.name, 'Me Inc');
    assert.equal(initial.publishableKey, null);
    assert.equal(initial.accessToken, undefined);

    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partner/keys',
      headers: { authorization: `Bearer ${reg.accessToken}` },
      payload: { name: 'Sandbox', environment: 'sandbox', keyType: 'secret' },
    });
    assert.equal(created.statusCode, 201, created.body);

    const later = await me(reg.accessToken);
    assert.equal(later.statusCode, 200, later.body);
    assert.equal(later.json().publishableKey, created.json().publicKey);
    assert.match(later.json().publishableKey, /^pk_test_[0-9a-f]{64}$/);
    assert.ok(!later.body.includes(created.json().secretKey));
    assert.ok(!later.body.includes(created.json().hmacSecret));
  });

  test('without a bearer token, or with a malformed one, is 401', async () => {
    const none = await ctx.app.inject({ method: 'GET', url: '/v1/partner/auth/me' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'UNAUTHORIZED');
    const bad = await me('abc.def.ghi');
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.json().code, 'INVALID_TOKEN');
  });
});

describe('validation', () => {
  test('a short password is a 400 naming the field', async () => {
    const res = await register({ email: uniqueEmail('short'), password: 'short', partnerName: 'Shorty' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'VALIDATION_ERROR');
    assert.ok(res.json().details.some((d: { path: string }) => d.path === 'body.password'), res.body);
  });

  test('a malformed email is a 400 naming the field', async () => {
    const res = await register({ email: 'not-an-email', password: PASSWORD, partnerName: 'Bad Email' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'VALIDATION_ERROR');
    assert.ok(res.json().details.some((d: { path: string }) => d.path === 'body.email'), res.body);
  });

  test('an unknown property is refused, not silently dropped', async () => {
    const res = await register({ email: uniqueEmail('extra'), password: PASSWORD, partnerName: 'Extra', role: 'admin' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'VALIDATION_ERROR');
    assert.match(res.json().message, /role/);
    const onLogin = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partner/auth/login',
      payload: { email: uniqueEmail('x'), password: PASSWORD, remember: true },
    });
    assert.equal(onLogin.statusCode, 400, onLogin.body);
    assert.match(onLogin.json().message, /remember/);
  });

  test('a missing field is a 400 naming it', async () => {
    const res = await register({ email: uniqueEmail('missing'), password: PASSWORD });
    assert.equal(res.statusCode, 400, res.body);
    assert.ok(res.json().details.some((d: { path: string }) => d.path === 'body.partnerName'), res.body);
  });
});
