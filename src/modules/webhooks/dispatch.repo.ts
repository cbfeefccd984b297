import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { DeliveryStatus } from '../../platform/db/schema.webhooks.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A claimed delivery with everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  partner_id: string;
  environment: 'sandbox' | 'production';
  event_id: string;
  event_type: string;
  event_created_at: Date;
  attempts: number;
  max_attempts: number;
  /** The event's data exactly as stored (jsonb text), spliced into the body unparsed. */
  data_text: string;
  url: string;
  headers: Record<string, string>;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
}

export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  claimToken: string;
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
  attemptedAt: Date;
  succeeded: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

export interface HealthChange {
  endpointId: string;
  hadSuccess: boolean;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  /** Failures after the batch's last success (or all of them when none succeeded). */
  trailingFailures: number;
  firstTrailingFailureAt: Date | null;
}

const FANOUT_LOCK = sql`hashtext('almoner.webhook_fanout')`;

/**
 * Plans the queue's statements as what they are: a few rows found by key or walked in index order.
 * The planner's statistics for webhook_deliveries are stale whenever it matters (a fresh table, a
 * burst after a quiet spell), and it then reads and sorts the whole backlog (bitmap scans, hash
 * joins over a sequential scan) for every claim and every batch of outcomes, so a backlog of n
 * costs n on each of them. Transaction-local, so nothing else on the connection is affected.
 */
export async function keyedPlans(trx: Transaction<Database>): Promise<void> {
  await sql`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
                   set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`.execute(trx);
}

export const dispatchRepo = {
  /**
   * Turns up to `limit` committed outbox events into deliveries, one per subscribed active endpoint,
   * and moves the cursor, in one transaction. Only one process fans out at a time (advisory lock);
   * the others return at once. Returns the number of events read, or -1 when another process holds the lock.
   */
  async fanOut(db: Kysely<Database>, now: Date, limit: number, maxAttempts: number): Promise<{ events: number; deliveries: number }> {
    return db.transaction().execute(async (trx) => {
      const lock = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${FANOUT_LOCK}) AS ok`.execute(trx);
      if (!lock.rows[0]!.ok) return { events: -1, deliveries: 0 };
      const result = await sql<{ events: string; deliveries: string }>`
        WITH ev AS (
          SELECT o.seq, o.xid, o.id, o.partner_id, o.environment, o.type, o.created_at
          FROM outbox_events o
          -- The cursor as two scalar subqueries, not a join: only then is the row comparison an index
          -- bound, instead of a filter over every event before the cursor (slower as the outbox grows).
          WHERE (o.xid, o.seq) > ((SELECT xid FROM webhook_fanout_cursor), (SELECT seq FROM webhook_fanout_cursor))
            AND o.xid < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY o.xid, o.seq
          LIMIT ${limit}
        ), ins AS (
          INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, environment, event_id, event_type, event_created_at,
                                          outbox_seq, status, max_attempts, next_attempt_at, created_at, updated_at)
          SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), e.id, ev.partner_id, ev.environment, ev.id, ev.type,
                 ev.created_at, ev.seq, 'PENDING', ${maxAttempts}, ${now}, ${now}, ${now}
          FROM ev JOIN webhook_endpoints e
            ON e.partner_id = ev.partner_id AND e.environment = ev.environment AND e.is_active
           AND (e.receive_all_events OR e.event_types ? ev.type)
          ON CONFLICT (endpoint_id, event_id) DO NOTHING
          RETURNING 1
        ), last AS (
          SELECT xid, seq FROM ev ORDER BY xid DESC, seq DESC LIMIT 1
        ), moved AS (
          UPDATE webhook_fanout_cursor c SET xid = last.xid, seq = last.seq FROM last RETURNING 1
        )
        SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM ins) AS deliveries, (SELECT count(*) FROM moved) AS moved`.execute(trx);
      const row = result.rows[0]!;
      return { events: Number(row.events), deliveries: Number(row.deliveries) };
    });
  },

  /**
   * Claims due deliveries with FOR UPDATE SKIP LOCKED, so dispatchers in several processes never
   * take the same one. A claim is a lease: next_attempt_at moves to `leaseUntil`, and a dispatcher
   * that dies leaves it to be claimed again once that passes. `busy` holds, per endpoint, how many
   * deliveries this process already has in flight; at most `perEndpoint` run at once per endpoint.
   */
  async claim(
    db: Kysely<Database>,
    args: { now: Date; leaseUntil: Date; token: string; limit: number; perEndpoint: number; busy: Record<string, number> },
  ): Promise<ClaimedDelivery[]> {
    return db.transaction().execute(async (trx) => {
      await keyedPlans(trx);
      return claimRows(trx, args);
    });
  },

  /**
   * Writes the outcome of attempts. The claim token guards the delivery row: a dispatcher whose lease
   * ran out (and whose delivery another dispatcher took over) records its attempt but does not
   * overwrite the newer state.
   */
  async recordAttempts(db: Db, records: AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    const col = <T>(f: (r: AttemptRecord) => T) => records.map(f);
    await sql`
      WITH r AS (
        SELECT * FROM unnest(
          ${col((r) => r.deliveryId)}::text[], ${col((r) => r.endpointId)}::text[], ${col((r) => r.claimToken)}::text[],
          ${col((r) => r.status)}::text[], ${col((r) => r.nextAttemptAt?.toISOString() ?? null)}::timestamptz[],
          ${col((r) => r.attemptedAt.toISOString())}::timestamptz[], ${col((r) => r.succeeded)}::boolean[],
          ${col((r) => r.statusCode)}::int[], ${col((r) => r.latencyMs)}::int[], ${col((r) => r.error)}::text[]
        ) AS r(delivery_id, endpoint_id, claim_token, status, next_attempt_at, attempted_at, succeeded, status_code, latency_ms, error)
      ), upd AS (
        UPDATE webhook_deliveries d
        SET status = r.status, attempts = d.attempts + 1, next_attempt_at = r.next_attempt_at, claim_token = NULL,
            last_attempt_at = r.attempted_at, last_status_code = r.status_code, last_latency_ms = r.latency_ms,
            last_error = r.error, delivered_at = CASE WHEN r.succeeded THEN r.attempted_at ELSE d.delivered_at END,
            updated_at = r.attempted_at
        FROM r WHERE d.id = r.delivery_id AND d.claim_token = r.claim_token
        RETURNING 1
      )
      INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, succeeded, status_code, latency_ms, error)
      SELECT r.delivery_id, r.endpoint_id, r.attempted_at, r.succeeded, r.status_code, r.latency_ms, r.error
      FROM r JOIN webhook_deliveries d ON d.id = r.delivery_id`.execute(db);
  },

  /**
   * Hands back claims that were never sent (a dispatcher stopping, or a claim that waited too long
   * to be sent within its lease): due again now, for any dispatcher, without an attempt counted.
   */
  async release(db: Db, ids: string[], token: string, now: Date): Promise<void> {
    if (ids.length === 0) return;
    await sql`
      UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = ${now}, claim_token = NULL, updated_at = ${now}
      WHERE id = ANY(${ids}::text[]) AND claim_token = ${token} AND status = 'DELIVERING'`.execute(db);
  },

  /** Folds a batch's outcomes into each endpoint's health; returns the endpoints still failing. */
  async applyHealth(db: Db, changes: HealthChange[]) {
    if (changes.length === 0) return [];
    const col = <T>(f: (c: HealthChange) => T) => changes.map(f);
    const result = await sql<{ id: string; failing_since: Date | null }>`
      UPDATE webhook_endpoints e
      SET consecutive_failures = CASE WHEN u.had_success THEN u.trailing_failures ELSE e.consecutive_failures + u.trailing_failures END,
          failing_since = CASE WHEN u.trailing_failures = 0 THEN NULL
                               WHEN u.had_success THEN u.first_failure
                               ELSE coalesce(e.failing_since, u.first_failure) END,
          last_success_at = coalesce(u.last_success, e.last_success_at),
          last_failure_at = coalesce(u.last_failure, e.last_failure_at)
      FROM unnest(${col((c) => c.endpointId)}::text[], ${col((c) => c.hadSuccess)}::boolean[],
                  ${col((c) => c.lastSuccessAt?.toISOString() ?? null)}::timestamptz[],
                  ${col((c) => c.lastFailureAt?.toISOString() ?? null)}::timestamptz[],
                  ${col((c) => c.trailingFailures)}::int[],
                  ${col((c) => c.firstTrailingFailureAt?.toISOString() ?? null)}::timestamptz[])
           AS u(id, had_success, last_success, last_failure, trailing_failures, first_failure)
      WHERE e.id = u.id
      RETURNING e.id, e.failing_since`.execute(db);
    return result.rows;
  },

  /**
   * Turns an endpoint off and fails what was waiting for it (recover brings those back). Returns
   * the endpoint when this call disabled it, undefined when it already was.
   */
  async disable(trx: Transaction<Database>, endpointId: string, reason: string, now: Date) {
    const row = await trx
      .updateTable('webhook_endpoints')
      .set({ is_active: false, disabled_reason: reason, disabled_at: now, updated_at: now })
      .where('id', '=', endpointId)
      .where('is_active', '=', true)
      .returning(['id', 'partner_id', 'environment', 'url'])
      .executeTakeFirst();
    if (!row) return undefined;
    await trx
      .updateTable('webhook_deliveries')
      .set({ status: 'FAILED', next_attempt_at: null, last_error: `Not sent: the endpoint was disabled (${reason})`, updated_at: now })
      .where('endpoint_id', '=', endpointId)
      // DELIVERING rows keep their claim token: an attempt still in flight records its outcome over this.
      .where('status', 'in', ['PENDING', 'DELIVERING'])
      .execute();
    return row;
  },
};

async function claimRows(
  db: Db,
  args: { now: Date; leaseUntil: Date; token: string; limit: number; perEndpoint: number; busy: Record<string, number> },
): Promise<ClaimedDelivery[]> {
  // Endpoints this process cannot take more of are left out of the scan, so their rows are neither
  // locked for nothing nor in the way of other endpoints' deliveries.
  const full = Object.entries(args.busy)
    .filter(([, n]) => n >= args.perEndpoint)
    .map(([endpointId]) => endpointId);
  const result = await sql<ClaimedDelivery>`
    WITH due AS (
      SELECT d.id, d.endpoint_id, d.next_attempt_at
      FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.is_active
      WHERE d.status IN ('PENDING', 'DELIVERING') AND d.next_attempt_at <= ${args.now} AND d.endpoint_id <> ALL(${full}::text[])
      ORDER BY d.next_attempt_at
      LIMIT ${args.limit}
      FOR UPDATE OF d SKIP LOCKED
    ), ranked AS (
      SELECT id, endpoint_id, next_attempt_at,
             row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS rn
      FROM due
    ), picked AS (
      SELECT id FROM ranked
      WHERE rn <= ${args.perEndpoint} - coalesce((${JSON.stringify(args.busy)}::jsonb ->> endpoint_id)::int, 0)
      ORDER BY next_attempt_at
      LIMIT ${args.limit}
    ), claimed AS (
      UPDATE webhook_deliveries d
      SET status = 'DELIVERING', next_attempt_at = ${args.leaseUntil}, claim_token = ${args.token}, updated_at = ${args.now}
      FROM picked WHERE d.id = picked.id
      RETURNING d.id, d.endpoint_id, d.partner_id, d.environment, d.event_id, d.event_type, d.event_created_at,
                d.attempts, d.max_attempts, d.outbox_seq, d.payload
    )
    SELECT c.id, c.endpoint_id, c.partner_id, c.environment, c.event_id, c.event_type, c.event_created_at,
           c.attempts, c.max_attempts, coalesce(c.payload, o.data)::text AS data_text,
           e.url, e.headers, e.secret_sealed, e.previous_secret_sealed, e.previous_secret_expires_at
    FROM claimed c
    JOIN webhook_endpoints e ON e.id = c.endpoint_id
    LEFT JOIN outbox_events o ON o.seq = c.outbox_seq`.execute(db);
  return result.rows;
}
