import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from './group-commit.js';

const tick = () => new Promise((r) => setImmediate(r));

test('requests arriving during a batch are run together in the next one, each with its own result', async () => {
  const batches: number[][] = [];
  const gc = new GroupCommit<number, number>(
    async (_key, items) => {
      batches.push(items);
      await tick();
      return items.map((i) => i * 10);
    },
    { maxBatch: 100, retryable: () => false, maxAttempts: 1 },
  );
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => gc.submit('k', i)));
  assert.deepEqual(results, [10, 20, 30, 40, 50]);
  assert.deepEqual(batches, [[1], [2, 3, 4, 5]]);
});

test('keys are independent, batches respect maxBatch', async () => {
  const seen: string[] = [];
  const gc = new GroupCommit<number, number>(
    async (key, items) => {
      seen.push(`${key}:${items.length}`);
      await tick();
      return items;
    },
    { maxBatch: 2, retryable: () => false, maxAttempts: 1 },
  );
  await Promise.all([gc.submit('a', 1), gc.submit('a', 2), gc.submit('a', 3), gc.submit('a', 4), gc.submit('b', 5)]);
  assert.deepEqual(seen.sort(), ['a:1', 'a:1', 'a:2', 'b:1'].sort());
});

test('a retryable failure reruns the batch; a failing item is isolated from its neighbours', async () => {
  let attempts = 0;
  const gc = new GroupCommit<number, number>(
    async (_key, items) => {
      attempts++;
      if (attempts === 1) throw new Error('race');
      if (items.includes(13)) throw new Error('bad item');
      await tick();
      return items;
    },
    { maxBatch: 100, retryable: (e) => (e as Error).message === 'race', maxAttempts: 3 },
  );
  const first = gc.submit('k', 1);
  const rest = [2, 13, 4].map((i) => gc.submit('k', i).then((v) => ({ v }), (e: Error) => ({ e: e.message })));
  assert.equal(await first, 1);
  assert.deepEqual(await Promise.all(rest), [{ v: 2 }, { e: 'bad item' }, { v: 4 }]);
});

test('a second batch of a key starts beside the running one only once overlapAt requests wait', async () => {
  let running = 0;
  let most = 0;
  const batches: number[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gc = new GroupCommit<number, number>(
    async (_key, items) => {
      batches.push(items);
      running++;
      most = Math.max(most, running);
      if (items[0] === 1) await gate;
      await tick();
      running--;
      return items;
    },
    { maxBatch: 100, maxInFlight: 2, overlapAt: 3, retryable: () => false, maxAttempts: 1 },
  );
  const first = gc.submit('k', 1);
  // Two waiting: below overlapAt, they wait for the first batch.
  const waiting = [gc.submit('k', 2), gc.submit('k', 3)];
  await tick();
  assert.deepEqual(batches, [[1]]);
  // A third makes three waiting: a second batch starts while the first is still held.
  waiting.push(gc.submit('k', 4));
  await tick();
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  release();
  assert.deepEqual(await Promise.all([first, ...waiting]), [1, 2, 3, 4]);
  assert.equal(most, 2);
  assert.equal(gc.peakInFlight, 2);
});
