import assert from 'node:assert/strict';
import { test } from 'node:test';
import { directoryChanged } from './directory-changes.js';
import { SearchCache } from './search-cache.js';

function counter() {
  let calls = 0;
  return { load: (v: string) => () => Promise.resolve(`${v}#${++calls}`), calls: () => calls };
}

test('a repeat within the TTL is answered from memory; after it, loaded again', async () => {
  let now = 0;
  const cache = new SearchCache<string>(10, 1000, () => now);
  const c = counter();
  assert.equal(await cache.get('red', c.load('red')), 'red#1');
  now = 999;
  assert.equal(await cache.get('red', c.load('red')), 'red#1');
  now = 1000;
  assert.equal(await cache.get('red', c.load('red')), 'red#2');
  assert.deepEqual([cache.hits, cache.misses], [1, 2]);
});

test('concurrent identical searches share one load', async () => {
  const cache = new SearchCache<string>();
  let release!: (v: string) => void;
  let calls = 0;
  const load = () => {
    calls++;
    return new Promise<string>((r) => (release = r));
  };
  const a = cache.get('q', load);
  const b = cache.get('q', load);
  release('result');
  assert.deepEqual(await Promise.all([a, b]), ['result', 'result']);
  assert.equal(calls, 1);
});

test('the least recently used entry goes first when full', async () => {
  const cache = new SearchCache<string>(2, 60_000, () => 0);
  const c = counter();
  await cache.get('a', c.load('a'));
  await cache.get('b', c.load('b'));
  await cache.get('a', c.load('a'));
  await cache.get('c', c.load('c'));
  assert.equal(await cache.get('a', c.load('a')), 'a#1', 'a was used recently and stays');
  assert.equal(await cache.get('b', c.load('b')), 'b#4', 'b was dropped');
});

test('a change to the directory drops every entry; a failure is not remembered', async () => {
  const cache = new SearchCache<string>(10, 60_000, () => 0);
  const c = counter();
  await cache.get('a', c.load('a'));
  directoryChanged();
  assert.equal(await cache.get('a', c.load('a')), 'a#2');
  await assert.rejects(cache.get('bad', () => Promise.reject(new Error('db down'))));
  await new Promise((r) => setImmediate(r));
  assert.equal(await cache.get('bad', c.load('bad')), 'bad#3');
});

test('clear() drops every entry, and a search still running when it was called', async () => {
  const cache = new SearchCache<string>(10, 60_000, () => 0);
  const c = counter();
  await cache.get('a', c.load('a'));
  let release!: (v: string) => void;
  const running = cache.get('b', () => new Promise<string>((r) => (release = r)));
  cache.clear();
  release('stale');
  assert.equal(await running, 'stale');
  assert.equal(await cache.get('a', c.load('a')), 'a#2');
  assert.equal(await cache.get('b', c.load('b')), 'b#3');
});
