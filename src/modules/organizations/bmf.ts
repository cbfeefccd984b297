/**
 * The IRS Exempt Organizations Business Master File (EO BMF) extract: its columns and what its
 * codes mean for the directory. Pure; the importer feeds it parsed lines.
 */

export type Deductibility = 'deductible' | 'not_deductible' | 'deductible_by_treaty';
export type OrganizationStatus = 'active' | 'inactive';

export interface OrganizationRecord {
  ein: string;
  name: string;
  city: string | null;
  state: string | null;
  nteeCode: string | null;
  deductibility: Deductibility | null;
  status: OrganizationStatus;
}

/**
 * DEDUCTIBILITY (IRS EO BMF documentation): 1 contributions are deductible; 2 not deductible;
 * 4 deductible by treaty (foreign organizations). Anything else (the files also carry 0) is not a
 * documented answer, so it is stored as unknown, which the API reports as not deductible.
 */
const DEDUCTIBILITY: Record<string, Deductibility> = { '1': 'deductible', '2': 'not_deductible', '4': 'deductible_by_treaty' };

/**
 * STATUS (EO status code): 01 unconditional exemption, 02 conditional exemption, 12 trust
 * described in section 4947(a)(2), 25 organization terminating its private foundation status. Those
 * are the codes of organizations the IRS currently lists as exempt: active. Other codes (older and
 * fuller extracts mark revoked, terminated or merged organizations) are inactive: still found by
 * slug and EIN, left out of search by default. A file without the column lists exempt
 * organizations, so an empty status is active.
 */
const ACTIVE_STATUS_CODES = new Set(['01', '02', '12', '25', '']);

/** The values the API treats as "contributions are deductible"; "PC" is the Payments sample charity's label. */
export const DEDUCTIBLE_VALUES: readonly string[] = ['deductible', 'deductible_by_treaty', 'PC'];

const REQUIRED = ['EIN', 'NAME'] as const;
const OPTIONAL = ['CITY', 'STATE', 'NTEE_CD', 'DEDUCTIBILITY', 'STATUS'] as const;
type Column = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];

export interface BmfHeader {
  width: number;
  at: Partial<Record<Column, number>> & Record<(typeof REQUIRED)[number], number>;
}

/** Finds the columns by name (any order, any case); the other 20-odd columns are ignored. */
export function readHeader(fields: string[]): BmfHeader | { error: string } {
  const names = fields.map((f) => f.trim().toUpperCase());
  const at: Partial<Record<Column, number>> = {};
  for (const column of [...REQUIRED, ...OPTIONAL]) {
    const i = names.indexOf(column);
    if (i !== -1) at[column] = i;
  }
  const missing = REQUIRED.filter((c) => at[c] === undefined);
  if (missing.length) {
    return { error: `the header has no ${missing.join(' or ')} column; is this an IRS EO BMF file? (first line: ${fields.slice(0, 4).join(',')}…)` };
  }
  return { width: fields.length, at: at as BmfHeader['at'] };
}

const MAX_NAME = 200;

/** One data row to a record, or the reason it cannot be imported. */
export function toRecord(header: BmfHeader, fields: string[], terminated: boolean): OrganizationRecord | { error: string } {
  if (fields.length !== header.width) {
    const cut = terminated ? '' : ' (the file ends in the middle of this row)';
    return { error: `expected ${header.width} columns, found ${fields.length}${cut}` };
  }
  const get = (c: Column) => {
    const i = header.at[c];
    return i === undefined ? '' : fields[i]!.trim();
  };
  const rawEin = get('EIN');
  const ein = rawEin.replace(/^(\d{2})-(\d{7})$/, '$1$2');
  if (!/^\d{9}$/.test(ein) || ein === '000000000') return { error: `EIN "${rawEin}" is not 9 digits` };
  const name = get('NAME').replace(/\s+/g, ' ');
  if (!name) return { error: 'NAME is empty' };
  if (name.length > MAX_NAME) return { error: `NAME is longer than ${MAX_NAME} characters` };
  const city = get('CITY').replace(/\s+/g, ' ');
  const state = get('STATE').toUpperCase();
  const ntee = get('NTEE_CD').toUpperCase();
  return {
    ein,
    name,
    city: city || null,
    state: /^[A-Z]{2}$/.test(state) ? state : null,
    nteeCode: /^[A-Z][0-9A-Z]{1,4}$/.test(ntee) ? ntee : null,
    deductibility: DEDUCTIBILITY[get('DEDUCTIBILITY')] ?? null,
    status: ACTIVE_STATUS_CODES.has(get('STATUS')) ? 'active' : 'inactive',
  };
}

export function isDeductible(deductibility: string | null): boolean {
  return deductibility !== null && DEDUCTIBLE_VALUES.includes(deductibility);
}

/** 530196605 -> 53-0196605, the way EINs are written. */
export function formatEin(ein: string | null): string | null {
  return ein && /^\d{9}$/.test(ein) ? `${ein.slice(0, 2)}-${ein.slice(2)}` : ein;
}
