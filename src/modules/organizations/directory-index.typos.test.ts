import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deletionCount, deletionHashes, editAllowance, editDistance, hash32 } from './directory-index.typos.js';

/** Every string made from `word` by deleting up to `depth` letters, the word itself included. */
function deletionStrings(word: string, depth: number): Set<string> {
  const out = new Set([word]);
  if (depth > 0 && word.length > 1) {
    for (let i = 0; i < word.length; i++) for (const d of deletionStrings(word.slice(0, i) + word.slice(i + 1), depth - 1)) out.add(d);
  }
  return out;
}

/** Optimal string alignment distance, the textbook full table. */
function osa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const word = fc.stringMatching(/^[a-e]{0,12}$/);

test('edit allowance: none under 4 letters, 1 up to 7, 2 from 8', () => {
  assert.deepEqual([1, 3, 4, 7, 8, 20].map(editAllowance), [0, 0, 1, 1, 2, 2]);
});

test('editDistance is the optimal string alignment distance, capped at max + 1', () => {
  assert.equal(editDistance('salvaton', 'salvation', 2), 1);
  assert.equal(editDistance('feding', 'feeding', 1), 1);
  assert.equal(editDistance('rcoky', 'rocky', 1), 1, 'a transposition is one edit');
  assert.equal(editDistance('amerca', 'americans', 1), 2);
  fc.assert(
    fc.property(word, word, fc.integer({ min: 0, max: 3 }), (a, b, max) => {
      assert.equal(editDistance(a, b, max), Math.min(osa(a, b), max + 1));
    }),
    { numRuns: 2000 },
  );
});

test('deletionHashes hashes the word and each of its deletions, one per way of deleting', () => {
  fc.assert(
    fc.property(word, fc.integer({ min: 0, max: 2 }), (w, depth) => {
      const out = new Uint32Array(deletionCount(w.length, depth));
      assert.equal(deletionHashes(w, depth, out, 0), out.length);
      assert.deepEqual(new Set(out), new Set([...deletionStrings(w, depth)].map(hash32)));
    }),
    { numRuns: 1000 },
  );
});

test('two words within k edits share a deletion of at most k letters each', () => {
  fc.assert(
    fc.property(word, word, (a, b) => {
      const k = osa(a, b);
      fc.pre(k <= 2 && a.length > 2 && b.length > 2);
      const fromA = deletionStrings(a, k);
      assert.ok([...deletionStrings(b, k)].some((d) => fromA.has(d)), `${a} ${b}`);
    }),
    { numRuns: 2000 },
  );
});
