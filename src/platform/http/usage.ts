import type { FastifyInstance } from 'fastify';
import type { Environment } from '../db/schema.js';

export interface UsageRow {
  partnerId: string;
  environment: Environment;
  day: string;
  method: string;
  route: string;
  statusCode: number;
  count: number;
  durationMs: number;
}

/**
 * Counts partner API calls per partner, environment, day, route and status in memory and hands
 * them to `flush` every few seconds, so recording usage costs a Map update on the request path.
 * A crash loses at most one interval of counts, which is acceptable for analytics.
 */
export class UsageRecorder {
  private pending = new Map<string, UsageRow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly flushRows: (rows: UsageRow[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = 5000,
  ) {}

  record(row: Omit<UsageRow, 'count' | 'durationMs'>, durationMs: number) {
    const k = `${row.partnerId}|${row.environment}|${row.day}|${row.method}|${row.route}|${row.statusCode}`;
    const existing = this.pending.get(k);
    if (existing) {
      existing.count += 1;
      existing.durationMs += durationMs;
    } else {
      this.pending.set(k, { ...row, count: 1, durationMs });
    }
  }

  start() {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const rows = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.flushRows(rows);
      } catch (err) {
        this.onError(err);
      }
    });
    return this.flushing;
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

export function installUsageRecording(app: FastifyInstance, recorder: UsageRecorder) {
  app.addHook('onResponse', async (request, reply) => {
    const auth = request.partnerAuth;
    if (!auth) return;
    recorder.record(
      {
        partnerId: auth.partnerId,
        environment: auth.environment,
        day: new Date().toISOString().slice(0, 10),
        method: request.method,
        route: request.routeOptions.url ?? 'unknown',
        statusCode: reply.statusCode,
      },
      Math.round(reply.elapsedTime),
    );
  });
}
