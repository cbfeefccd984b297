import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CURATED_ORGANIZATIONS, ensureCuratedOrganizations, importOrganizations } from '../../src/modules/organizations/index.js';
import { bmfCsv, tempDir, writeFileIn, type BmfRow } from '../factories/organizations.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';

/**
 * The nonprofit directory's widget routes (contract A8.3): lookup by slug and search, over the
 * curated seed plus a small IRS-format import, on a real database.
 */

let ctx: TestContext;
let p: PartnerFixture;
let dir: string;

const ROWS: BmfRow[] = [
  { ein: '530196605', name: 'AMERICAN NATIONAL RED CROSS', city: 'WASHINGTON', state: 'DC', ntee: 'P210' },
  { ein: '900000001', name: 'AMERICAN RED CROSS', city: 'LOUISVILLE', state: 'KY', ntee: 'P210' },
  { ein: '900000002', name: 'RED CROSS ELEMENTARY PTO', city: 'TULSA', state: 'OK', ntee: 'B94' },
  { ein: '900000003', name: 'ASSOCIATION OF AMERICAN RED CROSS RETIREES', city: 'WASHINGTON', state: 'DC', ntee: 'P20' },
  { ein: '900000004', name: 'AMERICAN LEGION POST 12', city: 'BUTTE', state: 'MT', ntee: 'W30' },
  { ein: '900000005', name: 'AMERICAN ASSOCIATION OF UNIVERSITY WOMEN', city: 'LINCOLN', state: 'NE', ntee: 'B83' },
  { ein: '900000006', name: 'AMERICANA MUSIC FOUNDATION', city: 'OMAHA', state: 'NE', ntee: 'A68' },
  { ein: '900000007', name: 'FEEDING AMERICA KENTUCKYS HEARTLAND INC', city: 'ELIZABETHTOWN', state: 'KY', ntee: 'K31' },
  { ein: '900000008', name: 'SALVATION ARMY', city: 'RENO', state: 'NV', ntee: 'X20' },
  { ein: '900000009', name: 'RED CROSS VETERANS', city: 'TULSA', state: 'OK', ntee: 'P210', status: '20' },
  { ein: '900000010', name: 'HOPE CHURCH', city: 'WICHITA', state: 'KS', ntee: 'X20', deductibility: '2' },
];

before(async () => {
  ctx = await createTestContext();
  p = await createPartner(ctx.services);
  await ensureCuratedOrganizations(ctx.services.db);
  dir = await tempDir();
  const report = await importOrganizations(ctx.databaseUrl, [await writeFileIn(dir, 'eo_test.csv', bmfCsv(ROWS))]);
  assert.equal(report.rejected, 0);
});
after(async () => {
  await ctx.close();
  await rm(dir, { recursive: true, force: true });
});

/** A widget call: the publishable key alone, as a browser sends it. */
function widget(url: string, key = p.sandbox.publishableKey) {
  return ctx.app.inject({ method: 'GET', url, headers: { 'x-partner-key': key, origin: 'https://shop.example' } });
}

async function search(query: string): Promise<{ slug: string; curated: boolean; state: string | null; nteeCode: string | null; status: string }[]> {
  const res = await widget(`/v1/partner/organizations?${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data;
}

const slugs = async (query: string) => (await search(query)).map((o) => o.slug);

describe('GET /v1/partner/organizations/:slug', () => {
  test('a curated organization keeps its name and slug; the import brought its IRS facts', async () => {
    const res = await widget('/v1/partner/organizations/american-red-cross');
    assert.equal(res.statusCode, 200, res.body);
    const org = res.json();
    assert.ok(Number.isInteger(org.id) && org.id >= 1_000_000, `id ${org.id}`);
    assert.deepEqual(
      { ...org, id: 0 },
      {
        id: 0,
        slug: 'american-red-cross',
        name: 'American Red Cross',
        ein: '53-0196605',
        city: 'WASHINGTON',
        state: 'DC',
        nteeCode: 'P210',
        deductible: true,
        status: 'active',
        logoUrl: null,
        curated: true,
      },
    );
    assert.ok(res.headers['access-control-allow-origin']);
    assert.equal(res.headers['cache-control'], 'private, max-age=60');
    assert.equal((await widget('/v1/partner/organizations?q=red')).headers['cache-control'], 'private, max-age=60');
    assert.equal((await widget('/v1/partner/organizations/no-such-charity')).headers['cache-control'], undefined, 'a 404 is not cached');
  });

  test('the id is the Payments charityId of the same row', async () => {
    const org = (await widget('/v1/partner/organizations/american-red-cross')).json();
    const row = await ctx.services.db.selectFrom('organizations').select(['id', 'ein']).where('id', '=', org.id).executeTakeFirstOrThrow();
    assert.equal(row.ein, '530196605');
  });

  test('slugs are case-insensitive; an imported namesake of a curated slug takes its city', async () => {
    assert.equal((await widget('/v1/partner/organizations/American-Red-Cross')).json().slug, 'american-red-cross');
    const chapter = await widget('/v1/partner/organizations/american-red-cross-louisville');
    assert.equal(chapter.statusCode, 200, chapter.body);
    assert.equal(chapter.json().name, 'AMERICAN RED CROSS');
    assert.equal(chapter.json().curated, false);
  });

  test('not deductible and inactive organizations say so', async () => {
    const hope = (await widget('/v1/partner/organizations/hope-church')).json();
    assert.equal(hope.deductible, false);
    const gone = (await widget('/v1/partner/organizations/red-cross-veterans')).json();
    assert.equal(gone.status, 'inactive');
  });

  test('an unknown slug is 404 ORGANIZATION_NOT_FOUND; a malformed one 400', async () => {
    const res = await widget('/v1/partner/organizations/no-such-charity');
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(res.json().code, 'ORGANIZATION_NOT_FOUND');
    for (const bad of ['red_cross', 'red%20cross', 'x'.repeat(201)]) {
      const r = await widget(`/v1/partner/organizations/${bad}`);
      assert.equal(r.statusCode, 400, `${bad}: ${r.body}`);
      assert.equal(r.json().code, 'VALIDATION_ERROR');
    }
  });

  test('the publishable key alone is enough; a signed call works too; no key is 401', async () => {
    assert.equal((await widget('/v1/partner/organizations/american-red-cross')).statusCode, 200);
    const viaSigned = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/organizations/american-red-cross'));
    assert.equal(viaSigned.statusCode, 200, viaSigned.body);
    const anonymous = await ctx.app.inject({ method: 'GET', url: '/v1/partner/organizations/american-red-cross' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().code, 'MISSING_API_KEY');
    const searchAnon = await ctx.app.inject({ method: 'GET', url: '/v1/partner/organizations?q=red' });
    assert.equal(searchAnon.statusCode, 401);
  });
});

describe('GET /v1/partner/organizations (search)', () => {
  test('curated first, then names starting with the query, then close matches; inactive left out', async () => {
    assert.deepEqual(await slugs('q=red%20cros'), [
      'american-red-cross',
      'red-cross-elementary-pto',
      'american-red-cross-louisville',
      'association-of-american-red-cross-retirees',
    ]);
  });

  test('typos: "feding amerca" and "salvaton army"', async () => {
    assert.deepEqual((await slugs('q=feding%20amerca')).slice(0, 2), ['feeding-america', 'feeding-america-kentuckys-heartland']);
    assert.deepEqual(await slugs('q=salvaton%20army'), ['salvation-army']);
  });

  test('a prefix: curated matches by similarity, then prefix matches in name order, then the rest', async () => {
    const results = await search('q=american&limit=20');
    const firstNonCurated = results.findIndex((o) => !o.curated);
    assert.ok(firstNonCurated > 0 && results.slice(firstNonCurated).every((o) => !o.curated), 'curated ones first');
    assert.deepEqual(
      results.slice(0, firstNonCurated).map((o) => o.slug).slice(0, 2),
      ['american-cancer-society', 'american-red-cross'],
      'exact-word curated matches before partial ones',
    );
    assert.deepEqual(results.slice(firstNonCurated, firstNonCurated + 4).map((o) => o.slug), [
      'american-association-of-university-women',
      'american-legion-post-12',
      'american-red-cross-louisville',
      'americana-music-foundation',
    ]);
    assert.ok(results.slice(firstNonCurated + 4).some((o) => o.slug === 'association-of-american-red-cross-retirees'));
  });

  test('state and NTEE filters (any case), alone or with a query', async () => {
    const ky = await search('q=american&state=ky');
    assert.deepEqual(ky.map((o) => o.slug), ['american-red-cross-louisville', 'feeding-america-kentuckys-heartland']);
    const health = await search('ntee=p&limit=50');
    assert.ok(health.length >= 3);
    assert.ok(health.every((o) => o.nteeCode?.startsWith('P')), JSON.stringify(health));
    assert.deepEqual(await slugs('q=red&ntee=B9&state=OK'), ['red-cross-elementary-pto']);
  });

  test('includeInactive adds organizations no longer listed', async () => {
    assert.ok(!(await slugs('q=red%20cross&limit=50')).includes('red-cross-veterans'));
    const all = await search('q=red%20cross&limit=50&includeInactive=true');
    assert.equal(all.find((o) => o.slug === 'red-cross-veterans')?.status, 'inactive');
  });

  test('an EIN, with or without its hyphen, finds that organization', async () => {
    assert.deepEqual(await slugs('q=53-0196605'), ['american-red-cross']);
    assert.deepEqual(await slugs('q=530196605'), ['american-red-cross']);
    assert.deepEqual(await slugs('q=900000009'), []);
    assert.deepEqual(await slugs('q=900000009&includeInactive=true'), ['red-cross-veterans']);
  });

  test('limit caps the page; without q, curated organizations come first, then the rest by name', async () => {
    assert.equal((await search('q=american&limit=2')).length, 2);
    const listing = await search('limit=50');
    const curated = CURATED_ORGANIZATIONS.length;
    // Every active organization: the curated ones and the imported rows less the Red Cross (curated) and the inactive one.
    assert.equal(listing.length, curated + ROWS.length - 2);
    assert.ok(listing.slice(0, curated).every((o) => o.curated));
    assert.ok(listing.slice(curated).every((o) => !o.curated));
    assert.equal(listing[curated]!.slug, 'american-association-of-university-women');
  });

  test('a query of punctuation or one or two letters still answers', async () => {
    assert.equal((await search('q=%21%21%21')).length, 10);
    assert.ok((await slugs('q=am')).includes('american-red-cross'));
    assert.deepEqual(await slugs('q=zq'), []);
  });

  test('bad parameters are 400 VALIDATION_ERROR', async () => {
    for (const query of [
      'limit=0',
      'limit=51',
      'limit=ten',
      'state=KAN',
      'state=K1',
      'ntee=1AB',
      'ntee=T200000',
      `q=${'a'.repeat(101)}`,
      'includeInactive=maybe',
      'sort=name',
    ]) {
      const res = await widget(`/v1/partner/organizations?${query}`);
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR', query);
    }
  });
});

describe('curated seed', () => {
  test('runs again without change, and never touches the payments sample charity', async () => {
    await ctx.services.db.insertInto('organizations').values({ id: 123456, slug: 'sample-charity-123456', name: 'Sample Charity (sandbox)' }).execute();
    const before = await ctx.services.db.selectFrom('organizations').selectAll().orderBy('id').execute();
    await ensureCuratedOrganizations(ctx.services.db);
    await ensureCuratedOrganizations(ctx.services.db);
    const afterRows = await ctx.services.db.selectFrom('organizations').selectAll().orderBy('id').execute();
    assert.deepEqual(afterRows, before);
    assert.equal(afterRows.filter((o) => o.curated).length, CURATED_ORGANIZATIONS.length);
  });
});
