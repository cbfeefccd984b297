import { once } from 'node:events';
import { Kysely, PostgresDialect, sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../platform/db/schema.js';
import type { OrganizationRecord } from './bmf.js';

/** Serialises whatever writes slugs (imports, the curated seed), so two never pick the same one. */
export const DIRECTORY_LOCK_ID = 7_406_211_015;

export interface StagedRow extends OrganizationRecord {
  /** Input order across all files of the import: a later row for the same EIN wins. */
  seq: number;
  slugs: readonly [string, string | null, string | null, string];
}

export interface MergeCounts {
  duplicates: number;
  inserted: number;
  updated: number;
  unchanged: number;
}

/** Kysely over one client, so COPY (which needs the raw client) and the SQL share one session. */
function kyselyOnClient(client: pg.Client): Kysely<Database> {
  const pooled = Object.assign(client, { release() {} });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect: async () => pooled, end: async () => {} } }) });
}

const STAGED_COLUMNS = 'seq, ein, name, city, state, ntee_code, deductibility, status, slug0, slug1, slug2, slug3';

/** COPY's text format: tab-separated, backslash escapes, \N for null. */
function copyField(value: string | number | null): string {
  if (value === null) return '\\N';
  const text = String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : text;
}

/** One staged row in COPY's text format, line break included. */
export function copyLine(r: StagedRow): string {
  const values = [r.seq, r.ein, r.name, r.city, r.state, r.nteeCode, r.deductibility, r.status, ...r.slugs];
  return `${values.map(copyField).join('\t')}\n`;
}

/**
 * The import's rows go to a temporary table first (one COPY stream for the whole import) and are
 * merged in one statement per step: each new organization's slug can then be settled against
 * every other new one of the same import, so the outcome does not depend on file or row order, and
 * a re-import of unchanged data writes nothing. Temporary tables skip the WAL; these live as long
 * as the import's transaction.
 */
export const importRepo = {
  /** One connection of its own and one transaction around `work`, committed if it returns. */
  async inTransaction<T>(connectionString: string, work: (db: Kysely<Database>, client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString, application_name: 'almoner-import' });
    await client.connect();
    const db = kyselyOnClient(client);
    try {
      await sql`BEGIN`.execute(db);
      const result = await work(db, client);
      await sql`COMMIT`.execute(db);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(db).catch(() => {});
      throw err;
    } finally {
      await client.end();
    }
  },

  async createStaging(db: Kysely<Database>) {
    await sql`CREATE TEMP TABLE organization_import (
      seq integer NOT NULL, ein text NOT NULL, name text NOT NULL, city text, state text, ntee_code text,
      deductibility text, status text NOT NULL, slug0 text NOT NULL, slug1 text, slug2 text, slug3 text NOT NULL
    ) ON COMMIT DROP`.execute(db);
    await sql`CREATE TEMP TABLE organization_import_slug (ein text NOT NULL, slug text NOT NULL) ON COMMIT DROP`.execute(db);
  },

  /** A COPY into the staging table; write() takes copyLine()s and resolves when the stream can take more. */
  openStaging(client: pg.Client) {
    const stream = client.query(copyFrom(`COPY organization_import (${STAGED_COLUMNS}) FROM STDIN`));
    const failed = once(stream, 'error').then(([err]) => Promise.reject(err as Error));
    failed.catch(() => {});
    return {
      async write(lines: string) {
        if (!stream.write(lines)) await Promise.race([once(stream, 'drain'), failed]);
      },
      async end() {
        stream.end();
        await Promise.race([once(stream, 'finish'), failed]);
      },
    };
  },

  async merge(db: Kysely<Database>): Promise<MergeCounts> {
    await sql`SELECT pg_advisory_xact_lock(${DIRECTORY_LOCK_ID})`.execute(db);
    await sql`ANALYZE organization_import`.execute(db);
    const duplicates = await affected(db, sql`DELETE FROM organization_import a USING organization_import b WHERE a.ein = b.ein AND a.seq < b.seq`);
    // A curated organization keeps its curated name; the IRS facts (place, codes, status) follow the file.
    const updated = await affected(
      db,
      sql`UPDATE organizations o SET
          name = CASE WHEN o.curated THEN o.name ELSE s.name END, city = s.city, state = s.state, ntee_code = s.ntee_code,
          deductibility = s.deductibility, status = s.status, updated_at = now()
        FROM organization_import s
        WHERE o.ein = s.ein
          AND (CASE WHEN o.curated THEN o.name ELSE s.name END, s.city, s.state, s.ntee_code, s.deductibility, s.status)
            IS DISTINCT FROM (o.name, o.city, o.state, o.ntee_code, o.deductibility, o.status)`,
    );
    const known = await affected(db, sql`DELETE FROM organization_import s USING organizations o WHERE o.ein = s.ein`);
    await assignSlugs(db);
    const inserted = await withIndexesRebuiltIfLarger(db, () =>
      // EIN order makes the new ids, like the slugs, a function of the input set.
      affected(
        db,
        sql`INSERT INTO organizations (slug, name, ein, city, state, ntee_code, deductibility, status)
          SELECT a.slug, s.name, s.ein, s.city, s.state, s.ntee_code, s.deductibility, s.status
          FROM organization_import s JOIN organization_import_slug a USING (ein) ORDER BY s.ein`,
      ),
    );
    return { duplicates, inserted, updated, unchanged: known - updated };
  },
};

/**
 * Maintaining the indexes row by row costs more than the insert itself. Measured with the
 * 300,000-row sample on a loaded 2-core machine: 19-27 s inserting with every index in place,
 * 13 s dropping and rebuilding the search indexes, 3 s less again rebuilding the unique slug and
 * EIN indexes too. So when an import at least doubles the directory (a first load), its
 * transaction drops every index but the primary key (and any a foreign key relies on), inserts,
 * and builds them again from their own definitions; a duplicate slug or EIN would fail the rebuild
 * and roll the import back. The price: reads of the directory wait for the import's commit, which
 * is why smaller imports (updates, a state added) keep the indexes.
 */
async function withIndexesRebuiltIfLarger(db: Kysely<Database>, insert: () => Promise<number>): Promise<number> {
  const sizes = await sql<{ existing: string; fresh: string }>`SELECT
      (SELECT count(*) FROM organizations) AS existing, (SELECT count(*) FROM organization_import) AS fresh`.execute(db);
  const { existing, fresh } = sizes.rows[0]!;
  if (Number(fresh) <= Number(existing)) return insert();
  const indexes = await sql<{ index: string; definition: string; constraint: string | null; constraintDefinition: string | null }>`
    SELECT i.indexrelid::regclass::text AS index, pg_get_indexdef(i.indexrelid) AS definition,
      c.conname AS constraint, pg_get_constraintdef(c.oid) AS "constraintDefinition"
    FROM pg_index i
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
    WHERE i.indrelid = 'organizations'::regclass AND NOT i.indisprimary
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)`.execute(db);
  for (const i of indexes.rows) {
    if (i.constraint) await sql`ALTER TABLE organizations DROP CONSTRAINT ${sql.id(i.constraint)}`.execute(db);
    else await sql`DROP INDEX ${sql.raw(i.index)}`.execute(db);
  }
  const inserted = await insert();
  for (const i of indexes.rows) {
    if (i.constraint) await sql`ALTER TABLE organizations ADD CONSTRAINT ${sql.id(i.constraint)} ${sql.raw(i.constraintDefinition!)}`.execute(db);
    else await sql.raw(i.definition).execute(db);
  }
  // Fresh statistics, or the first searches plan for an empty table until autovacuum comes by.
  await sql`ANALYZE organizations`.execute(db);
  return inserted;
}

async function affected(db: Kysely<Database>, query: RawBuilder<unknown>): Promise<number> {
  const result = await query.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Each new organization takes the first of its candidate slugs (name, name-city, name-city-state,
 * name-EIN) that no organization holds. Candidates are settled one step at a time for all rows
 * together, and when several rows want the same slug the lowest EIN gets it, so the result is the
 * same in whatever order the rows came. Existing slugs never change: links stay valid.
 */
async function assignSlugs(db: Kysely<Database>) {
  // Most names are unique: the first step settles nearly every row, and the rest work on what is left.
  await sql`INSERT INTO organization_import_slug (ein, slug)
    SELECT DISTINCT ON (s.slug0) s.ein, s.slug0 FROM organization_import s
    WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.slug = s.slug0)
    ORDER BY s.slug0, s.ein`.execute(db);
  await sql`CREATE TEMP TABLE organization_import_pending ON COMMIT DROP AS
    SELECT s.ein, s.slug1, s.slug2, s.slug3 FROM organization_import s
    WHERE NOT EXISTS (SELECT 1 FROM organization_import_slug a WHERE a.ein = s.ein)`.execute(db);
  await sql`CREATE INDEX ON organization_import_slug (slug)`.execute(db);
  await sql`ANALYZE organization_import_slug, organization_import_pending`.execute(db);
  const step = (candidate: RawBuilder<unknown>) =>
    sql`WITH won AS (
        INSERT INTO organization_import_slug (ein, slug)
        SELECT DISTINCT ON (cand) ein, cand
        FROM (SELECT p.ein, ${candidate} AS cand FROM organization_import_pending p) c
        WHERE cand IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.slug = c.cand)
          AND NOT EXISTS (SELECT 1 FROM organization_import_slug a WHERE a.slug = c.cand)
        ORDER BY cand, ein
        RETURNING ein)
      DELETE FROM organization_import_pending p USING won WHERE p.ein = won.ein`.execute(db);
  for (const column of ['slug1', 'slug2', 'slug3']) await step(sql.ref(`p.${column}`));
  // name-EIN is taken only if another organization's name ends in this EIN; count on from there.
  for (let n = 2; ; n++) {
    const left = await sql<{ n: string }>`SELECT count(*) AS n FROM organization_import_pending`.execute(db);
    if (Number(left.rows[0]!.n) === 0) return;
    await step(sql`p.slug3 || '-' || ${String(n)}::text`);
  }
}
