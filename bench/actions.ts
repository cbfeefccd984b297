/**
 * npm run bench:actions — reward actions per second, against ceilings measured in the same run on
 * the same PostgreSQL (a throwaway durable cluster: fsync and synchronous_commit on):
 *   (a) naive: ../shared/bench/naive-ledger/tx.sql through pgbench -c 8 -j 2 (one locked pool row,
 *       three entries, an idempotency key and an outbox row per transaction);
 *   (b) own SQL: almoner's own submission path (group commit, one transaction per batch) driven
 *       directly through pg by 50 concurrent callers, no HTTP;
 *   (c) HTTP: signed POST /v1/partner/actions/submit, 3 stakeholders, a campaign with splits, every
 *       action drawing on ONE pool, autocannon at 50 connections; then the same over 16 pools.
 * BENCH_SECONDS (default 20) sets each run's length. Each run is measured after WARMUP_SECONDS
 * (default 3) of the same load on the same database, so the figures are the steady state rather
 * than a fresh process compiling its code and a fresh database filling its caches; the warm-up
 * applies to the naive reference as much as to our own runs.
 *
 * The cluster starts with its WAL already allocated (WAL_PREALLOCATE_MB, default 2048), as in any
 * database that has run for a while: PostgreSQL then recycles WAL files instead of creating them. On
 * a new cluster every 16 MB of WAL means creating and zero-filling a new file, which at this write
 * rate happens every 0.7 s and holds up the commit waiting for it by about 25 ms: a start-up cost
 * that decided the p99 rather than anything the engine does. min_wal_size keeps the files for reuse;
 * max_wal_size keeps a checkpoint out of the middle of a run (one would start at the default 1 GB).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type autocannon from 'autocannon';
import pg from 'pg';
import { sql } from 'kysely';
import { ManualClock, systemClock } from '../src/platform/clock.js';
import { signPartnerRequest } from '../src/platform/crypto/signing.js';
import { migrate } from '../src/platform/db/migrate.js';
import { createKysely, createPgPool } from '../src/platform/db/postgres.js';
import { createServices } from '../src/services.js';
import { findPgBin, startTestCluster } from '../test/harness/postgres.js';
import { checkpoint, createDb, dropDb, flushMicros, preallocateWal } from './pg-cluster.js';
import { cpuSeconds } from './proc.js';
import { load, startServe, stopServe } from './serve.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_SECONDS = Number(process.env.WARMUP_SECONDS ?? 3);
const WAL_PREALLOCATE_MB = Number(process.env.WAL_PREALLOCATE_MB ?? 2048);
// The server reads ALMONER_REWARD_BATCHES_IN_FLIGHT from the environment it inherits; the own SQL
// path is given the same setting, so both sides of that comparison batch alike.
const IN_FLIGHT = Number(process.env.ALMONER_REWARD_BATCHES_IN_FLIGHT ?? 1);
const CONNECTIONS = 50;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const naiveDir = path.resolve(root, '../shared/bench/naive-ledger');
const MASTER_KEY = randomBytes(32);

function naiveTps(adminUrl: string): Promise<number | null> {
  if (!existsSync(path.join(naiveDir, 'tx.sql'))) return Promise.resolve(null);
  return (async () => {
    const url = await createDb(adminUrl, 'naive');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(await readFile(path.join(naiveDir, 'schema.sql'), 'utf8'));
    await c.end();
    const u = new URL(url);
    const pgbench = (seconds: number) =>
      spawnSync(
        path.join(findPgBin(), 'pgbench'),
        ['-n', '-M', 'prepared', '-f', path.join(naiveDir, 'tx.sql'), '-c', '8', '-j', '2', '-T', String(seconds), '-h', u.hostname, '-p', u.port, '-U', u.username, 'naive'],
        { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) }, timeout: (seconds + 60) * 1000 },
      );
    const r = await afterWarmUp(async (seconds) => pgbench(seconds));
    await dropDb(adminUrl, 'naive');
    const m = /tps = ([\d.]+)/.exec(r.stdout);
    if (!m) throw new Error(`pgbench failed: ${r.stderr || r.stdout}`);
    return Number(m[1]);
  })();
}

interface Fixture {
  partnerId: string;
  sk: string;
  hmacSecret: string;
  campaignIds: string[];
}

/** A partner with a big pool (or 16) and a campaign with 50/30/20 splits bound to each pool. */
async function prepare(url: string, pools: number): Promise<Fixture> {
  const db = createKysely(createPgPool({ connectionString: url, max: 4 }));
  await migrate(db);
  const services = createServices(db, MASTER_KEY, systemClock);
  const reg = await services.partners.register({ email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: 'bench-password-1', partnerName: 'Bench' });
  await services.partners.setStatus(reg.partner.id, 'ACTIVE');
  await services.partners.updatePartner(reg.partner.id, { rateLimit: 10_000_000 });
  const keys = await services.keys.issuePair(reg.partner.id, 'sandbox', 'bench', null, null);
  const campaignIds: string[] = [];
  for (let i = 0; i < pools; i++) {
    const pool = await services.pools.create({ partnerId: reg.partner.id, environment: 'sandbox' }, { name: `pool ${i}`, initialUnits: 10n ** 14n });
    const id = randomBytes(12).toString('hex');
    await sql`INSERT INTO campaigns (id, partner_id, environment, name, status, action_types, multiplier_bp, splits, token_pool_id, priority, created_at, updated_at)
              VALUES (${id}, ${reg.partner.id}, 'sandbox', ${`bench ${i}`}, 'ACTIVE', '["PURCHASE"]', 10000,
                      '[{"stakeholderTypeCode":"CUSTOMER","percent":"50"},{"stakeholderTypeCode":"REFERRER","percent":"30"},{"stakeholderTypeCode":"ADVOCATE","percent":"20"}]',
                      ${pool.id}, ${i}, now(), now())`.execute(db);
    campaignIds.push(id);
  }
  // Users exist up front, as in a running integration; 1,000 of them.
  await sql`INSERT INTO partner_users (id, partner_id, environment, external_user_id, created_at, updated_at)
            SELECT md5(g::text || ${reg.partner.id})::text, ${reg.partner.id}, 'sandbox', 'u' || g, now(), now() FROM generate_series(1, 1000) g`.execute(db);
  await services.stakeholderTypes.codes(reg.partner.id);
  await db.destroy();
  return { partnerId: reg.partner.id, sk: keys.secretKey, hmacSecret: keys.hmacSecret, campaignIds };
}

let seq = 0;
function body(f: Fixture, run: string, multiPool: boolean) {
  const n = seq++;
  const u = (k: number) => `u${((n * 7 + k * 331) % 1000) + 1}`;
  const campaign = multiPool ? f.campaignIds[n % f.campaignIds.length] : f.campaignIds[0];
  return `{"idempotencyKey":"${run}-${n}","actionType":"PURCHASE","amount":49.99,"currency":"USD","campaignId":"${campaign}","stakeholders":[` +
    `{"stakeholderTypeCode":"CUSTOMER","partnerUserId":"${u(0)}"},{"stakeholderTypeCode":"REFERRER","partnerUserId":"${u(1)}"},` +
    `{"stakeholderTypeCode":"ADVOCATE","partnerUserId":"${u(2)}"}]}`;
}

async function ownSql(url: string, f: Fixture): Promise<{ tps: number; p50: number; p99: number }> {
  const db = createKysely(createPgPool({ connectionString: url, max: 10 }));
  const services = createServices(db, MASTER_KEY, new ManualClock(), { rewardBatchesInFlight: IN_FLIGHT });
  services.partnerClock.now = async () => new Date();
  const scope = { partnerId: f.partnerId, environment: 'sandbox' as const };
  const drive = async (seconds: number) => {
    const latencies: number[] = [];
    const end = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (Date.now() < end) {
          const raw = body(f, 'own', false);
          const t0 = performance.now();
          await services.actions.submit(scope, JSON.parse(raw), Buffer.from(raw));
          latencies.push(performance.now() - t0);
        }
      }),
    );
    return latencies;
  };
  const latencies = await afterWarmUp(drive);
  await services.actions.close();
  await db.destroy();
  latencies.sort((a, b) => a - b);
  return { tps: latencies.length / SECONDS, p50: latencies[Math.floor(latencies.length * 0.5)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

/** Runs `drive` for WARMUP_SECONDS, then for SECONDS, and gives what the second run measured. */
async function afterWarmUp<T>(drive: (seconds: number) => Promise<T>): Promise<T> {
  if (WARMUP_SECONDS > 0) await drive(WARMUP_SECONDS);
  return drive(SECONDS);
}

interface CpuPerAction {
  server: number;
  postgres: number;
  loadGenerator: number;
}

async function http(url: string, f: Fixture, multiPool: boolean, postmasterPid: number): Promise<{ result: autocannon.Result; cpu: CpuPerAction | null }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-bench-'));
  const { child, base } = await startServe({
    DATABASE_URL: url,
    ALMONER_MASTER_KEY: MASTER_KEY.toString('hex'),
    ALMONER_DATA_DIR: dataDir,
    ALMONER_DB_POOL_SIZE: '10',
  });
  try {
    const run = randomBytes(4).toString('hex');
    const drive = (seconds: number) =>
      load({
        url: base,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/v1/partner/actions/submit',
            setupRequest: (req) => {
              const raw = body(f, run, multiPool);
              const timestamp = String(Math.floor(Date.now() / 1000));
              const signature = signPartnerRequest({ secret: f.hmacSecret, timestamp, method: 'POST', pathWithQuery: '/v1/partner/actions/submit', body: raw });
              return {
                ...req,
                body: raw,
                headers: { 'content-type': 'application/json', 'x-partner-key': f.sk, 'x-timestamp': timestamp, 'x-signature': signature },
              };
            },
          },
        ],
      });
    // Where the CPU of the measured run goes, per action: the API process, PostgreSQL (every backend),
    // and this process, which runs autocannon and signs every request. Linux only (/proc).
    const procs = existsSync('/proc/self/stat');
    const sample = () => ({ self: process.cpuUsage(), ...(procs ? { server: cpuSeconds([child.pid!]), postgres: cpuSeconds([postmasterPid], true) } : {}) });
    if (WARMUP_SECONDS > 0) await drive(WARMUP_SECONDS);
    const before = sample();
    const result = await drive(SECONDS);
    const after = sample();
    const actions = result.requests.total;
    const self = process.cpuUsage(before.self);
    const cpu =
      procs && actions > 0
        ? {
            server: ((after.server! - before.server!) * 1e6) / actions,
            postgres: ((after.postgres! - before.postgres!) * 1e6) / actions,
            loadGenerator: (self.user + self.system) / actions,
          }
        : null;
    return { result, cpu };
  } finally {
    await stopServe(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const cluster = await startTestCluster({
    durable: true,
    settings: {
      shared_buffers: '256MB',
      max_connections: '200',
      min_wal_size: `${Math.max(WAL_PREALLOCATE_MB, 80)}MB`,
      max_wal_size: `${Math.max(2 * WAL_PREALLOCATE_MB, 1024)}MB`,
    },
  });
  try {
    const admin = cluster.url();
    if (WAL_PREALLOCATE_MB > 0) await preallocateWal(admin, WAL_PREALLOCATE_MB);
    process.stdout.write(
      `PostgreSQL ${cluster.url().replace(/:[^:@/]+@/, ':***@')} durable (fsync on, synchronous_commit on); ${SECONDS} s per run, each after ${WARMUP_SECONDS} s of warm-up; ${WAL_PREALLOCATE_MB} MB of WAL preallocated; reward batches in flight per partner: ${IN_FLIGHT}\n`,
    );
    const flush = flushMicros(cluster.dir);
    process.stdout.write(`disk flush (pg_test_fsync, 8 kB write + fdatasync): ${flush === null ? 'not measured' : `${flush} µs`}\n`);
    const naive = await naiveTps(admin);
    process.stdout.write(`naive reference (pgbench -c 8 -j 2): ${naive === null ? 'skipped (../shared/bench/naive-ledger not found)' : `${naive.toFixed(0)} tps`}\n`);

    const ownUrl = await createDb(admin, 'own_sql');
    const ownFixture = await prepare(ownUrl, 1);
    await checkpoint(admin);
    const own = await ownSql(ownUrl, ownFixture);
    process.stdout.write(`own SQL, no HTTP (50 callers, group commit): ${own.tps.toFixed(0)} actions/s, p50 ${own.p50.toFixed(1)} ms, p99 ${own.p99.toFixed(1)} ms\n`);

    await dropDb(admin, 'own_sql');
    const oneUrl = await createDb(admin, 'http_one');
    const oneFixture = await prepare(oneUrl, 1);
    await checkpoint(admin);
    const { result: one, cpu } = await http(oneUrl, oneFixture, false, cluster.pid);
    await dropDb(admin, 'http_one');
    const manyUrl = await createDb(admin, 'http_many');
    const manyFixture = await prepare(manyUrl, 16);
    await checkpoint(admin);
    const { result: many } = await http(manyUrl, manyFixture, true, cluster.pid);

    const line = (name: string, r: autocannon.Result) =>
      `${name}: ${r.requests.average.toFixed(0)} actions/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;
    const lines = [
      line('HTTP, one pool  (50 connections)', one),
      line('HTTP, 16 pools  (50 connections)', many),
      `actions_per_s / naive_tps     = ${naive ? (one.requests.average / naive).toFixed(2) : 'n/a'}   (target >= 2.5)`,
      `one pool / 16 pools           = ${(one.requests.average / many.requests.average).toFixed(2)}   (target >= 0.8)`,
      `actions_per_s / own_sql_tps   = ${(one.requests.average / own.tps).toFixed(2)}   (target >= 0.5)`,
      `p99 one pool                  = ${one.latency.p99} ms   (target < 50 ms)`,
    ];
    if (cpu) {
      const us = (v: number) => `${v.toFixed(0)} µs`;
      lines.push(
        `CPU per action, one pool: API process ${us(cpu.server)}, PostgreSQL ${us(cpu.postgres)}, autocannon and signing ${us(cpu.loadGenerator)}` +
          ` (${os.cpus().length} cores: ${((one.requests.average * (cpu.server + cpu.postgres + cpu.loadGenerator)) / 1e4 / os.cpus().length).toFixed(0)} % of them busy)`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
