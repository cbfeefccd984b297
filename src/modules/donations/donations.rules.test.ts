import assert from 'node:assert/strict';
import { test } from 'node:test';
import { centsFromEveryOrg, everyOrgLink, tipFor, withDonationId } from './donations.rules.js';

test('tipPercent: integer arithmetic, half up, at most two decimals, 0 to 100', () => {
  assert.deepEqual(tipFor(2500n, { tipPercent: 10 }), { ok: true, tip: 250n });
  assert.deepEqual(tipFor(999n, { tipPercent: 12.5 }), { ok: true, tip: 125n });
  assert.deepEqual(tipFor(999n, { tipPercent: 12.51 }), { ok: true, tip: 125n });
  assert.deepEqual(tipFor(1n, { tipPercent: 50 }), { ok: true, tip: 1n });
  assert.deepEqual(tipFor(2500n, { tipPercent: 100 }), { ok: true, tip: 2500n });
  assert.deepEqual(tipFor(2500n, {}), { ok: true, tip: 0n });
  for (const bad of [100.01, -1, 10.123, 1e-7]) assert.equal(tipFor(2500n, { tipPercent: bad }).ok, false, String(bad));
  assert.equal(tipFor(2500n, { tipPercent: 10, tipAmount: 5 }).ok, false);
});

test("Every.org amounts: dollars to exact cents; nothing, zero or exponents refused", () => {
  assert.equal(centsFromEveryOrg('25'), 2500n);
  assert.equal(centsFromEveryOrg(' 25.5 '), 2550n);
  assert.equal(centsFromEveryOrg(30.01), 3001n);
  for (const bad of ['0', '-3', '1e3', '2.345', 'abc', '']) assert.equal(centsFromEveryOrg(bad), undefined, bad);
});

test('return URLs keep their query; the donate link says ONCE or MONTHLY and dollars', () => {
  assert.equal(withDonationId('https://x.example/t?a=1#h', 'don_1'), 'https://x.example/t?a=1&partnerDonationId=don_1#h');
  const link = new URL(
    everyOrgLink({
      base: 'https://www.every.org/',
      slug: 'a b',
      amount: 1005n,
      frequency: 'once',
      donationId: 'don_1',
      partnerMetadata: {},
      webhookToken: 't',
      successUrl: null,
      donor: { email: null, firstName: null, lastName: null },
    }),
  );
  assert.equal(link.pathname, '/a%20b');
  const params = new URLSearchParams(link.hash.replace(/^#\/donate\?/, ''));
  assert.equal(params.get('amount'), '10.05');
  assert.equal(params.get('frequency'), 'ONCE');
  assert.equal(params.has('success_url'), false);
});
