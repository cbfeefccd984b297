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
