import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { accountDeltas, assertBalanced, UnbalancedTransactionError } from './ledger.rules.js';

test('a balanced transaction passes; unbalanced, zero or single postings do not', () => {
  assertBalanced({ id: 't', postings: [{ accountId: 'a', asset: 'SIR', amount: -10n }, { accountId: 'b', asset: 'SIR', amount: 10n }] });
  assert.throws(
    () => assertBalanced({ id: 't', postings: [{ accountId: 'a', asset: 'SIR', amount: -10n }, { accountId: 'b', asset: 'SIR', amount: 9n }] }),
    UnbalancedTransactionError,
  );
  assert.throws(() => assertBalanced({ id: 't', postings: [{ accountId: 'a', asset: 'SIR', amount: 0n }, { accountId: 'b', asset: 'SIR', amount: 0n }] }));
  assert.throws(() => assertBalanced({ id: 't', postings: [{ accountId: 'a', asset: 'SIR', amount: 5n }] }));
  // Balanced overall but not per asset.
  assert.throws(() =>
    assertBalanced({ id: 't', postings: [{ accountId: 'a', asset: 'SIR', amount: -5n }, { accountId: 'b', asset: 'USD', amount: 5n }] }),
  );
});

test('account deltas net every posting, sorted by account id', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.record({ accountId: fc.constantFrom('pool:1', 'wallet:a', 'wallet:b', 'issuance:x'), amount: fc.bigInt({ min: -1000n, max: 1000n }) }), { maxLength: 6 }), { maxLength: 10 }),
      (txs) => {
        const postings = txs.map((ps) => ({ postings: ps.filter((p) => p.amount !== 0n).map((p) => ({ ...p, asset: 'SIR' })) }));
        const deltas = accountDeltas(postings);
        const ids = deltas.map((d) => d.accountId);
        assert.deepEqual(ids, [...ids].sort());
        for (const d of deltas) {
          const all = postings.flatMap((t) => t.postings).filter((p) => p.accountId === d.accountId);
          assert.equal(d.delta, all.reduce((s, p) => s + p.amount, 0n));
          assert.equal(d.credits - d.debits, d.delta);
          assert.ok(d.credits >= 0n && d.debits >= 0n);
        }
      },
    ),
  );
});
