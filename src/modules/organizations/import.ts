import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { readHeader, toRecord, type BmfHeader } from './bmf.js';
import { LineSplitter, parseCsvLine, type Line } from './csv.js';
import { copyLine, importRepo, type MergeCounts } from './import.repo.js';
import { directoryChanged } from './directory-changes.js';
import { slugCandidates } from './slugs.js';
import { moduleWorker } from './worker-thread.js';

export interface RowError {
  file: string;
  line: number;
  message: string;
}

export interface ImportProgress {
  phase: 'reading' | 'merging' | 'done';
  file: string;
  bytesRead: number;
  totalBytes: number;
  rows: number;
  elapsedMs: number;
}

export interface FileReport {
  file: string;
  rows: number;
  rejected: number;
  /** Set when the file as a whole could not be read as a BMF file (its rows are not counted). */
  error?: string;
}

export interface ImportReport extends MergeCounts {
  files: FileReport[];
  /** Good rows read, before duplicates within the import are folded. */
  rows: number;
  rejected: number;
  elapsedMs: number;
}

export interface ImportHooks {
  onRowError?(error: RowError): void;
  onProgress?(progress: ImportProgress): void;
}

/** Rows handed to the COPY stream at a time: few writes, and memory stays small. */
const BATCH_ROWS = 2000;

/**
 * Imports IRS EO BMF CSV files into the directory in one transaction on its own connection: all
 * good rows or, if the database fails, none. Files are streamed, so memory stays flat whatever
 * their size; malformed rows are reported through onRowError with file and line, and skipped.
 * Re-importing is idempotent: rows are keyed by EIN, changed ones updated, unchanged ones left
 * alone, slugs never changed.
 */
export async function importOrganizations(connectionString: string, files: string[], hooks: ImportHooks = {}): Promise<ImportReport> {
  const started = Date.now();
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const reports: FileReport[] = [];
  let bytesBefore = 0;
  let seq = 0;
  const progress = (phase: ImportProgress['phase'], file: string, bytesRead: number) =>
    hooks.onProgress?.({ phase, file, bytesRead, totalBytes, rows: seq, elapsedMs: Date.now() - started });

  const counts = await importRepo.inTransaction(connectionString, async (db, client) => {
    await importRepo.createStaging(db);
    const staging = importRepo.openStaging(client);
    // Rows become COPY text at once, so the objects parsed from a line die young instead of
    // waiting in a batch long enough to reach the old generation (which doubled peak memory).
    let batch = '';
    let batched = 0;
    const flush = async () => {
      if (batched) await staging.write(batch);
      batch = '';
      batched = 0;
    };
    for (const [i, file] of files.entries()) {
      const name = path.basename(file);
      const report: FileReport = { file, rows: 0, rejected: 0 };
      reports.push(report);
      let header: BmfHeader | undefined;
      const take = (line: Line) => {
        if (line.text.trim() === '') return;
        const parsed = parseCsvLine(line.text);
        if (!header) {
          const h = 'error' in parsed ? parsed : readHeader(parsed.fields);
          if ('error' in h) throw new FileError(h.error);
          header = h;
          return;
        }
        const record = 'error' in parsed ? parsed : toRecord(header, parsed.fields, line.terminated);
        if ('error' in record) {
          report.rejected++;
          hooks.onRowError?.({ file, line: line.number, message: record.error });
          return;
        }
        report.rows++;
        batch += copyLine({ ...record, seq: ++seq, slugs: slugCandidates(record) });
        batched++;
      };
      try {
        const decoder = new StringDecoder('utf8');
        const lines = new LineSplitter();
        let read = 0;
        for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
          read += chunk.length;
          for (const line of lines.push(decoder.write(chunk))) take(line);
          if (batched >= BATCH_ROWS) await flush();
          progress('reading', name, bytesBefore + read);
        }
        for (const line of lines.end(decoder.end())) take(line);
        if (!header) throw new FileError('the file is empty');
      } catch (err) {
        if (!(err instanceof FileError)) throw err;
        report.error = err.message;
      }
      bytesBefore += sizes[i]!;
    }
    await flush();
    await staging.end();
    progress('merging', '', totalBytes);
    return importRepo.merge(db);
  });
  directoryChanged();
  progress('done', '', totalBytes);
  return {
    ...counts,
    files: reports,
    rows: seq,
    rejected: reports.reduce((n, r) => n + r.rejected, 0),
    elapsedMs: Date.now() - started,
  };
}

class FileError extends Error {}

type WorkerMessage =
  | { type: 'rowError'; error: RowError }
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'done'; report: ImportReport }
  | { type: 'failed'; message: string };

/**
 * importOrganizations in a worker thread with its own, bounded heap. Parsing makes a lot of
 * short-lived garbage, and V8 lets the old generation grow in proportion to what is already live:
 * in the CLI process, which has loaded the whole application, the import peaked at 450 MB for
 * 300,000 rows (and less for fewer) although its live heap never grew. In a worker the process
 * peaks at the same 345 MB for 5,000 rows or 300,000, and the limit keeps a bug from taking the
 * machine's memory.
 */
export function importOrganizationsInWorker(connectionString: string, files: string[], hooks: ImportHooks = {}): Promise<ImportReport> {
  const worker = moduleWorker(import.meta.url, './import.worker', {
    workerData: { connectionString, files },
    resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 },
  });
  return new Promise<ImportReport>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'rowError') hooks.onRowError?.(m.error);
      else if (m.type === 'progress') hooks.onProgress?.(m.progress);
      else {
        settled = true;
        if (m.type === 'done') resolve(m.report);
        else reject(new Error(m.message));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the import worker stopped (exit code ${code})`));
    });
  });
}
