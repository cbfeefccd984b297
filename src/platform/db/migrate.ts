import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

// Any fixed number works; it only has to be the same in every process of one installation.
const MIGRATION_LOCK_ID = 7_406_211_001;

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(path.join(dir, file), 'utf8');
      return {
        version: file.slice(0, 4),
        name: file.replace(/\.sql$/, ''),
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    }),
  );
}

export class MigrationError extends Error {}

/**
 * Forward-only: applies every file not yet recorded, each in its own transaction, under an
 * advisory lock so several processes booting at once apply each file exactly once. An applied
 * file whose text has since changed stops boot: editing history would make databases diverge.
 */
export async function migrate(db: Kysely<Database>, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = await readMigrations(dir);
  const applied: string[] = [];
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`.execute(conn);
      const done = await conn.selectFrom('schema_migrations').select(['version', 'name', 'checksum']).execute();
      const byVersion = new Map(done.map((r) => [r.version, r]));
      for (const file of files) {
        const previous = byVersion.get(file.version);
        if (previous) {
          if (previous.checksum !== file.checksum) {
            throw new MigrationError(
              `migration ${file.name} was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        await conn.transaction().execute(async (trx) => {
          await sql.raw(file.sql).execute(trx);
          await trx
            .insertInto('schema_migrations')
            .values({ version: file.version, name: file.name, checksum: file.checksum })
            .execute();
        });
        applied.push(file.name);
      }
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
  return applied;
}

/** For /readyz: true when every migration file is recorded as applied. */
export async function migrationsCurrent(db: Kysely<Database>): Promise<boolean> {
  const files = await readMigrations();
  const rows = await db.selectFrom('schema_migrations').select('version').execute();
  const have = new Set(rows.map((r) => r.version));
  return files.every((f) => have.has(f.version));
}
