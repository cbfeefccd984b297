import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { DeliveryClient, systemResolver, type Resolver } from './delivery.http.js';
import { disableReason, isSuccess, MAX_ATTEMPTS, nextStep, type AttemptResult } from './delivery.policy.js';
import { dispatchRepo, keyedPlans, type AttemptRecord, type ClaimedDelivery, type HealthChange } from './dispatch.repo.js';
import { signedDeliveryHeaders } from './webhooks.signing.js';
import type { WebhooksService } from './webhooks.service.js';

export interface DispatcherOptions {
  /**
   * Events fanned out per transaction, and deliveries a running dispatcher keeps claimed ahead of
   * sending, so a slot that frees up is refilled at once instead of after a claim's round trip.
   */
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

const FLUSH_GATHER_MS = 5;

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

interface Queued {
  delivery: ClaimedDelivery;
  token: string;
  leaseUntil: number;
}

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
  /** Deliveries being sent, per endpoint. */
  private readonly busy = new Map<string, number>();
  /** Claimed by start()'s claim loop and not yet sent, per endpoint, oldest first. */
  private readonly queued = new Map<string, Queued[]>();
  private queuedCount = 0;
  private inFlight = 0;
  private finished: Finished[] = [];
  private readonly secrets = new Map<string, string[]>();
  private flushing: Promise<void> | undefined;
  private wakeFanOut: (() => void) | undefined;
  private wakeClaim: (() => void) | undefined;

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
      const claimed = await this.claim(this.options.batchSize, this.options.perEndpointConcurrency, this.busy);
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

  /**
   * Runs until stopped: the loops inside `serve` and `worker`. Fan-out and claims run as two loops so
   * neither waits for the other. Claims keep deliveries queued ahead of the sends (at most two
   * batches in all, and per endpoint one batch beyond its `perEndpointConcurrency` sends, so a busy
   * endpoint's backlog is shared by every process that delivers and its rows never stand in the way
   * of other endpoints'), and a finished send starts the next queued one of its endpoint at once.
   */
  start(onError?: (err: unknown) => void): Dispatcher {
    if (onError) this.onError = onError;
    let stopping = false;
    const fanOut = this.loop(
      () => stopping,
      (wake) => (this.wakeFanOut = wake),
      async () => {
        const fan = await dispatchRepo.fanOut(this.db, this.clock.now(), this.options.batchSize, MAX_ATTEMPTS);
        if (fan.deliveries > 0) this.wakeClaim?.();
        return fan.events === this.options.batchSize;
      },
    );
    const claims = this.loop(
      () => stopping,
      (wake) => (this.wakeClaim = wake),
      async () => {
        const limit = Math.min(this.options.batchSize, 2 * this.options.batchSize - this.queuedCount);
        if (limit <= 0) return false;
        const held = new Map(this.busy);
        for (const [endpointId, list] of this.queued) held.set(endpointId, (held.get(endpointId) ?? 0) + list.length);
        const leaseUntil = this.clock.now().getTime() + this.options.leaseMs;
        const claimed = await this.claim(limit, this.options.perEndpointConcurrency + this.options.batchSize, held);
        for (const c of claimed) {
          const list = this.queued.get(c.delivery.endpoint_id);
          const item = { ...c, leaseUntil };
          if (list) list.push(item);
          else this.queued.set(c.delivery.endpoint_id, [item]);
        }
        this.queuedCount += claimed.length;
        this.pumpAll();
        return claimed.length === limit;
      },
    );
    return {
      stop: async () => {
        stopping = true;
        this.wakeFanOut?.();
        this.wakeClaim?.();
        await Promise.all([fanOut, claims]);
        await this.releaseQueued().catch(this.onError);
        while (this.inFlight > 0 || this.finished.length > 0 || this.flushing) {
          // Waiting on the flush under way (rather than calling flush() again, which returns at once
          // when nothing is left to write) lets its timer and I/O run instead of spinning on microtasks.
          if (this.flushing) await this.flushing;
          else await this.flush().catch(this.onError);
          if (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
        }
        this.client.close();
      },
    };
  }

  close(): void {
    this.client.close();
  }

  /** Runs `step` until stopped; after a step that found no more work, waits pollMs or until woken. */
  private async loop(stopped: () => boolean, setWake: (wake: (() => void) | undefined) => void, step: () => Promise<boolean>) {
    while (!stopped()) {
      let more = false;
      try {
        more = await step();
      } catch (err) {
        this.onError(err);
      }
      if (stopped()) break;
      if (!more) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            setWake(undefined);
            resolve();
          };
          const timer = setTimeout(done, this.options.pollMs);
          setWake(done);
        });
      }
    }
  }

  /** Starts queued deliveries of every endpoint while slots allow. */
  private pumpAll() {
    for (const endpointId of this.queued.keys()) {
      if (this.inFlight >= this.options.maxInFlight) return;
      this.pump(endpointId);
    }
  }

  /** Starts queued deliveries of one endpoint while its slots and the process's allow. */
  private pump(endpointId: string) {
    const list = this.queued.get(endpointId);
    if (!list) return;
    const stale: Queued[] = [];
    while (list.length > 0 && this.inFlight < this.options.maxInFlight && (this.busy.get(endpointId) ?? 0) < this.options.perEndpointConcurrency) {
      const next = list.shift()!;
      this.queuedCount -= 1;
      // Sent only if the attempt ends (by its timeout at worst) before the lease does: after that
      // another dispatcher may claim it, and two sends of one delivery must never overlap.
      if (this.clock.now().getTime() + this.options.timeoutMs >= next.leaseUntil) {
        stale.push(next);
        continue;
      }
      void this.attempt(next.delivery, next.token).then(() => this.scheduleFlush());
      // Half a batch left for this endpoint: claim more now, so the next batch arrives before the
      // sends run dry (a claim takes a round trip and a commit; sends to a fast receiver take less).
      if (list.length === Math.floor(this.options.batchSize / 2)) this.wakeClaim?.();
    }
    if (list.length === 0) {
      this.queued.delete(endpointId);
      this.wakeClaim?.();
    }
    if (stale.length > 0) void this.release(stale).catch(this.onError);
  }

  private async releaseQueued() {
    const all = [...this.queued.values()].flat();
    this.queued.clear();
    this.queuedCount = 0;
    await this.release(all);
  }

  private async release(items: Queued[]) {
    const byToken = new Map<string, string[]>();
    for (const q of items) byToken.set(q.token, [...(byToken.get(q.token) ?? []), q.delivery.id]);
    for (const [token, ids] of byToken) await dispatchRepo.release(this.db, ids, token, this.clock.now());
  }

  private async claim(limit: number, perEndpoint: number, held: Map<string, number>) {
    const now = this.clock.now();
    const token = randomUUID();
    const claimed = await dispatchRepo.claim(this.db, {
      now,
      leaseUntil: new Date(now.getTime() + this.options.leaseMs),
      token,
      limit,
      perEndpoint,
      busy: Object.fromEntries(held),
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
      const secrets = this.secretsFor(delivery);
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
    const wasFull = this.inFlight + 1 >= this.options.maxInFlight;
    const left = (this.busy.get(delivery.endpoint_id) ?? 1) - 1;
    if (left === 0) this.busy.delete(delivery.endpoint_id);
    else this.busy.set(delivery.endpoint_id, left);
    // The freed slot goes to this endpoint's next delivery; other endpoints only waited on it when
    // the process as a whole was full.
    this.pump(delivery.endpoint_id);
    if (wasFull) this.pumpAll();
    return result;
  }

  /**
   * Opening a sealed secret is an AES-GCM decryption, a noticeable share of a send's CPU when a
   * busy endpoint gets thousands a second; the opened secrets are kept per sealed value, so a
   * rotation (a new sealed value) or the end of a grace period (part of the key) takes effect at once.
   */
  private secretsFor(delivery: ClaimedDelivery): string[] {
    const graceOver = !delivery.previous_secret_expires_at || delivery.previous_secret_expires_at <= this.clock.now();
    const key = `${delivery.endpoint_id} ${delivery.secret_sealed} ${graceOver ? '' : (delivery.previous_secret_sealed ?? '')}`;
    let secrets = this.secrets.get(key);
    if (!secrets) {
      secrets = this.webhooks.signingSecrets({ ...delivery, id: delivery.endpoint_id });
      if (this.secrets.size >= 1000) this.secrets.clear();
      this.secrets.set(key, secrets);
    }
    return secrets;
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    // A short wait gathers the attempts finishing together into one write.
    this.flushing = new Promise((r) => setTimeout(r, FLUSH_GATHER_MS))
      .then(() => this.flush())
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
        await keyedPlans(trx);
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
