import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DISABLE_AFTER_FAILING_MS, RETRY_SCHEDULE_MS } from '../../src/modules/webhooks/delivery.policy.js';
import { createPartner } from '../factories/partners.js';
import { createPool, outboxEvents, partnerCall } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';
import {
  attemptsOf,
  createHook,
  deliveriesOf,
  endpointRow,
  envelopeOf,
  runOnce,
  sirSignedBy,
  standardVerifiesNow,
  standardVerify,
  submitPurchase,
} from '../harness/webhooks.js';

/**
 * Receivers that stay away: a 30-minute outage that ends with every event delivered, and a receiver
 * that fails for 5 days until its endpoint is disabled. Time is the manual clock; the only waiting
 * is the dispatcher's real HTTP calls to 127.0.0.1.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/*
 * The outage ends with the fourth attempt, about 38 minutes after the events (5 s, then 5 min and
 * 30 min, each +10 % at worst, plus the step size). Starting the clock that far in the past puts that
 * attempt near real time, so the official Standard Webhooks verifier, which compares the timestamp
 * with the real clock, checks those deliveries exactly as a receiver would.
 */
const OUTAGE_LEAD_MS = 38 * MINUTE;

let ctx: TestContext;
const receivers: Receiver[] = [];
before(async () => {
  ctx = await createTestContext({ now: new Date(Date.now() - OUTAGE_LEAD_MS) });
});
after(async () => {
  for (const r of receivers) await r.close();
  ctx.services.dispatcher.close();
  await ctx.close();
});

async function receiver(): Promise<Receiver> {
  const rx = await new Receiver().start();
  receivers.push(rx);
  return rx;
}

test('a receiver down for 30 minutes gets every event once it is back, each signed and under its own id', async () => {
  const p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId);
  const rx = await receiver();
  const port = rx.port;
  const hook = await createHook(ctx, p.sk, { url: `${rx.url}/hooks`, eventTypes: ['action.completed'] });
  await rx.close();

  const actionIds = new Set<string>();
  for (let i = 0; i < 20; i++) actionIds.add(await submitPurchase(ctx, p, `outage-${i}`));

  const start = ctx.clock.now().getTime();
  while (ctx.clock.now().getTime() - start < 30 * MINUTE) {
    await runOnce(ctx);
    ctx.clock.advance(30_000);
  }
  await runOnce(ctx);
  const down = await deliveriesOf(ctx, hook.id);
  assert.equal(down.length, 20);
  for (const d of down) {
    // Immediately, after ~5 s and after ~5 min; the ~30 min retry is still ahead.
    assert.equal(d.status, 'PENDING', d.id);
    assert.equal(d.attempts, 3, `${d.id} was attempted ${d.attempts} times`);
    assert.equal(d.last_error, 'Connection refused');
    assert.ok(d.next_attempt_at! > ctx.clock.now());
  }
  assert.equal((await endpointRow(ctx, hook.id)).is_active, true, 'an endpoint is not disabled for a 30-minute outage');
  assert.equal(rx.received.length, 0);

  await rx.start(port);
  const lastDue = Math.max(...down.map((d) => d.next_attempt_at!.getTime()));
  ctx.clock.set(lastDue);
  assert.equal(await runOnce(ctx), 20);

  const delivered = await deliveriesOf(ctx, hook.id);
  assert.deepEqual(
    delivered.map((d) => [d.status, d.attempts]),
    delivered.map(() => ['SUCCEEDED', 4]),
  );
  const events = await outboxEvents(ctx.services.db, p.partnerId, 'action.completed');
  assert.equal(events.length, 20);
  assert.deepEqual(new Set(events.map((e) => e.data.actionId)), actionIds);
  assert.equal(rx.received.length, 20, 'each event arrives exactly once');
  const seen = rx.received.map(envelopeOf);
  assert.deepEqual(new Set(seen.map((e) => e.id)), new Set(events.map((e) => e.id)));
  assert.deepEqual(new Set(delivered.map((d) => d.event_id)), new Set(events.map((e) => e.id)));
  for (const r of rx.received) {
    const env = envelopeOf(r);
    assert.equal(r.headers['webhook-id'], env.id);
    assert.equal(env.type, 'action.completed');
    assert.equal(r.headers['x-sir-timestamp'], String(Math.floor(lastDue / 1000)), 'signed at the time of the attempt that got through');
    assert.ok(sirSignedBy(hook.secret, r), `X-SIR-Signature of ${env.id}`);
    assert.ok(standardVerifiesNow(hook.secret, r), `standardwebhooks at real time, ${env.id}`);
  }
  assert.equal(await runOnce(ctx), 0);
  assert.equal(rx.received.length, 20);
});

test('5 days of failures disable the endpoint, fail what is left and announce webhook.disabled', async () => {
  const p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId);
  const failing = await receiver();
  failing.behave = () => ({ status: 500 });
  const watcher = await receiver();
  const hook = await createHook(ctx, p.sk, { url: `${failing.url}/down`, eventTypes: ['action.completed'] });
  await createHook(ctx, p.sk, { url: `${watcher.url}/ops`, eventTypes: ['webhook.disabled'] });

  const STEP = 30 * MINUTE;
  const start = ctx.clock.now().getTime();
  let events = 0;
  let disabledAt: number | undefined;
  let lastActiveStep = start;
  while (disabledAt === undefined) {
    const elapsed = ctx.clock.now().getTime() - start;
    assert.ok(elapsed <= DISABLE_AFTER_FAILING_MS + 12 * HOUR, 'still active long after 5 days of failures');
    if (elapsed % (6 * HOUR) === 0) await submitPurchase(ctx, p, `down-${events++}`);
    await runOnce(ctx);
    const e = await endpointRow(ctx, hook.id);
    if (!e.is_active) disabledAt = ctx.clock.now().getTime();
    else {
      lastActiveStep = ctx.clock.now().getTime();
      ctx.clock.advance(STEP);
    }
  }
  assert.ok(events >= 20, `${events} events`);

  const endpoint = await endpointRow(ctx, hook.id);
  const firstFailure = endpoint.failing_since!.getTime();
  assert.equal(firstFailure, start, 'failing since the very first attempt');
  assert.ok(disabledAt - firstFailure >= DISABLE_AFTER_FAILING_MS, `disabled after ${(disabledAt - firstFailure) / HOUR} h`);
  assert.ok(lastActiveStep - firstFailure < DISABLE_AFTER_FAILING_MS + 6 * HOUR, 'not disabled at the first failure past 5 days');
  assert.match(endpoint.disabled_reason!, /5 days/);
  const api = (await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}`)).json();
  assert.equal(api.isActive, false);
  assert.equal(api.disabledReason, endpoint.disabled_reason);

  const rows = await deliveriesOf(ctx, hook.id);
  assert.equal(rows.length, events);
  for (const d of rows) assert.equal(d.status, 'FAILED', `${d.id} is ${d.status}`);
  // The first event used up its schedule long before the 5 days; its attempts follow the schedule.
  const first = await attemptsOf(ctx, rows[0]!.id);
  assert.equal(first.length, RETRY_SCHEDULE_MS.length);
  for (let i = 1; i < first.length; i++) {
    const gap = first[i]!.attempted_at.getTime() - first[i - 1]!.attempted_at.getTime();
    const planned = RETRY_SCHEDULE_MS[i]!;
    assert.ok(gap >= planned * 0.9 && gap <= planned * 1.1 + STEP, `attempt ${i + 1} came ${gap} ms after the one before (plan ${planned})`);
  }
  // The latest events were waiting for retries when the endpoint went: failed without being sent again.
  const cut = rows.filter((d) => d.last_error?.startsWith('Not sent: the endpoint was disabled'));
  assert.ok(cut.length > 0, 'no delivery was waiting when the endpoint was disabled');

  // Every attempt that reached the receiver carried its event's id, signed for that attempt's time.
  const attemptsByEvent = new Map<string, string[]>();
  for (const r of failing.received) {
    const env = standardVerify(hook.secret, r);
    assert.ok(sirSignedBy(hook.secret, r));
    assert.equal(r.headers['webhook-id'], env.id);
    attemptsByEvent.set(env.id, [...(attemptsByEvent.get(env.id) ?? []), String(r.headers['x-sir-timestamp'])]);
  }
  assert.equal(attemptsByEvent.size, events);
  for (const d of rows) assert.equal(attemptsByEvent.get(d.event_id)!.length, d.attempts, d.event_id);
  assert.equal(failing.received.length, rows.reduce((n, d) => n + d.attempts, 0));

  const health = (await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${hook.id}/health?hours=720`)).json();
  assert.equal(health.consecutiveFailures, failing.received.length);
  assert.equal(health.successRate, 0);
  assert.equal(health.pending, 0);

  ctx.clock.advance(MINUTE);
  await runOnce(ctx);
  assert.equal(watcher.received.length, 1);
  const announced = envelopeOf(watcher.received[0]!);
  assert.equal(announced.type, 'webhook.disabled');
  assert.equal(announced.data.webhookId, hook.id);
  assert.match(String(announced.data.reason), /5 days/);

  // Nothing more goes to the disabled endpoint, however much time passes or how many events come.
  const sent = failing.received.length;
  await submitPurchase(ctx, p, 'after-disable');
  ctx.clock.advance(24 * HOUR);
  await runOnce(ctx);
  assert.equal(failing.received.length, sent);
});
