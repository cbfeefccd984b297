import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner, prodKey, type PartnerFixture } from '../factories/partners.js';
import { createTestContext, signed, type SigningKey, type TestContext } from '../harness/context.js';
import { WEBHOOK_EVENT_TYPES } from '../../src/modules/webhooks/webhooks.validation.js';

/** Webhook endpoint management (contract A8.9) through signed requests against a real database. */

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

const SECRET = /^whsec_[0-9a-f]{64}$/;
const goodBody = (extra: Record<string, unknown> = {}) => ({ url: 'https://hooks.example.com/sir', eventTypes: ['action.completed'], ...extra });

async function create(key: SigningKey, body: Record<string, unknown> = goodBody()) {
  const res = await call(key, 'POST', '/v1/partner/webhooks', body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; secret: string; [k: string]: unknown };
}

/** Asserts a 400 whose message contains every one of `needles`. */
async function assertRejected(key: SigningKey, method: string, url: string, body: unknown, ...needles: string[]) {
  const res = await call(key, method, url, body);
  assert.equal(res.statusCode, 400, `${JSON.stringify(body)} -> ${res.statusCode} ${res.body}`);
  const message = (res.json() as { message: string }).message;
  for (const n of needles) assert.ok(message.toLowerCase().includes(n.toLowerCase()), `message "${message}" does not mention "${n}"`);
  return message;
}

describe('create', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });

  test('returns 201 with the endpoint and a whsec_ secret, stored sealed', async () => {
    const body = {
      url: 'https://hooks.example.com/sir',
      description: 'Main receiver',
      eventTypes: ['action.completed', 'action.failed'],
      headers: { 'X-Receiver-Token': 'abc123' },
    };
    const res = await call(p.sk, 'POST', '/v1/partner/webhooks', body);
    assert.equal(res.statusCode, 201, res.body);
    const hook = res.json();
    assert.match(hook.id, /^we_[0-9A-Za-z]+$/);
    assert.match(hook.secret, SECRET);
    assert.equal(hook.url, body.url);
    assert.equal(hook.description, 'Main receiver');
    assert.deepEqual(hook.eventTypes, body.eventTypes);
    assert.equal(hook.receiveAllEvents, false);
    assert.deepEqual(hook.headers, body.headers);
    assert.equal(hook.isActive, true);
    assert.ok(!Number.isNaN(Date.parse(hook.createdAt)));

    const row = await ctx.services.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', hook.id).executeTakeFirstOrThrow();
    assert.equal(row.partner_id, p.partnerId);
    assert.equal(row.environment, 'sandbox');
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes(hook.secret), 'the plain secret is stored');
    assert.ok(!stored.includes(hook.secret.slice('whsec_'.length)), 'the secret hex is stored');
    assert.notEqual(row.secret_sealed, hook.secret);
    assert.deepEqual(ctx.services.webhooks.signingSecrets(row), [hook.secret], 'the sealed secret opens to the one shown');
  });

  test('the secret is never returned again', async () => {
    const hook = await create(p.sk);
    const reads = [
      await call(p.sk, 'GET', `/v1/partner/webhooks/${hook.id}`),
      await call(p.pk, 'GET', `/v1/partner/webhooks/${hook.id}`),
      await call(p.sk, 'GET', '/v1/partner/webhooks?limit=100'),
      await call(p.sk, 'PATCH', `/v1/partner/webhooks/${hook.id}`, { description: 'x' }),
      await call(p.sk, 'DELETE', `/v1/partner/webhooks/${hook.id}`),
    ];
    for (const res of reads) {
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(!res.body.includes(hook.secret.slice('whsec_'.length)), `secret leaked: ${res.body}`);
      assert.ok(!res.body.includes('"secret"'), `a secret field: ${res.body}`);
    }
  });

  test('receiveAllEvents without eventTypes is accepted', async () => {
    const hook = await create(p.sk, { url: 'https://hooks.example.com/all', receiveAllEvents: true });
    assert.equal(hook.receiveAllEvents, true);
    assert.deepEqual(hook.eventTypes, []);
  });

  test('every catalogue event type is accepted', async () => {
    const hook = await create(p.sk, goodBody({ eventTypes: [...WEBHOOK_EVENT_TYPES] }));
    assert.deepEqual(hook.eventTypes, [...WEBHOOK_EVENT_TYPES]);
  });

  test('sandbox may use http:// and loopback', async () => {
    for (const url of ['http://127.0.0.1:3000/hooks', 'http://localhost:8080/hooks', 'http://192.168.1.10/hooks']) {
      assert.equal((await create(p.sk, goodBody({ url }))).url, url);
    }
  });

  test('production accepts a public https:// URL', async () => {
    const hook = await create(prodKey(p), goodBody({ url: 'https://hooks.example.com/prod' }));
    const row = await ctx.services.db.selectFrom('webhook_endpoints').select('environment').where('id', '=', hook.id).executeTakeFirstOrThrow();
    assert.equal(row.environment, 'production');
  });
});

describe('validation', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });
  const post = (key: SigningKey, body: unknown, ...needles: string[]) => assertRejected(key, 'POST', '/v1/partner/webhooks', body, ...needles);

  test('unknown event types -> 400 listing the valid ones', async () => {
    const message = await post(p.sk, goodBody({ eventTypes: ['action.completed', 'action.exploded'] }), 'action.exploded');
    for (const t of WEBHOOK_EVENT_TYPES) assert.ok(message.includes(t), `the message does not list ${t}: ${message}`);
  });

  test('eventTypes are required unless receiveAllEvents', async () => {
    await post(p.sk, { url: 'https://hooks.example.com/x' }, 'eventTypes');
    await post(p.sk, { url: 'https://hooks.example.com/x', eventTypes: [] }, 'eventTypes');
    await post(p.sk, { url: 'https://hooks.example.com/x', eventTypes: [], receiveAllEvents: false }, 'receiveAllEvents');
  });

  test('invalid or reserved custom header names, CR/LF values and more than 20 headers -> 400', async () => {
    for (const name of ['Bad Header', 'X-Ümlaut', 'X:Colon', '']) {
      await post(p.sk, goodBody({ headers: { [name]: 'v' } }), 'not a valid HTTP header name');
    }
    for (const name of ['Host', 'host', 'Content-Length', 'Content-Type', 'User-Agent', 'X-SIR-Signature', 'x-sir-timestamp', 'webhook-id', 'Webhook-Timestamp', 'webhook-signature', 'Connection', 'Transfer-Encoding']) {
      await post(p.sk, goodBody({ headers: { [name]: 'v' } }), 'reserved', name);
    }
    for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb']) {
      await post(p.sk, goodBody({ headers: { 'X-Token': value } }), 'CR', 'X-Token');
    }
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    await post(p.sk, goodBody({ headers: many(21) }), 'at most 20');
    assert.equal(Object.keys((await create(p.sk, goodBody({ headers: many(20) }))).headers as object).length, 20);
  });

  test('url must be http(s) and at most 2048 characters', async () => {
    await post(p.sk, goodBody({ url: 'ftp://hooks.example.com/x' }), 'http');
    await post(p.sk, goodBody({ url: 'not a url' }), 'url');
    await post(p.sk, goodBody({ url: 'https://user:pw@hooks.example.com/x' }), 'credentials');
    const res = await call(p.sk, 'POST', '/v1/partner/webhooks', goodBody({ url: `https://hooks.example.com/${'a'.repeat(2048)}` }));
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().message, /url|2048/i);
  });

  test('production: non-https and private, loopback, link-local, metadata and encoded-IP hosts -> 400 with the reason', async () => {
    const prod = prodKey(p);
    await post(prod, goodBody({ url: 'http://hooks.example.com/x' }), 'https://');
    const forms = [
      'https://localhost/x',
      'https://LOCALHOST./x',
      'https://api.localhost/x',
      'https://intranet/x',
      'https://127.0.0.1/x',
      'https://127.1/x',
      'https://2130706433/x',
      'https://0x7f000001/x',
      'https://0x7f.0.0.1/x',
      'https://0177.0.0.1/x',
      'https://017700000001/x',
      'https://0.0.0.0/x',
      'https://10.1.2.3/x',
      'https://172.16.0.1/x',
      'https://172.31.255.255/x',
      'https://192.168.0.1/x',
      'https://100.64.0.1/x',
      'https://169.254.169.254/latest/meta-data/',
      'https://169.254.1.1/x',
      'https://2852039166/x',
      'https://[::1]/x',
      'https://[::]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[::ffff:a9fe:a9fe]/x',
      'https://[::ffff:8.8.8.8]/x',
      'https://[fe80::1]/x',
      'https://[fc00::1]/x',
      'https://[fd12:3456::1]/x',
      'https://224.0.0.1/x',
      'https://255.255.255.255/x',
    ];
    for (const url of forms) await post(prod, goodBody({ url }), 'public host');
    // Controls: public addresses and names pass.
    for (const url of ['https://8.8.8.8/x', 'https://[2606:4700:4700::1111]/x', 'https://hooks.example.com:8443/x']) {
      await create(prod, goodBody({ url }));
    }
  });

  test('unknown body properties -> 400', async () => {
    const res = await call(p.sk, 'POST', '/v1/partner/webhooks', goodBody({ secret: 'whsec_mine' }));
    assert.equal(res.statusCode, 400, res.body);
  });
});

describe('list, get, patch, delete', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });

  test('list is paginated, newest first, and scoped to the environment', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await create(p.sk, goodBody({ description: `n${i}` })));
    const prod = await create(prodKey(p));
    const res = await call(p.sk, 'GET', '/v1/partner/webhooks?page=1&limit=2');
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json();
    assert.equal(page.page, 1);
    assert.equal(page.limit, 2);
    assert.equal(page.total, 3);
    assert.equal(page.data.length, 2);
    const all = (await call(p.sk, 'GET', '/v1/partner/webhooks?limit=100')).json();
    assert.deepEqual(new Set(all.data.map((h: { id: string }) => h.id)), new Set(made.map((h) => h.id)));
    assert.ok(!JSON.stringify(all).includes(prod.id));
  });

  test('get returns the endpoint without its secret', async () => {
    const hook = await create(p.sk);
    const res = await call(p.sk, 'GET', `/v1/partner/webhooks/${hook.id}`);
    assert.equal(res.statusCode, 200, res.body);
    const { secret: _, ...expected } = hook;
    assert.deepEqual({ ...(res.json() as Record<string, unknown>), updatedAt: undefined, disabledReason: undefined }, { ...expected, updatedAt: undefined, disabledReason: undefined });
    assert.equal((await call(p.sk, 'GET', '/v1/partner/webhooks/we_doesnotexist')).statusCode, 404);
  });

  test('patch changes url, description, eventTypes, receiveAllEvents, headers and isActive', async () => {
    const hook = await create(p.sk);
    const url = `/v1/partner/webhooks/${hook.id}`;
    let res = await call(p.sk, 'PATCH', url, {
      url: 'https://other.example.com/in',
      description: 'renamed',
      eventTypes: ['donation.completed', 'webhook.test'],
      headers: { 'X-A': '1' },
    });
    assert.equal(res.statusCode, 200, res.body);
    let got = res.json();
    assert.equal(got.url, 'https://other.example.com/in');
    assert.equal(got.description, 'renamed');
    assert.deepEqual(got.eventTypes, ['donation.completed', 'webhook.test']);
    assert.deepEqual(got.headers, { 'X-A': '1' });

    res = await call(p.sk, 'PATCH', url, { isActive: false });
    got = res.json();
    assert.equal(got.isActive, false);
    assert.equal(typeof got.disabledReason, 'string');
    res = await call(p.sk, 'PATCH', url, { isActive: true });
    got = res.json();
    assert.equal(got.isActive, true);
    assert.equal(got.disabledReason, null);

    res = await call(p.sk, 'PATCH', url, { receiveAllEvents: true, eventTypes: [] });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().receiveAllEvents, true);
    assert.deepEqual((await call(p.sk, 'GET', url)).json(), res.json());
  });

  test('patch validates like create', async () => {
    const hook = await create(p.sk);
    const url = `/v1/partner/webhooks/${hook.id}`;
    await assertRejected(p.sk, 'PATCH', url, { eventTypes: ['nope'] }, 'nope', 'action.completed');
    await assertRejected(p.sk, 'PATCH', url, { eventTypes: [] }, 'eventTypes');
    await assertRejected(p.sk, 'PATCH', url, { headers: { 'X-SIR-Signature': 'x' } }, 'reserved');
    await assertRejected(p.sk, 'PATCH', url, { url: 'gopher://x' }, 'http');
    const prodHook = await create(prodKey(p));
    await assertRejected(prodKey(p), 'PATCH', `/v1/partner/webhooks/${prodHook.id}`, { url: 'https://169.254.169.254/' }, 'public host');
    await assertRejected(prodKey(p), 'PATCH', `/v1/partner/webhooks/${prodHook.id}`, { url: 'http://hooks.example.com/' }, 'https://');
    assert.equal((await call(p.sk, 'PATCH', url, {})).statusCode, 400, 'an empty patch');
    // Nothing changed.
    const after = (await call(p.sk, 'GET', url)).json();
    assert.deepEqual(after.eventTypes, ['action.completed']);
    assert.deepEqual(after.headers, {});
  });

  test('delete answers {id, deleted: true}, then 404', async () => {
    const hook = await create(p.sk);
    const res = await call(p.sk, 'DELETE', `/v1/partner/webhooks/${hook.id}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { id: hook.id, deleted: true });
    assert.equal((await call(p.sk, 'GET', `/v1/partner/webhooks/${hook.id}`)).statusCode, 404);
    assert.equal((await call(p.sk, 'DELETE', `/v1/partner/webhooks/${hook.id}`)).statusCode, 404);
  });
});

describe('rotate-secret', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services);
  });

  test('returns a new secret once; the old one keeps signing for 24 h', async () => {
    const hook = await create(p.sk);
    const res = await call(p.sk, 'POST', `/v1/partner/webhooks/${hook.id}/rotate-secret`);
    assert.equal(res.statusCode, 200, res.body);
    const rotated = res.json();
    assert.equal(rotated.id, hook.id);
    assert.match(rotated.secret, SECRET);
    assert.notEqual(rotated.secret, hook.secret);
    assert.equal(Date.parse(rotated.previousSecretExpiresAt) - ctx.clock.now().getTime(), 24 * 3600 * 1000);

    const row = await ctx.services.webhooks.findRow({ partnerId: p.partnerId, environment: 'sandbox' }, hook.id);
    assert.ok(row);
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes(rotated.secret.slice(6)) && !stored.includes(hook.secret.slice(6)), 'a plain secret is stored');
    assert.deepEqual(ctx.services.webhooks.signingSecrets(row), [rotated.secret, hook.secret]);
    ctx.clock.advance(24 * 3600 * 1000 + 1000);
    try {
      assert.deepEqual(ctx.services.webhooks.signingSecrets(row), [rotated.secret], 'the old secret expired after 24 h');
    } finally {
      ctx.clock.advance(-(24 * 3600 * 1000 + 1000));
    }

    const got = await call(p.sk, 'GET', `/v1/partner/webhooks/${hook.id}`);
    assert.ok(!got.body.includes(rotated.secret.slice(6)));
    // Rotating again replaces the previous secret with the one just superseded.
    const again = (await call(p.sk, 'POST', `/v1/partner/webhooks/${hook.id}/rotate-secret`)).json();
    const row2 = await ctx.services.webhooks.findRow({ partnerId: p.partnerId, environment: 'sandbox' }, hook.id);
    assert.deepEqual(ctx.services.webhooks.signingSecrets(row2!), [again.secret, rotated.secret]);
  });

  test('unknown id -> 404; the publishable key -> 403', async () => {
    assert.equal((await call(p.sk, 'POST', '/v1/partner/webhooks/we_nothere/rotate-secret')).statusCode, 404);
    const hook = await create(p.sk);
    assert.equal((await call(p.pk, 'POST', `/v1/partner/webhooks/${hook.id}/rotate-secret`)).statusCode, 403);
  });
});

describe('isolation', () => {
  let a: PartnerFixture;
  let b: PartnerFixture;
  before(async () => {
    a = await createPartner(ctx.services, { withProduction: true });
    b = await createPartner(ctx.services);
  });

  test("another partner's endpoint is a 404 on every route and stays unchanged", async () => {
    const theirs = await create(b.sk);
    const base = `/v1/partner/webhooks/${theirs.id}`;
    for (const [method, url, body] of [
      ['GET', base, undefined],
      ['PATCH', base, { description: 'hijacked' }],
      ['DELETE', base, undefined],
      ['POST', `${base}/rotate-secret`, undefined],
    ] as const) {
      const res = await call(a.sk, method, url, body);
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().code, 'NOT_FOUND');
    }
    const still = await call(b.sk, 'GET', base);
    assert.equal(still.statusCode, 200);
    assert.equal(still.json().description, null);
    const row = await ctx.services.webhooks.findRow({ partnerId: b.partnerId, environment: 'sandbox' }, theirs.id);
    assert.deepEqual(ctx.services.webhooks.signingSecrets(row!), [theirs.secret]);
    const list = await call(a.sk, 'GET', '/v1/partner/webhooks?limit=100');
    assert.ok(!list.body.includes(theirs.id));
  });

  test('an endpoint of the other environment is a 404', async () => {
    const prod = await create(prodKey(a));
    assert.equal((await call(a.sk, 'GET', `/v1/partner/webhooks/${prod.id}`)).statusCode, 404);
    assert.equal((await call(a.sk, 'DELETE', `/v1/partner/webhooks/${prod.id}`)).statusCode, 404);
    assert.equal((await call(prodKey(a), 'GET', `/v1/partner/webhooks/${prod.id}`)).statusCode, 200);
  });
});
