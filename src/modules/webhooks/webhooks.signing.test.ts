import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { signedDeliveryHeaders, sirSignature, standardSignature } from './webhooks.signing.js';

test('contract A9.2 test vector', () => {
  const body = '{"id":"evt_abc123","type":"action.completed","createdAt":"2026-05-10T09:12:00Z","data":{"actionId":"a1","tokensDistributed":50}}';
  assert.equal(sirSignature('whsec_test', '1746876000', body), 'sha256=3c9d7a85d9afaa7c57adb417d09d424e6492402fef07ae7804520f44425090ab');
});

test("the contract's receiver recipe verifies our X-SIR-Signature (secret with prefix, as text)", () => {
  const secret = `whsec_${randomBytes(32).toString('hex')}`;
  const body = Buffer.from('{"id":"evt_1","type":"webhook.test","createdAt":"2026-01-01T00:00:00Z","data":{"test":true}}');
  const headers = signedDeliveryHeaders([secret], 'evt_1', 1_800_000_000, body);
  const expected = `sha256=${createHmac('sha256', secret).update(`${headers['x-sir-timestamp']}.${body.toString()}`).digest('hex')}`;
  assert.equal(headers['x-sir-signature'], expected);
  assert.equal(headers['user-agent'], 'SIRGiving-Webhooks/1.0');
});

test('the official standardwebhooks library verifies our delivery with the same secret string', () => {
  const secret = `whsec_${randomBytes(32).toString('hex')}`;
  const body = '{"id":"evt_2","type":"action.completed","createdAt":"2026-01-01T00:00:00Z","data":{}}';
  const now = Math.floor(Date.now() / 1000);
  const headers = signedDeliveryHeaders([secret], 'evt_2', now, body);
  const verified = new Webhook(secret).verify(body, headers);
  assert.deepEqual(verified, JSON.parse(body));
  // A changed byte or a different secret is refused.
  assert.throws(() => new Webhook(secret).verify(body.replace('evt_2', 'evt_3'), headers));
  assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('hex')}`).verify(body, headers));
  // The library's own signature for the same message is ours.
  assert.equal(new Webhook(secret).sign('evt_2', new Date(now * 1000), body), standardSignature(secret, 'evt_2', String(now), body));
});

test('during rotation both secrets sign, and a receiver holding either one verifies', () => {
  const oldSecret = `whsec_${randomBytes(32).toString('hex')}`;
  const newSecret = `whsec_${randomBytes(32).toString('hex')}`;
  const body = '{"id":"evt_3"}';
  const now = Math.floor(Date.now() / 1000);
  const headers = signedDeliveryHeaders([newSecret, oldSecret], 'evt_3', now, body);
  assert.doesNotThrow(() => new Webhook(oldSecret).verify(body, headers));
  assert.doesNotThrow(() => new Webhook(newSecret).verify(body, headers));
  assert.deepEqual(headers['x-sir-signature']!.split(' '), [sirSignature(newSecret, String(now), body), sirSignature(oldSecret, String(now), body)]);
});
