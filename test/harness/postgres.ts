import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startPgServer, type PgServer } from '../../src/platform/db/pg-server.js';

/**
 * A throwaway PostgreSQL cluster for tests and benchmarks, from the machine's own binaries
 * (PostgreSQL 15 here), in a temp directory on a free loopback port. Durability is off unless
 * asked for: test data never needs to survive a crash, and benchmarks ask for it explicitly.
 */
export interface TestCluster extends PgServer {
  dir: string;
}

export function findPgBin(): string {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];
  for (const dir of candidates) if (dir && existsSync(path.join(dir, 'initdb'))) return dir;
  const fromConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (fromConfig.status === 0 && existsSync(path.join(fromConfig.stdout.trim(), 'initdb'))) return fromConfig.stdout.trim();
  throw new Error('PostgreSQL server binaries not found; install postgresql-15 or set PG_BIN');
}

export async function startTestCluster(options: { durable?: boolean; settings?: Record<string, string> } = {}): Promise<TestCluster> {
  const bin = findPgBin();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'almoner-pg-'));
  const server = await startPgServer({
    binaries: { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') },
    pgdata: path.join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    settings: {
      max_connections: '200',
      shared_buffers: '128MB',
      ...(options.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
      ...options.settings,
    },
  });
  return {
    ...server,
    dir,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
