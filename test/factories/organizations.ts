import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The 28 columns of the IRS EO BMF extract, in the IRS's order. */
export const BMF_COLUMNS =
  'EIN,NAME,ICO,STREET,CITY,STATE,ZIP,GROUP,SUBSECTION,AFFILIATION,CLASSIFICATION,RULING,DEDUCTIBILITY,FOUNDATION,ACTIVITY,ORGANIZATION,STATUS,TAX_PERIOD,ASSET_CD,INCOME_CD,FILING_REQ_CD,PF_FILING_REQ_CD,ACCT_PD,ASSET_AMT,INCOME_AMT,REVENUE_AMT,NTEE_CD,SORT_NAME'.split(
    ',',
  );

export interface BmfRow {
  ein: string;
  name: string;
  city?: string;
  state?: string;
  ntee?: string;
  deductibility?: string;
  status?: string;
}

const quote = (v: string) => (/[",]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One CSV line as the IRS writes it (the columns the directory ignores carry plausible values). */
export function bmfLine(r: BmfRow): string {
  const values: Record<string, string> = {
    EIN: r.ein,
    NAME: r.name,
    STREET: 'PO BOX 1',
    CITY: r.city ?? 'WICHITA',
    STATE: r.state ?? 'KS',
    ZIP: '67201-0001',
    GROUP: '0000',
    SUBSECTION: '03',
    DEDUCTIBILITY: r.deductibility ?? '1',
    STATUS: r.status ?? '01',
    NTEE_CD: r.ntee ?? '',
  };
  return BMF_COLUMNS.map((c) => quote(values[c] ?? '')).join(',');
}

export function bmfCsv(rows: BmfRow[]): string {
  return `${[BMF_COLUMNS.join(','), ...rows.map(bmfLine)].join('\r\n')}\r\n`;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'almoner-bmf-'));
}

/** Writes a file in `dir` and returns its path. */
export async function writeFileIn(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}
