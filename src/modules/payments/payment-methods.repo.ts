import { sql, type Insertable, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentMethodsTable, SetupIntentsTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

export const paymentMethodsRepo = {
  async insert(db: Db, row: Insertable<PaymentMethodsTable>) {
    return db.insertInto('payment_methods').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** An attached method of this customer of this account; anything else is not found. */
  async findAttached(db: Db, accountId: string, customerId: string, id: string) {
    return db
      .selectFrom('payment_methods')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('customer_id', '=', customerId)
      .where('id', '=', id)
      .where('detached_at', 'is', null)
      .executeTakeFirst();
  },

  async listAttached(db: Db, accountId: string, customerId: string) {
    return db
      .selectFrom('payment_methods')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('customer_id', '=', customerId)
      .where('detached_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  },

  async update(db: Db, id: string, patch: Updateable<PaymentMethodsTable>) {
    return db.updateTable('payment_methods').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
  },

  /**
   * One wrong micro-deposit guess, counted in SQL so concurrent guesses cannot share an attempt;
   * the guess that reaches the limit locks the account. Undefined when it is no longer awaiting
   * verification.
   */
  async recordFailedVerification(db: Db, id: string, maxAttempts: number) {
    return db
      .updateTable('payment_methods')
      .set({
        verify_attempts: sql`verify_attempts + 1`,
        status: sql`CASE WHEN verify_attempts + 1 >= ${maxAttempts} THEN 'verification_failed' ELSE status END`,
      })
      .where('id', '=', id)
      .where('status', '=', 'new')
      .returningAll()
      .executeTakeFirst();
  },

  async markVerified(db: Db, id: string) {
    return db.updateTable('payment_methods').set({ status: 'verified' }).where('id', '=', id).where('status', '=', 'new').returningAll().executeTakeFirst();
  },

  async detach(db: Db, id: string, at: Date) {
    return db.updateTable('payment_methods').set({ detached_at: at }).where('id', '=', id).where('detached_at', 'is', null).returningAll().executeTakeFirst();
  },

  async setDefault(db: Db, accountId: string, customerId: string, paymentMethodId: string | null, at: Date) {
    await db
      .updateTable('payment_customers')
      .set({ default_payment_method_id: paymentMethodId, updated_at: at })
      .where('account_id', '=', accountId)
      .where('id', '=', customerId)
      .execute();
  },

  /** Clears the customer's default only if it is still this method. */
  async clearDefaultIf(db: Db, accountId: string, customerId: string, paymentMethodId: string, at: Date) {
    await db
      .updateTable('payment_customers')
      .set({ default_payment_method_id: null, updated_at: at })
      .where('account_id', '=', accountId)
      .where('id', '=', customerId)
      .where('default_payment_method_id', '=', paymentMethodId)
      .execute();
  },
};

export const setupIntentsRepo = {
  async insert(db: Db, row: Insertable<SetupIntentsTable>) {
    return db.insertInto('setup_intents').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** Locked, so two confirmations of one intent run one after the other. */
  async findForUpdate(db: Transaction<Database>, id: string) {
    return db.selectFrom('setup_intents').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  },

  async update(db: Db, id: string, patch: Updateable<SetupIntentsTable>) {
    return db.updateTable('setup_intents').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  },
};
