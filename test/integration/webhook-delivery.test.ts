import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sirSignature } from '../../src/modules/webhooks/webhooks.signing.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, partnerCall, purchase } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';

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
    const attempts = await ctx.services.dispatcher.runOnce();
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
