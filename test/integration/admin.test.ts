import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CliUsageError, runAdminCommand } from '../../src/cli/admin.js';
import { AppError } from '../../src/platform/errors.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createTestContext, OPERATOR_TOKEN, signed, type TestContext } from '../harness/context.js';

/** The operator surface: /v1/admin/partners over HTTP and the same actions through the CLI. */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

function operator(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: Record<string, unknown>, token = OPERATOR_TOKEN) {
  return ctx.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
}

const patch = (id: string, body: Record<string, unknown>) => operator('PATCH', `/v1/admin/partners/${id}`, body);

function usersCall(p: PartnerFixture, remoteAddress?: string) {
  return ctx.app.inject({
    ...signed(ctx.clock, p.sk, 'GET', '/v1/partner/users'),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

describe('operator auth', () => {
  test('the admin routes need the operator token: none, a wrong one or a portal token are 401', async () => {
    const p = await createPartner(ctx.services);
    const none = await ctx.app.inject({ method: 'GET', url: '/v1/admin/partners' });
    assert.equal(none.statusCode, 401, none.body);
    for (const token of [`${OPERATOR_TOKEN}x`, OPERATOR_TOKEN.slice(0, -1), p.accessToken]) {
      for (const [method, url] of [
        ['GET', '/v1/admin/partners'],
        ['GET', `/v1/admin/partners/${p.partnerId}`],
        ['POST', `/v1/admin/partners/${p.partnerId}/approve`],
        ['POST', `/v1/admin/partners/${p.partnerId}/suspend`],
      ] as const) {
        const res = await operator(method, url, undefined, token);
        assert.equal(res.statusCode, 401, `${method} ${url}: ${res.body}`);
        assert.equal(res.json().code, 'UNAUTHORIZED');
      }
    }
    // Nothing was changed by the refused calls.
    assert.equal((await ctx.services.partners.partnerInfo(p.partnerId)).status, 'ACTIVE');
  });
});

describe('list and get', () => {
  test('list is paginated and filters by status', async () => {
    const pending = await createPartner(ctx.services, { status: 'PENDING_APPROVAL', name: 'Pending One' });
    const active = await createPartner(ctx.services, { name: 'Active One' });
    const suspended = await createPartner(ctx.services, { status: 'SUSPENDED', name: 'Suspended One' });

    const all = await operator('GET', '/v1/admin/partners?page=1&limit=100');
    assert.equal(all.statusCode, 200, all.body);
    const body = all.json();
    assert.equal(body.page, 1);
    assert.equal(body.limit, 100);
    assert.equal(body.total, body.data.length);
    const ids = body.data.map((p: { id: string }) => p.id);
    for (const id of [pending.partnerId, active.partnerId, suspended.partnerId]) assert.ok(ids.includes(id));

    for (const [status, id] of [
      ['PENDING_APPROVAL', pending.partnerId],
      ['ACTIVE', active.partnerId],
      ['SUSPENDED', suspended.partnerId],
    ] as const) {
      const res = await operator('GET', `/v1/admin/partners?status=${status}&limit=100`);
      assert.equal(res.statusCode, 200, res.body);
      const data = res.json().data as { id: string; status: string }[];
      assert.ok(data.every((p) => p.status === status), res.body);
      assert.ok(data.some((p) => p.id === id), `${status} list misses ${id}`);
      assert.equal(res.json().total, data.length);
    }

    // Pages do not overlap and together cover the whole list.
    const page1 = (await operator('GET', '/v1/admin/partners?page=1&limit=2')).json();
    const page2 = (await operator('GET', '/v1/admin/partners?page=2&limit=2')).json();
    assert.equal(page1.data.length, 2);
    assert.equal(page1.total, body.total);
    const seen = [...page1.data, ...page2.data].map((p: { id: string }) => p.id);
    assert.equal(new Set(seen).size, seen.length);
    assert.deepEqual(seen, ids.slice(0, seen.length));
  });

  test('bad list queries are 400', async () => {
    for (const q of ['limit=101', 'page=0', 'status=ACTIVATED', 'sort=name']) {
      const res = await operator('GET', `/v1/admin/partners?${q}`);
      assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });

  test('get returns one partner; an unknown id is 404 on every route', async () => {
    const p = await createPartner(ctx.services, { name: 'Gettable' });
    const res = await operator('GET', `/v1/admin/partners/${p.partnerId}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, p.partnerId);
    assert.equal(res.json().name, 'Gettable');
    assert.equal(res.json().status, 'ACTIVE');

    const unknown = 'ffffffffffffffffffffffff';
    for (const res404 of [
      await operator('GET', `/v1/admin/partners/${unknown}`),
      await operator('POST', `/v1/admin/partners/${unknown}/approve`),
      await operator('POST', `/v1/admin/partners/${unknown}/suspend`),
      await patch(unknown, { tier: 'ENTERPRISE' }),
    ]) {
      assert.equal(res404.statusCode, 404, res404.body);
      assert.equal(res404.json().code, 'NOT_FOUND');
    }
  });
});

describe('approve and suspend', () => {
  test('approve makes a pending partner ACTIVE and opens production', async () => {
    const p = await createPartner(ctx.services, { status: 'PENDING_APPROVAL' });
    const approved = await operator('POST', `/v1/admin/partners/${p.partnerId}/approve`);
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json().status, 'ACTIVE');
    const live = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partner/keys',
      headers: { authorization: `Bearer ${p.accessToken}` },
      payload: { name: 'Live', environment: 'production' },
    });
    assert.equal(live.statusCode, 201, live.body);
  });

  test("a suspended partner's keys are refused with 403 PARTNER_NOT_ACTIVE until it is approved again", async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const prod = { key: p.production!.secretKey, hmacSecret: p.production!.hmacSecret };
    const calls = () => [
      usersCall(p),
      ctx.app.inject(signed(ctx.clock, prod, 'GET', '/v1/partner/users')),
      ctx.app.inject({ method: 'GET', url: '/v1/partner/config', headers: { 'x-partner-key': p.sandbox.publishableKey } }),
    ];
    for (const res of await Promise.all(calls())) assert.equal(res.statusCode, 200, res.body);

    const suspended = await operator('POST', `/v1/admin/partners/${p.partnerId}/suspend`);
    assert.equal(suspended.statusCode, 200, suspended.body);
    assert.equal(suspended.json().status, 'SUSPENDED');
    for (const res of await Promise.all(calls())) {
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'PARTNER_NOT_ACTIVE');
    }
    // No new keys while suspended either.
    const newKey = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partner/keys',
      headers: { authorization: `Bearer ${p.accessToken}` },
      payload: { name: 'Sneaky', environment: 'sandbox' },
    });
    assert.equal(newKey.statusCode, 403, newKey.body);
    assert.equal(newKey.json().code, 'PARTNER_NOT_ACTIVE');

    const approved = await operator('POST', `/v1/admin/partners/${p.partnerId}/approve`);
    assert.equal(approved.json().status, 'ACTIVE');
    for (const res of await Promise.all(calls())) assert.equal(res.statusCode, 200, res.body);
  });
});

describe('patch', () => {
  test('tier sets the tier default rate limit, which the next signed request already uses', async () => {
    const p = await createPartner(ctx.services);
    for (const [tier, limit] of [
      ['PROFESSIONAL', 5000],
      ['ENTERPRISE', 20000],
      ['STANDARD', 1000],
    ] as const) {
      const res = await patch(p.partnerId, { tier });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().tier, tier);
      assert.equal(res.json().rateLimit, limit);
      const call = await usersCall(p);
      assert.equal(call.statusCode, 200, call.body);
      assert.equal(call.headers['x-ratelimit-limit'], String(limit));
    }
  });

  test('an explicit rateLimit wins over the tier default, in the same request or later', async () => {
    const p = await createPartner(ctx.services);
    const both = await patch(p.partnerId, { tier: 'ENTERPRISE', rateLimit: 250 });
    assert.equal(both.statusCode, 200, both.body);
    assert.equal(both.json().tier, 'ENTERPRISE');
    assert.equal(both.json().rateLimit, 250);
    // Key order in the body does not matter.
    const reversed = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/admin/partners/${p.partnerId}`,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
      payload: '{"rateLimit":333,"tier":"PROFESSIONAL"}',
    });
    assert.equal(reversed.json().rateLimit, 333);
    const alone = await patch(p.partnerId, { rateLimit: 7 });
    assert.equal(alone.json().rateLimit, 7);
    assert.equal(alone.json().tier, 'PROFESSIONAL');
    assert.equal((await usersCall(p)).headers['x-ratelimit-limit'], '7');
    assert.equal((await patch(p.partnerId, { rateLimit: 0 })).statusCode, 400);
  });

  test('features, tip config, webhook URL and contact email are stored and shown to the widget', async () => {
    const p = await createPartner(ctx.services);
    const res = await patch(p.partnerId, {
      enabledFeatures: ['DONATIONS', 'PAYMENTS'],
      tipConfig: { enabled: false, defaultPercent: 5 },
      webhookUrl: 'https://acme.example.com/webhooks/sir',
      contactEmail: 'ops@acme.example.com',
      name: 'Acme Renamed',
    });
    assert.equal(res.statusCode, 200, res.body);
    const partner = res.json();
    assert.deepEqual(partner.enabledFeatures, ['DONATIONS', 'PAYMENTS']);
    assert.deepEqual(partner.tipConfig, { enabled: false, defaultPercent: 5 });
    assert.equal(partner.webhookUrl, 'https://acme.example.com/webhooks/sir');
    assert.equal(partner.contactEmail, 'ops@acme.example.com');
    assert.equal(partner.name, 'Acme Renamed');
    assert.deepEqual((await operator('GET', `/v1/admin/partners/${p.partnerId}`)).json(), partner);

    const config = await ctx.app.inject({ method: 'GET', url: '/v1/partner/config', headers: { 'x-partner-key': p.sandbox.publishableKey } });
    assert.equal(config.statusCode, 200, config.body);
    assert.deepEqual(config.json().enabledFeatures, ['DONATIONS', 'PAYMENTS']);
    assert.deepEqual(config.json().tipConfig, { enabled: false, defaultPercent: 5 });
    assert.equal(config.json().name, 'Acme Renamed');

    for (const bad of [
      { enabledFeatures: ['TELEPORT'] },
      { enabledFeatures: ['DONATIONS', 'DONATIONS'] },
      { tipConfig: { enabled: true, defaultPercent: 101 } },
      { webhookUrl: 'not a url' },
      { status: 'ACTIVE' },
      {},
    ]) {
      const r = await patch(p.partnerId, bad);
      assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
      assert.equal(r.json().code, 'VALIDATION_ERROR');
    }
  });

  test('ipAllowlist: an invalid entry is 400 and changes nothing; a valid list is enforced on signed requests', async () => {
    const p = await createPartner(ctx.services);
    for (const entry of ['not-an-ip', '10.0.0.0/33', '300.1.1.1', '10.0.0.0/8/1', '::1/129', '']) {
      const res = await patch(p.partnerId, { tier: 'ENTERPRISE', ipAllowlist: ['192.0.2.1', entry] });
      assert.equal(res.statusCode, 400, `${JSON.stringify(entry)}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
    const unchanged = (await operator('GET', `/v1/admin/partners/${p.partnerId}`)).json();
    assert.equal(unchanged.tier, 'STANDARD', 'a refused patch must not apply its other fields');
    assert.deepEqual(unchanged.ipAllowlist, []);

    const ok = await patch(p.partnerId, { ipAllowlist: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().ipAllowlist, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);

    const outside = await usersCall(p, '127.0.0.1');
    assert.equal(outside.statusCode, 403, outside.body);
    assert.equal(outside.json().code, 'IP_NOT_ALLOWED');
    assert.equal((await usersCall(p, '10.1.2.3')).statusCode, 200);
    assert.equal((await usersCall(p, '192.0.2.7')).statusCode, 200);
    assert.equal((await usersCall(p, '192.0.2.8')).statusCode, 403);
    assert.equal((await usersCall(p, '2001:db8::5')).statusCode, 200);

    const cleared = await patch(p.partnerId, { ipAllowlist: [] });
    assert.deepEqual(cleared.json().ipAllowlist, []);
    assert.equal((await usersCall(p, '127.0.0.1')).statusCode, 200);
  });
});

describe('CLI (src/cli/admin.ts) with the same services', () => {
  async function cli(...argv: string[]) {
    const lines: string[] = [];
    const handled = await runAdminCommand(ctx.services, 'partners', argv, (l) => lines.push(l));
    assert.equal(handled, true);
    return lines;
  }

  test('list prints every partner with its status, optionally filtered', async () => {
    const pending = await createPartner(ctx.services, { status: 'PENDING_APPROVAL', name: 'Cli Pending' });
    const active = await createPartner(ctx.services, { name: 'Cli Active' });
    const all = await cli('list');
    const total = (await ctx.services.partners.listPartners({ page: 1, limit: 100 })).total;
    assert.equal(all.at(-1), `${total} partner(s)`);
    const line = (lines: string[], id: string) => lines.find((l) => l.startsWith(id));
    assert.match(line(all, pending.partnerId) ?? '', /PENDING_APPROVAL/);
    assert.match(line(all, active.partnerId) ?? '', /ACTIVE/);

    const onlyPending = await cli('list', 'PENDING_APPROVAL');
    assert.ok(line(onlyPending, pending.partnerId));
    assert.equal(line(onlyPending, active.partnerId), undefined);
    assert.ok(onlyPending.slice(0, -1).every((l) => l.includes('PENDING_APPROVAL')), onlyPending.join('\n'));

    // Operators type statuses in lower case too; that must not silently list nothing.
    assert.deepEqual(await cli('list', 'pending_approval'), onlyPending);
    await assert.rejects(cli('list', 'ACTIVATED'), (err: Error) => err instanceof CliUsageError && /status/.test(err.message));
  });

  test('list prints every partner, also beyond one page of 100', async () => {
    for (let i = 0; i < 101; i++) await ctx.services.partners.createPartner({ name: `Bulk ${i}`, status: 'ACTIVE' });
    const lines = await cli('list');
    const total = (await ctx.services.partners.listPartners({ page: 1, limit: 1 })).total;
    assert.ok(total > 100);
    assert.equal(lines.at(-1), `${total} partner(s)`);
    const printed = lines.slice(0, -1);
    assert.equal(printed.length, total);
    assert.equal(new Set(printed.map((l) => l.split(' ')[0])).size, total);
  });

  test('approve, suspend and set-tier act like the HTTP routes, and the running app sees them at once', async () => {
    const p = await createPartner(ctx.services, { status: 'PENDING_APPROVAL' });
    const approved = JSON.parse((await cli('approve', p.partnerId)).join('\n'));
    assert.equal(approved.status, 'ACTIVE');
    assert.equal((await operator('GET', `/v1/admin/partners/${p.partnerId}`)).json().status, 'ACTIVE');

    assert.equal((await usersCall(p)).statusCode, 200);
    const suspended = JSON.parse((await cli('suspend', p.partnerId)).join('\n'));
    assert.equal(suspended.status, 'SUSPENDED');
    const refused = await usersCall(p);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().code, 'PARTNER_NOT_ACTIVE');
    await cli('approve', p.partnerId);
    assert.equal((await usersCall(p)).statusCode, 200);

    const tiered = JSON.parse((await cli('set-tier', p.partnerId, 'professional')).join('\n'));
    assert.equal(tiered.tier, 'PROFESSIONAL');
    assert.equal(tiered.rateLimit, 5000);
    assert.equal((await usersCall(p)).headers['x-ratelimit-limit'], '5000');

    const shown = JSON.parse((await cli('show', p.partnerId)).join('\n'));
    assert.equal(shown.tier, 'PROFESSIONAL');
  });

  test('bad input is an error, and changes nothing', async () => {
    const p = await createPartner(ctx.services);
    await assert.rejects(cli('set-tier', p.partnerId, 'PLATINUM'), (err: Error) => err instanceof CliUsageError && /tier/.test(err.message));
    await assert.rejects(cli('set-tier', p.partnerId), CliUsageError);
    await assert.rejects(cli('approve'), CliUsageError);
    await assert.rejects(cli('set-rate-limit', p.partnerId, '-5'), CliUsageError);
    await assert.rejects(cli('set-rate-limit', p.partnerId, '99999999999'), CliUsageError);
    await assert.rejects(cli('set-features', p.partnerId, 'DONATIONS,TELEPORT'), CliUsageError);
    await assert.rejects(cli('set-ip-allowlist', p.partnerId, 'not-an-ip'), (err: Error) => err instanceof AppError && err.code === 'VALIDATION_ERROR');
    await assert.rejects(cli('frobnicate'), CliUsageError);
    await assert.rejects(cli('approve', 'ffffffffffffffffffffffff'), (err: Error) => err instanceof AppError && err.code === 'NOT_FOUND');
    const after = await ctx.services.partners.partnerInfo(p.partnerId);
    assert.equal(after.tier, 'STANDARD');
    assert.equal(after.rateLimit, 1000);
    assert.deepEqual(after.ipAllowlist, []);

    assert.equal(await runAdminCommand(ctx.services, 'widgets', ['list'], () => {}), false);
  });

  test('set-rate-limit, set-features and set-ip-allowlist', async () => {
    const p = await createPartner(ctx.services);
    assert.equal(JSON.parse((await cli('set-rate-limit', p.partnerId, '1234')).join('\n')).rateLimit, 1234);
    assert.deepEqual(JSON.parse((await cli('set-features', p.partnerId, 'actions, payments')).join('\n')).enabledFeatures, [
      'ACTIONS',
      'PAYMENTS',
    ]);
    assert.deepEqual(JSON.parse((await cli('set-ip-allowlist', p.partnerId, '10.0.0.0/8,192.0.2.1')).join('\n')).ipAllowlist, [
      '10.0.0.0/8',
      '192.0.2.1',
    ]);
    assert.deepEqual(JSON.parse((await cli('set-ip-allowlist', p.partnerId, 'none')).join('\n')).ipAllowlist, []);
  });
});
