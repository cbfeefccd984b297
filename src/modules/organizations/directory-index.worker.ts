/** Builds the directory index in a worker thread for DirectoryIndexKeeper, on a connection of its own. */
import { parentPort, workerData } from 'node:worker_threads';
import { createKysely, createPgPool } from '../../platform/db/postgres.js';
import { DirectoryIndexBuilder, transferList } from './directory-index.build.js';
import { organizationsRepo } from './organizations.repo.js';

const { databaseUrl } = workerData as { databaseUrl: string };
const port = parentPort!;
const db = createKysely(createPgPool({ connectionString: databaseUrl, max: 1, applicationName: 'almoner-directory-index' }));
const builder = new DirectoryIndexBuilder();
organizationsRepo
  .readDirectory(db, (rows) => builder.add(rows))
  .then((version) => {
    const data = builder.finish(version);
    port.postMessage({ type: 'built', data }, transferList(data));
  })
  .catch((err: unknown) => port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) }))
  .finally(() => void db.destroy());
