/**
 * What happens after an attempt: the retry schedule, Retry-After, and when a delivery or an endpoint
 * gives up. Pure, so every rule is unit-tested without a network.
 */

/** Delay before each attempt: the first is immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const RETRY_SCHEDULE_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length;

/** Spreads retries of many deliveries that failed together (a receiver outage) so they do not return as a thundering herd. */
export const JITTER_FRACTION = 0.1;

/** An endpoint that has failed without a single success for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 60 * 60 * 1000;

/** A Retry-After longer than this is treated as this: a receiver cannot park a delivery for days. */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 60 * 1000;

export interface AttemptResult {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  retryAfterMs: number | null;
}

export type NextStep =
  | { status: 'SUCCEEDED' }
  | { status: 'PENDING'; nextAttemptAt: Date }
  | { status: 'FAILED'; disableEndpoint: string | null };

export const isSuccess = (r: AttemptResult) => r.error === null && r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

/**
 * `attemptsBefore` counts attempts made before this one; `maxAttempts` is the delivery's own limit
 * (a manual retry allows exactly one more).
 */
export function nextStep(result: AttemptResult, attemptsBefore: number, maxAttempts: number, now: Date, random: () => number = Math.random): NextStep {
  if (isSuccess(result)) return { status: 'SUCCEEDED' };
  if (result.statusCode === 410) return { status: 'FAILED', disableEndpoint: 'The receiver answered 410 Gone' };
  const attempts = attemptsBefore + 1;
  if (attempts >= maxAttempts) return { status: 'FAILED', disableEndpoint: null };
  const scheduled = RETRY_SCHEDULE_MS[Math.min(attempts, MAX_ATTEMPTS - 1)]!;
  const jittered = Math.round(scheduled * (1 + JITTER_FRACTION * (2 * random() - 1)));
  const honoured =
    result.retryAfterMs !== null && (result.statusCode === 429 || result.statusCode === 503)
      ? // At least the first retry step: "Retry-After: 0" would otherwise spend every attempt in one burst.
        Math.max(RETRY_SCHEDULE_MS[1], Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS))
      : null;
  return { status: 'PENDING', nextAttemptAt: new Date(now.getTime() + (honoured ?? jittered)) };
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: Date): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date form starts with a day name; without this, Date.parse reads "1.5" or "-1" as dates in 2001.
  if (!/^[a-z]{3,9},? /i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/** Why an endpoint should be disabled after this failure, or null. */
export function disableReason(failingSince: Date | null, now: Date): string | null {
  if (failingSince && now.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
    return `Every delivery failed for 5 days (since ${failingSince.toISOString()})`;
  }
  return null;
}
