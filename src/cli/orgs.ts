import { access } from 'node:fs/promises';
import path from 'node:path';
import { importOrganizationsInWorker, type ImportProgress, type ImportReport } from '../modules/organizations/index.js';

export const ORGS_USAGE = `
  orgs import FILE...                         import IRS EO BMF CSV files (eo_xx.csv) into the
                                              nonprofit directory; re-running updates by EIN`;

export interface OrgsOutput {
  out(line: string): void;
  /** Row errors and problems with the command. */
  err(line: string): void;
  /** The progress line: on a terminal it replaces the previous one. */
  status(line: string): void;
}

/** Row errors shown per file; the count of the rest is in the summary. */
const ERRORS_SHOWN_PER_FILE = 50;

/** `almoner orgs ...`. Returns the exit code: 0 all rows imported, 1 some rows rejected, 2 usage. */
export async function runOrgsCommand(databaseUrl: string, args: string[], io: OrgsOutput): Promise<number> {
  const [sub, ...files] = args;
  if (sub !== 'import' || files.length === 0) {
    io.err(`usage:${ORGS_USAGE}`);
    return 2;
  }
  for (const file of files) {
    try {
      await access(file);
    } catch {
      io.err(`almoner: cannot read ${file}`);
      return 2;
    }
  }
  const shown = new Map<string, number>();
  const report = await importOrganizationsInWorker(databaseUrl, files, {
    onRowError(e) {
      const n = (shown.get(e.file) ?? 0) + 1;
      shown.set(e.file, n);
      if (n <= ERRORS_SHOWN_PER_FILE) io.err(`${path.basename(e.file)}:${e.line}: ${e.message}`);
      else if (n === ERRORS_SHOWN_PER_FILE + 1) io.err(`${path.basename(e.file)}: more rejected rows not shown`);
    },
    onProgress: throttled((p) => io.status(progressLine(p))),
  });
  for (const line of summary(report)) io.out(line);
  return report.rejected > 0 || report.files.some((f) => f.error) ? 1 : 0;
}

function throttled(fn: (p: ImportProgress) => void): (p: ImportProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase === 'reading' && now - last < 250) return;
    last = now;
    fn(p);
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** `eo_ks.csv  120,000 rows  31,200 rows/s  40% of 55.1 MB  ETA 0:08` (ETA by bytes read). */
export function progressLine(p: ImportProgress): string {
  const rate = p.elapsedMs > 0 ? (p.rows * 1000) / p.elapsedMs : 0;
  const mb = `${(p.totalBytes / 1e6).toFixed(1)} MB`;
  if (p.phase === 'merging') return `merging ${int(p.rows)} rows into the directory (${duration(p.elapsedMs)} so far)`;
  if (p.phase === 'done') return `done: ${int(p.rows)} rows in ${duration(p.elapsedMs)}`;
  const share = p.totalBytes > 0 ? p.bytesRead / p.totalBytes : 1;
  const eta = share > 0 ? (p.elapsedMs * (1 - share)) / share : 0;
  return `${p.file}  ${int(p.rows)} rows  ${int(rate)} rows/s  ${Math.floor(share * 100)}% of ${mb}  ETA ${duration(eta)}`;
}

function summary(r: ImportReport): string[] {
  const lines = r.files.map((f) =>
    f.error ? `${path.basename(f.file)}: skipped: ${f.error}` : `${path.basename(f.file)}: ${int(f.rows)} rows${f.rejected ? `, ${int(f.rejected)} rejected` : ''}`,
  );
  const rate = r.elapsedMs > 0 ? (r.rows * 1000) / r.elapsedMs : 0;
  lines.push(
    `imported ${int(r.rows)} rows in ${(r.elapsedMs / 1000).toFixed(1)} s (${int(rate)} rows/s): ${int(r.inserted)} new, ${int(r.updated)} updated, ` +
      `${int(r.unchanged)} unchanged${r.duplicates ? `, ${int(r.duplicates)} repeated EINs (the last row won)` : ''}; ${int(r.rejected)} rows rejected`,
  );
  return lines;
}

/**
 * stdout for the summary, stderr for the rest. On a terminal the progress line rewrites itself;
 * in a log (not a TTY) it is printed every ten seconds instead of four times a second.
 */
export function processOutput(): OrgsOutput {
  const tty = process.stderr.isTTY === true;
  let statusShown = false;
  let lastLogged = 0;
  const clearStatus = () => {
    if (statusShown) process.stderr.write('\r\x1b[K');
    statusShown = false;
  };
  return {
    out(line) {
      clearStatus();
      process.stdout.write(`${line}\n`);
    },
    err(line) {
      clearStatus();
      process.stderr.write(`${line}\n`);
    },
    status(line) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${line}`);
        statusShown = true;
      } else if (Date.now() - lastLogged >= 10_000 || !/ETA/.test(line)) {
        lastLogged = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
  };
}
