import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';

const INT8_OID = 20;

/**
 * int8 columns come back as bigint instead of pg's default string, so money and token sums stay
 * exact in code. Scoped to our pools rather than set globally on the pg module.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => BigInt(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export interface PoolOptions {
  connectionString: string;
  max: number;
  applicationName?: string;
}

export function createPgPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName ?? 'almoner',
    types,
    // Fail fast on a dead database instead of queuing requests forever.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // A connection dropped while idle (database restart) must not crash the process.
  pool.on('error', () => {});
  return pool;
}

const poolOf = new WeakMap<Kysely<Database>, pg.Pool>();

export function createKysely(pool: pg.Pool): Kysely<Database> {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  poolOf.set(db, pool);
  return db;
}

/**
 * The pg pool behind a Kysely instance made by createKysely(), for the rare statement that must be a
 * named prepared statement (Kysely sends every statement unnamed, so PostgreSQL parses and plans it
 * on each execution). Undefined for any other instance.
 */
export function pgPoolOf(db: Kysely<Database>): pg.Pool | undefined {
  return poolOf.get(db);
}
