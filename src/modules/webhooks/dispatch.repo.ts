import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { preparedTransaction, type Run } from './prepared-tx.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What a send to an endpoint needs, read in the transaction that claimed its deliveries. */
export interface DeliveryTarget {
  id: string;
  partner_id: string;
  environment: 'sandbox' | 'production';
  url: string;
  headers: Record<string, string>;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
}

/** A claimed delivery with everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** The event's createdAt as the body carries it (toISOString's form). */
  event_created_at_iso: string;
  attempts: number;
  max_attempts: number;
  /** The event's data exactly as stored (jsonb text), spliced into the body unparsed. */
  data_text: string;
  /** Shared by every delivery of one endpoint in a claim. */
  endpoint: DeliveryTarget;
}

/** A claim: a lease that this process holds under `token` until `leaseUntil`. */
export interface ClaimArgs {
  now: Date;
  leaseUntil: Date;
  token: string;
  /** At most this many deliveries of one endpoint held by this process, `busy` included. */
  perEndpoint: number;
  /** Deliveries of each endpoint this process already holds (sending or queued). */
  busy: Record<string, number>;
}

type ClaimedRow = Omit<ClaimedDelivery, 'endpoint'>;

const FANOUT_LOCK = sql`hashtext('almoner.webhook_fanout')`;

/**
 * A timestamp column as Date.prototype.toISOString() writes it, formatted by the database: the body
 * needs the text, and parsing each delivery's timestamp into a Date to print it again is wasted work.
 */
export const isoText = (column: string) => sql`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Plans the queue's statements as what they are: a few rows found by key or walked in index order.
 * The planner's statistics for webhook_deliveries are stale whenever it matters (a fresh table, a
 * burst after a quiet spell), and it then reads and sorts the whole backlog (bitmap scans, hash
 * joins over a sequential scan) for every claim and every batch of outcomes, so a backlog of n
 * costs n on each of them. Transaction-local, so nothing else on the connection is affected.
 */
export async function keyedPlans(trx: Transaction<Database>): Promise<void> {
  await KEYED_PLANS.execute(trx);
}

/** keyedPlans() for a preparedTransaction(). */
export async function keyedPlansIn(run: Run): Promise<void> {
  await run('webhook_keyed_plans', KEYED_PLANS);
}

const KEYED_PLANS = sql`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
                               set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`;

export const dispatchRepo = {
  /**
   * Turns up to `limit` committed outbox events into deliveries, one per subscribed active endpoint,
   * and moves the cursor, in one transaction. Only one process fans out at a time (advisory lock):
   * with `wait` a process queues for its turn, without it returns events -1 when another holds it.
   *
   * With `claim`, the deliveries this process has room for are inserted already claimed by it and
   * returned ready to send: a first attempt then costs no claim of its own (a round trip and a new
   * version of every row). The rest are inserted due now, for any dispatcher to claim.
   */
  async fanOut(
    db: Kysely<Database>,
    args: { now: Date; limit: number; maxAttempts: number; wait: boolean; claim?: ClaimArgs },
  ): Promise<{ events: number; deliveries: number; claimed: ClaimedDelivery[] }> {
    return preparedTransaction(db, async (run) => {
      if (args.wait) await run('webhook_fanout_wait', sql`SELECT pg_advisory_xact_lock(${FANOUT_LOCK})`);
      else {
        const [lock] = await run('webhook_fanout_try', sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${FANOUT_LOCK}) AS ok`);
        if (!lock!.ok) return { events: -1, deliveries: 0, claimed: [] };
      }
      const c = args.claim;
      const result = await run('webhook_fanout', sql<Omit<ClaimedRow, 'attempts' | 'max_attempts'> & { events: number; deliveries: number }>`
        WITH ev AS (
          -- Without the payload: most events of a busy outbox go to no endpoint, and the payloads of
          -- the few claimed here are read by key below instead of copied for every event.
          SELECT o.seq, o.xid, o.id, o.partner_id, o.environment, o.type, o.created_at
          FROM outbox_events o
          -- The cursor as two scalar subqueries, not a join: only then is the row comparison an index
          -- bound, instead of a filter over every event before the cursor (slower as the outbox grows).
          WHERE (o.xid, o.seq) > ((SELECT xid FROM webhook_fanout_cursor), (SELECT seq FROM webhook_fanout_cursor))
            AND o.xid < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY o.xid, o.seq
          LIMIT ${args.limit}
        ), fan AS (
          SELECT ev.seq, ev.id, ev.partner_id, ev.environment, ev.type, ev.created_at, e.id AS endpoint_id,
                 row_number() OVER (PARTITION BY e.id ORDER BY ev.xid, ev.seq)
                   <= ${c ? c.perEndpoint : 0} - coalesce((${JSON.stringify(c?.busy ?? {})}::jsonb ->> e.id)::int, 0) AS mine
          FROM ev JOIN webhook_endpoints e
            ON e.partner_id = ev.partner_id AND e.environment = ev.environment AND e.is_active
           AND (e.receive_all_events OR e.event_types ? ev.type)
        ), ins AS (
          INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, environment, event_id, event_type, event_created_at,
                                          outbox_seq, status, max_attempts, next_attempt_at, claim_token, created_at, updated_at)
          SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), fan.endpoint_id, fan.partner_id, fan.environment, fan.id,
                 fan.type, fan.created_at, fan.seq, CASE WHEN fan.mine THEN 'DELIVERING' ELSE 'PENDING' END, ${args.maxAttempts},
                 CASE WHEN fan.mine THEN ${c?.leaseUntil ?? null}::timestamptz ELSE ${args.now}::timestamptz END,
                 CASE WHEN fan.mine THEN ${c?.token ?? null}::text END, ${args.now}, ${args.now}
          FROM fan
          ON CONFLICT (endpoint_id, event_id) DO NOTHING
          RETURNING id, endpoint_id, event_id, outbox_seq, claim_token
        ), last AS (
          SELECT xid, seq FROM ev ORDER BY xid DESC, seq DESC LIMIT 1
        ), moved AS (
          UPDATE webhook_fanout_cursor c SET xid = last.xid, seq = last.seq FROM last RETURNING 1
        ), counts AS (
          SELECT (SELECT count(*) FROM ev)::int AS events, (SELECT count(*) FROM ins)::int AS deliveries, (SELECT count(*) FROM moved) AS moved
        )
        -- One row for the counts even when nothing was claimed, then one per claimed delivery.
        SELECT counts.events, counts.deliveries, mine.id, mine.endpoint_id, mine.event_id, mine.event_type, mine.event_created_at_iso, mine.data_text
        FROM counts LEFT JOIN (
          SELECT ins.id, ins.endpoint_id, ins.event_id, ev.type AS event_type, ${isoText('ev.created_at')} AS event_created_at_iso,
                 o.data::text AS data_text,
                 ev.xid, ev.seq
          FROM ins JOIN ev ON ev.seq = ins.outbox_seq JOIN outbox_events o ON o.seq = ins.outbox_seq
          WHERE ins.claim_token IS NOT NULL
        ) mine ON true
        ORDER BY mine.xid, mine.seq`);
      const first = result[0]!;
      const rows: ClaimedRow[] = result
        .filter((r) => r.id !== null)
        .map((r) => ({
          id: r.id,
          endpoint_id: r.endpoint_id,
          event_id: r.event_id,
          event_type: r.event_type,
          event_created_at_iso: r.event_created_at_iso,
          attempts: 0,
          max_attempts: args.maxAttempts,
          data_text: r.data_text,
        }));
      const targets = rows.length ? await run('webhook_fanout_targets', targetsQuery(rows)) : [];
      return { events: first.events, deliveries: first.deliveries, claimed: attachTargets(rows, targets) };
    });
  },

  /**
   * Whether any delivery is due: one index probe, planned in microseconds, where a claim is a
   * transaction and a statement that takes most of a millisecond to plan. Polls ask this first.
   */
  async anyDue(db: Kysely<Database>, now: Date): Promise<boolean> {
    const result = await sql<{ due: boolean }>`
      SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status IN ('PENDING', 'DELIVERING') AND next_attempt_at <= ${now}) AS due`.execute(db);
    return result.rows[0]!.due;
  },

  /**
   * Claims due deliveries with FOR UPDATE SKIP LOCKED, so dispatchers in several processes never
   * take the same one. A claim is a lease: next_attempt_at moves to `leaseUntil`, and a dispatcher
   * that dies leaves it to be claimed again once that passes.
   */
  async claim(db: Kysely<Database>, args: ClaimArgs & { limit: number }): Promise<ClaimedDelivery[]> {
    return db.transaction().execute(async (trx) => {
      await keyedPlans(trx);
      return withTargets(trx, await claimRows(trx, args));
    });
  },
};

async function claimRows(db: Db, args: ClaimArgs & { limit: number }): Promise<ClaimedRow[]> {
  // Endpoints this process cannot take more of are left out of the scan, so their rows are neither
  // locked for nothing nor in the way of other endpoints' deliveries.
  const full = Object.entries(args.busy)
    .filter(([, n]) => n >= args.perEndpoint)
    .map(([endpointId]) => endpointId);
  const result = await sql<ClaimedRow>`
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
      RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.event_created_at, d.attempts, d.max_attempts, d.outbox_seq, d.payload
    )
    SELECT c.id, c.endpoint_id, c.event_id, c.event_type, ${isoText('c.event_created_at')} AS event_created_at_iso, c.attempts, c.max_attempts,
           coalesce(c.payload::text, o.data::text) AS data_text
    FROM claimed c
    LEFT JOIN outbox_events o ON o.seq = c.outbox_seq`.execute(db);
  return result.rows;
}

/** The endpoints of these deliveries, each read once however many of its deliveries there are. */
function targetsQuery(rows: ClaimedRow[]) {
  return sql<DeliveryTarget>`
    SELECT id, partner_id, environment, url, headers, secret_sealed, previous_secret_sealed, previous_secret_expires_at
    FROM webhook_endpoints WHERE id = ANY(${[...new Set(rows.map((r) => r.endpoint_id))]}::text[])`;
}

function attachTargets(rows: ClaimedRow[], targets: DeliveryTarget[]): ClaimedDelivery[] {
  const byId = new Map(targets.map((t) => [t.id, t]));
  // An endpoint deleted since its rows were claimed took them with it (ON DELETE CASCADE).
  return rows.filter((r) => byId.has(r.endpoint_id)).map((r) => ({ ...r, endpoint: byId.get(r.endpoint_id)! }));
}

/** Attaches each delivery's endpoint, read once per endpoint rather than once per delivery. */
export async function withTargets(db: Db, rows: ClaimedRow[]): Promise<ClaimedDelivery[]> {
  if (rows.length === 0) return [];
  return attachTargets(rows, (await targetsQuery(rows).execute(db)).rows);
}
