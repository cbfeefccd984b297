import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../../platform/errors.js';
import { bucketDays, resolvePeriod, usageDays, type Interval } from './dashboard.period.js';

const NOW = new Date('2026-03-10T12:34:56.789Z');
const at = (s: string) => new Date(s);

function refused(q: { from?: string; to?: string }, path: string, message: RegExp) {
  assert.throws(
    () => resolvePeriod(q, NOW),
    (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'VALIDATION_ERROR');
      assert.match(err.message, message);
      assert.deepEqual((err.details as { path: string }[]).map((d) => d.path), [path]);
      return true;
    },
  );
}

test('without from and to the period is the 30 days up to now', () => {
  assert.deepEqual(resolvePeriod({}, NOW), { from: at('2026-02-08T12:34:56.789Z'), to: NOW });
});

test('from alone ends now; to alone starts 30 days before it', () => {
  assert.deepEqual(resolvePeriod({ from: '2026-03-01T00:00:00Z' }, NOW), { from: at('2026-03-01T00:00:00Z'), to: NOW });
  assert.deepEqual(resolvePeriod({ to: '2026-02-01T00:00:00Z' }, NOW), { from: at('2026-01-02T00:00:00Z'), to: at('2026-02-01T00:00:00Z') });
});

test('offsets are read as the instants they name', () => {
  assert.deepEqual(resolvePeriod({ from: '2026-03-01T05:30:00+05:30', to: '2026-03-02T00:00:00-01:00' }, NOW), {
    from: at('2026-03-01T00:00:00Z'),
    to: at('2026-03-02T01:00:00Z'),
  });
});

test('a reversed or empty period is refused on from; one over 366 days on to', () => {
  refused({ from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'querystring.from', /must be earlier than to/);
  refused({ from: '2026-03-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'querystring.from', /exclusive/);
  refused({ from: '2026-03-11T00:00:00Z' }, 'querystring.from', /now \(2026-03-10T12:34:56.789Z\)/);
  assert.ok(resolvePeriod({ from: '2025-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }, NOW)); // 366 days
  refused({ from: '2025-03-01T00:00:00Z', to: '2026-03-02T00:00:00.001Z' }, 'querystring.to', /longer than 366 days/);
});

test('what the date-time format lets through but no date can be made of is a 400, not a 500', () => {
  refused({ from: '2026-12-31T23:59:60Z' }, 'querystring.from', /can be read/);
  refused({ to: '0000-01-01T00:00:00Z' }, 'querystring.to', /between 1970/);
  refused({ from: '1969-12-31T23:59:59Z' }, 'querystring.from', /between 1970/);
});

test('buckets are the calendar units the period touches, named by their first UTC day', () => {
  const period = { from: at('2026-02-01T10:00:00Z'), to: at('2026-03-01T00:00:00Z') };
  assert.deepEqual(bucketDays(period, 'week'), ['2026-01-26', '2026-02-02', '2026-02-09', '2026-02-16', '2026-02-23']);
  assert.deepEqual(bucketDays(period, 'month'), ['2026-02-01']);
  assert.equal(bucketDays(period, 'day').length, 28);
  assert.deepEqual(bucketDays({ from: at('2024-01-31T23:00:00Z'), to: at('2024-03-01T00:00:01Z') }, 'month'), ['2024-01-01', '2024-02-01', '2024-03-01']);
  assert.deepEqual(bucketDays({ from: at('2026-03-10T12:00:00Z'), to: at('2026-03-10T12:00:00.001Z') }, 'day'), ['2026-03-10']);
});

test('usage days are every UTC day the period touches; to is exclusive', () => {
  assert.deepEqual(usageDays({ from: at('2026-02-10T12:00:00Z'), to: at('2026-02-11T12:00:00Z') }), { firstDay: '2026-02-10', lastDay: '2026-02-11' });
  assert.deepEqual(usageDays({ from: at('2026-02-10T12:00:00Z'), to: at('2026-02-11T00:00:00Z') }), { firstDay: '2026-02-10', lastDay: '2026-02-10' });
});

test('property: every instant of a period falls in exactly one of its buckets, and buckets run in order', () => {
  const ms = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9998, 0, 1) });
  const interval = fc.constantFrom<Interval>('day', 'week', 'month');
  fc.assert(
    fc.property(ms, fc.integer({ min: 1, max: 366 * 86_400_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), interval, (start, length, where, unit) => {
      const period = { from: new Date(start), to: new Date(start + length) };
      const days = bucketDays(period, unit);
      const starts = days.map((d) => Date.parse(`${d}T00:00:00Z`));
      assert.ok(starts.every((s, i) => i === 0 || s > starts[i - 1]!));
      assert.ok(starts[0]! <= start && starts.at(-1)! < start + length);
      const instant = start + Math.floor(where * length);
      const holding = starts.filter((s) => s <= instant).length - 1;
      assert.ok(holding >= 0);
      const d = new Date(instant);
      const expected =
        unit === 'month'
          ? `${d.toISOString().slice(0, 7)}-01`
          : unit === 'day'
            ? d.toISOString().slice(0, 10)
            : new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7))).toISOString().slice(0, 10);
      assert.equal(days[holding], expected);
    }),
  );
});
