import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptsGzip, notModified, type StaticAsset } from './widget.asset.js';

test('acceptsGzip reads Accept-Encoding lists, q-values and the wildcard', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip(''), false);
  assert.equal(acceptsGzip('gzip, deflate, br'), true);
  assert.equal(acceptsGzip('br;q=1.0, GZIP;q=0.5'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('gzip;q=0, *'), false, 'an explicit refusal beats the wildcard');
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('*;q=0'), false);
  assert.equal(acceptsGzip('x-gzip'), true);
});

test('notModified matches either representation, weak tags and the wildcard', () => {
  const asset = { etag: '"abc"', gzipEtag: '"abc-gz"' } as StaticAsset;
  assert.equal(notModified(undefined, asset), false);
  assert.equal(notModified('"abc"', asset), true);
  assert.equal(notModified('W/"abc-gz"', asset), true);
  assert.equal(notModified('"old", "abc"', asset), true);
  assert.equal(notModified('"old"', asset), false);
  assert.equal(notModified('*', asset), true);
});
