import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { ConnectedAccountsTable, PaymentPricesTable, PaymentProductsTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

export const catalogRepo = {
  insertProduct: (db: Db, row: Insertable<PaymentProductsTable>) => db.insertInto('payment_products').values(row).returningAll().executeTakeFirstOrThrow(),
  listProducts: (db: Db, accountId: string) =>
    db.selectFrom('payment_products').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').limit(1000).execute(),
  findProduct: (db: Db, accountId: string, id: string) =>
    db.selectFrom('payment_products').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),

  insertPrice: (db: Db, row: Insertable<PaymentPricesTable>) => db.insertInto('payment_prices').values(row).returningAll().executeTakeFirstOrThrow(),
  listPrices: (db: Db, accountId: string, productId: string) =>
    db
      .selectFrom('payment_prices')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('product_id', '=', productId)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),
  findPrice: (db: Db, accountId: string, id: string) =>
    db.selectFrom('payment_prices').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),

  insertConnected: (db: Db, row: Insertable<ConnectedAccountsTable>) => db.insertInto('connected_accounts').values(row).returningAll().executeTakeFirstOrThrow(),
  clearDefaultConnected: (db: Db, accountId: string) =>
    db.updateTable('connected_accounts').set({ is_default: false }).where('account_id', '=', accountId).where('is_default', '=', true).execute(),
  listConnected: (db: Db, accountId: string) =>
    db.selectFrom('connected_accounts').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute(),
  findConnected: (db: Db, accountId: string, id: string) =>
    db.selectFrom('connected_accounts').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst(),
  defaultConnected: (db: Db, accountId: string) =>
    db.selectFrom('connected_accounts').selectAll().where('account_id', '=', accountId).where('is_default', '=', true).executeTakeFirst(),
};
