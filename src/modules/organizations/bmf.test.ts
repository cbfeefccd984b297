import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatEin, isDeductible, readHeader, toRecord, type BmfHeader } from './bmf.js';

const COLUMNS =
  'EIN,NAME,ICO,STREET,CITY,STATE,ZIP,GROUP,SUBSECTION,AFFILIATION,CLASSIFICATION,RULING,DEDUCTIBILITY,FOUNDATION,ACTIVITY,ORGANIZATION,STATUS,TAX_PERIOD,ASSET_CD,INCOME_CD,FILING_REQ_CD,PF_FILING_REQ_CD,ACCT_PD,ASSET_AMT,INCOME_AMT,REVENUE_AMT,NTEE_CD,SORT_NAME'.split(',');

function header(): BmfHeader {
  const h = readHeader(COLUMNS);
  assert.ok(!('error' in h));
  return h;
}

/** A real row of eo_dc.csv. */
const ROW = '010466768,AMERICAN UNIVERSITY IN BULGARIA,,910 17TH ST NW STE 1100,WASHINGTON,DC,20006-2619,0000,03,3,2000,199209,1,11,030000000,1,01,201806,8,6,01,0,06,31807000,2542000,2542000,Q300,'.split(',');

function withColumn(name: string, value: string): string[] {
  const row = [...ROW];
  row[COLUMNS.indexOf(name)] = value;
  return row;
}

describe('readHeader', () => {
  test('finds the columns by name in any order and case', () => {
    const h = readHeader(['name', 'Ein', 'X']);
    assert.deepEqual(h, { width: 3, at: { EIN: 1, NAME: 0 } });
  });

  test('a file without EIN or NAME is not a BMF file', () => {
    const h = readHeader(['id', 'title', 'NAME']);
    assert.ok('error' in h);
    assert.match(h.error, /no EIN column/);
  });
});

describe('toRecord', () => {
  test('maps a real row', () => {
    assert.deepEqual(toRecord(header(), ROW, true), {
      ein: '010466768',
      name: 'AMERICAN UNIVERSITY IN BULGARIA',
      city: 'WASHINGTON',
      state: 'DC',
      nteeCode: 'Q300',
      deductibility: 'deductible',
      status: 'active',
    });
  });

  test('deductibility codes 1, 2, 4; anything else is unknown', () => {
    const d = (code: string) => (toRecord(header(), withColumn('DEDUCTIBILITY', code), true) as { deductibility: unknown }).deductibility;
    assert.equal(d('1'), 'deductible');
    assert.equal(d('2'), 'not_deductible');
    assert.equal(d('4'), 'deductible_by_treaty');
    assert.equal(d('0'), null);
    assert.equal(d(''), null);
  });

  test('status codes 01, 02, 12, 25 (and none) are active; other codes inactive', () => {
    const s = (code: string) => (toRecord(header(), withColumn('STATUS', code), true) as { status: unknown }).status;
    for (const code of ['01', '02', '12', '25', '']) assert.equal(s(code), 'active', code);
    for (const code of ['20', '21', '99']) assert.equal(s(code), 'inactive', code);
  });

  test('a hyphenated EIN is accepted; a short, long or zero EIN is an error', () => {
    assert.equal((toRecord(header(), withColumn('EIN', '01-0466768'), true) as { ein: string }).ein, '010466768');
    for (const bad of ['10466768', '0104667680', 'ABCDEFGHI', '000000000', '']) {
      const r = toRecord(header(), withColumn('EIN', bad), true);
      assert.ok('error' in r, bad);
      assert.match(r.error, /EIN ".*" is not 9 digits/);
    }
  });

  test('wrong column count, and a row cut short by the end of the file, say so', () => {
    const short = toRecord(header(), ROW.slice(0, 12), true);
    assert.deepEqual(short, { error: 'expected 28 columns, found 12' });
    const cut = toRecord(header(), ROW.slice(0, 12), false);
    assert.deepEqual(cut, { error: 'expected 28 columns, found 12 (the file ends in the middle of this row)' });
  });

  test('an empty name is an error; odd state and NTEE values become null', () => {
    assert.deepEqual(toRecord(header(), withColumn('NAME', '  '), true), { error: 'NAME is empty' });
    const r = toRecord(header(), withColumn('STATE', 'D.C.'), true) as { state: unknown };
    assert.equal(r.state, null);
    const n = toRecord(header(), withColumn('NTEE_CD', '12'), true) as { nteeCode: unknown };
    assert.equal(n.nteeCode, null);
  });
});

test('isDeductible and formatEin', () => {
  assert.equal(isDeductible('deductible'), true);
  assert.equal(isDeductible('deductible_by_treaty'), true);
  assert.equal(isDeductible('not_deductible'), false);
  assert.equal(isDeductible(null), false);
  assert.equal(formatEin('530196605'), '53-0196605');
  assert.equal(formatEin(null), null);
});
