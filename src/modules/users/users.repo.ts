import { sql, type Kysely, type Transaction } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { Database, Environment, PartnerUserUpdate } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export const usersRepo = {
  async list(db: Db, scope: Scope, offset: number, limit: number) {
    const query = db
      .selectFrom('partner_users')
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc');
    return pageWithTotal(query, offset, limit);
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
    row: {
      id: string;
      external_user_id: string;
      email: string | null;
      first_name: string | null;
      last_name: string | null;
      metadata: string;
      created_at: Date;
      updated_at: Date;
    },
  ) {
    return db
      .insertInto('partner_users')
      .values({ ...row, partner_id: scope.partnerId, environment: scope.environment })
      .onConflict((oc) => oc.columns(['partner_id', 'environment', 'external_user_id']).doNothing())
      .returningAll()
      .executeTakeFirst();
  },

  async update(db: Db, scope: Scope, externalUserId: string, patch: PartnerUserUpdate, at: Date) {
    return db
      .updateTable('partner_users')
      .set({ ...patch, updated_at: at })
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('external_user_id', '=', externalUserId)
      .returningAll()
      .executeTakeFirst();
  },

  /** The ids of many users at once, by external id. */
  async findMany(db: Db, scope: Scope, externalIds: string[]) {
    if (externalIds.length === 0) return [];
    return db
      .selectFrom('partner_users')
      .select(['id', 'external_user_id'])
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('external_user_id', 'in', externalIds)
      .execute();
  },
  /** Creates users that do not exist yet, sorted by external id so concurrent batches take the unique-index locks in one order. */
  async insertMany(
    db: Db,
    scope: Scope,
    rows: { id: string; external_user_id: string; email: string | null; first_name: string | null; last_name: string | null; created_at: Date }[],
  ) {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.external_user_id < b.external_user_id ? -1 : 1));
    await sql`
      INSERT INTO partner_users (id, partner_id, environment, external_user_id, email, first_name, last_name, created_at, updated_at)
      SELECT u.id, ${scope.partnerId}, ${scope.environment}, u.ext, u.email, u.fn, u.ln, u.at, u.at
        FROM unnest(${sorted.map((r) => r.id)}::text[], ${sorted.map((r) => r.external_user_id)}::text[],
                    ${sorted.map((r) => r.email)}::text[], ${sorted.map((r) => r.first_name)}::text[],
                    ${sorted.map((r) => r.last_name)}::text[], ${sorted.map((r) => r.created_at.toISOString())}::timestamptz[])
             AS u(id, ext, email, fn, ln, at)
      ON CONFLICT (partner_id, environment, external_user_id) DO NOTHING`.execute(db);
  },
};
