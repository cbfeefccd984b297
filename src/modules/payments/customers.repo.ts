import type { Insertable, Kysely, Transaction, Updateable } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentCustomersTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

export const customersRepo = {
  async insert(db: Db, row: Insertable<PaymentCustomersTable>) {
    return db.insertInto('payment_customers').values(row).returningAll().executeTakeFirstOrThrow();
  },

  async find(db: Db, accountId: string, id: string) {
    return db.selectFrom('payment_customers').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
  },

  /** A customer id in any account: ids are global, like the processor's. */
  async findAny(db: Db, id: string) {
    return db.selectFrom('payment_customers').select('id').where('id', '=', id).executeTakeFirst();
  },

  async findByExternalId(db: Db, accountId: string, externalId: string) {
    return db
      .selectFrom('payment_customers')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('external_id', '=', externalId)
      .executeTakeFirst();
  },

  async list(db: Db, accountId: string, limit: number, after: { created_at: Date; id: string } | undefined) {
    let query = db.selectFrom('payment_customers').selectAll().where('account_id', '=', accountId);
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('created_at', '>', after.created_at), eb.and([eb('created_at', '=', after.created_at), eb('id', '>', after.id)])]),
      );
    }
    return query.orderBy('created_at').orderBy('id').limit(limit).execute();
  },

  async update(db: Db, accountId: string, id: string, patch: Updateable<PaymentCustomersTable>) {
    return db
      .updateTable('payment_customers')
      .set(patch)
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },
};
