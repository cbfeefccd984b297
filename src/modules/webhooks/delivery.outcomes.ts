import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { disableReason, isSuccess, nextStep, type AttemptResult } from './delivery.policy.js';
import { keyedPlansIn, type ClaimedDelivery } from './dispatch.repo.js';
import { outcomesRepo, type AttemptRecord, type HealthChange } from './outcomes.repo.js';
import { preparedTransaction } from './prepared-tx.js';

export interface Finished {
  delivery: ClaimedDelivery;
  token: string;
  result: AttemptResult;
  attemptedAt: Date;
}

/**
 * A short wait gathers the attempts finishing together into one write: the fewer, larger the writes,
 * the less each outcome costs (a statement's round trips and planning are paid per batch). Nothing
 * waits on them but the leases, which last tens of seconds.
 */
const GATHER_MS = 50;

/**
 * Collects finished attempts and writes them in batches: each delivery's next step, the attempt
 * log, endpoint health, and disabling endpoints that must stop. Nothing waits on these writes to
 * send the next delivery; the leases keep other dispatchers away from a delivery until it is written.
 */
export class OutcomeWriter {
  private finished: Finished[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly onError: () => (err: unknown) => void,
  ) {}

  get idle(): boolean {
    return this.finished.length === 0 && !this.flushing;
  }

  add(f: Finished): void {
    this.finished.push(f);
  }

  /** Writes soon, in the background. */
  schedule(): void {
    if (this.flushing) return;
    this.flushing = new Promise((r) => setTimeout(r, GATHER_MS))
      .then(() => this.flush())
      .catch((err: unknown) => this.onError()(err))
      .finally(() => {
        this.flushing = undefined;
        if (this.finished.length > 0) this.schedule();
      });
  }

  /** Waits for the write under way, or writes what is left. */
  async drain(): Promise<void> {
    // Waiting on the flush under way (rather than calling flush() again, which returns at once when
    // nothing is left to write) lets its timer and I/O run instead of spinning on microtasks.
    if (this.flushing) await this.flushing;
    else await this.flush().catch((err: unknown) => this.onError()(err));
  }

  /** Writes finished attempts, folds them into endpoint health and disables endpoints that must stop. */
  async flush(): Promise<void> {
    if (this.finished.length === 0) return;
    const batch = this.finished;
    this.finished = [];
    const now = this.clock.now();
    const records: AttemptRecord[] = [];
    const toDisable = new Map<string, string>();
    for (const f of batch) {
      const step = nextStep(f.result, f.delivery.attempts, f.delivery.max_attempts, f.attemptedAt, this.random);
      if (step.status === 'FAILED' && step.disableEndpoint) toDisable.set(f.delivery.endpoint_id, step.disableEndpoint);
      records.push({
        deliveryId: f.delivery.id,
        claimToken: f.token,
        nextAttemptAt: step.status === 'PENDING' ? step.nextAttemptAt : null,
        attemptedAt: f.attemptedAt,
        succeeded: step.status === 'SUCCEEDED',
        statusCode: f.result.statusCode,
        latencyMs: f.result.latencyMs,
        error: f.result.error,
      });
    }
    try {
      const failing = await preparedTransaction(this.db, async (run) => {
        await keyedPlansIn(run);
        return outcomesRepo.record(run, records, healthChanges(batch));
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
      const row = await outcomesRepo.disable(trx, endpointId, reason, now);
      if (!row) return;
      await writeEvents(trx, [
        newEvent(row.partner_id, row.environment, 'webhook.disabled', { webhookId: row.id, url: row.url, reason, disabledAt: now.toISOString() }, now),
      ]);
    });
  }
}

function healthChanges(batch: Finished[]): HealthChange[] {
  const byEndpoint = new Map<string, Finished[]>();
  for (const f of batch) {
    const list = byEndpoint.get(f.delivery.endpoint_id);
    if (list) list.push(f);
    else byEndpoint.set(f.delivery.endpoint_id, [f]);
  }
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
