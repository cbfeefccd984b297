/** Runs one directory import in a worker thread for importOrganizationsInWorker. */
import { parentPort, workerData } from 'node:worker_threads';
import { importOrganizations } from './import.js';

const { connectionString, files } = workerData as { connectionString: string; files: string[] };
const port = parentPort!;
importOrganizations(connectionString, files, {
  onRowError: (error) => port.postMessage({ type: 'rowError', error }),
  onProgress: (progress) => port.postMessage({ type: 'progress', progress }),
}).then(
  (report) => port.postMessage({ type: 'done', report }),
  (err: unknown) => port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
);
