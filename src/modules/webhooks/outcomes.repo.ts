import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { Run } from './prepared-tx.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface AttemptRecord {
  deliveryId: string;
  claimToken: string;
  /** Set when the delivery is due again; a failure without it gives up. */
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

const isoOrNull = (d: Date | null) => d?.toISOString() ?? null;

/** What dispatchers write after sending: outcomes, endpoint health, hand-backs and disabling. */
export const outcomesRepo = {
  /**
   * Writes a batch of attempts and folds them into each endpoint's health, in one statement;
   * returns the endpoints still failing. The claim token guards the delivery row: a dispatcher
   * whose lease ran out (and whose delivery another dispatcher took over) records its attempt but
   * does not overwrite the newer state.
   *
   * A success that its delivery row records gets no attempt row (migration 0017): those are the
   * failures and the attempts whose delivery moved on without them. An endpoint with no failures
   * to record or clear is not written at all: its last success is read from its deliveries.
   */
  async record(run: Run, records: AttemptRecord[], health: HealthChange[]) {
    if (records.length === 0) return [];
    const col = <T>(f: (r: AttemptRecord) => T) => records.map(f);
    const hcol = <T>(f: (c: HealthChange) => T) => health.map(f);
    return run('webhook_outcomes', sql<{ id: string; failing_since: Date | null }>`
      WITH r AS (
        -- The status follows from the rest: succeeded, due again (next_attempt_at), or given up.
        SELECT *, CASE WHEN succeeded THEN 'SUCCEEDED' WHEN next_attempt_at IS NOT NULL THEN 'PENDING' ELSE 'FAILED' END AS status
        FROM unnest(
          ${col((r) => r.deliveryId)}::text[], ${col((r) => r.claimToken)}::text[], ${col((r) => isoOrNull(r.nextAttemptAt))}::timestamptz[],
          ${col((r) => r.attemptedAt.toISOString())}::timestamptz[], ${col((r) => r.succeeded)}::boolean[],
          ${col((r) => r.statusCode)}::int[], ${col((r) => r.latencyMs)}::int[], ${col((r) => r.error)}::text[]
        ) AS r(delivery_id, claim_token, next_attempt_at, attempted_at, succeeded, status_code, latency_ms, error)
      ), upd AS (
        UPDATE webhook_deliveries d
        SET status = r.status, attempts = d.attempts + 1, next_attempt_at = r.next_attempt_at, claim_token = NULL,
            last_attempt_at = r.attempted_at, last_status_code = r.status_code, last_latency_ms = r.latency_ms,
            last_error = r.error, delivered_at = CASE WHEN r.succeeded THEN r.attempted_at ELSE d.delivered_at END,
            updated_at = r.attempted_at
        FROM r WHERE d.id = r.delivery_id AND d.claim_token = r.claim_token
        RETURNING d.id
      ), logged AS (
        INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, succeeded, status_code, latency_ms, error)
        SELECT r.delivery_id, d.endpoint_id, r.attempted_at, r.succeeded, r.status_code, r.latency_ms, r.error
        FROM r JOIN webhook_deliveries d ON d.id = r.delivery_id
        WHERE NOT r.succeeded OR r.delivery_id NOT IN (SELECT id FROM upd)
        RETURNING 1
      )
      UPDATE webhook_endpoints e
      SET consecutive_failures = CASE WHEN u.had_success THEN u.trailing_failures ELSE e.consecutive_failures + u.trailing_failures END,
          failing_since = CASE WHEN u.trailing_failures = 0 THEN NULL
                               WHEN u.had_success THEN u.first_failure
                               ELSE coalesce(e.failing_since, u.first_failure) END,
          last_success_at = coalesce(u.last_success, e.last_success_at),
          last_failure_at = coalesce(u.last_failure, e.last_failure_at)
      FROM unnest(${hcol((c) => c.endpointId)}::text[], ${hcol((c) => c.hadSuccess)}::boolean[],
                  ${hcol((c) => isoOrNull(c.lastSuccessAt))}::timestamptz[], ${hcol((c) => isoOrNull(c.lastFailureAt))}::timestamptz[],
                  ${hcol((c) => c.trailingFailures)}::int[], ${hcol((c) => isoOrNull(c.firstTrailingFailureAt))}::timestamptz[])
           AS u(id, had_success, last_success, last_failure, trailing_failures, first_failure)
      WHERE e.id = u.id
        AND (u.trailing_failures > 0 OR u.last_failure IS NOT NULL OR e.consecutive_failures > 0 OR e.failing_since IS NOT NULL)
      RETURNING e.id, e.failing_since`);
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
