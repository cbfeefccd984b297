import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sirSignature } from '../../src/modules/webhooks/webhooks.signing.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, outboxEvents, partnerCall, purchase } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { Receiver, type Received } from '../harness/receiver.js';
import { attemptsOf, createHook, deliveriesOf, envelopeOf, fannedOut, runOnce, sirSignedBy, submitPurchase, type Hook } from '../harness/webhooks.js';

/** Fan-out and delivery of real events to a real receiver on 127.0.0.1. */

let ctx: TestContext;
let receiver: Receiver;
before(async () => {
  ctx = await createTestContext();
  receiver = await new Receiver().start();
});
after(async () => {
  await receiver.close();
  ctx.services.dispatcher.close();
  await ctx.close();
});

describe('delivery of an action.completed event', () => {
  let p: PartnerFixture;
  let hook: { id: string; secret: string };
  before(async () => {
    p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId);
    const res = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/webhooks', {
      url: `${receiver.url}/hooks`,
      eventTypes: ['action.completed'],
      headers: { 'X-Receiver-Token': 'abc' },
    });
    assert.equal(res.statusCode, 201, res.body);
    hook = res.json();
  });

  test('arrives once, signed both ways, with the custom header', async () => {
    const submit = await partnerCall(ctx, p.sk, 'POST', '/v1/partner/actions/submit', purchase('d-1', '49.99'));
    assert.equal(submit.statusCode, 200, submit.body);
    const before = receiver.received.length;
    const attempts = await runOnce(ctx);
    assert.equal(attempts, 1);
    const got = receiver.received.slice(before);
    assert.equal(got.length, 1);
    const r = got[0]!;
    const envelope = JSON.parse(r.body);
    assert.equal(envelope.type, 'action.completed');
    assert.match(envelope.id, /^evt_/);
    assert.equal(r.headers['x-receiver-token'], 'abc');
    assert.equal(r.headers['user-agent'], 'SIRGiving-Webhooks/1.0');
    assert.equal(r.headers['x-sir-signature'], sirSignature(hook.secret, String(r.headers['x-sir-timestamp']), r.body));
    // The official Standard Webhooks verifier checks the timestamp against real time, and so does
    // a receiver: the manual clock is at real time here.
    const verified = new Webhook(hook.secret).verify(r.body, {
      'webhook-id': String(r.headers['webhook-id']),
      'webhook-timestamp': String(r.headers['webhook-timestamp']),
      'webhook-signature': String(r.headers['webhook-signature']),
    });
    assert.equal((verified as { id: string }).id, envelope.id);
    assert.equal(await ctx.services.dispatcher.runOnce(), 0);
  });
});

describe('fan-out', () => {
  let q: PartnerFixture;
  let rx: Receiver;
  const hooks: Record<string, Hook> = {};
  /** Requests that reached the endpoint registered under `/<name>`. */
  const at = (name: string): Received[] => rx.received.filter((r) => r.url === `/${name}`);

  before(async () => {
    q = await createPartner(ctx.services);
    await createPool(ctx.services, q.partnerId);
    rx = await new Receiver().start();
    rx.behave = (r) => (r.url === '/doomed' ? { status: 500 } : { status: 200 });
    const subscriptions: Record<string, Record<string, unknown>> = {
      'failed-only': { eventTypes: ['action.failed'] },
      all: { receiveAllEvents: true },
      inactive: { eventTypes: ['action.completed'] },
      'completed-a': { eventTypes: ['action.completed'] },
      'completed-b': { eventTypes: ['action.completed', 'action.reversed'] },
    };
    for (const [name, subscription] of Object.entries(subscriptions)) {
      hooks[name] = await createHook(ctx, q.sk, { url: `${rx.url}/${name}`, ...subscription });
    }
    const off = await partnerCall(ctx, q.sk, 'PATCH', `/v1/partner/webhooks/${hooks.inactive!.id}`, { isActive: false });
    assert.equal(off.statusCode, 200, off.body);
  });
  after(() => rx.close());

  test('action.completed goes to its subscribers and receiveAllEvents, each its own copy under one event id', async () => {
    const actionId = await submitPurchase(ctx, q, 'fan-1');
    const written = await outboxEvents(ctx.services.db, q.partnerId);
    // A purchase also writes transaction.completed, which only receiveAllEvents wants.
    assert.deepEqual(written.map((e) => e.type).sort(), ['action.completed', 'transaction.completed']);
    assert.equal(await runOnce(ctx), 2 + written.length);
    assert.equal(at('failed-only').length, 0, 'an action.failed subscriber got action.completed');
    assert.equal(at('inactive').length, 0, 'an inactive endpoint got an event');
    const [a, b, all] = [at('completed-a'), at('completed-b'), at('all')];
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.deepEqual(all.map((r) => envelopeOf(r).id).sort(), written.map((e) => e.id).sort());
    const event = written.find((e) => e.type === 'action.completed')!;
    const allCopy = all.find((r) => envelopeOf(r).type === 'action.completed')!;
    for (const r of [a[0]!, b[0]!, allCopy]) {
      assert.equal(envelopeOf(r).id, event!.id);
      assert.equal(envelopeOf(r).data.actionId, actionId);
    }
    // One copy each, each signed with that endpoint's own secret only.
    assert.ok(sirSignedBy(hooks['completed-a']!.secret, a[0]!));
    assert.ok(!sirSignedBy(hooks['completed-b']!.secret, a[0]!));
    assert.ok(sirSignedBy(hooks['completed-b']!.secret, b[0]!));
    const ids = new Set([...(await deliveriesOf(ctx, hooks['completed-a']!.id)), ...(await deliveriesOf(ctx, hooks['completed-b']!.id))].map((d) => d.id));
    assert.equal(ids.size, 2, 'two deliveries, not one shared');
  });

  test('action.failed goes to its subscriber and receiveAllEvents only', async () => {
    const res = await partnerCall(ctx, q.sk, 'POST', '/v1/partner/actions/submit', purchase('fan-too-big', '1000000000'));
    assert.equal(res.statusCode, 402, res.body);
    assert.equal(await runOnce(ctx), 2);
    assert.equal(at('failed-only').length, 1);
    assert.equal(envelopeOf(at('failed-only')[0]!).type, 'action.failed');
    const written = await outboxEvents(ctx.services.db, q.partnerId);
    assert.deepEqual(at('all').map((r) => envelopeOf(r).id).sort(), written.map((e) => e.id).sort(), 'receiveAllEvents got every event, once');
    assert.equal(at('completed-a').length, 1);
    assert.equal(at('completed-b').length, 1);
  });

  test('running the dispatcher again delivers nothing twice', async () => {
    const before = rx.received.length;
    assert.equal(await runOnce(ctx), 0);
    assert.equal(await ctx.services.dispatcher.runOnce(), 0);
    assert.equal(await ctx.services.dispatcher.fanOutAll(), 0);
    assert.equal(rx.received.length, before);
  });

  test('an endpoint turned back on does not receive what happened while it was off', async () => {
    const on = await partnerCall(ctx, q.sk, 'PATCH', `/v1/partner/webhooks/${hooks.inactive!.id}`, { isActive: true });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(await runOnce(ctx), 0);
    assert.equal(at('inactive').length, 0);
    assert.equal((await deliveriesOf(ctx, hooks.inactive!.id)).length, 0);
    // From now on it receives.
    await submitPurchase(ctx, q, 'fan-2');
    await runOnce(ctx);
    assert.equal(at('inactive').length, 1);
  });

  test("a deleted endpoint's deliveries vanish with it and are never retried", async () => {
    const doomed = await createHook(ctx, q.sk, { url: `${rx.url}/doomed`, eventTypes: ['action.completed'] });
    await submitPurchase(ctx, q, 'fan-3');
    await runOnce(ctx);
    assert.equal(at('doomed').length, 1);
    const [pending] = await deliveriesOf(ctx, doomed.id);
    assert.equal(pending!.status, 'PENDING');
    assert.equal((await attemptsOf(ctx, pending!.id)).length, 1);

    const del = await partnerCall(ctx, q.sk, 'DELETE', `/v1/partner/webhooks/${doomed.id}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.equal((await deliveriesOf(ctx, doomed.id)).length, 0);
    assert.equal((await attemptsOf(ctx, pending!.id)).length, 0);
    ctx.clock.advance(60 * 60_000);
    await submitPurchase(ctx, q, 'fan-4');
    await fannedOut(ctx);
    await runOnce(ctx);
    assert.equal(at('doomed').length, 1);
  });
});
