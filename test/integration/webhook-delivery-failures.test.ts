import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, test, type TestContext as NodeTestContext } from 'node:test';
import { WebhookDispatcher } from '../../src/modules/webhooks/delivery.dispatcher.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, partnerCall } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';
import {
  advanceToNextAttempt,
  attemptsOf,
  createHook,
  deliveriesOf,
  deliveryRow,
  envelopeOf,
  runOnce,
  sirSignedBy,
  standardVerify,
  submitPurchase,
  type Hook,
} from '../harness/webhooks.js';

/**
 * Receivers that misbehave, each a real server on 127.0.0.1: what every failure records, when it is
 * retried, and what it never does (follow a redirect, read a body without end, keep a gone endpoint).
 */

let ctx: TestContext;
let p: PartnerFixture;
let seq = 0;
before(async () => {
  ctx = await createTestContext();
  p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId);
});
after(async () => {
  ctx.services.dispatcher.close();
  await ctx.close();
});

/** A receiver for one test, closed when the test ends. */
async function receiver(t: NodeTestContext): Promise<Receiver> {
  const rx = await new Receiver().start();
  t.after(() => rx.close());
  return rx;
}

/** An endpoint for one test; deleting it afterwards keeps its pending retries out of later tests' passes. */
async function hook(t: NodeTestContext, body: Record<string, unknown>): Promise<Hook> {
  const h = await createHook(ctx, p.sk, body);
  t.after(async () => {
    await partnerCall(ctx, p.sk, 'DELETE', `/v1/partner/webhooks/${h.id}`);
  });
  return h;
}

/** One event to the endpoint, fanned out and attempted once; returns its delivery. */
async function firstAttempt(h: Hook, dispatcher = ctx.services.dispatcher) {
  await submitPurchase(ctx, p, `fail-${++seq}`);
  assert.equal(await runOnce(ctx, dispatcher), 1);
  const [d, ...rest] = await deliveriesOf(ctx, h.id);
  assert.ok(d);
  assert.equal(rest.length, 0);
  return d;
}

const retryDelay = (d: { next_attempt_at: Date | null; last_attempt_at: Date | null }) => d.next_attempt_at!.getTime() - d.last_attempt_at!.getTime();

describe('a slow receiver', () => {
  test('times out: the attempt is recorded with the timeout error and retried about 5 s later', async (t) => {
    const rx = await receiver(t);
    rx.behave = () => ({ hang: true });
    const h = await hook(t, { url: `${rx.url}/slow`, eventTypes: ['action.completed'] });
    const quick = new WebhookDispatcher(ctx.services.db, ctx.services.webhooks, ctx.clock, { ...ctx.services.dispatcher.options, timeoutMs: 300, leaseMs: 5000 });
    t.after(() => quick.close());

    const started = performance.now();
    const d = await firstAttempt(h, quick);
    const took = performance.now() - started;
    assert.ok(took >= 300 && took < 5_000, `the pass took ${took} ms`);
    assert.equal(rx.received.length, 1, 'the request reached the receiver');
    assert.equal(d.status, 'PENDING');
    assert.equal(d.attempts, 1);
    assert.equal(d.last_status_code, null);
    assert.equal(d.last_error, 'Timed out after 300 ms');
    const delay = retryDelay(d);
    assert.ok(delay >= 4_500 && delay <= 5_500, `retry ${delay} ms after the attempt`);
    const [attempt] = await attemptsOf(ctx, d.id);
    assert.equal(attempt!.succeeded, false);
    assert.equal(attempt!.error, 'Timed out after 300 ms');
    assert.ok(attempt!.latency_ms >= 300, String(attempt!.latency_ms));

    // Not due yet: nothing is sent before the retry time.
    ctx.clock.advance(delay - 1);
    assert.equal(await runOnce(ctx, quick), 0);
    rx.behave = () => ({ status: 204 });
    await advanceToNextAttempt(ctx, d.id);
    assert.equal(await runOnce(ctx, quick), 1);
    const done = await deliveryRow(ctx, d.id);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.attempts, 2);
    assert.equal(envelopeOf(rx.received[1]!).id, envelopeOf(rx.received[0]!).id);
  });
});

/** A receiver that answers 200 and then streams `total` bytes, noting whether the client read them all. */
async function endlessBody(t: NodeTestContext, total: number) {
  const stats = { requests: 0, queued: 0, finished: false, cutOff: false };
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      stats.requests += 1;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(256 * 1024, 0x78);
      res.on('error', () => {});
      res.on('close', () => {
        if (!res.writableFinished) stats.cutOff = true;
      });
      const pump = () => {
        while (stats.queued < total && !res.destroyed) {
          stats.queued += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end(() => (stats.finished = true));
      };
      pump();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
}

describe('a huge response body', () => {
  test('50 MB: the status is recorded, the body is read only up to the cap and the connection dropped', async (t) => {
    const total = 50 * 1024 * 1024;
    const rx = await endlessBody(t, total);
    const h = await hook(t, { url: `${rx.url}/huge`, eventTypes: ['action.completed'] });
    const memoryBefore = process.memoryUsage();

    const d = await firstAttempt(h);
    assert.equal(rx.stats.requests, 1);
    assert.equal(d.status, 'SUCCEEDED', 'the receiver said 200; what follows the status line does not matter');
    assert.equal(d.last_status_code, 200);
    assert.equal(d.last_error, null);
    assert.equal(rx.stats.finished, false, 'the client read the whole 50 MB');
    assert.equal(rx.stats.cutOff, true, 'the client did not drop the connection');
    assert.ok(rx.stats.queued < total, `${rx.stats.queued} bytes were produced before the cut`);
    // Nothing of the body is kept: buffers grow by far less than the body (a buffered copy would be 50 MB).
    const grown = process.memoryUsage().arrayBuffers - memoryBefore.arrayBuffers;
    assert.ok(grown < 40 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
    assert.equal((await attemptsOf(ctx, d.id)).length, 1);
  });
});

describe('redirects', () => {
  test('3xx is a failed attempt, and no Location is ever followed (public, metadata service or loopback)', async (t) => {
    const rx = await receiver(t);
    const target = await receiver(t);
    const redirects: [number, string][] = [
      [302, `${target.url}/elsewhere`],
      [301, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
      [307, `http://127.0.0.1:${target.port}/internal-admin`],
      [308, 'http://[::1]/'],
    ];
    rx.behave = (_r, i) => (i < redirects.length ? { status: redirects[i]![0], headers: { location: redirects[i]![1] } } : { status: 200 });
    const h = await hook(t, { url: `${rx.url}/moved`, eventTypes: ['action.completed'] });

    const d = await firstAttempt(h);
    for (let i = 1; i < redirects.length; i++) {
      await advanceToNextAttempt(ctx, d.id);
      assert.equal(await runOnce(ctx), 1);
    }
    const log = await attemptsOf(ctx, d.id);
    assert.equal(log.length, redirects.length);
    redirects.forEach(([status, location], i) => {
      assert.equal(log[i]!.succeeded, false);
      assert.equal(log[i]!.status_code, status);
      assert.ok(log[i]!.error!.includes('not followed') && log[i]!.error!.includes(location), log[i]!.error!);
    });
    assert.equal(target.received.length, 0, 'a redirect was followed');
    const row = await deliveryRow(ctx, d.id);
    assert.equal(row.status, 'PENDING', 'a redirect is retried like any failure');
    // The retries went back to the registered URL, not to a Location.
    assert.deepEqual(
      rx.received.map((r) => r.url),
      redirects.map(() => '/moved'),
    );
  });
});

describe('connection reset', () => {
  test('recorded and retried; the retry carries the same event id with a fresh timestamp and signature', async (t) => {
    const rx = await receiver(t);
    rx.behave = (_r, i) => (i === 0 ? { reset: true } : { status: 200 });
    const h = await hook(t, { url: `${rx.url}/reset`, eventTypes: ['action.completed'] });

    const d = await firstAttempt(h);
    assert.equal(d.status, 'PENDING');
    assert.equal(d.last_status_code, null);
    assert.match(d.last_error!, /reset/i);
    const delay = retryDelay(d);
    assert.ok(delay >= 4_500 && delay <= 5_500, `retry ${delay} ms after the attempt`);

    await advanceToNextAttempt(ctx, d.id);
    assert.equal(await runOnce(ctx), 1);
    assert.equal((await deliveryRow(ctx, d.id)).status, 'SUCCEEDED');
    const [first, second] = rx.received;
    assert.ok(first && second);
    assert.equal(envelopeOf(first).id, d.event_id);
    assert.equal(envelopeOf(second).id, d.event_id);
    assert.equal(second.headers['webhook-id'], d.event_id);
    assert.equal(second.body, first.body, 'the body is the same bytes on every attempt');
    assert.notEqual(second.headers['x-sir-timestamp'], first.headers['x-sir-timestamp']);
    assert.notEqual(second.headers['x-sir-signature'], first.headers['x-sir-signature']);
    for (const r of [first, second]) {
      assert.ok(sirSignedBy(h.secret, r));
      assert.equal(standardVerify(h.secret, r).id, d.event_id);
    }
  });
});

describe('410 Gone', () => {
  test('disables the endpoint, fails what was waiting, and announces webhook.disabled to another endpoint', async (t) => {
    const gone = await receiver(t);
    const watcher = await receiver(t);
    // The first event meets a 500 and waits for its retry; the second meets the 410.
    gone.behave = (_r, i) => (i === 0 ? { status: 500 } : { status: 410 });
    const h = await hook(t, { url: `${gone.url}/gone`, eventTypes: ['action.completed'] });
    const w = await hook(t, { url: `${watcher.url}/ops`, eventTypes: ['webhook.disabled'] });

    const waiting = await firstAttempt(h);
    assert.equal(waiting.status, 'PENDING');
    await submitPurchase(ctx, p, `fail-${++seq}`);
    assert.equal(await runOnce(ctx), 1);
    assert.equal(gone.received.length, 2);

    const endpoint = await partnerCall(ctx, p.sk, 'GET', `/v1/partner/webhooks/${h.id}`);
    assert.equal(endpoint.json().isActive, false);
    assert.match(endpoint.json().disabledReason, /410/);
    const rows = await deliveriesOf(ctx, h.id);
    assert.equal(rows.length, 2);
    for (const r of rows) assert.equal(r.status, 'FAILED', `${r.id}: ${r.status}`);
    const notSent = rows.find((r) => r.id === waiting.id)!;
    assert.equal(notSent.attempts, 1, 'the waiting delivery was failed without another attempt');
    assert.match(notSent.last_error!, /disabled/);
    assert.equal(notSent.next_attempt_at, null);

    const events = await ctx.services.db.selectFrom('outbox_events').selectAll().where('partner_id', '=', p.partnerId).where('type', '=', 'webhook.disabled').execute();
    assert.equal(events.length, 1);
    const data = events[0]!.data as Record<string, unknown>;
    assert.equal(data.webhookId, h.id);
    assert.equal(data.url, h.url);
    assert.match(String(data.reason), /410/);

    // The next pass delivers it to the endpoint that asked for it; the disabled one gets nothing more.
    ctx.clock.advance(60_000);
    assert.equal(await runOnce(ctx), 1);
    assert.equal(watcher.received.length, 1);
    const env = envelopeOf(watcher.received[0]!);
    assert.equal(env.type, 'webhook.disabled');
    assert.equal(env.id, events[0]!.id);
    assert.deepEqual(env.data, data);
    assert.ok(sirSignedBy(w.secret, watcher.received[0]!));
    assert.equal(gone.received.length, 2);
  });
});

describe('Retry-After on 429 and 503', () => {
  test('429 with delay-seconds: the next attempt is exactly that much later, not sooner', async (t) => {
    const rx = await receiver(t);
    rx.behave = (_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '120' } } : { status: 200 });
    const h = await hook(t, { url: `${rx.url}/busy`, eventTypes: ['action.completed'] });

    const d = await firstAttempt(h);
    assert.equal(d.last_status_code, 429);
    assert.equal(retryDelay(d), 120_000);
    ctx.clock.set(d.next_attempt_at!.getTime() - 1);
    assert.equal(await runOnce(ctx), 0, 'sent before Retry-After allowed');
    ctx.clock.advance(1);
    assert.equal(await runOnce(ctx), 1);
    assert.equal((await deliveryRow(ctx, d.id)).status, 'SUCCEEDED');
  });

  test('503 with an HTTP-date: the next attempt is at that date', async (t) => {
    const rx = await receiver(t);
    let retryAt = new Date(0);
    rx.behave = (_r, i) => {
      if (i > 0) return { status: 200 };
      // Read by the dispatcher against the same manual clock that stamps the attempt.
      retryAt = new Date(Math.floor(ctx.clock.now().getTime() / 1000) * 1000 + 3 * 3_600_000);
      return { status: 503, headers: { 'retry-after': retryAt.toUTCString() } };
    };
    const h = await hook(t, { url: `${rx.url}/maintenance`, eventTypes: ['action.completed'] });

    const d = await firstAttempt(h);
    assert.equal(d.last_status_code, 503);
    assert.equal(d.next_attempt_at!.toISOString(), retryAt.toISOString());
    ctx.clock.set(retryAt.getTime() - 1_000);
    assert.equal(await runOnce(ctx), 0);
    ctx.clock.set(retryAt);
    assert.equal(await runOnce(ctx), 1);
    assert.equal((await deliveryRow(ctx, d.id)).status, 'SUCCEEDED');
  });

  test('"Retry-After: 0" waits the first retry step instead of spending every attempt in one pass', async (t) => {
    const rx = await receiver(t);
    rx.behave = () => ({ status: 429, headers: { 'retry-after': '0' } });
    const h = await hook(t, { url: `${rx.url}/now`, eventTypes: ['action.completed'] });

    const d = await firstAttempt(h);
    assert.equal(rx.received.length, 1);
    assert.equal(d.status, 'PENDING');
    assert.equal(retryDelay(d), 5_000);
  });

  test('a 500 with Retry-After keeps the schedule', async (t) => {
    const rx = await receiver(t);
    rx.behave = () => ({ status: 500, headers: { 'retry-after': '7200' } });
    const h = await hook(t, { url: `${rx.url}/err`, eventTypes: ['action.completed'] });

    const delay = retryDelay(await firstAttempt(h));
    assert.ok(delay >= 4_500 && delay <= 5_500, String(delay));
  });
});
