import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { SubscriptionsTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Subscriptions as Stripe accounts keep them: our row, Stripe's id, and the creation in progress. */
export const subscriptionsRepo = {
  insert: (trx: Transaction<Database>, row: Insertable<SubscriptionsTable>) => trx.insertInto('subscriptions').values(row).returningAll().executeTakeFirstOrThrow(),

  update: (db: Db, id: string, patch: Updateable<SubscriptionsTable>) =>
    db.updateTable('subscriptions').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),

  lockForUpdate: (trx: Transaction<Database>, id: string) => trx.selectFrom('subscriptions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst(),

  /** A subscription the API shows: one being created (incomplete) is not shown. */
  visible: (db: Db, accountId: string, id: string, customerId: string | null) => {
    let q = db.selectFrom('subscriptions').selectAll().where('account_id', '=', accountId).where('id', '=', id).where('status', '<>', 'incomplete');
    if (customerId) q = q.where('customer_id', '=', customerId);
    return q.executeTakeFirst();
  },

  byProcessorRef: (trx: Transaction<Database>, ref: string) => trx.selectFrom('subscriptions').selectAll().where('processor_ref', '=', ref).forUpdate().executeTakeFirst(),

  /** The latest subscription this same request created whose creator was never told it exists. */
  byRequest: (db: Db, accountId: string, requestHash: string, since: Date) =>
    db
      .selectFrom('subscriptions')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('request_hash', '=', requestHash)
      .where('processor_asked_at', '>=', since)
      .orderBy('processor_asked_at', 'desc')
      .limit(1)
      .executeTakeFirst(),

  lease: (db: Db, id: string, now: Date, until: Date) =>
    db
      .updateTable('subscriptions')
      .set({ lease_until: until })
      .where('id', '=', id)
      .where('status', '=', 'incomplete')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .returningAll()
      .executeTakeFirst(),

  releaseLease: (db: Db, id: string, now: Date) =>
    db.updateTable('subscriptions').set({ lease_until: now }).where('id', '=', id).where('status', '=', 'incomplete').execute(),

  leaseAbandoned: async (trx: Transaction<Database>, now: Date, until: Date, limit: number) =>
    (
      await sql<{ id: string; account_id: string }>`
        UPDATE subscriptions SET lease_until = ${until}
        WHERE id IN (
          SELECT id FROM subscriptions
          WHERE status = 'incomplete' AND lease_until <= ${now}
          ORDER BY lease_until
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        RETURNING id, account_id`.execute(trx)
    ).rows,

  deleteIncomplete: (trx: Transaction<Database>, id: string) => trx.deleteFrom('subscriptions').where('id', '=', id).where('status', '=', 'incomplete').execute(),

  hasPaidInvoice: async (trx: Transaction<Database>, subscriptionId: string) =>
    (await trx.selectFrom('subscription_invoices').select('id').where('subscription_id', '=', subscriptionId).where('status', '=', 'paid').limit(1).executeTakeFirst()) !== undefined,

  invoiceByProcessorRef: (trx: Transaction<Database>, ref: string) =>
    trx.selectFrom('subscription_invoices').select('id').where('processor_ref', '=', ref).executeTakeFirst(),
};
