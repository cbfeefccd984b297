import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sirSignature } from '../../src/modules/webhooks/webhooks.signing.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, partnerCall } from '../factories/rewards.js';
import { createTestContext, type TestContext } from '../harness/context.js';
import { Receiver, type Received } from '../harness/receiver.js';
import {
  advanceToNextAttempt,
  createHook,
  deliveriesOf,
  envelopeOf,
  runOnce,
  sirSignedBy,
  standardVerifiesNow,
  standardVerify,
  submitPurchase,
  type Hook,
} from '../harness/webhooks.js';

/**
 * Secret rotation as a receiver sees it: for 24 hours every delivery is signed with both the new and
 * the old secret (in X-SIR-Signature and webhook-signature alike), so a receiver can switch secrets
 * whenever it likes; after that only the new secret signs.
 */

let ctx: TestContext;
let p: PartnerFixture;
let rx: Receiver;
let hook: Hook;
before(async () => {
  ctx = await createTestContext();
  p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId);
  rx = await new Receiver().start();
  hook = await createHook(ctx, p.sk, { url: `${rx.url}/rotating`, eventTypes: ['action.completed'] });
});
after(async () => {
  await rx.close();
  ctx.services.dispatcher.close();
  await ctx.close();
});

let n = 0;
async function deliverOne(): Promise<Received> {
  const before = rx.received.length;
  await submitPurchase(ctx, p, `rot-${++n}`);
  assert.equal(await runOnce(ctx), 1);
  assert.equal(rx.received.length, before + 1);
  return rx.received[before]!;
}

const sigs = (r: Received, header: string) => String(r.headers[header]).split(' ');

/** Whether the official library, pinned to the delivery's own time, accepts it with `secret`. */
const verifiesWith = (secret: string, r: Received) => {
  try {
    standardVerify(secret, r);
    return true;
  } catch {
    return false;
  }
};

test('rotation: both secrets sign for 24 hours, then only the new one', async () => {
  const before = await deliverOne();
  assert.equal(sigs(before, 'x-sir-signature').length, 1);
  assert.equal(sigs(before, 'webhook-signature').length, 1);

  // One delivery meets a 500 before the rotation and is retried after it.
  rx.behave = () => ({ status: 500 });
  const straddling = await deliverOne();
  rx.behave = () => ({ status: 200 });
  const pendingRow = (await deliveriesOf(ctx, hook.id)).find((d) => d.event_id === envelopeOf(straddling).id);
  assert.equal(pendingRow!.status, 'PENDING');
  assert.equal(sigs(straddling, 'x-sir-signature').length, 1);

  const res = await partnerCall(ctx, p.sk, 'POST', `/v1/partner/webhooks/${hook.id}/rotate-secret`);
  assert.equal(res.statusCode, 200, res.body);
  const rotated = res.json() as { secret: string; previousSecretExpiresAt: string };
  const oldSecret = hook.secret;
  const newSecret = rotated.secret;
  assert.notEqual(newSecret, oldSecret);
  assert.equal(new Date(rotated.previousSecretExpiresAt).getTime(), ctx.clock.now().getTime() + 24 * 3_600_000);

  const during = await deliverOne();
  const sir = sigs(during, 'x-sir-signature');
  const std = sigs(during, 'webhook-signature');
  assert.equal(sir.length, 2, String(during.headers['x-sir-signature']));
  assert.equal(std.length, 2, String(during.headers['webhook-signature']));
  for (const s of std) assert.match(s, /^v1,[A-Za-z0-9+/]+=*$/);
  const ts = String(during.headers['x-sir-timestamp']);
  assert.ok(sir.includes(sirSignature(newSecret, ts, during.body)), 'the new secret signs');
  assert.ok(sir.includes(sirSignature(oldSecret, ts, during.body)), 'the old secret still signs');
  // The manual clock is at real time here, so the library checks the timestamp as a receiver would.
  assert.ok(standardVerifiesNow(oldSecret, during), 'standardwebhooks with the old secret');
  assert.ok(standardVerifiesNow(newSecret, during), 'standardwebhooks with the new secret');
  const stranger = `whsec_${randomBytes(32).toString('hex')}`;
  assert.ok(!standardVerifiesNow(stranger, during), 'any other secret is refused');
  assert.ok(!sirSignedBy(stranger, during));
  assert.throws(() => new Webhook(oldSecret).verify(during.body.replace('action.completed', 'action.failed'), {
    'webhook-id': String(during.headers['webhook-id']),
    'webhook-timestamp': String(during.headers['webhook-timestamp']),
    'webhook-signature': String(during.headers['webhook-signature']),
  }));

  // The delivery that failed before the rotation is signed for the moment it is sent: both secrets now.
  await advanceToNextAttempt(ctx, pendingRow!.id);
  assert.equal(await runOnce(ctx), 1);
  const retried = rx.received[rx.received.length - 1]!;
  assert.equal(envelopeOf(retried).id, envelopeOf(straddling).id);
  assert.ok(sirSignedBy(oldSecret, retried) && sirSignedBy(newSecret, retried));
  assert.ok(verifiesWith(oldSecret, retried) && verifiesWith(newSecret, retried));

  // A second before the grace ends both still sign (the library is pinned to the delivery's time from here on: see standardVerify).
  ctx.clock.set(new Date(rotated.previousSecretExpiresAt).getTime() - 1_000);
  const lastMoment = await deliverOne();
  assert.equal(sigs(lastMoment, 'x-sir-signature').length, 2);
  assert.ok(verifiesWith(oldSecret, lastMoment) && verifiesWith(newSecret, lastMoment));

  ctx.clock.set(new Date(rotated.previousSecretExpiresAt).getTime());
  const afterGrace = await deliverOne();
  assert.deepEqual(sigs(afterGrace, 'x-sir-signature'), [sirSignature(newSecret, String(afterGrace.headers['x-sir-timestamp']), afterGrace.body)]);
  assert.equal(sigs(afterGrace, 'webhook-signature').length, 1);
  assert.ok(verifiesWith(newSecret, afterGrace), 'the new secret verifies');
  assert.ok(!verifiesWith(oldSecret, afterGrace), 'the old secret no longer verifies');
  assert.ok(!sirSignedBy(oldSecret, afterGrace));
});
