import { sql, type Kysely, type Transaction } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { Database, Environment, WebhookEndpointUpdate } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  event_types: string;
  receive_all_events: boolean;
  headers: string;
  secret_sealed: string;
}

export const webhooksRepo = {
  async list(db: Db, scope: Scope, offset: number, limit: number) {
    const query = db
      .selectFrom('webhook_endpoints')
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc');
    return pageWithTotal(query, offset, limit);
  },

  async find(db: Db, scope: Scope, id: string, forUpdate = false) {
    let query = db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('id', '=', id);
    if (forUpdate) query = query.forUpdate();
    return query.executeTakeFirst();
  },

  async insert(db: Db, scope: Scope, row: NewWebhookEndpoint) {
    return db
      .insertInto('webhook_endpoints')
      .values({ ...row, partner_id: scope.partnerId, environment: scope.environment, is_active: true })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async update(db: Db, scope: Scope, id: string, patch: WebhookEndpointUpdate) {
    return db
      .updateTable('webhook_endpoints')
      .set({ ...patch, updated_at: sql`now()` })
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  async delete(db: Db, scope: Scope, id: string) {
    return db
      .deleteFrom('webhook_endpoints')
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst();
  },
};
