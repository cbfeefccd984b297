import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SecretBox } from './secret-box.js';

test('sealed secrets open only with the same key and purpose', () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal('0123abcd', 'api_keys.hmac_secret');
  assert.match(sealed, /^v1:/);
  assert.ok(!sealed.includes('0123abcd'));
  assert.equal(box.open(sealed, 'api_keys.hmac_secret'), '0123abcd');
  assert.throws(() => box.open(sealed, 'webhooks.secret'));
  assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'api_keys.hmac_secret'));
  assert.notEqual(box.seal('x', 'p'), box.seal('x', 'p'), 'a fresh IV every time');
});

test('a tampered ciphertext is refused', () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal('secret', 'p');
  const raw = Buffer.from(sealed.slice(3), 'base64');
  raw[raw.length - 1]! ^= 1;
  assert.throws(() => box.open(`v1:${raw.toString('base64')}`, 'p'));
});
