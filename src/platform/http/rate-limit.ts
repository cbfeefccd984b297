import type { Redis } from 'ioredis';

export interface RateLimitResult {
  limit: number;
  remaining: number;
  /** Unix seconds when the current window ends. */
  resetAt: number;
  allowed: boolean;
}

/** Fixed windows aligned to the epoch, so every process computes the same window for a given second. */
export interface RateLimiter {
  hit(bucket: string, limit: number, nowMs: number): Promise<RateLimitResult>;
  close(): Promise<void>;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { windowStart: number; count: number }>();
  private lastSweep = 0;

  constructor(private readonly windowSeconds: number) {}

  async hit(bucket: string, limit: number, nowMs: number): Promise<RateLimitResult> {
    const windowMs = this.windowSeconds * 1000;
    const windowStart = Math.floor(nowMs / windowMs) * windowMs;
    if (windowStart !== this.lastSweep) {
      // Drop buckets of finished windows once per window so idle partners do not accumulate.
      for (const [k, v] of this.windows) if (v.windowStart < windowStart) this.windows.delete(k);
      this.lastSweep = windowStart;
    }
    let entry = this.windows.get(bucket);
    if (!entry || entry.windowStart !== windowStart) {
      entry = { windowStart, count: 0 };
      this.windows.set(bucket, entry);
    }
    entry.count += 1;
    return {
      limit,
      remaining: Math.max(0, limit - entry.count),
      resetAt: (windowStart + windowMs) / 1000,
      allowed: entry.count <= limit,
    };
  }

  async close(): Promise<void> {}
}

// INCR and set the expiry in one round trip; the key names the window, so clocks only need to
// agree to within a window.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * Counters shared by every API process through Redis. If Redis cannot be reached the request is
 * let through on this process's own counter instead: an outage of the limiter's store must not
 * become an outage of the API.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback: MemoryRateLimiter;

  constructor(
    private readonly redis: Redis,
    private readonly windowSeconds: number,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly prefix = 'almoner:rl:',
  ) {
    this.fallback = new MemoryRateLimiter(windowSeconds);
  }

  async hit(bucket: string, limit: number, nowMs: number): Promise<RateLimitResult> {
    const windowMs = this.windowSeconds * 1000;
    const windowStart = Math.floor(nowMs / windowMs) * windowMs;
    const key = `${this.prefix}${bucket}:${windowStart}`;
    let count: number;
    try {
      count = Number(await this.redis.eval(HIT_SCRIPT, 1, key, String(windowMs + 1000)));
    } catch (err) {
      this.onError(err);
      return this.fallback.hit(bucket, limit, nowMs);
    }
    return {
      limit,
      remaining: Math.max(0, limit - count),
      resetAt: (windowStart + windowMs) / 1000,
      allowed: count <= limit,
    };
  }

  async close(): Promise<void> {
    // quit() needs a live connection; after an outage only disconnect() can end the client.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
