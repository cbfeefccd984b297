import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DISABLE_AFTER_FAILING_MS,
  disableReason,
  isSuccess,
  JITTER_FRACTION,
  MAX_ATTEMPTS,
  MAX_RETRY_AFTER_MS,
  nextStep,
  parseRetryAfter,
  RETRY_SCHEDULE_MS,
  type AttemptResult,
} from './delivery.policy.js';

const NOW = new Date('2026-05-10T09:12:00.000Z');
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** random() = 0.5 puts the jitter at exactly zero. */
const noJitter = () => 0.5;

const failed = (statusCode: number | null, retryAfterMs: number | null = null): AttemptResult => ({
  statusCode,
  latencyMs: 12,
  error: statusCode === null ? 'Connection refused' : `The receiver answered ${statusCode}`,
  retryAfterMs,
});
const ok: AttemptResult = { statusCode: 200, latencyMs: 12, error: null, retryAfterMs: null };

function delayAfter(result: AttemptResult, attemptsBefore: number, random: () => number = noJitter): number {
  const step = nextStep(result, attemptsBefore, MAX_ATTEMPTS, NOW, random);
  assert.equal(step.status, 'PENDING', JSON.stringify(step));
  return (step as { nextAttemptAt: Date }).nextAttemptAt.getTime() - NOW.getTime();
}

describe('isSuccess', () => {
  test('any 2xx without an error, nothing else', () => {
    for (const code of [200, 201, 202, 204, 299]) assert.equal(isSuccess({ ...ok, statusCode: code }), true, String(code));
    for (const code of [100, 199, 300, 301, 304, 400, 410, 429, 500, 503]) assert.equal(isSuccess({ ...ok, statusCode: code }), false, String(code));
    assert.equal(isSuccess({ ...ok, statusCode: null }), false);
    // A 200 whose body broke off after the status line is still the receiver saying yes; an error recorded with it is not.
    assert.equal(isSuccess({ ...ok, error: 'Timed out after 15000 ms' }), false);
  });
});

describe('retry schedule', () => {
  test('immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts', () => {
    assert.deepEqual(RETRY_SCHEDULE_MS, [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
    assert.equal(MAX_ATTEMPTS, 8);
    const delays = [0, 1, 2, 3, 4, 5, 6].map((before) => delayAfter(failed(500), before));
    assert.deepEqual(delays, [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
  });

  test('the eighth failure gives up without disabling the endpoint', () => {
    assert.deepEqual(nextStep(failed(500), 7, MAX_ATTEMPTS, NOW, noJitter), { status: 'FAILED', disableEndpoint: null });
    assert.deepEqual(nextStep(failed(null), 7, MAX_ATTEMPTS, NOW, noJitter), { status: 'FAILED', disableEndpoint: null });
  });

  test("a delivery's own limit counts: a manual retry of a used-up delivery gets exactly one more attempt", () => {
    assert.deepEqual(nextStep(failed(500), 8, 9, NOW, noJitter), { status: 'FAILED', disableEndpoint: null });
    // One below its limit it is retried, with the last step of the schedule.
    assert.equal(delayAfter(failed(500), 6), 10 * HOUR);
    const step = nextStep(failed(500), 8, 10, NOW, noJitter);
    assert.equal(step.status, 'PENDING');
    assert.equal((step as { nextAttemptAt: Date }).nextAttemptAt.getTime() - NOW.getTime(), 10 * HOUR);
  });

  test('a success ends the delivery whatever came before', () => {
    for (const before of [0, 3, 7, 20]) assert.deepEqual(nextStep(ok, before, MAX_ATTEMPTS, NOW, noJitter), { status: 'SUCCEEDED' });
  });

  test('network errors, timeouts, redirects and 4xx are all retried on the schedule', () => {
    for (const code of [null, 301, 302, 400, 401, 404, 408, 500, 502]) assert.equal(delayAfter(failed(code), 0), 5 * SECOND, String(code));
  });
});

describe('jitter', () => {
  test('the extremes of random() give exactly -10 % and (almost) +10 %', () => {
    assert.equal(JITTER_FRACTION, 0.1);
    assert.equal(delayAfter(failed(500), 2, () => 0), 27 * MINUTE);
    assert.equal(delayAfter(failed(500), 2, () => 0.999_999_999), 33 * MINUTE);
  });

  test('every delay stays within ±10 % of its step (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_ATTEMPTS - 2 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (before, r) => {
        const scheduled = RETRY_SCHEDULE_MS[before + 1]!;
        const delay = delayAfter(failed(503), before, () => r);
        return delay >= Math.floor(scheduled * 0.9) && delay <= Math.ceil(scheduled * 1.1);
      }),
    );
  });

  test('deliveries that failed together come back spread out, not as one herd', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const delays = new Set(Array.from({ length: 100 }, () => delayAfter(failed(500), 3, random)));
    assert.ok(delays.size > 90, `only ${delays.size} distinct retry times for 100 deliveries`);
  });
});

describe('Retry-After', () => {
  test('on 429 and 503 the delay the receiver asked for replaces the schedule, without jitter', () => {
    assert.equal(delayAfter(failed(429, 120 * SECOND), 0, () => 0), 120 * SECOND);
    assert.equal(delayAfter(failed(503, 45 * MINUTE), 5, () => 0.99), 45 * MINUTE);
    // Shorter than the schedule is honoured too: the receiver knows when it is back.
    assert.equal(delayAfter(failed(503, 30 * SECOND), 4), 30 * SECOND);
  });

  test('ignored on other statuses', () => {
    for (const code of [500, 502, 504, 400, 301]) assert.equal(delayAfter(failed(code, 3 * HOUR), 0), 5 * SECOND, String(code));
  });

  test('capped at 10 hours: a receiver cannot park a delivery for days', () => {
    assert.equal(MAX_RETRY_AFTER_MS, 10 * HOUR);
    assert.equal(delayAfter(failed(429, 7 * 24 * HOUR), 0), 10 * HOUR);
  });

  test('never sooner than the first retry step, so "Retry-After: 0" cannot spend every attempt at once', () => {
    assert.equal(delayAfter(failed(429, 0), 0), RETRY_SCHEDULE_MS[1]);
    assert.equal(delayAfter(failed(503, 1 * SECOND), 6), RETRY_SCHEDULE_MS[1]);
  });

  test('does not extend a delivery past its last attempt', () => {
    assert.deepEqual(nextStep(failed(429, 60 * SECOND), 7, MAX_ATTEMPTS, NOW, noJitter), { status: 'FAILED', disableEndpoint: null });
  });

  test('parsed as delay-seconds', () => {
    assert.equal(parseRetryAfter('120', NOW), 120 * SECOND);
    assert.equal(parseRetryAfter(' 7 ', NOW), 7 * SECOND);
    assert.equal(parseRetryAfter('0', NOW), 0);
  });

  test('parsed as an HTTP-date, relative to the clock passed in', () => {
    assert.equal(parseRetryAfter('Sun, 10 May 2026 09:42:00 GMT', NOW), 30 * MINUTE);
    assert.equal(parseRetryAfter(new Date(NOW.getTime() + 2 * HOUR).toUTCString(), NOW), 2 * HOUR);
    // The two obsolete forms RFC 9110 still asks recipients to accept.
    assert.equal(parseRetryAfter('Sunday, 10-May-26 09:13:00 GMT', NOW), MINUTE);
    assert.equal(parseRetryAfter('Sun May 10 09:14:00 2026', NOW) !== null, true);
    // A date already past means "now".
    assert.equal(parseRetryAfter('Sat, 09 May 2026 09:12:00 GMT', NOW), 0);
  });

  test('absent or unreadable -> null (the schedule applies)', () => {
    for (const v of [undefined, '', '   ', 'soon', '5 minutes', '1e3', '0x10', '12abc', 'Infinity']) {
      assert.equal(parseRetryAfter(v, NOW), null, JSON.stringify(v));
    }
  });

  test('numbers that are not delay-seconds are not read as dates either', () => {
    // Date.parse("1.5") and Date.parse("-1") are dates in 2001 to V8: taken as dates they would mean "retry now".
    for (const v of ['1.5', '-1', '-120', '+30', '2.0']) assert.equal(parseRetryAfter(v, NOW), null, v);
  });
});

describe('410 Gone', () => {
  test('fails the delivery and disables the endpoint, on any attempt, whatever Retry-After says', () => {
    for (const before of [0, 3, 7]) {
      const step = nextStep(failed(410, 60 * SECOND), before, MAX_ATTEMPTS, NOW, noJitter);
      assert.equal(step.status, 'FAILED');
      assert.match((step as { disableEndpoint: string }).disableEndpoint, /410/);
    }
  });

  test('other 4xx do not disable', () => {
    for (const code of [400, 401, 403, 404, 422]) {
      const step = nextStep(failed(code), 7, MAX_ATTEMPTS, NOW, noJitter);
      assert.deepEqual(step, { status: 'FAILED', disableEndpoint: null }, String(code));
    }
  });
});

describe('disableReason', () => {
  test('an endpoint is disabled after 5 days of failures without a success, not a millisecond sooner', () => {
    assert.equal(DISABLE_AFTER_FAILING_MS, 5 * 24 * HOUR);
    const since = new Date(NOW.getTime() - DISABLE_AFTER_FAILING_MS);
    assert.equal(disableReason(null, NOW), null);
    assert.equal(disableReason(new Date(since.getTime() + 1), NOW), null);
    assert.equal(disableReason(new Date(NOW.getTime() - 24 * HOUR), NOW), null);
    const reason = disableReason(since, NOW);
    assert.ok(reason);
    assert.match(reason, /5 days/);
    assert.ok(reason.includes(since.toISOString()), reason);
    assert.ok(disableReason(new Date(since.getTime() - 24 * HOUR), NOW));
  });
});
