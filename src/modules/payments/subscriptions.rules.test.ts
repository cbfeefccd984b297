import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addInterval, millisOrSeconds, prorate } from './subscriptions.rules.js';

const d = (s: string) => new Date(s);

test('intervals keep the day of the month, or take the last day', () => {
  assert.equal(addInterval(d('2026-01-15T10:00:00Z'), 'month').toISOString(), '2026-02-15T10:00:00.000Z');
  assert.equal(addInterval(d('2026-01-31T00:00:00Z'), 'month').toISOString(), '2026-02-28T00:00:00.000Z');
  assert.equal(addInterval(d('2028-02-29T00:00:00Z'), 'year').toISOString(), '2029-02-28T00:00:00.000Z');
  assert.equal(addInterval(d('2026-12-31T00:00:00Z'), 'month').toISOString(), '2027-01-31T00:00:00.000Z');
  assert.equal(addInterval(d('2026-03-01T00:00:00Z'), 'week').toISOString(), '2026-03-08T00:00:00.000Z');
  assert.equal(addInterval(d('2026-03-01T00:00:00Z'), 'day').toISOString(), '2026-03-02T00:00:00.000Z');
});

test('proration: the difference for what is left of the period, rounded to a whole unit', () => {
  const start = d('2026-04-01T00:00:00Z');
  const end = d('2026-05-01T00:00:00Z'); // 30 days
  assert.equal(prorate(500n, 1100n, start, end, d('2026-04-16T00:00:00Z')), 300n); // half of 600
  assert.equal(prorate(1100n, 500n, start, end, d('2026-04-16T00:00:00Z')), -300n);
  assert.equal(prorate(500n, 1000n, start, end, d('2026-04-21T00:00:00Z')), 167n); // 500 × 10/30 = 166.67
  assert.equal(prorate(1000n, 500n, start, end, d('2026-04-21T00:00:00Z')), -167n);
  assert.equal(prorate(500n, 1000n, start, end, end), 0n);
  assert.equal(prorate(500n, 1000n, start, end, start), 500n);
});

test('cancelAt/resumesAt: milliseconds, and seconds as a safety net', () => {
  assert.equal(millisOrSeconds(1_800_000_000_000).toISOString(), '2027-01-15T08:00:00.000Z');
  assert.equal(millisOrSeconds(1_800_000_000).toISOString(), '2027-01-15T08:00:00.000Z');
});
