import type { Kysely } from 'kysely';
import type { Config } from '../../config.js';
import { startEmbedded } from './embedded.js';
import { createKysely, createPgPool } from './postgres.js';
import type { Database } from './schema.js';

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'embedded';
  /** Connection string of the server in use (the embedded one too), for tools such as psql. */
  url: string;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, applicationName = 'almoner'): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    const pool = createPgPool({ connectionString: config.databaseUrl, max: config.dbPoolSize, applicationName });
    const db = createKysely(pool);
    return { db, kind: 'postgres', url: config.databaseUrl, close: () => db.destroy() };
  }
  const server = await startEmbedded(config.dataDir);
  const pool = createPgPool({ connectionString: server.url, max: config.dbPoolSize, applicationName });
  const db = createKysely(pool);
  return {
    db,
    kind: 'embedded',
    url: server.url,
    close: async () => {
      await db.destroy();
      await server.stop();
    },
  };
}
