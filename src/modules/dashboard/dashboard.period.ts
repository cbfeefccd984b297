import { AppError } from '../../platform/errors.js';

/** The time a dashboard figure covers: [from, to), half-open like the from/to filters of the list routes. */
export interface Period {
  from: Date;
  to: Date;
}

export type Interval = 'day' | 'week' | 'month';

const DAY_MS = 86_400_000;
export const DEFAULT_PERIOD_DAYS = 30;
export const MAX_PERIOD_DAYS = 366;
// Bounds that keep every date one the database and Date.UTC read the same way: PostgreSQL has no
// year 0, and Date.UTC maps two-digit years to the 1900s.
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function invalid(field: 'from' | 'to', message: string) {
  return new AppError('VALIDATION_ERROR', message, { details: [{ path: `querystring.${field}`, message }] });
}

function parseInstant(field: 'from' | 'to', text: string): Date {
  // Over HTTP the date-time format has already refused what Date cannot read
  // (platform/http/validation.ts); the check stays for direct callers.
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw invalid(field, `${field} "${text}" is not a date-time that can be read; send e.g. 2026-03-01T00:00:00Z`);
  if (ms < EARLIEST || ms > LATEST) throw invalid(field, `${field} must lie between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z`);
  return new Date(ms);
}

/**
 * The period a query asks for. Without `to` it ends now (the caller's clock); without `from` it
 * starts 30 days before `to`. An empty period (from = to) is refused with the reversed one: the end is
 * exclusive, so it would count nothing, which is a caller's mistake rather than a question.
 */
export function resolvePeriod(q: { from?: string | undefined; to?: string | undefined }, now: Date): Period {
  const given = q.from === undefined ? undefined : parseInstant('from', q.from);
  const to = q.to === undefined ? now : parseInstant('to', q.to);
  const from = given ?? new Date(to.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
  if (from.getTime() >= to.getTime()) {
    const end = q.to === undefined ? `now (${to.toISOString()})` : to.toISOString();
    throw invalid('from', `from (${from.toISOString()}) must be earlier than to, ${end}; to is exclusive`);
  }
  if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * DAY_MS) {
    throw invalid('to', `The period from ${from.toISOString()} to ${to.toISOString()} is longer than ${MAX_PERIOD_DAYS} days; ask for it in parts`);
  }
  return { from, to };
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/** The UTC start of the calendar unit holding `at`; weeks start on Monday, as PostgreSQL's date_trunc('week'). */
function unitStart(at: Date, interval: Interval): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  if (interval === 'month') return new Date(Date.UTC(y, m, 1));
  const day = Date.UTC(y, m, at.getUTCDate());
  if (interval === 'day') return new Date(day);
  return new Date(day - ((at.getUTCDay() + 6) % 7) * DAY_MS);
}

function nextUnit(start: Date, interval: Interval): Date {
  if (interval === 'month') return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  return new Date(start.getTime() + (interval === 'week' ? 7 : 1) * DAY_MS);
}

/**
 * Every bucket the period touches, named by its first day (YYYY-MM-DD, UTC), oldest first. The first
 * one may start before `from`: a bucket is a calendar unit, and it counts only what lies in the period.
 */
export function bucketDays(period: Period, interval: Interval): string[] {
  const out: string[] = [];
  for (let d = unitStart(period.from, interval); d.getTime() < period.to.getTime(); d = nextUnit(d, interval)) out.push(dayOf(d));
  return out;
}

/**
 * API usage is counted per UTC day, so a period reads every day it touches, whole: the day of `from`
 * through the day of the last millisecond before `to`.
 */
export function usageDays(period: Period): { firstDay: string; lastDay: string } {
  return { firstDay: dayOf(period.from), lastDay: dayOf(new Date(period.to.getTime() - 1)) };
}
