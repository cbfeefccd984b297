import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createPartner, prodKey, type PartnerFixture } from '../factories/partners.js';
import { advanceSandbox, createPool, DAY_SECONDS, partnerCall, purchase } from '../factories/rewards.js';
import { createTestContext, type SigningKey, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';
import { createHook, type Hook } from '../harness/webhooks.js';

/**
 * The partner dashboard over a known history. Partner A's sandbox, 2026 (UTC):
 *   Feb 01  pool of 10,000 tokens
 *   Feb 10 09:00  a1  10 USD  alice                -> alice 10
 *   Feb 10 15:00  a2 100 USD  alice, bob, carol    -> 33.34 / 33.33 / 33.33 (largest remainder)
 *   Feb 12 10:00  a3  25 USD  carol                -> carol 25
 *   Feb 20 00:00  a4   5 USD  bob                  -> bob 5
 *   Feb 21 08:00  5 tokens of a3 reversed          -> carol -5
 *   Feb 22 00:00  a5 20,000 USD dave               -> FAILED (INSUFFICIENT_POOL); dave is created all the same
 *   Mar 05 00:00  a6   3 USD  erin                 -> erin 3
 * Beside it: A's production (a 50-token action for its own alice), partner B (1,000 tokens for its
 * own alice), webhook test sends and API usage rows on known days.
 */

let ctx: TestContext;
let a: PartnerFixture;
let b: PartnerFixture;
const receivers: Receiver[] = [];
let hookOk: Hook;
let hookBad: Hook;
let prodHook: Hook;

const FEB = { from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z' };
const NOW = '2026-03-06T00:00:00Z';

const setClock = (iso: string) => ctx.clock.set(new Date(iso));
const query = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();

async function get<T = Record<string, unknown>>(creds: SigningKey, route: string, params: Record<string, string | number> = {}): Promise<T> {
  const q = query(params);
  const res = await partnerCall(ctx, creds, 'GET', `/v1/partner/dashboard/${route}${q ? `?${q}` : ''}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as T;
}

async function submitAt(iso: string, creds: SigningKey, key: string, amount: string, users: string[], status = 200) {
  setClock(iso);
  const res = await partnerCall(ctx, creds, 'POST', '/v1/partner/actions/submit', purchase(key, amount, users));
  assert.equal(res.statusCode, status, res.body);
  return (res.json() as { actionId: string }).actionId;
}

async function receiver(statuses: number[]) {
  const rx = await new Receiver().start();
  rx.behave = (_req, i) => ({ status: statuses[i] ?? 200 });
  receivers.push(rx);
  return rx;
}

// Endpoints that only test sends feed: no event in this history is token_pool.depleted.
const quietHook = (creds: SigningKey, url: string) => createHook(ctx, creds, { url, eventTypes: ['token_pool.depleted'] });

async function sendTestAt(iso: string, creds: SigningKey, hook: Hook) {
  setClock(iso);
  const res = await partnerCall(ctx, creds, 'POST', `/v1/partner/webhooks/${hook.id}/test`);
  assert.equal(res.statusCode, 200, res.body);
}

const usage = (p: PartnerFixture, environment: 'sandbox' | 'production', day: string, method: string, route: string, statusCode: number, count: number) => ({
  partnerId: p.partnerId,
  environment,
  day,
  method,
  route,
  statusCode,
  count,
  durationMs: count * 3,
});

before(async () => {
  ctx = await createTestContext({ now: new Date('2026-02-01T00:00:00Z') });
  a = await createPartner(ctx.services, { withProduction: true });
  b = await createPartner(ctx.services);
  await createPool(ctx.services, a.partnerId, { tokens: 10_000n });
  await createPool(ctx.services, a.partnerId, { tokens: 5_000n, environment: 'production' });
  await createPool(ctx.services, b.partnerId, { tokens: 10_000n });

  await submitAt('2026-02-10T09:00:00Z', a.sk, 'a1', '10', ['alice']);
  await submitAt('2026-02-10T15:00:00Z', a.sk, 'a2', '100', ['alice', 'bob', 'carol']);
  const a3 = await submitAt('2026-02-12T10:00:00Z', a.sk, 'a3', '25', ['carol']);
  await submitAt('2026-02-20T00:00:00Z', a.sk, 'a4', '5', ['bob']);
  setClock('2026-02-21T08:00:00Z');
  const reversed = await partnerCall(ctx, a.sk, 'POST', `/v1/partner/actions/${a3}/reverse`, { amount: 5, reason: 'partial refund' });
  assert.equal(reversed.statusCode, 200, reversed.body);
  await submitAt('2026-02-22T00:00:00Z', a.sk, 'a5', '20000', ['dave'], 402);
  await submitAt('2026-03-05T00:00:00Z', a.sk, 'a6', '3', ['erin']);
  await submitAt('2026-02-10T12:00:00Z', prodKey(a), 'p1', '50', ['alice']);
  await submitAt('2026-02-10T12:00:00Z', b.sk, 'b1', '1000', ['alice']);

  const ok = await receiver([]);
  const bad = await receiver([500, 500, 200, 503]);
  hookOk = await quietHook(a.sk, `${ok.url}/ok`);
  hookBad = await quietHook(a.sk, `${bad.url}/bad`);
  for (const at of ['2026-02-10T10:00:00Z', '2026-02-11T10:00:00Z', '2026-02-12T00:00:00Z']) await sendTestAt(at, a.sk, hookOk);
  for (const at of ['2026-02-10T11:00:00Z', '2026-02-14T00:00:00Z', '2026-02-15T00:00:00Z', '2026-03-02T00:00:00Z']) await sendTestAt(at, a.sk, hookBad);
  // Another partner's failures, and A's production endpoint: https on a reserved domain, so its
  // test send fails at the address lookup without leaving the machine.
  const theirs = await quietHook(b.sk, `${(await receiver([500])).url}/theirs`);
  await sendTestAt('2026-02-10T11:30:00Z', b.sk, theirs);
  prodHook = await quietHook(prodKey(a), 'https://hooks.example.com/dashboard');
  await sendTestAt('2026-02-10T11:45:00Z', prodKey(a), prodHook);

  await ctx.services.usage.record([
    usage(a, 'sandbox', '2026-02-10', 'GET', '/v1/partner/users', 200, 5),
    usage(a, 'sandbox', '2026-02-10', 'GET', '/v1/partner/users/:externalId', 404, 2),
    usage(a, 'sandbox', '2026-02-10', 'POST', '/v1/partner/actions/submit', 200, 3),
    usage(a, 'sandbox', '2026-02-10', 'POST', '/v1/partner/actions/submit', 402, 1),
    usage(a, 'sandbox', '2026-02-11', 'GET', '/v1/partner/users', 429, 4),
    usage(a, 'sandbox', '2026-02-11', 'POST', '/v1/partner/actions/submit', 500, 1),
    usage(a, 'sandbox', '2026-02-12', 'GET', '/v1/partner/users', 200, 7),
    usage(a, 'production', '2026-02-10', 'GET', '/v1/partner/users', 200, 100),
    usage(b, 'sandbox', '2026-02-10', 'GET', '/v1/partner/users', 200, 50),
  ]);
  setClock(NOW);
});

after(async () => {
  for (const rx of receivers) await rx.close();
  ctx.services.dispatcher.close();
  await ctx.close();
});

describe('GET /v1/partner/dashboard/summary', () => {
  test('February: users, active users, actions, tokens and the pools as they were at its end', async () => {
    assert.deepEqual(await get(a.sk, 'summary', FEB), {
      totalUsers: 4, // alice, bob, carol, dave; erin arrives in March
      activeUsers: 3, // dave's only action failed
      totalActions: 5,
      failedActions: 1,
      tokensDistributed: 140,
      tokensReversed: 5,
      poolBalance: 9865, // 10,000 - 140 + 5; a6 took 3 more in March
      periodStart: '2026-02-01T00:00:00.000Z',
      periodEnd: '2026-03-01T00:00:00.000Z',
    });
  });

  test('defaults: the 30 days up to now, the pools as they are now', async () => {
    setClock(NOW);
    assert.deepEqual(await get(a.sk, 'summary'), {
      totalUsers: 5,
      activeUsers: 4,
      totalActions: 6,
      failedActions: 1,
      tokensDistributed: 143,
      tokensReversed: 5,
      poolBalance: 9862,
      periodStart: '2026-02-04T00:00:00.000Z',
      periodEnd: '2026-03-06T00:00:00.000Z',
    });
  });

  test('a window inside February counts only what lies in it; to is exclusive', async () => {
    const s = await get(a.sk, 'summary', { from: '2026-02-10T15:00:00Z', to: '2026-02-20T00:00:00Z' });
    assert.deepEqual(
      [s.totalUsers, s.activeUsers, s.totalActions, s.tokensDistributed, s.tokensReversed, s.poolBalance],
      [3, 3, 2, 125, 0, 10_000 - 135],
    );
  });

  test('production and another partner are separate worlds', async () => {
    const prod = await get(prodKey(a), 'summary', FEB);
    assert.deepEqual(
      [prod.totalUsers, prod.activeUsers, prod.totalActions, prod.failedActions, prod.tokensDistributed, prod.tokensReversed, prod.poolBalance],
      [1, 1, 1, 0, 50, 0, 4950],
    );
    const theirs = await get(b.sk, 'summary', FEB);
    assert.deepEqual([theirs.totalUsers, theirs.totalActions, theirs.tokensDistributed, theirs.poolBalance], [1, 1, 1000, 9000]);
  });
});

describe('GET /v1/partner/dashboard/top-earners', () => {
  const FEB_EARNERS = [
    { externalUserId: 'carol', tokensEarned: 53.33, actionCount: 2 },
    { externalUserId: 'alice', tokensEarned: 43.34, actionCount: 2 },
    { externalUserId: 'bob', tokensEarned: 38.33, actionCount: 2 },
  ];

  test('most tokens first, net of reversals in the period, with exact decimals', async () => {
    assert.deepEqual(await get(a.sk, 'top-earners', FEB), {
      data: FEB_EARNERS,
      limit: 10,
      periodStart: '2026-02-01T00:00:00.000Z',
      periodEnd: '2026-03-01T00:00:00.000Z',
    });
  });

  test('limit cuts the list; the default period adds erin', async () => {
    assert.deepEqual((await get<{ data: unknown[] }>(a.sk, 'top-earners', { ...FEB, limit: 2 })).data, FEB_EARNERS.slice(0, 2));
    setClock(NOW);
    const all = await get<{ data: { externalUserId: string }[]; limit: number }>(a.sk, 'top-earners');
    assert.deepEqual(all.data.map((e) => e.externalUserId), ['carol', 'alice', 'bob', 'erin']);
    assert.equal(all.limit, 10);
  });

  test("the earners add up to the summary's distributed less reversed tokens", async () => {
    const [summary, earners] = await Promise.all([get(a.sk, 'summary', FEB), get<{ data: { tokensEarned: number }[] }>(a.sk, 'top-earners', { ...FEB, limit: 100 })]);
    const cents = earners.data.reduce((sum, e) => sum + Math.round(e.tokensEarned * 100), 0);
    assert.equal(cents, Math.round(((summary.tokensDistributed as number) - (summary.tokensReversed as number)) * 100));
  });

  test('a reversal alone does not make an earner: a window holding only it lists nobody', async () => {
    assert.deepEqual((await get<{ data: unknown[] }>(a.sk, 'top-earners', { from: '2026-02-21T00:00:00Z', to: '2026-02-22T00:00:00Z' })).data, []);
  });

  test("production's and partner B's alice stay out", async () => {
    assert.deepEqual((await get<{ data: unknown[] }>(prodKey(a), 'top-earners', FEB)).data, [{ externalUserId: 'alice', tokensEarned: 50, actionCount: 1 }]);
    assert.deepEqual((await get<{ data: unknown[] }>(b.sk, 'top-earners', FEB)).data, [{ externalUserId: 'alice', tokensEarned: 1000, actionCount: 1 }]);
  });
});

describe('GET /v1/partner/dashboard/trends', () => {
  const zero = (date: string) => ({ date, actions: 0, tokensDistributed: 0, newUsers: 0 });

  test('daily buckets, quiet days included as zeros', async () => {
    assert.deepEqual(await get(a.sk, 'trends', { from: '2026-02-09T00:00:00Z', to: '2026-02-13T00:00:00Z' }), {
      interval: 'day',
      data: [zero('2026-02-09'), { date: '2026-02-10', actions: 2, tokensDistributed: 110, newUsers: 3 }, zero('2026-02-11'), { date: '2026-02-12', actions: 1, tokensDistributed: 25, newUsers: 0 }],
      periodStart: '2026-02-09T00:00:00.000Z',
      periodEnd: '2026-02-13T00:00:00.000Z',
    });
  });

  test('weeks start on Monday; the first one may start before the period', async () => {
    const t = await get<{ data: unknown[] }>(a.sk, 'trends', { ...FEB, interval: 'week' });
    assert.deepEqual(t.data, [
      zero('2026-01-26'),
      zero('2026-02-02'),
      { date: '2026-02-09', actions: 3, tokensDistributed: 135, newUsers: 3 },
      // a4 and the failed a5, which created dave
      { date: '2026-02-16', actions: 2, tokensDistributed: 5, newUsers: 1 },
      zero('2026-02-23'),
    ]);
  });

  test('months', async () => {
    const t = await get<{ data: unknown[] }>(a.sk, 'trends', { from: '2026-01-15T00:00:00Z', to: '2026-03-15T00:00:00Z', interval: 'month' });
    assert.deepEqual(t.data, [zero('2026-01-01'), { date: '2026-02-01', actions: 5, tokensDistributed: 140, newUsers: 4 }, { date: '2026-03-01', actions: 1, tokensDistributed: 3, newUsers: 1 }]);
  });

  test('an offset in from is read as the instant it names; buckets stay UTC days', async () => {
    // 14:00+05:00 is 09:00Z: a1 (09:00Z) is in, and the bucket is Feb 10 in UTC.
    const t = await get<{ data: unknown[]; periodStart: string }>(a.sk, 'trends', { from: '2026-02-10T14:00:00+05:00', to: '2026-02-10T09:00:01Z' });
    assert.equal(t.periodStart, '2026-02-10T09:00:00.000Z');
    assert.deepEqual(t.data, [{ date: '2026-02-10', actions: 1, tokensDistributed: 10, newUsers: 1 }]);
  });

  test('default: daily over the 30 days up to now, adding up to the summary', async () => {
    setClock(NOW);
    const t = await get<{ data: { date: string; actions: number; tokensDistributed: number; newUsers: number }[] }>(a.sk, 'trends');
    assert.equal(t.data.length, 30);
    assert.deepEqual([t.data[0]!.date, t.data.at(-1)!.date], ['2026-02-04', '2026-03-05']);
    const total = (f: (p: (typeof t.data)[number]) => number) => t.data.reduce((s, p) => s + f(p), 0);
    assert.deepEqual([total((p) => p.actions), total((p) => p.tokensDistributed), total((p) => p.newUsers)], [6, 143, 5]);
  });
});

describe('GET /v1/partner/dashboard/webhook-health', () => {
  test('February: attempts, failures, success rate and last failure, overall and per endpoint', async () => {
    const h = await get<{ byWebhook: Record<string, unknown>[] } & Record<string, unknown>>(a.sk, 'webhook-health', FEB);
    const { byWebhook, ...overall } = h;
    assert.deepEqual(overall, {
      deliveries: 6,
      failures: 2,
      successRate: 4 / 6,
      lastFailureAt: '2026-02-14T00:00:00.000Z', // the endpoint's own last failure (Mar 2) lies after the period
      pending: 0,
      periodStart: '2026-02-01T00:00:00.000Z',
      periodEnd: '2026-03-01T00:00:00.000Z',
    });
    const pick = (r: Record<string, unknown>) => [r.webhookId, r.url, r.isActive, r.deliveries, r.failures, r.successRate, r.lastFailureAt, r.pending, r.consecutiveFailures];
    assert.deepEqual(byWebhook.map(pick), [
      [hookOk.id, hookOk.url, true, 3, 0, 1, null, 0, 0],
      [hookBad.id, hookBad.url, true, 3, 2, 1 / 3, '2026-02-14T00:00:00.000Z', 0, 1],
    ]);
    const latency = byWebhook[0]!.latencyMs as { p50: number; p95: number; p99: number };
    assert.ok([latency.p50, latency.p95, latency.p99].every((v) => Number.isInteger(v) && v >= 0));
  });

  test('the period is half-open, and an endpoint without attempts in it has a null success rate', async () => {
    const early = await get<{ byWebhook: { deliveries: number }[] }>(a.sk, 'webhook-health', { from: FEB.from, to: '2026-02-12T00:00:00Z' });
    assert.deepEqual(early.byWebhook.map((r) => r.deliveries), [2, 1]);
    const late = await get<Record<string, unknown> & { byWebhook: Record<string, unknown>[] }>(a.sk, 'webhook-health', { from: '2026-02-13T00:00:00Z', to: FEB.to });
    assert.deepEqual([late.deliveries, late.failures, late.successRate], [2, 1, 0.5]);
    assert.deepEqual(
      late.byWebhook.map((r) => [r.deliveries, r.failures, r.successRate, r.lastFailureAt]),
      [
        [0, 0, null, null],
        [2, 1, 0.5, '2026-02-14T00:00:00.000Z'],
      ],
    );
  });

  test('defaults: the 30 days up to now', async () => {
    setClock(NOW);
    const h = await get(a.sk, 'webhook-health');
    assert.deepEqual([h.deliveries, h.failures, h.lastFailureAt, h.periodStart], [7, 3, '2026-03-02T00:00:00.000Z', '2026-02-04T00:00:00.000Z']);
  });

  test("another partner's and the other environment's endpoints stay out", async () => {
    const prod = await get<{ byWebhook: { webhookId: string; deliveries: number; failures: number }[] }>(prodKey(a), 'webhook-health', FEB);
    assert.deepEqual(prod.byWebhook.map((r) => [r.webhookId, r.deliveries, r.failures]), [[prodHook.id, 1, 1]]);
    const theirs = await get<{ deliveries: number; byWebhook: unknown[] }>(b.sk, 'webhook-health', FEB);
    assert.deepEqual([theirs.deliveries, theirs.byWebhook.length], [1, 1]);
  });
});

describe('GET /v1/partner/dashboard/api-usage', () => {
  test('requests per route over every day the period touches, errors and rate limiting', async () => {
    const rateLimit = (await ctx.services.db.selectFrom('partners').select('rate_limit').where('id', '=', a.partnerId).executeTakeFirstOrThrow()).rate_limit;
    assert.deepEqual(await get(a.sk, 'api-usage', { from: '2026-02-10T12:00:00Z', to: '2026-02-11T12:00:00Z' }), {
      requests: 16,
      errors4xx: 7,
      errors5xx: 1,
      rateLimit: { limit: rateLimit, windowSeconds: ctx.config.rateLimitWindowSeconds, limitedRequests: 4 },
      byEndpoint: [
        { method: 'GET', path: '/v1/partner/users', count: 9, errors4xx: 4, errors5xx: 0 },
        { method: 'POST', path: '/v1/partner/actions/submit', count: 5, errors4xx: 1, errors5xx: 1 },
        { method: 'GET', path: '/v1/partner/users/:externalId', count: 2, errors4xx: 2, errors5xx: 0 },
      ],
      firstDay: '2026-02-10',
      lastDay: '2026-02-11',
      periodStart: '2026-02-10T12:00:00.000Z',
      periodEnd: '2026-02-11T12:00:00.000Z',
    });
  });

  test('a period ending at midnight leaves that day out', async () => {
    const u = await get(a.sk, 'api-usage', { from: '2026-02-10T00:00:00Z', to: '2026-02-11T00:00:00Z' });
    assert.deepEqual([u.requests, u.errors4xx, u.errors5xx, u.firstDay, u.lastDay], [11, 3, 0, '2026-02-10', '2026-02-10']);
  });

  test('defaults, and isolation from production and partner B', async () => {
    setClock(NOW);
    const u = await get<{ requests: number; firstDay: string; lastDay: string }>(a.sk, 'api-usage');
    assert.deepEqual([u.requests, u.firstDay, u.lastDay], [23, '2026-02-04', '2026-03-05']);
    assert.equal((await get(prodKey(a), 'api-usage', FEB)).requests, 100);
    assert.equal((await get(b.sk, 'api-usage', FEB)).requests, 50);
  });
});

describe('sandbox time', () => {
  test("rewards figures follow the sandbox's moved clock; webhook and usage figures stay on real time", async () => {
    setClock('2026-02-01T00:00:00Z');
    const c = await createPartner(ctx.services);
    await createPool(ctx.services, c.partnerId, { tokens: 1_000n });
    await submitAt('2026-02-10T00:00:00Z', c.sk, 'c1', '7', ['zoe']);
    await ctx.services.usage.record([usage(c, 'sandbox', '2026-03-01', 'GET', '/v1/partner/users', 200, 2)]);
    setClock(NOW);
    assert.equal((await get(c.sk, 'summary')).totalActions, 1);

    const sandboxNow = await advanceSandbox(ctx, c.partnerId, 40 * DAY_SECONDS);
    const moved = await get(c.sk, 'summary');
    assert.deepEqual([moved.totalActions, moved.totalUsers, moved.poolBalance, moved.periodEnd], [0, 1, 993, sandboxNow]);
    await submitAt(NOW, c.sk, 'c2', '2', ['zoe']);
    // The period's end is exclusive: look a second later than the action's own moment.
    setClock('2026-03-06T00:00:01Z');
    assert.equal((await get(c.sk, 'summary')).totalActions, 1, 'an action submitted now is stamped with the sandbox time');
    assert.equal((await get(c.sk, 'api-usage')).requests, 2);
    assert.equal((await get(c.sk, 'webhook-health')).periodEnd, '2026-03-06T00:00:01.000Z');
  });
});

describe('a partner with nothing yet', () => {
  test('zeros and empty lists, never an error', async () => {
    const e = await createPartner(ctx.services);
    setClock(NOW);
    const s = await get(e.sk, 'summary');
    assert.deepEqual(
      [s.totalUsers, s.activeUsers, s.totalActions, s.failedActions, s.tokensDistributed, s.tokensReversed, s.poolBalance],
      [0, 0, 0, 0, 0, 0, 0],
    );
    assert.deepEqual((await get(e.sk, 'top-earners')).data, []);
    const t = await get<{ data: { actions: number; tokensDistributed: number; newUsers: number }[] }>(e.sk, 'trends', { interval: 'week' });
    assert.ok(t.data.length >= 5 && t.data.every((p) => p.actions === 0 && p.tokensDistributed === 0 && p.newUsers === 0));
    const h = await get(e.sk, 'webhook-health');
    assert.deepEqual([h.deliveries, h.failures, h.successRate, h.lastFailureAt, h.pending, h.byWebhook], [0, 0, null, null, 0, []]);
    const u = await get(e.sk, 'api-usage');
    assert.deepEqual([u.requests, u.errors4xx, u.errors5xx, (u.rateLimit as { limitedRequests: number }).limitedRequests, u.byEndpoint], [0, 0, 0, 0, []]);
  });
});

describe('keys', () => {
  test('a signed publishable key reads the dashboard, as it reads every other signed GET', async () => {
    for (const route of ['summary', 'top-earners', 'trends', 'webhook-health', 'api-usage']) {
      const res = await partnerCall(ctx, a.pk, 'GET', `/v1/partner/dashboard/${route}`);
      assert.equal(res.statusCode, 200, `${route}: ${res.body}`);
    }
    const users = await partnerCall(ctx, a.pk, 'GET', '/v1/partner/users');
    assert.equal(users.statusCode, 200, 'the other signed reads accept it too');
  });
});

describe('bad input: 400 VALIDATION_ERROR with the one error body', () => {
  const ROUTES = ['summary', 'top-earners', 'trends', 'webhook-health', 'api-usage'];

  function assertInvalid(res: LightMyRequestResponse, path: string | null, where: string) {
    assert.equal(res.statusCode, 400, `${where}: ${res.body}`);
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['code', 'details', 'error', 'message', 'requestId', 'statusCode'], where);
    assert.deepEqual([body.statusCode, body.error, body.code, body.requestId], [400, 'Bad Request', 'VALIDATION_ERROR', res.headers['x-request-id']], where);
    assert.ok(typeof body.message === 'string' && body.message.length > 0, where);
    const details = body.details as { path: string; message: string }[];
    assert.ok(details.length > 0 && details.every((d) => typeof d.message === 'string'), where);
    if (path) assert.ok(details.some((d) => d.path === path), `${where}: ${JSON.stringify(details)}`);
  }

  before(() => setClock(NOW));

  const call = (route: string, rawQuery: string) => partnerCall(ctx, a.sk, 'GET', `/v1/partner/dashboard/${route}?${rawQuery}`);

  const cases: [string, string, string | null][] = [
    ['reversed range', query({ from: '2026-03-01T00:00:00Z', to: '2026-02-01T00:00:00Z' }), 'querystring.from'],
    ['empty range', query({ from: '2026-03-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }), 'querystring.from'],
    ['from after the default to (now)', query({ from: '2026-03-07T00:00:00Z' }), 'querystring.from'],
    ['a range over 366 days', query({ from: '2025-03-01T00:00:00Z', to: '2026-03-02T00:00:00.001Z' }), 'querystring.to'],
    ['a word for a date', 'from=yesterday', 'querystring.from'],
    ['a date without a time', 'from=2026-02-01', 'querystring.from'],
    ['a day that does not exist', query({ to: '2026-02-30T00:00:00Z' }), 'querystring.to'],
    ['a leap second', query({ to: '2026-12-31T23:59:60Z' }), 'querystring.to'],
    ['year 0', query({ from: '0000-01-01T00:00:00Z', to: '0000-02-01T00:00:00Z' }), 'querystring.from'],
    ['an empty from', 'from=', 'querystring.from'],
    ['from twice', `${query({ from: FEB.from })}&${query({ from: FEB.from })}`, 'querystring.from'],
    ['an offset whose + was not encoded (it reads as a space)', 'from=2026-02-01T00:00:00+05:00', 'querystring.from'],
    ['an unknown parameter', 'foo=1', 'querystring.foo'],
    ['page, which no dashboard route takes', 'page=1', 'querystring.page'],
  ];
  for (const route of ROUTES) {
    test(`${route}: every bad period and unknown parameter`, async () => {
      for (const [name, rawQuery, path] of cases) assertInvalid(await call(route, rawQuery), path, `${route} ${name}`);
    });
  }

  test('the 366-day limit is inclusive', async () => {
    for (const route of ROUTES) assert.equal((await call(route, query({ from: '2025-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }))).statusCode, 200, route);
  });

  test('limit and interval only where they mean something', async () => {
    for (const route of ['summary', 'webhook-health', 'api-usage', 'trends']) assertInvalid(await call(route, 'limit=5'), 'querystring.limit', route);
    for (const route of ['summary', 'webhook-health', 'api-usage', 'top-earners']) assertInvalid(await call(route, 'interval=day'), 'querystring.interval', route);
  });

  test('top-earners: a bad limit', async () => {
    for (const limit of ['0', '101', '-1', '1.5', 'abc', '', '10&limit=20']) assertInvalid(await call('top-earners', `limit=${limit}`), 'querystring.limit', `limit=${limit}`);
    assert.equal((await call('top-earners', 'limit=100')).statusCode, 200);
  });

  test('trends: a bad interval', async () => {
    for (const interval of ['year', 'DAY', 'hour', '', 'day&interval=week']) {
      assertInvalid(await call('trends', `interval=${interval}`), 'querystring.interval', `interval=${interval}`);
    }
  });
});

test('the five routes are in the Partner API document, under Dashboard', async () => {
  const doc = (await ctx.app.inject({ method: 'GET', url: '/partner-api/openapi.json' })).json() as {
    paths: Record<string, { get?: { tags?: string[]; responses: Record<string, unknown>; parameters?: { name: string; in: string }[] } }>;
  };
  for (const route of ['summary', 'top-earners', 'trends', 'webhook-health', 'api-usage']) {
    const op = doc.paths[`/v1/partner/dashboard/${route}`]?.get;
    assert.ok(op, route);
    assert.deepEqual(op.tags, ['Dashboard']);
    assert.ok(['200', '400', '401', '403', '429', '500'].every((s) => s in op.responses), `${route}: ${Object.keys(op.responses).join(', ')}`);
    const params = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    assert.ok(params.includes('from') && params.includes('to'), `${route}: ${params.join(', ')}`);
  }
});
