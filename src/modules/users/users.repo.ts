import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Environment, PartnerUserUpdate } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export const usersRepo = {
  /**
   * One round trip for a page and the total: the window count rides along with the rows. Only a
   * page past the end (no rows to carry it) needs a second query.
   */
  async list(db: Db, scope: Scope, offset: number, limit: number) {
    const base = db
      .selectFrom('partner_users')
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment);
    const rows = await base
      .selectAll()
      .select(sql<bigint>`count(*) OVER ()`.as('total_count'))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(offset)
      .limit(limit)
      .execute();
    if (rows.length > 0) {
      return { rows: rows.map(({ total_count: _, ...row }) => row), total: Number(rows[0]!.total_count) };
    }
    const count = await base.select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    return { rows: [], total: Number(count.n) };
  },

  async find(db: Db, scope: Scope, externalUserId: string) {
    return db
      .selectFrom('partner_users')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('external_user_id', '=', externalUserId)
      .executeTakeFirst();
  },

  /** Returns undefined when the external id already exists (the unique key decides under races). */
  async insert(
    db: Db,
    scope: Scope,
    row: { id: string; external_user_id: string; email: string | null; first_name: string | null; last_name: string | null; metadata: string },
  ) {
    return db
      .insertInto('partner_users')
      .values({ ...row, partner_id: scope.partnerId, environment: scope.environment })
      .onConflict((oc) => oc.columns(['partner_id', 'environment', 'external_user_id']).doNothing())
      .returningAll()
      .executeTakeFirst();
  },

  async update(db: Db, scope: Scope, externalUserId: string, patch: PartnerUserUpdate) {
    return db
      .updateTable('partner_users')
      .set({ ...patch, updated_at: sql`now()` })
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('external_user_id', '=', externalUserId)
      .returningAll()
      .executeTakeFirst();
  },
};
