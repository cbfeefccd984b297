import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { DirectoryIndexBuilder } from '../../src/modules/organizations/directory-index.build.js';
import { DirectoryIndexKeeper, type IndexBuilt } from '../../src/modules/organizations/directory-index.keeper.js';
import { CURATED_ORGANIZATIONS, ensureCuratedOrganizations, importOrganizations, organizationsRepo, OrganizationsService } from '../../src/modules/organizations/index.js';
import { organizationSearchKey } from '../../src/modules/organizations/search-key.js';
import { bmfCsv, tempDir, writeFileIn, type BmfRow } from '../factories/organizations.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/**
 * The in-process directory index on a real database: its query normalisation agrees with the SQL
 * function, it learns of other processes' writes through organization_directory_version, of this
 * process's at once, and search answers from SQL until it is built.
 */

let ctx: TestContext;
let dir: string;
const ROWS: BmfRow[] = [
  { ein: '900000001', name: 'AMERICAN RED CROSS', city: 'LOUISVILLE', state: 'KY', ntee: 'P210' },
  { ein: '900000002', name: 'RED CROSS ELEMENTARY PTO', city: 'TULSA', state: 'OK', ntee: 'B94' },
  { ein: '900000008', name: 'SALVATION ARMY', city: 'RENO', state: 'NV', ntee: 'X20' },
];

before(async () => {
  ctx = await createTestContext();
  await ensureCuratedOrganizations(ctx.services.db);
  dir = await tempDir();
  await importOrganizations(ctx.databaseUrl, [await writeFileIn(dir, 'eo_test.csv', bmfCsv(ROWS))]);
});
after(async () => {
  await ctx.close();
  await rm(dir, { recursive: true, force: true });
});

/** A write by another process: its own connection, no announcement in this one. */
async function elsewhere(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  await client.connect();
  try {
    await client.query(text, values);
  } finally {
    await client.end();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const version = () => organizationsRepo.directoryVersion(ctx.services.db);
const QUERY = { includeInactive: false, limit: 10 } as const;

/** Real names from the IRS sample beside the repository, when it is there: every 300th row. */
async function sampleNames(): Promise<string[]> {
  const data = path.resolve(import.meta.dirname, '../../../shared/data/irs-eo-bmf');
  if (!existsSync(data)) return [];
  const names: string[] = [];
  for (const file of (await readdir(data)).filter((f) => f.endsWith('.csv'))) {
    const lines = (await readFile(path.join(data, file), 'utf8')).split('\n');
    const column = lines[0]!.split(',').indexOf('NAME');
    for (let i = 1; i < lines.length; i += 300) if (lines[i]) names.push(lines[i]!.split(',')[column]!);
  }
  return names;
}

describe('query normalisation', () => {
  test('organizationSearchKey gives the SQL function organization_search_key() answer', async () => {
    const names = [
      ...CURATED_ORGANIZATIONS.map((c) => c.name),
      ...ROWS.map((r) => r.name),
      'BOYS & GIRLS CLUB OF LINCOLN CO',
      'R & G CONNORS FOUNDATION',
      'DAUGHTERS OF ISIS OF NORTH & SOUTH AMERICA',
      'FARMERS EDUCATIONAL & COOPERATIVE UNION OF AMERICA NORTH DAKOTA DIV',
      "St. Jude Children's Research Hospital",
      'Children’s Fund',
      'médecins sans frontières',
      'CAFÉ ÉTOILE',
      'Straße 1',
      '  charity: water!! ',
      '&CO',
      'POST 12-B (VFW)',
      '!!!',
      '',
      ...(await sampleNames()),
    ];
    const result = await sql<{ name: string; key: string }>`SELECT name, organization_search_key(name) AS key FROM unnest(${names}::text[]) AS name`.execute(ctx.services.db);
    assert.ok(result.rows.length >= 50);
    const differ = result.rows.filter((r) => organizationSearchKey(r.name) !== r.key);
    assert.deepEqual(differ, []);
  });
});

describe('organization_directory_version (migration 0022)', () => {
  test('moves once per statement that changes the directory, not for one that changes nothing', async () => {
    const v0 = await version();
    await organizationsRepo.ensure(ctx.services.db, { slug: 'version-test-one', name: 'Version Test One', ein: '970000001' });
    assert.equal(await version(), v0 + 1, 'insert');
    await organizationsRepo.ensure(ctx.services.db, { slug: 'version-test-one', name: 'Version Test One', ein: '970000001' });
    assert.equal(await version(), v0 + 1, 'a known organization: nothing inserted');
    await elsewhere(`UPDATE organizations SET city = 'TOPEKA' WHERE ein IN ('970000001', '900000001')`);
    assert.equal(await version(), v0 + 2, 'one update of two rows');
    await elsewhere(`UPDATE organizations SET city = 'TOPEKA' WHERE ein = '000000000'`);
    assert.equal(await version(), v0 + 2, 'an update of no row');
    await elsewhere(`DELETE FROM organizations WHERE ein = '970000001'`);
    assert.equal(await version(), v0 + 3, 'delete');
  });
});

describe('DirectoryIndexKeeper', () => {
  test('a large directory builds in a worker thread, to the same index as a build in this thread', async () => {
    const keeper = new DirectoryIndexKeeper(ctx.services.db, { databaseUrl: ctx.databaseUrl, inlineRows: 0, pollMs: 60_000 });
    try {
      const built = await new Promise<IndexBuilt>((resolve) => {
        keeper.onBuilt = resolve;
        keeper.start();
      });
      assert.equal(built.inWorker, true);
      const builder = new DirectoryIndexBuilder();
      const v = await organizationsRepo.readDirectory(ctx.services.db, (rows) => builder.add(rows));
      assert.deepEqual(keeper.fresh()!.data, builder.finish(v));
    } finally {
      await keeper.close();
    }
  });

  test("another process's insert, rename and delete show within a poll", async () => {
    const keeper = new DirectoryIndexKeeper(ctx.services.db, { databaseUrl: ctx.databaseUrl, inlineRows: 0, pollMs: 50 });
    const find = (q: string) => {
      const index = keeper.fresh();
      return index?.search(q, QUERY).map((o) => index.organization(o).slug);
    };
    try {
      keeper.start();
      await until('the first index', () => keeper.fresh());
      assert.deepEqual(find('zephyr'), []);
      await elsewhere(`INSERT INTO organizations (slug, name, ein, state) VALUES ('zephyr-relief-fund', 'ZEPHYR RELIEF FUND', '970000002', 'KS')`);
      await until('the insert', () => (find('zephyr')?.length ? true : undefined));
      assert.deepEqual(find('zephyr relief'), ['zephyr-relief-fund']);
      await elsewhere(`UPDATE organizations SET name = 'ZENITH RELIEF FUND' WHERE ein = '970000002'`);
      await until('the rename', () => (find('zenith')?.length ? true : undefined));
      assert.deepEqual(find('zephyr'), []);
      await elsewhere(`DELETE FROM organizations WHERE ein = '970000002'`);
      await until('the delete', () => (find('zenith')?.length === 0 ? true : undefined));
    } finally {
      await keeper.close();
    }
  });
});

describe('OrganizationsService search', () => {
  test('answers from SQL while there is no index (here: its builds fail), the same as the index does', async () => {
    // A worker that cannot reach the database never delivers an index; the service must not care.
    const unbuilt = new OrganizationsService(ctx.services.db, { databaseUrl: 'postgres://almoner@127.0.0.1:1/none', inlineRows: 0, pollMs: 60_000 });
    const errors: unknown[] = [];
    unbuilt.onIndexError = (err) => errors.push(err);
    const indexed = new OrganizationsService(ctx.services.db, { databaseUrl: ctx.databaseUrl, inlineRows: 0, pollMs: 60_000 });
    let built = false;
    indexed.onIndexBuilt = () => (built = true);
    try {
      indexed.startIndex();
      await until('the index', () => (built ? true : undefined));
      // Queries the two rank alike (their fuzzy matching differs: trigrams find "Americares" for
      // "american", words within two edits do not).
      const queries = ['red cros', 'salvation army', '53-0196605', 'zq'];
      for (const q of queries) {
        const fromSql = await unbuilt.search({ ...QUERY, q });
        assert.deepEqual(await indexed.search({ ...QUERY, q }), fromSql, q);
      }
      assert.deepEqual(
        (await unbuilt.search({ ...QUERY, q: 'red cros' })).data.map((o) => o.slug),
        ['american-red-cross', 'red-cross-elementary-pto', 'american-red-cross-louisville'],
      );
      await until('the failed build to be reported', () => (errors.length ? true : undefined));
    } finally {
      await unbuilt.close();
      await indexed.close();
    }
  });

  test("this process's writes show at once: a small directory's rebuild is waited for, a large one's answered from SQL", async () => {
    for (const inlineRows of [20_000, 0]) {
      const service = new OrganizationsService(ctx.services.db, { databaseUrl: ctx.databaseUrl, inlineRows, pollMs: 60_000 });
      let builds = 0;
      service.onIndexBuilt = () => builds++;
      try {
        service.startIndex();
        await until('the index', () => (builds ? true : undefined));
        const slug = `quokka-rescue-${inlineRows}`;
        assert.deepEqual((await service.search({ ...QUERY, q: 'quokka' })).data, []);
        await organizationsRepo.ensure(ctx.services.db, { slug, name: `Quokka Rescue ${inlineRows}`, ein: inlineRows ? '970000003' : '970000004' });
        assert.deepEqual((await service.search({ ...QUERY, q: 'quokka' })).data.map((o) => o.slug), [slug]);
        await elsewhere(`DELETE FROM organizations WHERE slug = $1`, [slug]);
      } finally {
        await service.close();
      }
    }
  });
});
