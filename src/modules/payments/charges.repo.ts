import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable, PaymentMethodsTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

export const chargesRepo = {
  insert: (db: Db, row: Insertable<ChargesTable>) => db.insertInto('charges').values(row).returningAll().executeTakeFirstOrThrow(),

  update: (db: Db, id: string, patch: Updateable<ChargesTable>) =>
    db.updateTable('charges').set(patch).where('id', '=', id).returningAll().executeTakeFirst(),

  find: (db: Db, accountId: string, id: string) =>
    db.selectFrom('charges').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),

  listForCustomer: (db: Db, accountId: string, customerId: string, limit: number) =>
    db
      .selectFrom('charges')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('customer_id', '=', customerId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute(),

  /**
   * Pending bank debits whose settlement day has come by their partner's clock (a sandbox clock may
   * run ahead of real time). Locked so two workers never settle one twice. Stripe accounts are not
   * settled here: Stripe settles their debits and says so by webhook.
   */
  dueForSettlement: async (trx: Transaction<Database>, now: Date, limit: number) =>
    (
      await sql<{ id: string; account_id: string }>`
        SELECT c.id, c.account_id
        FROM charges c
        JOIN payments_accounts a ON a.id = c.account_id
        JOIN partners p ON p.id = a.partner_id
        WHERE c.status = 'pending'
          AND a.processor = 'sandbox'
          AND c.settles_at <= ${now}::timestamptz + CASE WHEN a.environment = 'sandbox'
                                                         THEN p.sandbox_clock_offset_ms * interval '1 millisecond'
                                                         ELSE interval '0' END
        ORDER BY c.settles_at
        LIMIT ${limit}
        FOR UPDATE OF c SKIP LOCKED`.execute(trx)
    ).rows,

  lockForUpdate: (trx: Transaction<Database>, id: string) => trx.selectFrom('charges').selectAll().where('id', '=', id).forUpdate().executeTakeFirst(),

  /**
   * The latest charge made by this same request (route and body) whose outcome nobody was given:
   * still processing, or settled by the worker or a webhook after its request failed.
   */
  unanswered: (db: Db, accountId: string, requestHash: string, since: Date) =>
    db
      .selectFrom('charges')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('request_hash', '=', requestHash)
      .where('answered_at', 'is', null)
      .where('processor_asked_at', '>=', since)
      .orderBy('processor_asked_at', 'desc')
      .limit(1)
      .executeTakeFirst(),

  /** Takes the right to ask the processor about a processing charge, unless someone holds it. */
  lease: (db: Db, id: string, now: Date, until: Date) =>
    db
      .updateTable('charges')
      .set({ lease_until: until })
      .where('id', '=', id)
      .where('status', '=', 'processing')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .returningAll()
      .executeTakeFirst(),

  /** Gives the lease up at once: the next request or sweep may ask. */
  releaseLease: (db: Db, id: string, now: Date) =>
    db.updateTable('charges').set({ lease_until: now }).where('id', '=', id).where('status', '=', 'processing').execute(),

  /** Processing charges nobody is asking about (their asker died or gave up), leased to this sweep. */
  leaseAbandoned: async (trx: Transaction<Database>, now: Date, until: Date, limit: number) =>
    (
      await sql<{ id: string; account_id: string }>`
        UPDATE charges SET lease_until = ${until}
        WHERE id IN (
          SELECT id FROM charges
          WHERE status = 'processing' AND lease_until <= ${now}
          ORDER BY lease_until
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
        RETURNING id, account_id`.execute(trx)
    ).rows,

  /** A processing charge the processor certainly never took: it is forgotten, as if never asked. */
  deleteProcessing: (trx: Transaction<Database>, id: string) => trx.deleteFrom('charges').where('id', '=', id).where('status', '=', 'processing').execute(),

  findMethod: (db: Db, accountId: string, id: string) =>
    db.selectFrom('payment_methods').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),

  insertMethod: (db: Db, row: Insertable<PaymentMethodsTable>) => db.insertInto('payment_methods').values(row).returningAll().executeTakeFirstOrThrow(),
  /** A 3-D Secure card authenticated once: later off-session charges of it go through. */
  markAuthenticated: (db: Db, methodId: string) => db.updateTable('payment_methods').set({ sandbox_outcome: 'succeeds' }).where('id', '=', methodId).execute(),
};
