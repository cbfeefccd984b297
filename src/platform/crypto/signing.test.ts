import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_BODY_SHA256, hexDigestEquals, hmacSha256Hex, sha256Hex, signPartnerRequest } from './signing.js';

const SECRET = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const TS = '1746876000';

test('contract A4.2 vector: signed GET with query and empty body', () => {
  assert.equal(
    signPartnerRequest({ secret: SECRET, timestamp: TS, method: 'GET', pathWithQuery: '/v1/partner/users?page=1&limit=20' }),
    '1037c123fac712b9f27235ee013047e2acd4044a089ec1c0561b2fe0329406a2',
  );
});

test('contract A4.2 vector: signed POST /actions/submit', () => {
  const body =
    '{"idempotencyKey":"purchase_98765","actionType":"PURCHASE","amount":49.99,"currency":"USD","stakeholders":[{"stakeholderTypeCode":"CUSTOMER","partnerUserId":"user_42"}]}';
  assert.equal(sha256Hex(body), '326dc275edbbc2e40d5becaf63b0f792eaed736d7345256e84726990105e0d4d');
  assert.equal(
    signPartnerRequest({ secret: SECRET, timestamp: TS, method: 'post', pathWithQuery: '/v1/partner/actions/submit', body }),
    'c9d8640534deb4d5c5eadbdc3407d8eda195addbba9f34a67661e8450375d64b',
  );
});

test('the empty body is hashed, never left out', () => {
  assert.equal(sha256Hex(''), EMPTY_BODY_SHA256);
  const withEmpty = signPartnerRequest({ secret: SECRET, timestamp: TS, method: 'GET', pathWithQuery: '/x', body: '' });
  const without = signPartnerRequest({ secret: SECRET, timestamp: TS, method: 'GET', pathWithQuery: '/x' });
  assert.equal(withEmpty, without);
  assert.equal(without, hmacSha256Hex(SECRET, `${TS}GET/x${EMPTY_BODY_SHA256}`));
});

test('the HMAC key is the secret string itself, not its hex-decoded bytes', () => {
  const asText = hmacSha256Hex(SECRET, 'm');
  const asBytes = hmacSha256Hex(Buffer.from(SECRET, 'hex'), 'm');
  assert.notEqual(asText, asBytes);
  assert.equal(asText, hmacSha256Hex(Buffer.from(SECRET, 'utf8'), 'm'));
});

test('Payments API vector (B3.1): HMAC of the epoch with the secret key', () => {
  assert.equal(
    hmacSha256Hex('sk_test_example', '1622657001'),
    '38c060de9bb81ed4a5d9bdf03b63aaeda75b092821c5679f3c3e05b74bc8ad2a',
  );
});

test('hexDigestEquals never throws and rejects anything but the exact digest', () => {
  const good = '1037c123fac712b9f27235ee013047e2acd4044a089ec1c0561b2fe0329406a2';
  assert.equal(hexDigestEquals(good, good), true);
  assert.equal(hexDigestEquals(good, good.toUpperCase()), true, 'hex case is not significant');
  for (const bad of ['', 'a', good.slice(0, 63), `${good}0`, `${good.slice(0, 63)}g`, 'zz'.repeat(32), '\u00e9'.repeat(32), undefined]) {
    assert.equal(hexDigestEquals(good, bad), false, `rejects ${JSON.stringify(bad)}`);
  }
});
