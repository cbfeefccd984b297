import { sql, type Kysely, type Transaction } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { Database, WebhookDeliveryRow } from '../../platform/db/schema.js';
import type { DeliveryStatus } from '../../platform/db/schema.webhooks.js';
import { isoText, withTargets, type ClaimedDelivery } from './dispatch.repo.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The partner-facing side of deliveries: lists, manual retries, recovery and health. */
export const deliveriesRepo = {
  async list(db: Db, endpointId: string, status: DeliveryStatus | undefined, offset: number, limit: number) {
    let query = db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId);
    if (status) query = query.where('status', '=', status);
    return pageWithTotal(query.orderBy('created_at', 'desc').orderBy('id', 'desc'), offset, limit);
  },

  /** A delivery of one of the partner's endpoints in this environment. */
  async find(db: Db, scope: { partnerId: string; environment: string }, deliveryId: string, forUpdate = false) {
    let query = db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('id', '=', deliveryId)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment as 'sandbox' | 'production');
    if (forUpdate) query = query.forUpdate();
    return query.executeTakeFirst();
  },

  /**
   * Every attempt of a delivery, oldest first: its attempt rows and, when it succeeded, the success
   * its own row records (migration 0017).
   */
  async attemptLog(db: Db, delivery: WebhookDeliveryRow): Promise<AttemptLogEntry[]> {
    const rows = await db
      .selectFrom('webhook_attempts')
      .select(['attempted_at', 'succeeded', 'status_code', 'latency_ms', 'error'])
      .where('delivery_id', '=', delivery.id)
      .orderBy('id')
      .execute();
    const latest = recordedSuccess(delivery);
    if (latest) rows.push(latest);
    return rows.sort((a, b) => a.attempted_at.getTime() - b.attempted_at.getTime());
  },

  /**
   * Before a delivery that succeeded is queued again, the success its row records becomes an attempt
   * row, so the log keeps it once the row records the next attempt; the endpoint's last success is
   * brought up to it, since health reads the others from SUCCEEDED rows.
   */
  async archiveSuccess(db: Db, delivery: WebhookDeliveryRow) {
    const success = recordedSuccess(delivery);
    if (!success) return;
    await db
      .insertInto('webhook_attempts')
      .values({ delivery_id: delivery.id, endpoint_id: delivery.endpoint_id, ...success })
      .execute();
    await db
      .updateTable('webhook_endpoints')
      .set({ last_success_at: sql`greatest(last_success_at, ${success.attempted_at})` })
      .where('id', '=', delivery.endpoint_id)
      .execute();
  },

  /** One more attempt now; the delivery stops after it if it fails and its schedule was used up. */
  async retry(db: Db, deliveryId: string, now: Date, maxAttempts: number) {
    return db
      .updateTable('webhook_deliveries')
      .set({
        status: 'PENDING',
        next_attempt_at: now,
        // A test send is never retried by itself, a manual retry of one included.
        max_attempts: sql`CASE WHEN event_type = 'webhook.test' THEN attempts + 1 ELSE greatest(attempts + 1, ${maxAttempts}) END`,
        claim_token: null,
        updated_at: now,
      })
      .where('id', '=', deliveryId)
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  /** Failed deliveries since a time get a fresh schedule from now. */
  async recover(db: Db, endpointId: string, since: Date, now: Date, maxAttempts: number) {
    const result = await db
      .updateTable('webhook_deliveries')
      .set({ status: 'PENDING', attempts: 0, max_attempts: maxAttempts, next_attempt_at: now, claim_token: null, updated_at: now })
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'FAILED')
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  },

  /** A webhook.test delivery, created already claimed so the request itself sends it once. */
  async insertClaimedTest(
    db: Db,
    row: { id: string; endpointId: string; partnerId: string; environment: 'sandbox' | 'production'; eventId: string; token: string; now: Date; leaseUntil: Date },
  ): Promise<ClaimedDelivery> {
    await db
      .insertInto('webhook_deliveries')
      .values({
        id: row.id,
        endpoint_id: row.endpointId,
        partner_id: row.partnerId,
        environment: row.environment,
        event_id: row.eventId,
        event_type: 'webhook.test',
        event_created_at: row.now,
        payload: JSON.stringify({ test: true }),
        status: 'DELIVERING',
        max_attempts: 1,
        next_attempt_at: row.leaseUntil,
        claim_token: row.token,
        created_at: row.now,
        updated_at: row.now,
      })
      .execute();
    const result = await sql<Omit<ClaimedDelivery, 'endpoint'>>`
      SELECT id, endpoint_id, event_id, event_type, ${isoText('event_created_at')} AS event_created_at_iso, attempts, max_attempts,
             payload::text AS data_text
      FROM webhook_deliveries WHERE id = ${row.id}`.execute(db);
    const [claimed] = await withTargets(db, result.rows);
    return claimed!;
  },

  /**
   * Attempts in [from, to] per endpoint: attempt rows, and the successes SUCCEEDED deliveries record
   * on their own rows; the latest success at any time; what waits to be sent.
   */
  async health(db: Db, endpointIds: string[], from: Date, to: Date) {
    if (endpointIds.length === 0) return [];
    const result = await sql<{
      endpoint_id: string;
      attempts: string;
      succeeded: string;
      p50: number | null;
      p95: number | null;
      p99: number | null;
      pending: string;
      last_success_at: Date | null;
    }>`
      SELECT ids.endpoint_id,
             count(a.latency_ms) AS attempts,
             count(a.latency_ms) FILTER (WHERE a.succeeded) AS succeeded,
             percentile_disc(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS p50,
             percentile_disc(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS p95,
             percentile_disc(0.99) WITHIN GROUP (ORDER BY a.latency_ms) AS p99,
             (SELECT count(*) FROM webhook_deliveries d
               WHERE d.endpoint_id = ids.endpoint_id AND d.status IN ('PENDING', 'DELIVERING')) AS pending,
             (SELECT max(d.last_attempt_at) FROM webhook_deliveries d
               WHERE d.endpoint_id = ids.endpoint_id AND d.status = 'SUCCEEDED') AS last_success_at
      FROM unnest(${endpointIds}::text[]) AS ids(endpoint_id)
      LEFT JOIN LATERAL (
        SELECT x.succeeded, x.latency_ms FROM webhook_attempts x
        WHERE x.endpoint_id = ids.endpoint_id AND x.attempted_at >= ${from} AND x.attempted_at <= ${to}
        UNION ALL
        SELECT true, d.last_latency_ms FROM webhook_deliveries d
        WHERE d.endpoint_id = ids.endpoint_id AND d.status = 'SUCCEEDED' AND d.last_attempt_at >= ${from} AND d.last_attempt_at <= ${to}
      ) a ON true
      GROUP BY ids.endpoint_id`.execute(db);
    return result.rows;
  },
};

export interface AttemptLogEntry {
  attempted_at: Date;
  succeeded: boolean;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

/** The success a SUCCEEDED delivery's row records, as an attempt. */
function recordedSuccess(d: WebhookDeliveryRow): AttemptLogEntry | undefined {
  if (d.status !== 'SUCCEEDED' || !d.last_attempt_at) return undefined;
  return { attempted_at: d.last_attempt_at, succeeded: true, status_code: d.last_status_code, latency_ms: d.last_latency_ms ?? 0, error: null };
}
