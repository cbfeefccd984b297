import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId, randomHex } from '../../platform/crypto/ids.js';
import type { Database, WebhookDeliveryRow } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { deliveriesRepo } from './deliveries.repo.js';
import type { ListDeliveriesQueryType, WebhookDeliveryType, WebhookHealthType } from './deliveries.schemas.js';
import type { WebhookDispatcher } from './delivery.dispatcher.js';
import { MAX_ATTEMPTS } from './delivery.policy.js';
import { webhooksRepo, type Scope } from './webhooks.repo.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const latest = (a: Date | null, b: Date | null) => (a && b ? (a > b ? a : b) : (a ?? b));

export function toDelivery(row: WebhookDeliveryRow): WebhookDeliveryType {
  return {
    id: row.id,
    webhookId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    lastStatusCode: row.last_status_code,
    lastLatencyMs: row.last_latency_ms,
    lastError: row.last_error,
    lastAttemptAt: iso(row.last_attempt_at),
    nextAttemptAt: row.status === 'PENDING' ? iso(row.next_attempt_at) : null,
    deliveredAt: iso(row.delivered_at),
    createdAt: row.created_at.toISOString(),
  };
}

const inactive = (id: string) =>
  new AppError('WEBHOOK_INACTIVE', `Webhook "${id}" is disabled; re-enable it with PATCH /v1/partner/webhooks/${id} {"isActive": true} first`);

/** Test sends, delivery history, manual retry, recovery after an outage and health figures. */
export class DeliveriesService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
  ) {}

  /** Sends webhook.test to one endpoint now and reports what happened; it is not retried by itself. */
  async test(scope: Scope, webhookId: string) {
    const endpoint = await this.endpoint(scope, webhookId);
    if (!endpoint.is_active) throw inactive(webhookId);
    const now = this.clock.now();
    const token = randomUUID();
    const delivery = await deliveriesRepo.insertClaimedTest(this.db, {
      id: prefixedId('whd'),
      endpointId: webhookId,
      partnerId: scope.partnerId,
      environment: scope.environment,
      eventId: `evt_${randomHex(12)}`,
      token,
      now,
      leaseUntil: new Date(now.getTime() + this.dispatcher.options.leaseMs),
    });
    const result = await this.dispatcher.deliverNow(delivery, token);
    const delivered = result.error === null && result.statusCode !== null && result.statusCode < 300;
    return { delivered, statusCode: result.statusCode, durationMs: result.latencyMs, eventId: delivery.event_id, deliveryId: delivery.id, error: result.error };
  }

  async list(scope: Scope, webhookId: string, q: ListDeliveriesQueryType) {
    await this.endpoint(scope, webhookId);
    const { rows, total } = await deliveriesRepo.list(this.db, webhookId, q.status, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map(toDelivery), page: q.page, limit: q.limit, total };
  }

  async get(scope: Scope, deliveryId: string) {
    const row = await deliveriesRepo.find(this.db, scope, deliveryId);
    if (!row) throw notFound(`Delivery "${deliveryId}"`);
    const attempts = await deliveriesRepo.attemptLog(this.db, row);
    return {
      ...toDelivery(row),
      attemptLog: attempts.map((a) => ({
        attemptedAt: a.attempted_at.toISOString(),
        succeeded: a.succeeded,
        statusCode: a.status_code,
        latencyMs: a.latency_ms,
        error: a.error,
      })),
    };
  }

  /** Queues one more attempt now, whatever the delivery's state (a succeeded one is sent again: at-least-once). */
  async retry(scope: Scope, deliveryId: string) {
    return this.db.transaction().execute(async (trx) => {
      const row = await deliveriesRepo.find(trx, scope, deliveryId, true);
      if (!row) throw notFound(`Delivery "${deliveryId}"`);
      if (row.status === 'DELIVERING' && row.next_attempt_at && row.next_attempt_at > this.clock.now()) {
        throw new AppError('INVALID_STATE', `Delivery "${deliveryId}" is being sent right now; look at it again in a few seconds`);
      }
      const endpoint = await webhooksRepo.find(trx, scope, row.endpoint_id);
      if (!endpoint?.is_active) throw inactive(row.endpoint_id);
      await deliveriesRepo.archiveSuccess(trx, row);
      return toDelivery(await deliveriesRepo.retry(trx, deliveryId, this.clock.now(), MAX_ATTEMPTS));
    });
  }

  /** Every delivery that failed since `since` starts over with the full schedule. */
  async recover(scope: Scope, webhookId: string, since: string) {
    const endpoint = await this.endpoint(scope, webhookId);
    if (!endpoint.is_active) throw inactive(webhookId);
    const from = new Date(since);
    const recovered = await deliveriesRepo.recover(this.db, webhookId, from, this.clock.now(), MAX_ATTEMPTS);
    return { recovered, since: from.toISOString() };
  }

  async health(scope: Scope, webhookId: string, hours: number): Promise<WebhookHealthType> {
    const endpoint = await this.endpoint(scope, webhookId);
    const to = this.clock.now();
    const from = new Date(to.getTime() - hours * 3_600_000);
    const [stats] = await deliveriesRepo.health(this.db, [webhookId], from, to);
    const attempts = Number(stats?.attempts ?? 0);
    const succeeded = Number(stats?.succeeded ?? 0);
    return {
      webhookId,
      url: endpoint.url,
      isActive: endpoint.is_active,
      disabledReason: endpoint.disabled_reason,
      windowStart: from.toISOString(),
      windowEnd: to.toISOString(),
      attempts,
      succeeded,
      failed: attempts - succeeded,
      successRate: attempts === 0 ? null : succeeded / attempts,
      latencyMs: { p50: stats?.p50 ?? null, p95: stats?.p95 ?? null, p99: stats?.p99 ?? null },
      consecutiveFailures: endpoint.consecutive_failures,
      failingSince: iso(endpoint.failing_since),
      lastSuccessAt: iso(latest(endpoint.last_success_at, stats?.last_success_at ?? null)),
      lastFailureAt: iso(endpoint.last_failure_at),
      pending: Number(stats?.pending ?? 0),
    };
  }

  private async endpoint(scope: Scope, id: string) {
    const row = await webhooksRepo.find(this.db, scope, id);
    if (!row) throw notFound(`Webhook "${id}"`);
    return row;
  }
}
