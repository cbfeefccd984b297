import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { OrganizationsTable } from '../../platform/db/schema.payments.js';

type Db = Kysely<Database> | Transaction<Database>;

export const organizationsRepo = {
  find: (db: Db, id: number) => db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst(),
  /** Inserts or, for an existing id or EIN, leaves the row as it is; returns the row either way. */
  async ensure(db: Db, row: Insertable<OrganizationsTable>) {
    await db.insertInto('organizations').values(row).onConflict((oc) => oc.doNothing()).execute();
    const query = db.selectFrom('organizations').selectAll();
    return (row.id !== undefined ? query.where('id', '=', row.id as number) : query.where('slug', '=', row.slug)).executeTakeFirstOrThrow();
  },
};
