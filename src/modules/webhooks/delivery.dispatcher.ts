import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { DeliveryClient, systemResolver, type Resolver } from './delivery.http.js';
import { disableReason, isSuccess, MAX_ATTEMPTS, nextStep, type AttemptResult } from './delivery.policy.js';
import { dispatchRepo, type AttemptRecord, type ClaimedDelivery, type HealthChange } from './dispatch.repo.js';
import { signedDeliveryHeaders } from './webhooks.signing.js';
import type { WebhooksService } from './webhooks.service.js';

export interface DispatcherOptions {
  /** Deliveries claimed per query, and events fanned out per transaction. */
  batchSize: number;
  /** Deliveries this process runs at once, over all endpoints. */
  maxInFlight: number;
  /** Deliveries this process runs at once to one endpoint, so one slow receiver cannot take every slot. */
  perEndpointConcurrency: number;
  timeoutMs: number;
  /** How long a claim lasts; longer than timeoutMs, so a live dispatcher always finishes before another may take over. */
  leaseMs: number;
  /** Idle wait between looks for new work. */
  pollMs: number;
  maxResponseBytes: number;
  /** Sandbox endpoints may be http:// and private or loopback addresses. */
  allowInsecureSandbox: boolean;
  resolver: Resolver;
  random: () => number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  batchSize: 200,
  maxInFlight: 256,
  perEndpointConcurrency: 32,
  timeoutMs: 15_000,
  leaseMs: 45_000,
  pollMs: 200,
  maxResponseBytes: 64 * 1024,
  allowInsecureSandbox: false,
  resolver: systemResolver,
  random: Math.random,
};

interface Finished {
  delivery: ClaimedDelivery;
  token: string;
  result: AttemptResult;
  attemptedAt: Date;
}

export interface Dispatcher {
  stop(): Promise<void>;
}

/**
 * Fans the outbox out to endpoints and delivers. Every process may run one: fan-out is serialised
 * by an advisory lock, deliveries are claimed with SKIP LOCKED under a lease, and outcomes are
 * written in batches as attempts finish.
 */
export class WebhookDispatcher {
  readonly options: DispatcherOptions;
  private readonly client: DeliveryClient;
  private readonly busy = new Map<string, number>();
  private inFlight = 0;
  private finished: Finished[] = [];
  private flushing: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly webhooks: WebhooksService,
    private readonly clock: Clock,
    options: Partial<DispatcherOptions> = {},
    private onError: (err: unknown) => void = () => {},
  ) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
    this.client = new DeliveryClient(this.options.resolver, this.options.perEndpointConcurrency);
  }

  /** Fans out every committed event not yet fanned out. */
  async fanOutAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { events, deliveries } = await dispatchRepo.fanOut(this.db, this.clock.now(), this.options.batchSize, MAX_ATTEMPTS);
      total += deliveries;
      if (events < this.options.batchSize) return total;
    }
  }

  /**
   * One full pass, for tests and the CLI: fan out, then deliver everything due now and wait for the
   * outcomes. Returns the number of attempts made.
   */
  async runOnce(): Promise<number> {
    await this.fanOutAll();
    let attempts = 0;
    for (;;) {
      const claimed = await this.claim(this.options.batchSize);
      if (claimed.length === 0) break;
      await Promise.all(claimed.map(({ delivery, token }) => this.attempt(delivery, token)));
      await this.flush();
      attempts += claimed.length;
    }
    return attempts;
  }

  /** Delivers one claimed delivery now and records the outcome (the `test` route). */
  async deliverNow(delivery: ClaimedDelivery, token: string): Promise<AttemptResult> {
    const result = await this.attempt(delivery, token);
    await this.flush();
    return result;
  }

  /** Runs until stopped: the loop inside `serve` and `worker`. */
  start(onError?: (err: unknown) => void): Dispatcher {
    if (onError) this.onError = onError;
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        let more = false;
        try {
          const fan = await dispatchRepo.fanOut(this.db, this.clock.now(), this.options.batchSize, MAX_ATTEMPTS);
          more = fan.events === this.options.batchSize;
          const room = this.options.maxInFlight - this.inFlight;
          if (room > 0) {
            const claimed = await this.claim(Math.min(room, this.options.batchSize));
            for (const { delivery, token } of claimed) void this.attempt(delivery, token).then(() => this.scheduleFlush());
            more ||= claimed.length === Math.min(room, this.options.batchSize);
          }
        } catch (err) {
          this.onError(err);
          more = false;
        }
        if (stopping) break;
        if (!more || this.inFlight >= this.options.maxInFlight) await this.idle(this.options.pollMs);
      }
    })();
    return {
      stop: async () => {
        stopping = true;
        this.wake?.();
        await loop;
        while (this.inFlight > 0 || this.finished.length > 0 || this.flushing) {
          await this.flush().catch(this.onError);
          if (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
        }
        this.client.close();
      },
    };
  }

  close(): void {
    this.client.close();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async claim(limit: number) {
    const now = this.clock.now();
    const token = randomUUID();
    const claimed = await dispatchRepo.claim(this.db, {
      now,
      leaseUntil: new Date(now.getTime() + this.options.leaseMs),
      token,
      limit,
      perEndpoint: this.options.perEndpointConcurrency,
      busy: Object.fromEntries(this.busy),
    });
    return claimed.map((delivery) => ({ delivery, token }));
  }

  private async attempt(delivery: ClaimedDelivery, token: string): Promise<AttemptResult> {
    this.inFlight += 1;
    this.busy.set(delivery.endpoint_id, (this.busy.get(delivery.endpoint_id) ?? 0) + 1);
    const attemptedAt = this.clock.now();
    let result: AttemptResult;
    try {
      const body = `{"id":${JSON.stringify(delivery.event_id)},"type":${JSON.stringify(delivery.event_type)},"createdAt":${JSON.stringify(delivery.event_created_at.toISOString())},"data":${delivery.data_text}}`;
      const secrets = this.webhooks.signingSecrets({ ...delivery, id: delivery.endpoint_id });
      const headers = {
        ...delivery.headers,
        ...signedDeliveryHeaders(secrets, delivery.event_id, Math.floor(attemptedAt.getTime() / 1000), body),
      };
      result = await this.client.post(delivery.url, headers, body, {
        timeoutMs: this.options.timeoutMs,
        maxResponseBytes: this.options.maxResponseBytes,
        strict: delivery.environment === 'production' || !this.options.allowInsecureSandbox,
        now: () => this.clock.now(),
      });
    } catch (err) {
      // Only a bug gets here (the client turns network failures into results); record it as a failed attempt.
      this.onError(err);
      result = { statusCode: null, latencyMs: 0, error: 'Internal error while sending', retryAfterMs: null };
    }
    this.finished.push({ delivery, token, result, attemptedAt });
    this.inFlight -= 1;
    const left = (this.busy.get(delivery.endpoint_id) ?? 1) - 1;
    if (left === 0) this.busy.delete(delivery.endpoint_id);
    else this.busy.set(delivery.endpoint_id, left);
    this.wake?.();
    return result;
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flush()
      .catch(this.onError)
      .finally(() => {
        this.flushing = undefined;
        if (this.finished.length > 0) this.scheduleFlush();
      });
  }

  /** Writes finished attempts, folds them into endpoint health and disables endpoints that must stop. */
  private async flush(): Promise<void> {
    if (this.finished.length === 0) return;
    const batch = this.finished;
    this.finished = [];
    const now = this.clock.now();
    const records: AttemptRecord[] = [];
    const toDisable = new Map<string, string>();
    for (const f of batch) {
      const step = nextStep(f.result, f.delivery.attempts, f.delivery.max_attempts, f.attemptedAt, this.options.random);
      if (step.status === 'FAILED' && step.disableEndpoint) toDisable.set(f.delivery.endpoint_id, step.disableEndpoint);
      records.push({
        deliveryId: f.delivery.id,
        endpointId: f.delivery.endpoint_id,
        claimToken: f.token,
        status: step.status,
        nextAttemptAt: step.status === 'PENDING' ? step.nextAttemptAt : null,
        attemptedAt: f.attemptedAt,
        succeeded: step.status === 'SUCCEEDED',
        statusCode: f.result.statusCode,
        latencyMs: f.result.latencyMs,
        error: f.result.error,
      });
    }
    try {
      const failing = await this.db.transaction().execute(async (trx) => {
        await dispatchRepo.recordAttempts(trx, records);
        return dispatchRepo.applyHealth(trx, healthChanges(batch));
      });
      for (const e of failing) {
        const reason = disableReason(e.failing_since, now);
        if (reason && !toDisable.has(e.id)) toDisable.set(e.id, reason);
      }
    } catch (err) {
      // Not written: put them back so the next flush tries again (the leases keep others away meanwhile).
      this.finished.push(...batch);
      throw err;
    }
    for (const [endpointId, reason] of toDisable) await this.disable(endpointId, reason, now);
  }

  private async disable(endpointId: string, reason: string, now: Date) {
    await this.db.transaction().execute(async (trx) => {
      const row = await dispatchRepo.disable(trx, endpointId, reason, now);
      if (!row) return;
      await writeEvents(trx, [
        newEvent(row.partner_id, row.environment, 'webhook.disabled', { webhookId: row.id, url: row.url, reason, disabledAt: now.toISOString() }, now),
      ]);
    });
  }
}

function healthChanges(batch: Finished[]): HealthChange[] {
  const byEndpoint = new Map<string, Finished[]>();
  for (const f of batch) byEndpoint.set(f.delivery.endpoint_id, [...(byEndpoint.get(f.delivery.endpoint_id) ?? []), f]);
  return [...byEndpoint].map(([endpointId, list]) => {
    const ordered = [...list].sort((a, b) => a.attemptedAt.getTime() - b.attemptedAt.getTime());
    let lastSuccess = -1;
    ordered.forEach((f, i) => {
      if (isSuccess(f.result)) lastSuccess = i;
    });
    const trailing = ordered.slice(lastSuccess + 1);
    const failures = ordered.filter((f) => !isSuccess(f.result));
    return {
      endpointId,
      hadSuccess: lastSuccess >= 0,
      lastSuccessAt: lastSuccess >= 0 ? ordered[lastSuccess]!.attemptedAt : null,
      lastFailureAt: failures.length ? failures[failures.length - 1]!.attemptedAt : null,
      trailingFailures: trailing.length,
      firstTrailingFailureAt: trailing[0]?.attemptedAt ?? null,
    };
  });
}
