import { AppError } from '../../platform/errors.js';
import type { Clock } from '../../platform/clock.js';

const FREE_FAILURES = 5;
const MAX_DELAY_S = 15 * 60;
const MAX_TRACKED = 50_000;

/**
 * Slows repeated failed logins per e-mail (known or not, so the response never tells which) and
 * per client address: after 5 failures each further attempt must wait 2, 4, 8 … seconds (up to
 * 15 minutes) after the last failure. In memory, per process: a guesser spread over processes gets
 * a few more tries, still far too few for online guessing against argon2id.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(private readonly clock: Clock) {}

  check(email: string, ip: string) {
    const now = this.clock.now().getTime();
    for (const key of [`e:${email}`, `i:${ip}`]) {
      const f = this.failures.get(key);
      if (!f || f.count < FREE_FAILURES) continue;
      const delayS = Math.min(MAX_DELAY_S, 2 ** (f.count - FREE_FAILURES + 1));
      const waitMs = f.last + delayS * 1000 - now;
      if (waitMs > 0) {
        const retryAfter = Math.ceil(waitMs / 1000);
        throw new AppError('TOO_MANY_ATTEMPTS', `Too many failed logins; try again in ${retryAfter} s`, {
          headers: { 'Retry-After': String(retryAfter) },
        });
      }
    }
  }

  fail(email: string, ip: string) {
    const now = this.clock.now().getTime();
    if (this.failures.size > MAX_TRACKED) this.failures.clear();
    for (const key of [`e:${email}`, `i:${ip}`]) {
      const f = this.failures.get(key) ?? { count: 0, last: now };
      // The IP counter only slows wide spraying, so it tolerates many more failures.
      f.count += key.startsWith('i:') ? 0.2 : 1;
      f.last = now;
      this.failures.set(key, f);
    }
  }

  succeed(email: string) {
    this.failures.delete(`e:${email}`);
  }
}
