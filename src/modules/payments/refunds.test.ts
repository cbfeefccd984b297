import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { refundParts } from './refunds.js';

test('refund parts add up to the refund and never exceed a part', () => {
  assert.deepEqual(refundParts([3825n, 175n, 1000n, 0n], 5000n), [3825n, 175n, 1000n, 0n]);
  assert.deepEqual(refundParts([1n, 1n, 1n], 1n), [1n, 0n, 0n]);
  fc.assert(
    fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 5 }), fc.double({ min: 0, max: 1, noNaN: true }), (parts, f) => {
      const total = parts.reduce((a, b) => a + b, 0n);
      const amount = BigInt(Math.floor(Number(total) * f));
      const out = refundParts(parts, amount);
      assert.equal(out.reduce((a, b) => a + b, 0n), total === 0n ? 0n : amount);
      out.forEach((o, i) => assert.ok(o >= 0n && o <= parts[i]!, `${o} of ${parts[i]}`));
    }),
  );
});
