import type { Kysely, RawBuilder } from 'kysely';
import { pgPoolOf } from '../../platform/db/postgres.js';
import type { Database } from '../../platform/db/schema.js';

/** Runs one statement of the transaction; the name makes it a prepared statement of its connection. */
export type Run = <R>(name: string, query: RawBuilder<R>) => Promise<R[]>;

/**
 * A transaction whose statements run as named prepared statements, for the dispatcher's statements
 * that run every few milliseconds: Kysely sends every statement unnamed, so PostgreSQL parses and
 * plans it on each execution, and planning fan-out's statement took most of a millisecond, about a
 * sixth of what PostgreSQL spends on a batch. Prepared, they are planned once per connection (a
 * name must always carry the same text). Instances not made by createKysely() get an ordinary
 * Kysely transaction.
 */
export async function preparedTransaction<T>(db: Kysely<Database>, fn: (run: Run) => Promise<T>): Promise<T> {
  const pool = pgPoolOf(db);
  if (!pool) return db.transaction().execute((trx) => fn(async (_name, query) => (await query.execute(trx)).rows));
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(async <R>(name: string, query: RawBuilder<R>) => {
      const compiled = query.compile(db);
      return (await client.query<R & object>({ name, text: compiled.sql, values: [...compiled.parameters] })).rows;
    });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that cannot even roll back is dropped rather than handed to the next caller.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.release(broken);
  }
}
