import type { Interval } from '../../platform/db/schema.payments.js';

/**
 * One interval after `from`, in UTC. A month or year keeps the day of the month when it can and
 * otherwise takes the month's last day (Jan 31 -> Feb 28), as card subscriptions usually do.
 */
export function addInterval(from: Date, interval: Interval): Date {
  const d = new Date(from.getTime());
  switch (interval) {
    case 'day':
      return new Date(d.getTime() + 86_400_000);
    case 'week':
      return new Date(d.getTime() + 7 * 86_400_000);
    case 'month':
    case 'year': {
      const months = interval === 'month' ? 1 : 12;
      const day = d.getUTCDate();
      d.setUTCDate(1);
      d.setUTCMonth(d.getUTCMonth() + months);
      const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
      d.setUTCDate(Math.min(day, last));
      return d;
    }
  }
}

/**
 * The prorated difference for the rest of a period when the per-period amount changes at `now`:
 * (new - old) × remaining / period, rounded half away from zero to a whole minor unit.
 */
export function prorate(oldAmount: bigint, newAmount: bigint, periodStart: Date, periodEnd: Date, now: Date): bigint {
  const total = BigInt(periodEnd.getTime() - periodStart.getTime());
  const left = BigInt(Math.max(0, Math.min(periodEnd.getTime() - now.getTime(), Number(total))));
  if (total === 0n) return 0n;
  const diff = (newAmount - oldAmount) * left;
  const q = diff / total;
  const r = diff % total;
  return 2n * (r < 0n ? -r : r) >= total ? q + (diff < 0n ? -1n : 1n) : q;
}

/** cancelAt and resumesAt are milliseconds (contract B9 #5); a value under 10^11 can only be seconds. */
export function millisOrSeconds(value: number): Date {
  return new Date(value < 1e11 ? value * 1000 : value);
}
