/** What bench:actions does to its throwaway PostgreSQL cluster around the runs it measures. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { findPgBin } from '../test/harness/postgres.js';

const WAL_SEGMENT_MB = 16;

/** Runs `work` on one admin connection, closed whatever happens. */
async function withAdmin<T>(adminUrl: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** Creates database `name` and gives its URL. */
export async function createDb(adminUrl: string, name: string): Promise<string> {
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Drops a database a finished run used. Left in place, its freshly written tables are what
 * autovacuum wakes up for (its first pass comes about a minute into the cluster's life), and
 * vacuuming them took CPU from the next run for most of its 20 s: the naive reference, which runs
 * first, never had that to compete with.
 */
export async function dropDb(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, (c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`));
}

/**
 * Makes PostgreSQL create `megabytes` of WAL files (one tiny write and a switch to the next file
 * each), then checkpoints, after which it keeps them to recycle (min_wal_size).
 */
export function preallocateWal(adminUrl: string, megabytes: number) {
  return withAdmin(adminUrl, async (c) => {
    await c.query('CREATE TABLE wal_preallocation (x int)');
    for (let i = 0; i < Math.ceil(megabytes / WAL_SEGMENT_MB); i++) {
      await c.query('INSERT INTO wal_preallocation VALUES (1)');
      await c.query('SELECT pg_switch_wal()');
    }
    await c.query('DROP TABLE wal_preallocation');
    await c.query('CHECKPOINT');
  });
}

/**
 * A checkpoint before each run: the WAL the previous run wrote becomes recyclable, so no run creates
 * WAL files however many actions the runs before it managed on a fast machine.
 */
export function checkpoint(adminUrl: string) {
  return withAdmin(adminUrl, (c) => c.query('CHECKPOINT'));
}

/**
 * The disk's flush latency (pg_test_fsync: one 8 kB write and fdatasync, as a commit's WAL flush),
 * printed because the naive reference is bound by it (its one pool row stays locked across every
 * commit's flush) while batches pay one flush per batch: the ratio between them moves with the disk.
 */
export function flushMicros(dir: string): number | null {
  const r = spawnSync(path.join(findPgBin(), 'pg_test_fsync'), ['-s', '1', '-f', path.join(dir, 'flush.test')], { encoding: 'utf8', timeout: 120_000 });
  const m = /fdatasync\s+[\d.]+ ops\/sec\s+(\d+) usecs\/op/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : null;
}
