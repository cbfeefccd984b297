import { sql, type Insertable, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { CampaignStatus, CampaignsTable, Database, Environment } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export type CampaignRow = Selectable<CampaignsTable>;
export type NewCampaign = Insertable<CampaignsTable>;
export type CampaignUpdate = Updateable<CampaignsTable>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export interface ScheduledTransition {
  id: string;
  partner_id: string;
  environment: Environment;
  previous_status: CampaignStatus;
  status: CampaignStatus;
}

export const campaignsRepo = {
  /** A page and the total in one round trip (the window count rides along), as in usersRepo.list. */
  async list(db: Db, scope: Scope, filter: { status?: CampaignStatus; includeArchived: boolean }, offset: number, limit: number) {
    let base = db.selectFrom('campaigns').where('partner_id', '=', scope.partnerId).where('environment', '=', scope.environment);
    if (filter.status) base = base.where('status', '=', filter.status);
    if (!filter.includeArchived) base = base.where('archived_at', 'is', null);
    return pageWithTotal(base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), offset, limit);
  },

  async find(db: Db, scope: Scope, id: string) {
    return db
      .selectFrom('campaigns')
      .selectAll()
      .where('id', '=', id)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .executeTakeFirst();
  },

  /** The row, locked until the transaction ends: status changes, budget edits and actions serialise on it. */
  async lock(trx: Transaction<Database>, scope: Scope, id: string) {
    return trx
      .selectFrom('campaigns')
      .selectAll()
      .where('id', '=', id)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .forUpdate()
      .executeTakeFirst();
  },

  async insert(db: Db, row: NewCampaign) {
    return db.insertInto('campaigns').values(row).returningAll().executeTakeFirstOrThrow();
  },

  async update(db: Db, id: string, patch: CampaignUpdate) {
    return db.updateTable('campaigns').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  },

  async poolInScope(db: Db, scope: Scope, poolId: string) {
    const row = await db
      .selectFrom('token_pools')
      .select('id')
      .where('id', '=', poolId)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** ACTIVE, non-archived campaigns, best first (priority, then oldest); uses campaigns_partner_idx. */
  /** Campaigns an action may go through: every running candidate, plus any it names explicitly. */
  async applicable(db: Db, scope: Scope, explicitIds: string[]) {
    return db
      .selectFrom('campaigns')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'ACTIVE'), eb('archived_at', 'is', null)]),
          ...(explicitIds.length > 0 ? [eb('id', 'in', explicitIds)] : []),
        ]),
      )
      .orderBy('priority', 'desc')
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
  },

  /**
   * The (partner, environment) pairs that have a scheduled transition due, each judged at its own partner
   * time: `realNow` plus the sandbox offset. Only a pre-filter: the guarded update decides.
   */
  async pairsWithDueTransitions(db: Db, realNow: Date, filter: { partnerId?: string; environment?: Environment }) {
    const result = await sql<{ partner_id: string; environment: Environment }>`
      SELECT DISTINCT c.partner_id, c.environment
        FROM campaigns c
        JOIN partners p ON p.id = c.partner_id
        CROSS JOIN LATERAL (
          SELECT ${realNow.toISOString()}::timestamptz
                 + (CASE WHEN c.environment = 'sandbox' THEN p.sandbox_clock_offset_ms ELSE 0 END) * interval '1 millisecond' AS now
        ) t
       WHERE c.archived_at IS NULL
         AND ((c.status = 'DRAFT' AND c.auto_start AND (c.starts_at IS NULL OR c.starts_at <= t.now))
           OR (c.status IN ('ACTIVE', 'PAUSED') AND c.ends_at <= t.now))
         ${filter.partnerId !== undefined ? sql`AND c.partner_id = ${filter.partnerId}` : sql``}
         ${filter.environment !== undefined ? sql`AND c.environment = ${filter.environment}` : sql``}
       ORDER BY c.partner_id, c.environment`.execute(db);
    return result.rows;
  },

  /**
   * Applies the due transitions of one partner environment at `now` (the same rules as dueStatus in
   * campaigns.rules.ts) and returns them with the status each had before. Rows another transaction holds
   * are skipped (SKIP LOCKED) and caught by a later run; a row changed meanwhile no longer matches, so a
   * transition happens once however many schedulers run.
   */
  async applyDueTransitions(trx: Transaction<Database>, partnerId: string, environment: Environment, now: Date, limit: number) {
    const at = now.toISOString();
    const result = await sql<ScheduledTransition>`
      WITH due AS (
        SELECT id, status AS previous_status,
               CASE WHEN ends_at IS NOT NULL AND ends_at <= ${at}::timestamptz THEN 'ENDED' ELSE 'ACTIVE' END AS next_status
          FROM campaigns
         WHERE partner_id = ${partnerId}
           AND environment = ${environment}
           AND archived_at IS NULL
           AND ((status = 'DRAFT' AND auto_start AND (starts_at IS NULL OR starts_at <= ${at}::timestamptz))
             OR (status IN ('ACTIVE', 'PAUSED') AND ends_at <= ${at}::timestamptz))
         ORDER BY id
         LIMIT ${limit}
         FOR UPDATE SKIP LOCKED
      )
      UPDATE campaigns c
         SET status = due.next_status, auto_start = false, updated_at = ${at}::timestamptz
        FROM due
       WHERE c.id = due.id
      RETURNING c.id, c.partner_id, c.environment, due.previous_status, c.status`.execute(trx);
    return result.rows;
  },
};
