import { sql, type Insertable, type Kysely, type SelectQueryBuilder, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { OrganizationsTable } from '../../platform/db/schema.payments.js';
import type { DirectoryRow } from './directory-index.build.js';
import { directoryChanged } from './directory-changes.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface SearchFilters {
  state?: string;
  /** An NTEE major group ("T") or code ("T20"): a prefix. */
  ntee?: string;
  includeInactive: boolean;
  limit: number;
}

/**
 * Fuzzy candidates scored per query. A query made of common words ("church of g") matches tens of
 * thousands of names; scoring them all costs over 100 ms, so the trigram index's first candidates
 * are scored and the rest dropped. Such a query is ambiguous anyway, and the next keystroke narrows it.
 */
const FUZZY_CANDIDATES = 300;

const COLUMNS = ['id', 'slug', 'name', 'ein', 'city', 'state', 'ntee_code', 'deductibility', 'status', 'logo_url', 'curated'] as const;
/** Search results also carry the key they were ordered by. */
const RANKED = [...COLUMNS, 'search_key'] as const;

type OrgQuery = SelectQueryBuilder<Database, 'organizations', object>;

function filtered<Q extends OrgQuery>(query: Q, f: SearchFilters): Q {
  let q = query;
  if (!f.includeInactive) q = q.where('status', '=', 'active') as Q;
  if (f.state) q = q.where('state', '=', f.state) as Q;
  if (f.ntee) q = q.where('ntee_code', 'like', `${f.ntee}%`) as Q;
  return q;
}

const key = (q: string) => sql<string>`organization_search_key(${q})`;
const wordSimilarity = (q: string) => sql<number>`word_similarity(organization_search_key(${q}), search_key)`;

/** Rows per FETCH while the directory index reads the table: a few megabytes at a time. */
const DIRECTORY_BATCH_ROWS = 5000;

export const organizationsRepo = {
  /** organization_directory_version (migration 0022): changes with every write to the directory. */
  async directoryVersion(db: Db): Promise<number> {
    const result = await sql<{ version: string }>`SELECT version::text AS version FROM organization_directory_version`.execute(db);
    return Number(result.rows[0]?.version ?? 0);
  },

  /** The planner's row count estimate: free, and close enough to choose how to build an index. */
  async estimatedSize(db: Db): Promise<number> {
    const result = await sql<{ rows: number }>`SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'organizations'::regclass`.execute(db);
    return Math.max(0, result.rows[0]?.rows ?? 0);
  },

  /**
   * Streams every organization to `onRows`, a batch at a time, in name order (search_key bytewise,
   * then id), and returns the directory version they are, all from one snapshot. Sorting here
   * costs the database a fraction of what it costs JavaScript, and memory enough to do it at once.
   */
  async readDirectory(db: Kysely<Database>, onRows: (rows: DirectoryRow[]) => void): Promise<number> {
    return db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        await sql`SET LOCAL work_mem = '64MB'`.execute(trx);
        const version = await organizationsRepo.directoryVersion(trx);
        await sql`DECLARE directory_rows NO SCROLL CURSOR FOR
          SELECT id, slug, name, ein, city, state, ntee_code, deductibility, status, logo_url, curated, search_key
          FROM organizations ORDER BY search_key COLLATE "C", id`.execute(trx);
        for (;;) {
          const batch = await sql<DirectoryRow>`FETCH ${sql.raw(String(DIRECTORY_BATCH_ROWS))} FROM directory_rows`.execute(trx);
          if (batch.rows.length === 0) return version;
          onRows(batch.rows);
        }
      });
  },


  find: (db: Db, id: number) => db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst(),
  /**
   * Inserts or, for an existing id or EIN, leaves the row as it is; returns the row either way.
   * Announces the change (directoryChanged), so `db` must not be a transaction: the announcement
   * would come before the commit, and an index rebuilt at once would miss the row.
   */
  async ensure(db: Kysely<Database>, row: Insertable<OrganizationsTable>) {
    await db.insertInto('organizations').values(row).onConflict((oc) => oc.doNothing()).execute();
    directoryChanged();
    const query = db.selectFrom('organizations').selectAll();
    return (row.id !== undefined ? query.where('id', '=', row.id as number) : query.where('slug', '=', row.slug)).executeTakeFirstOrThrow();
  },
  findBySlug: (db: Db, slug: string) => db.selectFrom('organizations').select(COLUMNS).where('slug', '=', slug).executeTakeFirst(),
  findByEin: (db: Db, ein: string) => db.selectFrom('organizations').select(COLUMNS).where('ein', '=', ein).executeTakeFirst(),
  slugTaken: async (db: Db, slug: string) =>
    (await db.selectFrom('organizations').select('id').where('slug', '=', slug).executeTakeFirst()) !== undefined,
  /** The caller announces the change (directoryChanged) once its transaction commits. */
  async insert(db: Db, row: Insertable<OrganizationsTable>) {
    await db.insertInto('organizations').values(row).execute();
  },
  /** The caller announces the change (directoryChanged) once its transaction commits. */
  async updateByEin(db: Db, ein: string, set: Updateable<OrganizationsTable>) {
    await db.updateTable('organizations').set(set).where('ein', '=', ein).execute();
  },

  /** The one organization with this EIN, if it passes the filters. */
  searchEin: (db: Db, ein: string, f: SearchFilters) =>
    filtered(db.selectFrom('organizations').select(COLUMNS).where('ein', '=', ein), f).execute(),

  /**
   * Curated organizations that match (name prefix or fuzzy), best first, then other names that
   * start with the query, in name order. Both parts read small index ranges whatever the query.
   * Without a query this lists curated organizations, then the rest by name.
   */
  async searchTop(db: Db, q: string | undefined, f: SearchFilters) {
    const prefix = q === undefined ? undefined : sql<string>`${key(q)} || '%'`;
    let curated = filtered(db.selectFrom('organizations').select(RANKED).where('curated', '=', true), f);
    let named = filtered(db.selectFrom('organizations').select(RANKED).where('curated', '=', false), f);
    if (q !== undefined) {
      // The function, not the <% operator, so the planner reads the curated index, never the trigram one.
      curated = curated.where((eb) => eb.or([eb('search_key', 'like', prefix!), eb(wordSimilarity(q), '>=', sql<number>`0.6`)]));
      named = named.where('search_key', 'like', prefix!);
    }
    const rank = q === undefined ? sql<number>`1` : wordSimilarity(q);
    return db
      .selectFrom(curated.select([sql<number>`0`.as('tier'), rank.as('score')]).orderBy('score', 'desc').orderBy('search_key').limit(f.limit).as('c'))
      .selectAll()
      .unionAll(db.selectFrom(named.select([sql<number>`1`.as('tier'), sql<number>`1`.as('score')]).orderBy('search_key').limit(f.limit).as('n')).selectAll())
      .orderBy('tier')
      .orderBy('score', 'desc')
      .orderBy('search_key')
      .limit(f.limit)
      .execute();
  },

  /**
   * Typo-tolerant matches that searchTop did not return (neither curated nor a prefix match): the
   * query's trigrams found anywhere in the name (word_similarity >= pg_trgm's default 0.6), best
   * first; among equals, the name closest to the whole query. Queries under three characters have
   * no trigram worth matching and return nothing.
   */
  async searchFuzzy(db: Kysely<Database>, q: string, f: SearchFilters) {
    return db.transaction().execute(async (trx) => {
      // With the candidate LIMIT the planner expects a sequential scan to find enough matches soon
      // and picks it; scoring row after row that way took 350 ms where the trigram index takes 30.
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      return fuzzyMatches(trx, q, f);
    });
  },
};

function fuzzyMatches(db: Db, q: string, f: SearchFilters) {
  const candidates = filtered(
    db
      .selectFrom('organizations')
      .select(RANKED)
      .where(sql<boolean>`${key(q)} <% search_key`)
      .where('curated', '=', false)
      .where('search_key', 'not like', sql<string>`${key(q)} || '%'`)
      .where(sql<boolean>`length(${key(q)}) >= 3`),
    f,
  ).limit(FUZZY_CANDIDATES);
  return db
    .selectFrom(candidates.as('c'))
    .select([...RANKED, wordSimilarity(q).as('score')])
    .orderBy('score', 'desc')
    .orderBy(sql`similarity(organization_search_key(${q}), search_key)`, 'desc')
    .orderBy('search_key')
    .orderBy('id')
    .limit(f.limit)
    .execute();
}

export type OrganizationRow = Awaited<ReturnType<typeof organizationsRepo.findBySlug>> & object;
