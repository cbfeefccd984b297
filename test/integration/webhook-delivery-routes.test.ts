import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { PartnerFixture } from '../factories/partners.js';
import { partnerCall } from '../factories/rewards.js';
import type { TestContext } from '../harness/context.js';
import type { Receiver } from '../harness/receiver.js';
import {
  advanceToNextAttempt,
  assertError,
  createHook,
  deliveryRoutesWorld,
  DELIVERY_FIELDS,
  deliveriesOf,
  deliveryRow,
  envelopeOf,
  json,
  runOnce,
  sirSignedBy,
  standardVerifiesNow,
  submitPurchase,
  type Hook,
  type TestResult,
} from '../harness/webhooks.js';

/** The partner's delivery routes that send and show: test, the deliveries list, one delivery with its attempt log. */

let ctx: TestContext;
let p: PartnerFixture;
let other: PartnerFixture;
const world = deliveryRoutesWorld((w) => {
  ({ ctx, p, other } = w);
});
const { receiver, quietHook, sendTest } = world;

describe('POST /v1/partner/webhooks/:id/test', () => {
  test('sends webhook.test with {"test":true}, signed, and reports the outcome', async () => {
    const rx = await receiver();
    const hook = await quietHook(rx, 'test-ok');
    const result = json<TestResult>(await sendTest(hook), 200);
    assert.deepEqual(Object.keys(result).sort(), ['delivered', 'deliveryId', 'durationMs', 'error', 'eventId', 'statusCode']);
    assert.equal(result.delivered, true);
    assert.equal(result.statusCode, 200);
    assert.equal(result.error, null);
    assert.ok(Number.isInteger(result.durationMs) && result.durationMs >= 0);
    assert.match(result.eventId, /^evt_[0-9a-f]{24}$/);
    assert.match(result.deliveryId, /^whd_/);

    assert.equal(rx.received.length, 1);
    const r = rx.received[0]!;
    const env = envelopeOf(r);
    assert.deepEqual({ id: env.id, type: env.type, data: env.data }, { id: result.eventId, type: 'webhook.test', data: { test: true } });
    assert.ok(sirSignedBy(hook.secret, r));
    // The manual clock is at real time here: the library checks the timestamp as a receiver would.
    assert.ok(standardVerifiesNow(hook.secret, r));

    const row = await deliveryRow(ctx, result.deliveryId);
    assert.equal(row.status, 'SUCCEEDED');
    assert.equal(row.attempts, 1);
    // Only the one endpoint hears it: a test event never enters the outbox.
    const inOutbox = await ctx.services.db.selectFrom('outbox_events').select('id').where('id', '=', result.eventId).execute();
    assert.equal(inOutbox.length, 0);
  });

  test('a failing receiver: delivered false with the status and error, and no automatic retry', async () => {
    const rx = await receiver();
    rx.behave = () => ({ status: 500 });
    const hook = await quietHook(rx, 'test-500');
    const result = json<TestResult>(await sendTest(hook), 200);
    assert.equal(result.delivered, false);
    assert.equal(result.statusCode, 500);
    assert.equal(result.error, 'The receiver answered 500');
    const row = await deliveryRow(ctx, result.deliveryId);
    assert.equal(row.status, 'FAILED');
    assert.equal(row.next_attempt_at, null);

    ctx.clock.advance(3 * 24 * 3_600_000);
    await runOnce(ctx);
    assert.equal(rx.received.length, 1, 'the test delivery was retried');
    assert.equal((await deliveryRow(ctx, result.deliveryId)).attempts, 1);
  });

  test('a receiver that is down: delivered false, statusCode null, the network error', async () => {
    const rx = await receiver();
    const hook = await quietHook(rx, 'test-down');
    await rx.close();
    const result = json<TestResult>(await sendTest(hook), 200);
    assert.deepEqual([result.delivered, result.statusCode, result.error], [false, null, 'Connection refused']);
  });

  test("a disabled endpoint -> 409 WEBHOOK_INACTIVE; another partner's endpoint -> 404", async () => {
    const rx = await receiver();
    const hook = await quietHook(rx, 'test-off');
    json(await partnerCall(ctx, p.sk, 'PATCH', `/v1/partner/webhooks/${hook.id}`, { isActive: false }), 200);
    assertError(await sendTest(hook), 409, 'WEBHOOK_INACTIVE');
    const theirs = await createHook(ctx, other.sk, { url: `${rx.url}/theirs`, eventTypes: ['action.completed'] });
    assertError(await sendTest(theirs), 404, 'NOT_FOUND');
    assert.equal(rx.received.length, 0);
  });
});

describe('deliveries list and one delivery', () => {
  let rx: Receiver;
  let hook: Hook;
  const ids: { ok: string[]; failed: string[] } = { ok: [], failed: [] };
  before(async () => {
    rx = await receiver();
    hook = await quietHook(rx, 'listed');
    // Three that succeed, two that fail, alternating.
    for (const status of [200, 500, 200, 500, 200]) {
      rx.behave = () => ({ status });
      ctx.clock.advance(1_000);
      const r = json<TestResult>(await sendTest(hook), 200);
      (status === 200 ? ids.ok : ids.failed).push(r.deliveryId);
    }
  });

  test('newest first, with every field, paginated with a total', async () => {
    const all = json<{ data: Record<string, unknown>[]; total: number; page: number; limit: number }>(
      await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries`),
      200,
    );
    assert.equal(all.total, 5);
    assert.deepEqual(
      all.data.map((d) => d.id),
      [ids.ok[2], ids.failed[1], ids.ok[1], ids.failed[0], ids.ok[0]],
    );
    for (const d of all.data) {
      assert.deepEqual(Object.keys(d).sort(), DELIVERY_FIELDS);
      assert.equal(d.webhookId, hook.id);
      assert.equal(d.eventType, 'webhook.test');
      assert.equal(d.attempts, 1);
      assert.equal(d.nextAttemptAt, null);
    }
    const okOne = all.data.find((d) => d.id === ids.ok[0])!;
    assert.equal(okOne.status, 'SUCCEEDED');
    assert.equal(okOne.lastStatusCode, 200);
    assert.equal(okOne.deliveredAt, okOne.lastAttemptAt);
    const failedOne = all.data.find((d) => d.id === ids.failed[0])!;
    assert.deepEqual([failedOne.status, failedOne.lastStatusCode, failedOne.lastError, failedOne.deliveredAt], ['FAILED', 500, 'The receiver answered 500', null]);

    const page1 = json<{ data: { id: string }[]; total: number }>(await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries?page=1&limit=2`), 200);
    const page3 = json<{ data: { id: string }[]; total: number }>(await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries?page=3&limit=2`), 200);
    assert.deepEqual(page1.data.map((d) => d.id), [ids.ok[2], ids.failed[1]]);
    assert.deepEqual(page3.data.map((d) => d.id), [ids.ok[0]]);
    assert.equal(page3.total, 5);
  });

  test('status filter', async () => {
    const failed = json<{ data: { id: string; status: string }[]; total: number }>(
      await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries?status=FAILED`),
      200,
    );
    assert.equal(failed.total, 2);
    assert.deepEqual(failed.data.map((d) => d.id).sort(), [...ids.failed].sort());
    const pending = json<{ total: number }>(await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries?status=PENDING`), 200);
    assert.equal(pending.total, 0);
    assertError(await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries?status=LOST`), 400, 'VALIDATION_ERROR');
    assertError(await partnerCall(ctx, other.sk, 'GET', `/v1/partner/webhooks/${hook.id}/deliveries`), 404, 'NOT_FOUND');
  });

  test('one delivery with its attempt log, retry by retry', async () => {
    const flaky = await receiver();
    flaky.behave = (_r, i) => (i === 0 ? { status: 503 } : i === 1 ? { reset: true } : { status: 202 });
    const h = await createHook(ctx, p.sk, { url: `${flaky.url}/flaky`, eventTypes: ['action.completed'] });
    await submitPurchase(ctx, p, 'routes-log');
    await runOnce(ctx);
    const [d] = await deliveriesOf(ctx, h.id);
    for (let i = 0; i < 2; i++) {
      await advanceToNextAttempt(ctx, d!.id);
      await runOnce(ctx);
    }
    const got = json<Record<string, unknown> & { attemptLog: Record<string, unknown>[] }>(
      await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/deliveries/${d!.id}`),
      200,
    );
    assert.deepEqual(Object.keys(got).sort(), [...DELIVERY_FIELDS, 'attemptLog'].sort());
    assert.deepEqual([got.status, got.attempts, got.eventType, got.eventId], ['SUCCEEDED', 3, 'action.completed', d!.event_id]);
    assert.deepEqual(
      got.attemptLog.map((a) => [a.succeeded, a.statusCode]),
      [
        [false, 503],
        [false, null],
        [true, 202],
      ],
    );
    assert.equal(got.attemptLog[0]!.error, 'The receiver answered 503');
    assert.match(String(got.attemptLog[1]!.error), /reset/i);
    assert.equal(got.attemptLog[2]!.error, null);
    for (const a of got.attemptLog) {
      assert.deepEqual(Object.keys(a).sort(), ['attemptedAt', 'error', 'latencyMs', 'statusCode', 'succeeded']);
      assert.ok(Number.isInteger(a.latencyMs));
    }
    const times = got.attemptLog.map((a) => Date.parse(String(a.attemptedAt)));
    assert.ok(times[0]! < times[1]! && times[1]! < times[2]!);
    assert.equal(got.deliveredAt, got.attemptLog[2]!.attemptedAt);

    assertError(await partnerCall(ctx, other.sk, 'GET', `/v1/partner/webhooks/deliveries/${d!.id}`), 404, 'NOT_FOUND');
    assertError(await partnerCall(ctx, p.sk, 'GET', '/v1/partner/webhooks/deliveries/whd_00000000000000000000000000000000'), 404, 'NOT_FOUND');
    json(await partnerCall(ctx, p.sk, 'DELETE', `/v1/partner/webhooks/${h.id}`), 200);
  });
});
