import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { DeliveryClient } from './delivery.http.js';
import { DEFAULT_DISPATCHER_OPTIONS, type DispatcherOptions } from './delivery.options.js';
import { pollLoop } from './delivery.loop.js';
import { OutcomeWriter } from './delivery.outcomes.js';
import { MAX_ATTEMPTS, type AttemptResult } from './delivery.policy.js';
import { DeliverySender } from './delivery.sender.js';
import { dispatchRepo, type ClaimedDelivery } from './dispatch.repo.js';
import { outcomesRepo } from './outcomes.repo.js';
import type { WebhooksService } from './webhooks.service.js';

export { DEFAULT_DISPATCHER_OPTIONS, type DispatcherOptions } from './delivery.options.js';

interface Queued {
  delivery: ClaimedDelivery;
  token: string;
  leaseUntil: number;
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
  private readonly sender: DeliverySender;
  private readonly outcomes: OutcomeWriter;
  /** Deliveries being sent, per endpoint. */
  private readonly busy = new Map<string, number>();
  /** Claimed by start()'s loops and not yet sent, per endpoint, oldest first. */
  private readonly queued = new Map<string, Queued[]>();
  private queuedCount = 0;
  private inFlight = 0;
  private wakeFanOut: (() => void) | undefined;
  private wakeClaim: (() => void) | undefined;
  private readonly waitingForRoom = new Set<'fanOut' | 'claim'>();

  constructor(
    private readonly db: Kysely<Database>,
    webhooks: WebhooksService,
    private readonly clock: Clock,
    options: Partial<DispatcherOptions> = {},
    private onError: (err: unknown) => void = () => {},
  ) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...options };
    this.client = new DeliveryClient(this.options.resolver, this.options.perEndpointConcurrency);
    this.sender = new DeliverySender(webhooks, clock, this.client, this.options);
    this.outcomes = new OutcomeWriter(db, clock, this.options.random, () => this.onError);
  }

  /** Fans out every committed event not yet fanned out, claiming none of it. */
  async fanOutAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const { events, deliveries } = await dispatchRepo.fanOut(this.db, {
        now: this.clock.now(),
        limit: this.options.batchSize,
        maxAttempts: MAX_ATTEMPTS,
        wait: false,
      });
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
      await Promise.all(claimed.map((c) => this.attempt(c.delivery, c.token)));
      await this.outcomes.flush();
      attempts += claimed.length;
    }
    return attempts;
  }

  /** Delivers one claimed delivery now and records the outcome (the `test` route). */
  async deliverNow(delivery: ClaimedDelivery, token: string): Promise<AttemptResult> {
    const result = await this.attempt(delivery, token);
    await this.outcomes.flush();
    return result;
  }

  /**
   * Runs until stopped: the loops inside `serve` and `worker`. Whenever fewer than a batch of
   * deliveries wait to be sent, two loops refill the queue: fan-out, which claims for this process
   * the new deliveries it has room for as it creates them, and claims of deliveries due (retries,
   * fan-out's overflow, leases run out). Per endpoint a process holds at most two batches beyond
   * `perEndpointConcurrency` (one through claims), so a busy endpoint's backlog is shared by every
   * process that delivers (each fans out in turn as its queue runs low) and its rows never stand in
   * the way of other endpoints'. A finished send starts the next queued one of its endpoint at once.
   */
  start(onError?: (err: unknown) => void): Dispatcher {
    if (onError) this.onError = onError;
    let stopping = false;
    const { batchSize, perEndpointConcurrency, leaseMs } = this.options;
    const lease = (perEndpoint: number) => {
      const now = this.clock.now();
      return { now, leaseUntil: new Date(now.getTime() + leaseMs), token: randomUUID(), perEndpoint, busy: this.held() };
    };
    const fanOut = pollLoop(
      this.options.pollMs,
      (err) => this.onError(err),
      () => stopping,
      (wake) => (this.wakeFanOut = wake),
      async () => {
        if (this.queuedCount >= batchSize) return this.waitForRoom('fanOut');
        // Room for a whole batch of one endpoint's events on top of what is queued (less than a batch),
        // so a busy endpoint's new deliveries are all claimed here rather than left for a claim.
        const claim = lease(perEndpointConcurrency + 2 * batchSize);
        // Waits its turn when another process is fanning out: one statement's wait, and then this
        // process has work of its own instead of an idle poll interval.
        const fan = await dispatchRepo.fanOut(this.db, { now: claim.now, limit: batchSize, maxAttempts: MAX_ATTEMPTS, wait: true, claim });
        this.enqueue(fan.claimed, claim.token, claim.leaseUntil);
        // Claims look for due deliveries when fan-out left some unclaimed, or has caught up with the
        // outbox; while a backlog is fanned out they keep to their poll interval, which bounds how
        // long a due retry waits, instead of running (mostly for nothing) every time the queue is low.
        const more = fan.events === batchSize;
        if (fan.deliveries > fan.claimed.length || !more) this.wakeClaim?.();
        return more;
      },
    );
    const claims = pollLoop(
      this.options.pollMs,
      (err) => this.onError(err),
      () => stopping,
      (wake) => (this.wakeClaim = wake),
      async () => {
        const limit = Math.min(batchSize, 2 * batchSize - this.queuedCount);
        if (this.queuedCount >= batchSize || limit <= 0) return this.waitForRoom('claim');
        const claim = lease(perEndpointConcurrency + batchSize);
        if (!(await dispatchRepo.anyDue(this.db, claim.now))) return false;
        const claimed = await dispatchRepo.claim(this.db, { ...claim, limit });
        this.enqueue(claimed, claim.token, claim.leaseUntil);
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
        while (this.inFlight > 0 || !this.outcomes.idle) {
          await this.outcomes.drain();
          // Sends still running, or a write that failed (the database going away) and waits to be retried.
          if (this.inFlight > 0 || !this.outcomes.idle) await new Promise((r) => setTimeout(r, 10));
        }
        this.client.close();
      },
    };
  }

  close(): void {
    this.client.close();
  }

  /** A loop that stopped for want of room sleeps until the queue runs low (or its poll interval passes). */
  private waitForRoom(loop: 'fanOut' | 'claim'): false {
    this.waitingForRoom.add(loop);
    return false;
  }

  /** Deliveries this process holds per endpoint: being sent and queued. */
  private held(): Record<string, number> {
    const held: Record<string, number> = Object.fromEntries(this.busy);
    for (const [endpointId, list] of this.queued) held[endpointId] = (held[endpointId] ?? 0) + list.length;
    return held;
  }

  private enqueue(claimed: ClaimedDelivery[], token: string, leaseUntil: Date) {
    if (claimed.length === 0) return;
    const until = leaseUntil.getTime();
    for (const delivery of claimed) {
      const item = { delivery, token, leaseUntil: until };
      const list = this.queued.get(delivery.endpoint_id);
      if (list) list.push(item);
      else this.queued.set(delivery.endpoint_id, [item]);
    }
    this.queuedCount += claimed.length;
    this.pumpAll();
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
    const now = this.clock.now().getTime();
    while (list.length > 0 && this.inFlight < this.options.maxInFlight && (this.busy.get(endpointId) ?? 0) < this.options.perEndpointConcurrency) {
      const next = list.shift()!;
      this.queuedCount -= 1;
      // Sent only if the attempt ends (by its timeout at worst) before the lease does: after that
      // another dispatcher may claim it, and two sends of one delivery must never overlap.
      if (now + this.options.timeoutMs >= next.leaseUntil) {
        stale.push(next);
        continue;
      }
      void this.attempt(next.delivery, next.token).then(() => this.outcomes.schedule());
    }
    if (list.length === 0) this.queued.delete(endpointId);
    // Refilled before the queue runs dry: a claim takes a round trip and a commit, sends to a fast
    // receiver take less.
    if (this.queuedCount < this.options.batchSize && this.waitingForRoom.size > 0) {
      if (this.waitingForRoom.delete('fanOut')) this.wakeFanOut?.();
      if (this.waitingForRoom.delete('claim')) this.wakeClaim?.();
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
    for (const q of items) {
      const ids = byToken.get(q.token);
      if (ids) ids.push(q.delivery.id);
      else byToken.set(q.token, [q.delivery.id]);
    }
    for (const [token, ids] of byToken) await outcomesRepo.release(this.db, ids, token, this.clock.now());
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
      result = await this.sender.send(delivery, attemptedAt);
    } catch (err) {
      // Only a bug gets here (the client turns network failures into results); record it as a failed attempt.
      this.onError(err);
      result = { statusCode: null, latencyMs: 0, error: 'Internal error while sending', retryAfterMs: null };
    }
    this.outcomes.add({ delivery, token, result, attemptedAt });
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
}
