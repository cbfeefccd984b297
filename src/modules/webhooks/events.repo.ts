import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { Scope } from './webhooks.repo.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A position in the outbox's commit-safe order; both parts are decimal text (xid8 and bigint exceed 2^53). */
export interface OutboxPosition {
  xid: string;
  seq: string;
}

export interface FeedRow extends OutboxPosition {
  id: string;
  type: string;
  created_at: Date;
  data: Record<string, unknown>;
}

export const eventsRepo = {
  /**
   * Up to `limit` of the scope's events after `after`, in (xid, seq) order and only from transactions
   * older than every one still running (the rule fan-out reads by, dispatch.repo.ts), together with
   * that horizon. Both come from one statement, hence one snapshot: everything below the horizon that
   * matches and is not returned lies before `after`.
   */
  async page(db: Db, scope: Scope, after: OutboxPosition, limit: number, types: string[] | null): Promise<{ rows: FeedRow[]; horizon: string }> {
    const result = await sql<{ horizon: string } & { [K in keyof FeedRow]: FeedRow[K] | null }>`
      WITH snap AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
      SELECT snap.xmin::text AS horizon, e.id, e.type, e.created_at, e.data, e.xid::text AS xid, e.seq::text AS seq
      FROM snap LEFT JOIN LATERAL (
        SELECT o.id, o.type, o.created_at, o.data, o.xid, o.seq
        FROM outbox_events o
        WHERE o.partner_id = ${scope.partnerId} AND o.environment = ${scope.environment}
          AND (o.xid, o.seq) > (${after.xid}::xid8, ${after.seq}::bigint)
          AND o.xid < snap.xmin
          AND (${types}::text[] IS NULL OR o.type = ANY(${types}::text[]))
        ORDER BY o.xid, o.seq
        LIMIT ${limit}
      ) e ON true
      ORDER BY e.xid, e.seq`.execute(db);
    const horizon = result.rows[0]!.horizon;
    const rows = result.rows.filter((r): r is typeof r & FeedRow => r.id !== null);
    return { rows, horizon };
  },

  /** The oldest transaction still running: every event that becomes readable from now on has an xid at or above it. */
  async horizon(db: Db): Promise<string> {
    const result = await sql<{ xmin: string }>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`.execute(db);
    return result.rows[0]!.xmin;
  },
};
