import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runOrgsCommand } from '../../src/cli/orgs.js';
import { ensureCuratedOrganizations, importOrganizations, type RowError } from '../../src/modules/organizations/index.js';
import { bmfCsv, bmfLine, tempDir, writeFileIn, BMF_COLUMNS, type BmfRow } from '../factories/organizations.js';
import { createTestContext, createTestDatabase, type TestContext } from '../harness/context.js';

/** `almoner orgs import`: IRS EO BMF files into the directory, on a real database. */

let ctx: TestContext;
let dir: string;
before(async () => {
  ctx = await createTestContext();
  dir = await tempDir();
});
after(async () => {
  await ctx.close();
  await rm(dir, { recursive: true, force: true });
});

async function importFiles(files: string[], databaseUrl = ctx.databaseUrl) {
  const errors: RowError[] = [];
  const report = await importOrganizations(databaseUrl, files, { onRowError: (e) => errors.push(e) });
  return { report, errors: errors.map((e) => ({ file: path.basename(e.file), line: e.line, message: e.message })) };
}

async function query<T>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

const slugsByEin = async (databaseUrl: string, eins: string[]) =>
  Object.fromEntries(
    (await query<{ ein: string; slug: string }>(databaseUrl, 'SELECT ein, slug FROM organizations WHERE ein = ANY($1)', [eins])).map((r) => [r.ein, r.slug]),
  );

const org = (ein: string, name: string, extra: Partial<BmfRow> = {}): BmfRow => ({ ein, name, ...extra });

describe('malformed input', () => {
  test('bad rows are reported with file and line and skipped; good rows are imported', async () => {
    const good = bmfLine(org('900000101', 'GOOD ONE'));
    const truncated = bmfLine(org('900000107', 'CUT SHORT')).split(',').slice(0, 10).join(',');
    const lines = [
      BMF_COLUMNS.join(','),
      good,
      '900000102,TOO FEW,,,WICHITA',
      bmfLine(org('12-345', 'BAD EIN')),
      bmfLine(org('900000104', 'X')).replace('900000104,X,', '900000104,"BROKEN NAME,'),
      bmfLine(org('900000105', 'GOOD TWO, WITH A COMMA')),
      bmfLine(org('900000106', '   ')),
      truncated,
    ];
    const bad = await writeFileIn(dir, 'eo_bad.csv', lines.join('\r\n'));
    const fine = await writeFileIn(dir, 'eo_fine.csv', bmfCsv([org('900000108', 'FINE')]));
    const { report, errors } = await importFiles([bad, fine]);
    assert.deepEqual(errors, [
      { file: 'eo_bad.csv', line: 3, message: 'expected 28 columns, found 5' },
      { file: 'eo_bad.csv', line: 4, message: 'EIN "12-345" is not 9 digits' },
      { file: 'eo_bad.csv', line: 5, message: 'unterminated quote: the field starting at column 2 does not close on this line' },
      { file: 'eo_bad.csv', line: 7, message: 'NAME is empty' },
      { file: 'eo_bad.csv', line: 8, message: 'expected 28 columns, found 10 (the file ends in the middle of this row)' },
    ]);
    assert.equal(report.rejected, 5);
    assert.deepEqual(
      report.files.map((f) => ({ file: path.basename(f.file), rows: f.rows, rejected: f.rejected })),
      [
        { file: 'eo_bad.csv', rows: 2, rejected: 5 },
        { file: 'eo_fine.csv', rows: 1, rejected: 0 },
      ],
    );
    assert.equal(report.inserted, 3);
    const names = await query<{ name: string }>(ctx.databaseUrl, "SELECT name FROM organizations WHERE ein LIKE '9000001%' ORDER BY ein");
    assert.deepEqual(names.map((r) => r.name), ['GOOD ONE', 'GOOD TWO, WITH A COMMA', 'FINE']);
  });

  test('a file that is not a BMF file, or is empty, is reported and skipped; the others are imported', async () => {
    const other = await writeFileIn(dir, 'people.csv', 'id,title\r\n1,Dr\r\n');
    const empty = await writeFileIn(dir, 'eo_empty.csv', '');
    const fine = await writeFileIn(dir, 'eo_fine2.csv', bmfCsv([org('900000109', 'FINE TOO')]));
    const { report } = await importFiles([other, empty, fine]);
    assert.match(report.files[0]!.error ?? '', /no EIN or NAME column/);
    assert.equal(report.files[1]!.error, 'the file is empty');
    assert.equal(report.files[2]!.error, undefined);
    assert.equal(report.inserted, 1);
  });
});

test('names with quotes, commas, backslashes and tabs arrive as written', async () => {
  const name = 'BACK\\SLASH "QUOTED", TAB\tFUND';
  await importFiles([await writeFileIn(dir, 'eo_odd.csv', bmfCsv([org('900000110', name)]))]);
  const [row] = await query<{ name: string }>(ctx.databaseUrl, "SELECT name FROM organizations WHERE ein = '900000110'");
  assert.equal(row!.name, 'BACK\\SLASH "QUOTED", TAB FUND', 'stored as written, the tab read as a space like any run of whitespace');
});

describe('re-import', () => {
  test('updates changed rows by EIN, leaves the rest, never duplicates, keeps slugs', async () => {
    const rows = [org('900000201', 'FIRST NAME', { city: 'TOPEKA' }), org('900000202', 'STAYS THE SAME'), org('900000203', 'CLOSES')];
    const first = await importFiles([await writeFileIn(dir, 'eo_v1.csv', bmfCsv(rows))]);
    assert.deepEqual([first.report.inserted, first.report.updated, first.report.unchanged], [3, 0, 0]);
    const slugs = await slugsByEin(ctx.databaseUrl, ['900000201', '900000202', '900000203']);

    const changed = [org('900000201', 'RENAMED', { city: 'SALINA' }), rows[1]!, org('900000203', 'CLOSES', { status: '20', deductibility: '2' })];
    const second = await importFiles([await writeFileIn(dir, 'eo_v2.csv', bmfCsv(changed))]);
    assert.deepEqual([second.report.inserted, second.report.updated, second.report.unchanged], [0, 2, 1]);
    const again = await importFiles([await writeFileIn(dir, 'eo_v3.csv', bmfCsv(changed))]);
    assert.deepEqual([again.report.inserted, again.report.updated, again.report.unchanged], [0, 0, 3]);

    const stored = await query<{ ein: string; name: string; city: string; status: string; deductibility: string }>(
      ctx.databaseUrl,
      "SELECT ein, name, city, status, deductibility FROM organizations WHERE ein LIKE '9000002%' ORDER BY ein",
    );
    assert.deepEqual(stored, [
      { ein: '900000201', name: 'RENAMED', city: 'SALINA', status: 'active', deductibility: 'deductible' },
      { ein: '900000202', name: 'STAYS THE SAME', city: 'WICHITA', status: 'active', deductibility: 'deductible' },
      { ein: '900000203', name: 'CLOSES', city: 'WICHITA', status: 'inactive', deductibility: 'not_deductible' },
    ]);
    assert.deepEqual(await slugsByEin(ctx.databaseUrl, Object.keys(slugs)), slugs, 'a renamed organization keeps its slug');
  });

  test('an EIN repeated within one import: the last row wins', async () => {
    const a = await writeFileIn(dir, 'eo_dup_a.csv', bmfCsv([org('900000301', 'EARLIER')]));
    const b = await writeFileIn(dir, 'eo_dup_b.csv', bmfCsv([org('900000301', 'LATER')]));
    const { report } = await importFiles([a, b]);
    assert.deepEqual([report.rows, report.duplicates, report.inserted], [2, 1, 1]);
    const [row] = await query<{ name: string }>(ctx.databaseUrl, "SELECT name FROM organizations WHERE ein = '900000301'");
    assert.equal(row!.name, 'LATER');
  });
});

describe('slugs', () => {
  const HOPE = [
    org('900000400', 'HOPE CHURCH WICHITA', { city: 'DERBY' }),
    org('900000401', 'HOPE CHURCH', { city: 'WICHITA', state: 'KS' }),
    org('900000402', 'HOPE CHURCH', { city: 'WICHITA', state: 'KS' }),
    org('900000403', 'HOPE CHURCH', { city: 'TOPEKA', state: 'KS' }),
    org('900000404', 'HOPE CHURCH', { city: 'SPRINGFIELD', state: 'IL' }),
    org('900000405', 'HOPE CHURCH', { city: 'SPRINGFIELD', state: 'MO' }),
    org('900000406', 'HOPE CHURCH INC', { city: 'WICHITA', state: 'KS' }),
  ];
  const EXPECTED = {
    '900000400': 'hope-church-wichita',
    '900000401': 'hope-church',
    '900000402': 'hope-church-wichita-ks',
    '900000403': 'hope-church-topeka',
    '900000404': 'hope-church-springfield',
    '900000405': 'hope-church-springfield-mo',
    '900000406': 'hope-church-900000406',
  };

  test('collisions resolve name, name-city, name-city-state, name-EIN, lowest EIN first', async () => {
    await importFiles([await writeFileIn(dir, 'eo_hope.csv', bmfCsv(HOPE))]);
    assert.deepEqual(await slugsByEin(ctx.databaseUrl, Object.keys(EXPECTED)), EXPECTED);
  });

  test('the same rows in another order and across other files get the same slugs and ids order', async () => {
    const url = await createTestDatabase();
    const reversed = [...HOPE].reverse();
    const files = [
      await writeFileIn(dir, 'eo_hope_r1.csv', bmfCsv(reversed.slice(0, 3))),
      await writeFileIn(dir, 'eo_hope_r2.csv', bmfCsv(reversed.slice(3))),
    ];
    await importFiles(files, url);
    assert.deepEqual(await slugsByEin(url, Object.keys(EXPECTED)), EXPECTED);
    const ids = await query<{ ein: string }>(url, "SELECT ein FROM organizations WHERE ein LIKE '9000004%' ORDER BY id");
    assert.deepEqual(ids.map((r) => r.ein), Object.keys(EXPECTED).sort(), 'new ids follow EIN order');
  });

  test('an existing slug is never taken over: a newcomer takes the next candidate', async () => {
    await importFiles([await writeFileIn(dir, 'eo_hope_late.csv', bmfCsv([org('900000399', 'HOPE CHURCH', { city: 'LAWRENCE', state: 'KS' })]))]);
    assert.deepEqual(await slugsByEin(ctx.databaseUrl, ['900000399', '900000401']), { '900000399': 'hope-church-lawrence', '900000401': 'hope-church' });
  });
});

describe('indexes and size', () => {
  test('a first load (indexes rebuilt) and a small import (indexes kept) leave the same indexes and constraints, and search works', async () => {
    const url = await createTestDatabase();
    const indexes = () =>
      query<{ def: string }>(
        url,
        `SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'organizations'
         UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'organizations'::regclass
         ORDER BY 1`,
      );
    const initial = await indexes();
    // 6,000 rows: three COPY batches and several read chunks.
    const many = Array.from({ length: 6000 }, (_, i) => org(String(910000000 + i), `GENERATED CHARITY NUMBER ${i}`, { state: i % 2 ? 'KS' : 'NE' }));
    const { report } = await importFiles([await writeFileIn(dir, 'eo_many.csv', bmfCsv(many))], url);
    assert.equal(report.inserted, 6000);
    assert.deepEqual(await indexes(), initial);
    await importFiles([await writeFileIn(dir, 'eo_one.csv', bmfCsv([org('920000000', 'ONE MORE CHARITY')]))], url);
    assert.deepEqual(await indexes(), initial);
    const found = await query<{ name: string }>(
      url,
      "SELECT name FROM organizations WHERE organization_search_key('generated charty number 4321') <% search_key ORDER BY word_similarity(organization_search_key('generated charty number 4321'), search_key) DESC LIMIT 1",
    );
    assert.equal(found[0]!.name, 'GENERATED CHARITY NUMBER 4321');
  });
});

describe('curated organizations and imports', () => {
  test('an organization imported before the curated seed becomes curated, with the curated name and slug', async () => {
    const url = await createTestDatabase();
    await importFiles([await writeFileIn(dir, 'eo_dc.csv', bmfCsv([org('530196605', 'AMERICAN NATIONAL RED CROSS', { city: 'WASHINGTON', state: 'DC', ntee: 'P210' })]))], url);
    assert.deepEqual(await slugsByEin(url, ['530196605']), { '530196605': 'american-national-red-cross' });
    const { createKysely, createPgPool } = await import('../../src/platform/db/postgres.js');
    const db = createKysely(createPgPool({ connectionString: url, max: 2 }));
    try {
      await ensureCuratedOrganizations(db);
    } finally {
      await db.destroy();
    }
    const [row] = await query<{ slug: string; name: string; curated: boolean; ntee_code: string; city: string }>(
      url,
      "SELECT slug, name, curated, ntee_code, city FROM organizations WHERE ein = '530196605'",
    );
    assert.deepEqual(row, { slug: 'american-red-cross', name: 'American Red Cross', curated: true, ntee_code: 'P210', city: 'WASHINGTON' });
  });
});

describe('almoner orgs import', () => {
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), status: () => {} } };
  }

  test('prints row errors and a summary; exit code 1 when rows were rejected, 0 when none', async () => {
    const bad = await writeFileIn(dir, 'eo_cli.csv', `${BMF_COLUMNS.join(',')}\n${bmfLine(org('900000501', 'CLI OK'))}\n1,2,3\n`);
    const c = capture();
    assert.equal(await runOrgsCommand(ctx.databaseUrl, ['import', bad], c.io), 1);
    assert.deepEqual(c.err, ['eo_cli.csv:3: expected 28 columns, found 3']);
    assert.match(c.out.at(-1)!, /^imported 1 rows in [\d.]+ s \([\d,]+ rows\/s\): 1 new, 0 updated, 0 unchanged; 1 rows rejected$/);
    const ok = capture();
    assert.equal(await runOrgsCommand(ctx.databaseUrl, ['import', await writeFileIn(dir, 'eo_cli_ok.csv', bmfCsv([org('900000502', 'CLI FINE')]))], ok.io), 0);
    assert.deepEqual(ok.err, []);
  });

  test('a missing file or no files is a usage error (2) and imports nothing', async () => {
    const c = capture();
    assert.equal(await runOrgsCommand(ctx.databaseUrl, ['import', path.join(dir, 'nope.csv')], c.io), 2);
    assert.match(c.err[0]!, /cannot read .*nope\.csv/);
    assert.equal(await runOrgsCommand(ctx.databaseUrl, ['import'], capture().io), 2);
    assert.equal(await runOrgsCommand(ctx.databaseUrl, ['export'], capture().io), 2);
  });
});
