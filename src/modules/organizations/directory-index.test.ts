import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DirectoryIndexBuilder, type DirectoryRow } from './directory-index.build.js';
import { DirectoryIndex, type IndexFilters } from './directory-index.js';
import { editAllowance, editDistance } from './directory-index.typos.js';
import { organizationSearchKey } from './search-key.js';

let nextId = 1000;
function row(name: string, extra: Partial<DirectoryRow> = {}): DirectoryRow {
  const id = extra.id ?? nextId++;
  return {
    id,
    slug: `${organizationSearchKey(name).replace(/ /g, '-')}-${id}`,
    name,
    ein: String(100_000_000 + id),
    city: 'WICHITA',
    state: 'KS',
    ntee_code: 'P20',
    deductibility: 'deductible',
    status: 'active',
    logo_url: null,
    curated: false,
    search_key: organizationSearchKey(name),
    ...extra,
  };
}

function build(rows: DirectoryRow[], version = 7): DirectoryIndex {
  const builder = new DirectoryIndexBuilder();
  builder.add(rows);
  return new DirectoryIndex(builder.finish(version));
}

const FILTERS: IndexFilters = { includeInactive: false, limit: 10 };

function names(index: DirectoryIndex, q: string | undefined, f: Partial<IndexFilters> = {}): string[] {
  return index.search(q, { ...FILTERS, ...f }).map((o) => index.organization(o).name);
}

describe('DirectoryIndex', () => {
  const rows = [
    row('AMERICAN RED CROSS', { curated: true, name: 'American Red Cross', search_key: 'american red cross', state: 'DC' }),
    row('RED CROSS ELEMENTARY PTO', { state: 'OK', ntee_code: 'B94' }),
    row('AMERICAN RED CROSS', { state: 'KY' }),
    row('ASSOCIATION OF AMERICAN RED CROSS RETIREES', { state: 'DC' }),
    row('AMERICANA MUSIC FOUNDATION', { state: 'NE', ntee_code: 'A68' }),
    row('AMERICAN LEGION POST 12', { state: 'MT', ntee_code: 'W30' }),
    row('SALVATION ARMY'),
    row('FRIENDS OF THE SALVATION ARMY'),
    row('SALVATION ARMY', { id: 1 }),
    row('RED CROSS VETERANS', { status: 'inactive' }),
    row('FEEDING AMERICA KENTUCKYS HEARTLAND INC', { state: 'KY', ntee_code: 'K31' }),
    row('HOPE CHURCH', { deductibility: '2', city: null, ein: null }),
    row('ARMY OF HOPE'),
  ];
  const index = build(rows);

  test('the API view of an organization', () => {
    const [o] = index.search('hope church', FILTERS);
    assert.deepEqual({ ...index.organization(o!), id: 0, slug: '' }, {
      id: 0,
      slug: '',
      name: 'HOPE CHURCH',
      ein: null,
      city: null,
      state: 'KS',
      nteeCode: 'P20',
      deductible: false,
      status: 'active',
      logoUrl: null,
      curated: false,
    });
    const [red] = index.search('american red cross', FILTERS);
    const ein = rows[0]!.ein!;
    assert.equal(index.organization(red!).ein, `${ein.slice(0, 2)}-${ein.slice(2)}`);
    assert.equal(index.organization(red!).curated, true);
  });

  test('curated first, then names starting with the query, then names with every word, in name order', () => {
    assert.deepEqual(names(index, 'red cros'), ['American Red Cross', 'RED CROSS ELEMENTARY PTO', 'AMERICAN RED CROSS', 'ASSOCIATION OF AMERICAN RED CROSS RETIREES']);
    assert.deepEqual(names(index, 'american'), ['American Red Cross', 'AMERICAN LEGION POST 12', 'AMERICAN RED CROSS', 'AMERICANA MUSIC FOUNDATION', 'ASSOCIATION OF AMERICAN RED CROSS RETIREES', 'FEEDING AMERICA KENTUCKYS HEARTLAND INC']);
  });

  test('equal names keep id order; names starting with the query with typos come before names with the words elsewhere', () => {
    const salvation = index.search('salvaton army', FILTERS).map((o) => index.organization(o));
    assert.deepEqual(salvation.map((o) => [o.name, o.id]), [['SALVATION ARMY', 1], ['SALVATION ARMY', rows[6]!.id], ['FRIENDS OF THE SALVATION ARMY', rows[7]!.id]]);
  });

  test('typos: one edit from 4 letters, two from 8, none under 4; the last word may be a prefix', () => {
    assert.deepEqual(names(index, 'feding amerca'), ['FEEDING AMERICA KENTUCKYS HEARTLAND INC']);
    assert.deepEqual(names(index, 'slvatoin'), ['SALVATION ARMY', 'SALVATION ARMY', 'FRIENDS OF THE SALVATION ARMY'], 'two edits in 8 letters');
    assert.deepEqual(names(index, 'hpoe'), ['HOPE CHURCH', 'ARMY OF HOPE'], 'one edit in 4 letters');
    assert.deepEqual(names(index, 'hpe'), [], 'no edit under 4 letters');
    assert.deepEqual(names(index, 'hpoe chur'), ['HOPE CHURCH']);
    assert.deepEqual(names(index, 'zq'), []);
  });

  test('all words but one only when nothing has them all', () => {
    assert.deepEqual(names(index, 'army of zzz'), ['ARMY OF HOPE', 'FRIENDS OF THE SALVATION ARMY']);
    assert.deepEqual(names(index, 'army of hope'), ['ARMY OF HOPE']);
  });

  test('filters: state, NTEE prefix, inactive; an unknown state matches nothing', () => {
    assert.deepEqual(names(index, 'american', { state: 'KY' }), ['AMERICAN RED CROSS', 'FEEDING AMERICA KENTUCKYS HEARTLAND INC']);
    assert.deepEqual(names(index, 'red', { ntee: 'B9', state: 'OK' }), ['RED CROSS ELEMENTARY PTO']);
    assert.deepEqual(names(index, 'red cross', { limit: 50 }).includes('RED CROSS VETERANS'), false);
    assert.deepEqual(names(index, 'red cross', { limit: 50, includeInactive: true }).includes('RED CROSS VETERANS'), true);
    assert.deepEqual(names(index, 'american', { state: 'ZZ' }), []);
  });

  test('without a query (or a query of punctuation): curated, then the rest in name order; limit caps', () => {
    const all = names(index, undefined, { limit: 50 });
    assert.equal(all[0], 'American Red Cross');
    assert.deepEqual(all.slice(1), [...all.slice(1)].sort());
    assert.equal(all.length, rows.length - 1);
    assert.deepEqual(names(index, '!!!', { limit: 3 }), all.slice(0, 3));
  });

  test('EIN', () => {
    const hope = rows[7]!;
    assert.deepEqual(index.searchEin(hope.ein!, FILTERS).map((o) => index.organization(o).id), [hope.id]);
    assert.deepEqual(index.searchEin('999999999', FILTERS), []);
    assert.deepEqual(index.searchEin(rows[9]!.ein!, FILTERS), [], 'inactive');
    assert.equal(index.searchEin(rows[9]!.ein!, { ...FILTERS, includeInactive: true }).length, 1);
  });
});

/**
 * The ranking as DirectoryIndex documents it, computed the slow way: every organization scored
 * against every typed word with plain string operations.
 */
function reference(rows: DirectoryRow[], q: string | undefined, f: IndexFilters): number[] {
  const sorted = [...rows].sort((a, b) => (a.search_key < b.search_key ? -1 : a.search_key > b.search_key ? 1 : a.id - b.id));
  const passes = (r: DirectoryRow) =>
    (f.includeInactive || r.status === 'active') && (f.state === undefined || r.state === f.state) && (f.ntee === undefined || (r.ntee_code ?? '').startsWith(f.ntee) && r.ntee_code !== null);
  const key = q === undefined ? '' : organizationSearchKey(q);
  const candidates = sorted.filter(passes);
  if (key === '') return [...candidates.filter((r) => r.curated), ...candidates.filter((r) => !r.curated)].slice(0, f.limit).map((r) => r.id);
  const typed = key.split(' ').slice(0, 16);
  const k = typed.length;
  const edits = (t: number, w: string): number => {
    const typedWord = typed[t]!;
    if (w === typedWord || (t === k - 1 && w.startsWith(typedWord))) return 0;
    const max = Math.min(editAllowance(typedWord.length), editAllowance(w.length));
    const e = max > 0 ? editDistance(typedWord, w, max) : 1;
    return e <= max ? e : -1;
  };
  const scored = candidates.map((r, n) => {
    const words = r.search_key === '' ? [] : r.search_key.split(' ');
    let matched = 0;
    let total = 0;
    for (let t = 0; t < k; t++) {
      const es = words.map((w) => edits(t, w)).filter((e) => e >= 0);
      if (es.length) {
        matched++;
        total += Math.min(...es);
      }
    }
    const leads = words.length >= k && typed.every((_, t) => edits(t, words[t]!) >= 0);
    const leadEdits = leads ? typed.reduce((s, _, t) => s + edits(t, words[t]!), 0) : 0;
    return { r, n, matched, edits: total, leads, leadEdits };
  });
  const by = (f2: (s: (typeof scored)[number]) => number[]) => (a: (typeof scored)[number], b: (typeof scored)[number]) => {
    const x = f2(a);
    const y = f2(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return 0;
  };
  const out: number[] = [];
  const take = (list: typeof scored) => list.forEach((s) => out.length < f.limit && out.push(s.r.id));
  take(scored.filter((s) => s.r.curated && s.matched === k).sort(by((s) => [s.leads ? 0 : 1, s.edits, s.n])));
  take(scored.filter((s) => !s.r.curated && s.leads).sort(by((s) => [s.leadEdits, s.n])));
  take(scored.filter((s) => !s.r.curated && s.matched === k && !s.leads).sort(by((s) => [s.edits, s.n])));
  if (out.length > 0 || k === 1) return out;
  take(scored.filter((s) => s.r.curated && s.matched === k - 1).sort(by((s) => [s.edits, s.n])));
  take(scored.filter((s) => !s.r.curated && s.matched === k - 1).sort(by((s) => [s.edits, s.n])));
  return out;
}

describe('DirectoryIndex against the ranking computed the slow way', () => {
  const vocabulary = ['red', 'cross', 'crosby', 'american', 'america', 'americana', 'salvation', 'army', 'of', 'the', 'hope', 'church', 'churches', 'foundation', 'found', 'a', 'ab', 'abc', 'abcd'];
  const nameArb = fc.array(fc.constantFrom(...vocabulary), { minLength: 0, maxLength: 5 }).map((ws) => ws.join(' ').toUpperCase());
  const rowArb = fc.record({
    name: nameArb,
    curated: fc.boolean(),
    state: fc.constantFrom('KS', 'KY', 'DC', null),
    ntee_code: fc.constantFrom('P20', 'B94', 'A68', null),
    status: fc.constantFrom<'active' | 'inactive'>('active', 'active', 'inactive'),
  });
  // What people type: vocabulary words, whole or cut short, with a letter dropped, doubled or swapped.
  const typedWord = fc.tuple(fc.constantFrom(...vocabulary, 'zzz', 'amerca', 'salvaton', 'chruch', 'fondation'), fc.nat(), fc.constantFrom('whole', 'cut', 'drop', 'double', 'swap')).map(([w, at, how]) => {
    const i = at % Math.max(1, w.length);
    if (how === 'cut') return w.slice(0, i + 1);
    if (how === 'drop') return w.slice(0, i) + w.slice(i + 1);
    if (how === 'double') return w.slice(0, i) + w[i] + w.slice(i);
    if (how === 'swap' && i + 1 < w.length) return w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2);
    return w;
  });
  const queryArb = fc.option(fc.array(typedWord, { minLength: 1, maxLength: 4 }).map((ws) => ws.join(' ')), { nil: undefined });
  const filterArb = fc.record({
    state: fc.option(fc.constantFrom('KS', 'KY', 'DC', 'ZZ'), { nil: undefined }),
    ntee: fc.option(fc.constantFrom('P', 'B9', 'A68'), { nil: undefined }),
    includeInactive: fc.boolean(),
    limit: fc.integer({ min: 1, max: 12 }),
  });

  test('same organizations in the same order, whatever the rows and their order', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 60 }), fc.array(fc.tuple(queryArb, filterArb), { minLength: 1, maxLength: 15 }), (specs, queries) => {
        const rows = specs.map((s, i) => row(s.name, { ...s, id: 5000 - i, search_key: organizationSearchKey(s.name) }));
        const index = build(rows);
        const shuffled = build([...rows].reverse());
        for (const [q, f] of queries) {
          const expected = reference(rows, q, f);
          const found = index.search(q, f).map((o) => index.organization(o).id);
          assert.deepEqual(found, expected, `q=${q} ${JSON.stringify(f)}`);
          assert.deepEqual(shuffled.search(q, f).map((o) => shuffled.organization(o).id), expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
