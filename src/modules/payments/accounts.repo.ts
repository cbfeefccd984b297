import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentsAccountsTable } from '../../platform/db/schema.payments.js';
import type { Insertable } from 'kysely';

type Db = Kysely<Database> | Transaction<Database>;

export const accountsRepo = {
  /** The partner's Payments API number, created on first use. */
  async partnerNumber(db: Db, partnerId: string): Promise<number> {
    const result = await sql<{ number: number }>`
      WITH ins AS (
        INSERT INTO payments_partners (partner_id) VALUES (${partnerId}) ON CONFLICT (partner_id) DO NOTHING RETURNING number
      )
      SELECT number FROM ins UNION ALL SELECT number FROM payments_partners WHERE partner_id = ${partnerId}
      LIMIT 1`.execute(db);
    return result.rows[0]!.number;
  },

  async partnerExists(db: Db, partnerId: string) {
    return (await db.selectFrom('partners').select('id').where('id', '=', partnerId).executeTakeFirst()) !== undefined;
  },

  async insert(db: Db, row: Insertable<PaymentsAccountsTable>) {
    return db.insertInto('payments_accounts').values(row).returningAll().executeTakeFirstOrThrow();
  },

  /** An account with what a request needs about its partner. */
  async find(db: Db, id: string) {
    return db
      .selectFrom('payments_accounts as a')
      .innerJoin('partners as p', 'p.id', 'a.partner_id')
      .innerJoin('payments_partners as n', 'n.partner_id', 'a.partner_id')
      .select([
        'a.id',
        'a.partner_id',
        'a.environment',
        'a.processor',
        'a.description',
        'a.secret_sealed',
        'a.public_key',
        'a.processor_secret_sealed',
        'a.is_active',
        'a.created_at',
        'p.name as partner_name',
        'p.status as partner_status',
        'n.number as partner_number',
      ])
      .where('a.id', '=', id)
      .executeTakeFirst();
  },

  async listForPartner(db: Db, partnerId: string) {
    return db.selectFrom('payments_accounts').selectAll().where('partner_id', '=', partnerId).orderBy('created_at').execute();
  },
};
