import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PartnerFixture } from '../factories/partners.js';
import { partnerCall } from '../factories/rewards.js';
import type { TestContext } from '../harness/context.js';
import {
  advanceToNextAttempt,
  assertError,
  attemptsOf,
  createHook,
  deliveryRoutesWorld,
  DELIVERY_FIELDS,
  deliveriesOf,
  deliveryRow,
  envelopeOf,
  json,
  runOnce,
  submitPurchase,
  type Hook,
  type TestResult,
} from '../harness/webhooks.js';

/** The partner's delivery routes that repair and measure: retry, recover after an outage, health. */

let ctx: TestContext;
let p: PartnerFixture;
let other: PartnerFixture;
const world = deliveryRoutesWorld((w) => {
  ({ ctx, p, other } = w);
});
const { receiver, quietHook, sendTest } = world;

describe('POST /v1/partner/webhooks/deliveries/:deliveryId/retry', () => {
  test('a failed test delivery is sent again on the next pass', async () => {
    const rx = await receiver();
    rx.behave = (_r, i) => (i === 0 ? { status: 500 } : { status: 200 });
    const hook = await quietHook(rx, 'retry-test');
    const first = json<TestResult>(await sendTest(hook), 200);
    assert.equal(first.delivered, false);

    const queued = json<Record<string, unknown>>(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/deliveries/${first.deliveryId}/retry`), 202);
    assert.deepEqual(Object.keys(queued).sort(), DELIVERY_FIELDS);
    assert.equal(queued.status, 'PENDING');
    assert.equal(queued.nextAttemptAt, ctx.clock.now().toISOString());
    assert.equal(await runOnce(ctx), 1);
    assert.equal(rx.received.length, 2);
    assert.equal(envelopeOf(rx.received[1]!).id, first.eventId);
    const row = await deliveryRow(ctx, first.deliveryId);
    assert.deepEqual([row.status, row.attempts], ['SUCCEEDED', 2]);
  });

  test('a delivery that succeeded is sent again; its log and health keep both successes', async () => {
    const rx = await receiver();
    rx.behave = () => ({ status: 200 });
    const hook = await quietHook(rx, 'retry-succeeded');
    const first = json<TestResult>(await sendTest(hook), 200);
    assert.equal(first.delivered, true);
    ctx.clock.advance(1_000);
    json(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/deliveries/${first.deliveryId}/retry`), 202);
    assert.equal(await runOnce(ctx), 1);
    assert.equal(rx.received.length, 2);

    const got = json<{ status: string; attempts: number; deliveredAt: string; attemptLog: { succeeded: boolean; attemptedAt: string }[] }>(
      await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/deliveries/${first.deliveryId}`),
      200,
    );
    assert.deepEqual([got.status, got.attempts], ['SUCCEEDED', 2]);
    assert.deepEqual(
      got.attemptLog.map((a) => a.succeeded),
      [true, true],
    );
    assert.equal(Date.parse(got.attemptLog[1]!.attemptedAt) - Date.parse(got.attemptLog[0]!.attemptedAt), 1_000);
    assert.equal(got.deliveredAt, got.attemptLog[1]!.attemptedAt);
    const health = json<{ attempts: number; succeeded: number; lastSuccessAt: string }>(
      await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/health`),
      200,
    );
    assert.deepEqual([health.attempts, health.succeeded, health.lastSuccessAt], [2, 2, got.deliveredAt]);
  });

  test('a delivery that used up its schedule gets exactly one more attempt', async () => {
    const rx = await receiver();
    rx.behave = () => ({ status: 500 });
    const h = await createHook(ctx, p.sk, { url: `${rx.url}/exhausted`, eventTypes: ['action.completed'] });
    await submitPurchase(ctx, p, 'routes-exhausted');
    await runOnce(ctx);
    const [d] = await deliveriesOf(ctx, h.id);
    for (let i = 1; i < 8; i++) {
      await advanceToNextAttempt(ctx, d!.id);
      await runOnce(ctx);
    }
    assert.deepEqual(await deliveryRow(ctx, d!.id).then((r) => [r.status, r.attempts]), ['FAILED', 8]);

    json(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/deliveries/${d!.id}/retry`), 202);
    assert.equal(await runOnce(ctx), 1);
    const after = await deliveryRow(ctx, d!.id);
    assert.deepEqual([after.status, after.attempts], ['FAILED', 9], 'failed again: no further schedule');
    ctx.clock.advance(24 * 3_600_000);
    await runOnce(ctx);
    assert.equal(rx.received.length, 9);
    assert.equal((await attemptsOf(ctx, d!.id)).length, 9);
    json(await partnerCall(ctx, p.sk, 'DELETE', `/v1/partner/webhooks/${h.id}`), 200);
  });

  test("409 WEBHOOK_INACTIVE on a disabled endpoint; another partner's delivery or an unknown id -> 404", async () => {
    const rx = await receiver();
    rx.behave = () => ({ status: 500 });
    const hook = await quietHook(rx, 'retry-off');
    const first = json<TestResult>(await sendTest(hook), 200);
    assertError(await partnerCall(ctx, other.sk, 'POST', `/v1/partner/webhooks/deliveries/${first.deliveryId}/retry`), 404, 'NOT_FOUND');
    assertError(await partnerCall(ctx, p.sk, 'POST', '/v1/partner/webhooks/deliveries/whd_nope/retry'), 404, 'NOT_FOUND');
    json(await partnerCall(ctx, p.sk, 'PATCH', `/v1/partner/webhooks/${hook.id}`, { isActive: false }), 200);
    assertError(await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/deliveries/${first.deliveryId}/retry`), 409, 'WEBHOOK_INACTIVE');
    const row = await deliveryRow(ctx, first.deliveryId);
    assert.deepEqual([row.status, row.attempts], ['FAILED', 1], 'nothing changed');
  });
});

describe('POST /v1/partner/webhooks/:id/recover', () => {
  test('failed deliveries since a time start over and are delivered; older ones stay failed', async () => {
    const rx = await receiver();
    rx.behave = () => ({ status: 500 });
    const hook = await createHook(ctx, p.sk, { url: `${rx.url}/recover`, eventTypes: ['action.completed'] });
    // An old failure, an hour before the incident.
    const old = json<TestResult>(await sendTest(hook), 200);
    ctx.clock.advance(3_600_000);
    const since = ctx.clock.now().toISOString();
    ctx.clock.advance(1_000);
    await submitPurchase(ctx, p, 'recover-1');
    await submitPurchase(ctx, p, 'recover-2');
    await runOnce(ctx);
    // Then the receiver answers 410 by mistake: the endpoint is disabled and both deliveries fail.
    rx.behave = () => ({ status: 410 });
    const [d1] = await deliveriesOf(ctx, hook.id).then((rows) => rows.filter((r) => r.event_type === 'action.completed'));
    await advanceToNextAttempt(ctx, d1!.id);
    await runOnce(ctx);
    const failed = (await deliveriesOf(ctx, hook.id)).filter((r) => r.event_type === 'action.completed');
    assert.deepEqual(failed.map((r) => r.status), ['FAILED', 'FAILED']);
    assert.equal((await deliveryRow(ctx, old.deliveryId)).status, 'FAILED');

    const path = `/v1/partner/webhooks/${hook.id}/recover`;
    assertError(await partnerCall(ctx, p.sk, 'POST', path, { since }), 409, 'WEBHOOK_INACTIVE');
    json(await partnerCall(ctx, p.sk, 'PATCH', `/v1/partner/webhooks/${hook.id}`, { isActive: true }), 200);
    rx.behave = () => ({ status: 200 });
    const received = rx.received.length;
    const recovered = json<{ recovered: number; since: string }>(await partnerCall(ctx, p.sk, 'POST', path, { since }), 202);
    assert.deepEqual(recovered, { recovered: 2, since });
    for (const r of await deliveriesOf(ctx, hook.id)) {
      if (r.event_type === 'action.completed') assert.deepEqual([r.status, r.attempts], ['PENDING', 0]);
    }
    assert.equal(await runOnce(ctx), 2);
    assert.equal(rx.received.length, received + 2);
    assert.deepEqual(
      new Set(rx.received.slice(received).map((r) => envelopeOf(r).id)),
      new Set(failed.map((r) => r.event_id)),
    );
    const after = await deliveriesOf(ctx, hook.id);
    for (const r of after) assert.equal(r.status, r.id === old.deliveryId ? 'FAILED' : 'SUCCEEDED', r.id);
    // Recovering again finds nothing left to recover.
    assert.deepEqual(json(await partnerCall(ctx, p.sk, 'POST', path, { since }), 202), { recovered: 0, since });
  });

  test('bad input -> 400; another partner -> 404', async () => {
    const rx = await receiver();
    const hook = await quietHook(rx, 'recover-bad');
    const path = `/v1/partner/webhooks/${hook.id}/recover`;
    for (const body of [{}, { since: 'yesterday' }, { since: '2026-13-45T00:00:00Z' }, { since: 1_700_000_000 }, { since: '2026-01-01T00:00:00Z', extra: 1 }]) {
      assertError(await partnerCall(ctx, p.sk, 'POST', path, body), 400, 'VALIDATION_ERROR');
    }
    assertError(await partnerCall(ctx, p.sk, 'POST', path), 400, 'VALIDATION_ERROR');
    assertError(await partnerCall(ctx, other.sk, 'POST', path, { since: '2026-01-01T00:00:00Z' }), 404, 'NOT_FOUND');
  });
});

describe('GET /v1/partner/webhooks/:id/health', () => {
  test('attempts, success rate, latency percentiles, consecutive failures and the backlog', async () => {
    const rx = await receiver();
    const hook = await createHook(ctx, p.sk, { url: `${rx.url}/health`, eventTypes: ['action.completed'] });
    const healthOf = async (hours?: number) =>
      json<Record<string, unknown> & { latencyMs: { p50: number | null; p95: number | null; p99: number | null } }>(
        await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/health${hours ? `?hours=${hours}` : ''}`),
        200,
      );
    const empty = await healthOf();
    assert.deepEqual([empty.attempts, empty.successRate, empty.latencyMs.p50, empty.pending], [0, null, null, 0]);

    // Six successes with growing delays, then two failures, then one event left waiting.
    for (const delayMs of [0, 30, 60, 90, 120, 150]) {
      rx.behave = () => ({ status: 200, delayMs });
      json(await sendTest(hook), 200);
    }
    rx.behave = () => ({ status: 500 });
    json(await sendTest(hook), 200);
    const firstFailureAt = ctx.clock.now().toISOString();
    await submitPurchase(ctx, p, 'health-1');
    await runOnce(ctx);

    const h = await healthOf();
    assert.equal(h.webhookId, hook.id);
    assert.equal(h.url, hook.url);
    assert.equal(h.isActive, true);
    assert.deepEqual([h.attempts, h.succeeded, h.failed], [8, 6, 2]);
    assert.equal(h.successRate, 0.75);
    assert.equal(h.consecutiveFailures, 2);
    assert.equal(h.failingSince, firstFailureAt);
    assert.equal(h.lastFailureAt, ctx.clock.now().toISOString());
    assert.equal(h.lastSuccessAt, ctx.clock.now().toISOString(), 'the last of the six successes');
    assert.equal(h.pending, 1, 'the action.completed delivery waits for its retry');
    // The percentiles are those of the attempt logs (percentile_disc: a latency that was measured).
    const logs = await Promise.all((await deliveriesOf(ctx, hook.id)).map((d) => attemptsOf(ctx, d.id)));
    const latencies = logs
      .flat()
      .map((a) => a.latency_ms)
      .sort((a, b) => a - b);
    assert.equal(latencies.length, 8);
    const disc = (q: number) => latencies[Math.max(0, Math.ceil(q * latencies.length) - 1)];
    assert.deepEqual(h.latencyMs, { p50: disc(0.5), p95: disc(0.95), p99: disc(0.99) });
    assert.ok(h.latencyMs.p99! >= 150, `p99 ${h.latencyMs.p99} ms; the slowest answer took 150 ms`);
    assert.ok(h.latencyMs.p50! <= h.latencyMs.p95! && h.latencyMs.p95! <= h.latencyMs.p99!);

    // A success resets the run of failures.
    rx.behave = () => ({ status: 200 });
    json(await sendTest(hook), 200);
    const recovered = await healthOf();
    assert.deepEqual([recovered.consecutiveFailures, recovered.failingSince, recovered.attempts], [0, null, 9]);
    ctx.clock.advance(60_000);
    json(await sendTest(hook), 200);
    const again = await healthOf();
    assert.deepEqual([again.attempts, again.succeeded, again.lastSuccessAt], [10, 8, ctx.clock.now().toISOString()]);

    // The window: attempts older than it are not counted, the endpoint's state still is.
    ctx.clock.advance(2 * 3_600_000);
    const later = await healthOf(1);
    assert.deepEqual([later.attempts, later.successRate, later.latencyMs.p50], [0, null, null]);
    assert.equal(Date.parse(String(later.windowEnd)) - Date.parse(String(later.windowStart)), 3_600_000);
    assert.equal((await healthOf(24)).attempts, 10);
    assertError(await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/health?hours=0`), 400, 'VALIDATION_ERROR');
    assertError(await partnerCall(ctx, other.sk, 'GET', `/v1/partner/webhooks/${hook.id}/health`), 404, 'NOT_FOUND');
  });
});
