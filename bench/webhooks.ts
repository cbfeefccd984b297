/**
 * npm run bench:webhooks — webhook delivery throughput and latency, against the receiver's own
 * ceiling measured in the same run.
 *
 * A throwaway durable PostgreSQL cluster (fsync and synchronous_commit on), one partner with one
 * sandbox endpoint at a plain node:http receiver that answers 204, running in its own process so
 * that it shares no event loop with this driver. Then:
 *   1. ceiling: EVENTS plain POSTs with a delivery-sized body sent straight from this process to the
 *      receiver, keep-alive, 64 at a time;
 *   2. throughput: EVENTS events written to the outbox (a few transactions), then two
 *      `almoner worker` processes; events/s from the first worker being ready until the receiver
 *      has seen every event. Beside it, for reading that figure: how long after the first worker
 *      the second was ready (both boot at once, and one may still be loading while the other
 *      delivers), and the rate from the 10th to the 90th percentile of arrivals, once both run warm;
 *   3. unloaded latency: UNLOADED events trickled at ~20/s, one per transaction; commit-to-receipt
 *      from the moment COMMIT returned to the moment the receiver read the request.
 * BENCH_EVENTS (default 20000) and BENCH_UNLOADED (default 200) change the counts; BENCH_STATEMENTS=1
 * also prints the statements PostgreSQL spent most time on while delivering the backlog
 * (pg_stat_statements, which costs a little throughput); BENCH_PROFILE_DIR=dir writes each worker's
 * CPU profile there (node --cpu-prof) when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { systemClock } from '../src/platform/clock.js';
import { migrate } from '../src/platform/db/migrate.js';
import { createKysely, createPgPool } from '../src/platform/db/postgres.js';
import { newEvent, writeEvents } from '../src/platform/outbox/outbox.js';
import { createServices } from '../src/services.js';
import { startTestCluster, type TestCluster } from '../test/harness/postgres.js';
import { cpuSeconds } from './proc.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const UNLOADED = Number(process.env.BENCH_UNLOADED ?? 200);
const WORKERS = 2;
const CEILING_CONCURRENCY = 64;
const EVENTS_PER_TRANSACTION = 5_000;
const EVENTS_PER_STATEMENT = 1_000;
/** The whole run is killed after this, whatever state it is in. */
const RUN_LIMIT_MS = 10 * 60_000;
const STATEMENTS = process.env.BENCH_STATEMENTS === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const MASTER_KEY = randomBytes(32);

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
const wallNow = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// The receiver process: `bench/webhooks.ts --receiver`. It answers 204 to every POST and keeps,
// per webhook-id, when the request was first read; the driver asks for figures over IPC.

function runReceiver() {
  const firstSeen = new Map<string, number>();
  let requests = 0;
  let lastNewAt = 0;
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      const at = wallNow();
      requests += 1;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string' && !firstSeen.has(id)) {
        firstSeen.set(id, at);
        lastNewAt = at;
      }
      res.writeHead(204);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.send!({ type: 'listening', port: (server.address() as import('node:net').AddressInfo).port });
  });
  process.on('message', (msg: { type: string; ids?: string[] }) => {
    if (msg.type === 'stats') process.send!({ type: 'stats', requests, unique: firstSeen.size, lastNewAt });
    else if (msg.type === 'times') process.send!({ type: 'times', times: msg.ids!.map((id) => firstSeen.get(id) ?? null) });
    else if (msg.type === 'ranks') {
      // When the n-th distinct event arrived, for each n asked.
      const all = [...firstSeen.values()].sort((a, b) => a - b);
      process.send!({ type: 'ranks', times: msg.ids!.map((n) => all[Number(n)] ?? null) });
    }
    else if (msg.type === 'reset') {
      firstSeen.clear();
      requests = 0;
      lastNewAt = 0;
      process.send!({ type: 'reset' });
    }
  });
  // The driver going away for any reason ends the receiver too.
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The driver.

const children = new Set<ChildProcess>();

function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

class ReceiverHandle {
  private waiting: ((msg: Record<string, unknown>) => void)[] = [];
  constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (msg: Record<string, unknown>) => this.waiting.shift()?.(msg));
  }
  static async start(): Promise<ReceiverHandle> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/webhooks.ts'), '--receiver'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', () => reject(new Error('receiver exited during start')));
    });
    return new ReceiverHandle(child, port);
  }
  private ask<T>(msg: Record<string, unknown>): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.push(resolve as (m: Record<string, unknown>) => void);
      this.child.send(msg);
    });
  }
  stats() {
    return this.ask<{ requests: number; unique: number; lastNewAt: number }>({ type: 'stats' });
  }
  times(ids: string[]) {
    return this.ask<{ times: (number | null)[] }>({ type: 'times', ids });
  }
  reset() {
    return this.ask({ type: 'reset' });
  }
  /** Arrival times of the events at these ranks (0-based, in order of arrival). */
  ranks(ranks: number[]) {
    return this.ask<{ times: (number | null)[] }>({ type: 'ranks', ids: ranks.map(String) });
  }
}

/** Event data shaped like an action.completed (three stakeholders), so bodies have a realistic size. */
function actionData(n: number) {
  const txn = () => `txn_${randomBytes(12).toString('hex')}`;
  return {
    actionId: `act_${randomBytes(12).toString('hex')}`,
    idempotencyKey: `order-${n}`,
    actionType: 'PURCHASE',
    status: 'COMPLETED',
    tokensDistributed: '49.99',
    transactionIds: [txn(), txn(), txn()],
    stakeholders: [
      { stakeholderTypeCode: 'CUSTOMER', partnerUserId: `u${n % 1000}`, tokens: '24.99' },
      { stakeholderTypeCode: 'REFERRER', partnerUserId: `u${(n + 7) % 1000}`, tokens: '15.00' },
      { stakeholderTypeCode: 'ADVOCATE', partnerUserId: `u${(n + 13) % 1000}`, tokens: '10.00' },
    ],
  };
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function waitFor(check: () => Promise<boolean> | boolean, ms: number, what: string, everyMs = 20) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The receiver's ceiling: the same number of POSTs, same body size, from one process, keep-alive. */
async function ceiling(port: number, body: string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CEILING_CONCURRENCY });
  let next = 0;
  const post = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/hooks',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'webhook-id': `ceiling_${i}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`receiver answered ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CEILING_CONCURRENCY }, async () => {
      while (next < EVENTS) await post(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return EVENTS / seconds;
}

function startWorker(name: string, databaseUrl: string, dataDir: string): { child: ChildProcess; ready: Promise<number> } {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: MASTER_KEY.toString('hex'),
    ALMONER_DATA_DIR: path.join(dataDir, name),
    ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'true',
    LOG_LEVEL: 'warn',
  };
  delete env.REDIS_URL;
  const profile = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, 'src/main.ts'), 'worker'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const ready = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('almoner worker started')) resolve(wallNow());
    });
    child.once('exit', (code) => reject(new Error(`worker ${name} exited (${code}) before it was ready:\n${out}`)));
  });
  ready.catch(() => {});
  return { child, ready };
}

async function stopWorker(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function main() {
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:webhooks did not finish within ${RUN_LIMIT_MS / 1000} s; stopping\n`);
    killAll();
    process.exit(1);
  }, RUN_LIMIT_MS);
  let cluster: TestCluster | undefined;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-bench-webhooks-'));
  try {
    cluster = await startTestCluster({
      durable: true,
      settings: { shared_buffers: '256MB', max_connections: '200', ...(STATEMENTS ? { shared_preload_libraries: 'pg_stat_statements' } : {}) },
    });
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_webhooks');
    await admin.end();
    const databaseUrl = cluster.url('bench_webhooks');
    if (STATEMENTS) {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query('CREATE EXTENSION pg_stat_statements');
      await c.end();
    }
    process.stdout.write(`PostgreSQL ${databaseUrl.replace(/:[^:@/]+@/, ':***@')} durable (fsync on, synchronous_commit on); ${EVENTS} events, ${WORKERS} workers\n`);

    const receiver = await ReceiverHandle.start();
    const db = createKysely(createPgPool({ connectionString: databaseUrl, max: 4 }));
    await migrate(db);
    const services = createServices(db, MASTER_KEY, systemClock, { webhooks: { allowInsecureSandbox: true } });
    const reg = await services.partners.register({ email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: 'bench-password-1', partnerName: 'Bench' });
    await services.partners.setStatus(reg.partner.id, 'ACTIVE');
    const scope = { partnerId: reg.partner.id, environment: 'sandbox' as const };
    await services.webhooks.create(scope, { url: `http://127.0.0.1:${receiver.port}/hooks`, eventTypes: ['action.completed'] });
    const event = (n: number) => newEvent(scope.partnerId, scope.environment, 'action.completed', actionData(n), new Date());

    // 1. The ceiling, with a body the size of a real delivery's.
    const sample = event(0);
    const body = JSON.stringify({ id: sample.id, type: sample.type, createdAt: sample.createdAt.toISOString(), data: sample.data });
    const ceilingPerSecond = await ceiling(receiver.port, body);
    await receiver.reset();

    // 2. Throughput: a backlog of EVENTS, then the workers.
    let written = 0;
    const writeStarted = performance.now();
    while (written < EVENTS) {
      const inTransaction = Math.min(EVENTS_PER_TRANSACTION, EVENTS - written);
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < inTransaction; i += EVENTS_PER_STATEMENT) {
          await writeEvents(trx, Array.from({ length: Math.min(EVENTS_PER_STATEMENT, inTransaction - i) }, (_, k) => event(written + i + k)));
        }
      });
      written += inTransaction;
    }
    const writeMs = performance.now() - writeStarted;
    const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(`worker-${i + 1}`, databaseUrl, dataDir));
    const firstReady = await Promise.race(workers.map((w) => w.ready));
    const readyAt = await Promise.all(workers.map((w) => w.ready));
    const cpu = () => ({
      workers: cpuSeconds(workers.map((w) => w.child.pid!)),
      receiver: cpuSeconds([receiver.child.pid!]),
      postgres: cpuSeconds([cluster!.pid], true),
    });
    const cpuBefore = cpu();
    if (STATEMENTS) await sql`SELECT pg_stat_statements_reset()`.execute(db);
    await waitFor(async () => (await receiver.stats()).unique >= EVENTS, RUN_LIMIT_MS / 2, `${EVENTS} deliveries`, 50);
    const loaded = await receiver.stats();
    const cpuAfter = cpu();
    const statements = STATEMENTS
      ? (
          await sql<{ calls: string; total_ms: number; mean_ms: number; rows: string; query: string }>`
            SELECT calls, round(total_exec_time::numeric, 1)::float8 AS total_ms, round(mean_exec_time::numeric, 3)::float8 AS mean_ms, rows,
                   left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 110) AS query
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10`.execute(db)
        ).rows
      : [];
    const eventsPerSecond = EVENTS / ((loaded.lastNewAt - firstReady) / 1000);
    // Not the figure the target is about: how fast delivery runs once both workers are warm (the
    // 10th to the 90th percentile of arrivals), and how far the start is from it.
    const [firstAt = NaN, tenthAt = NaN, ninetiethAt = NaN] = (await receiver.ranks([0, EVENTS / 10, (9 * EVENTS) / 10])).times as number[];
    const steadyPerSecond = (0.8 * EVENTS) / ((ninetiethAt - tenthAt) / 1000);

    // 3. Unloaded latency: one event per transaction, ~20/s.
    const commits = new Map<string, number>();
    for (let n = 0; n < UNLOADED; n++) {
      const e = event(EVENTS + n);
      await db.transaction().execute((trx) => writeEvents(trx, [e]));
      commits.set(e.id, wallNow());
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(async () => (await receiver.stats()).unique >= EVENTS + UNLOADED, 60_000, 'the unloaded events', 50);
    const { times } = await receiver.times([...commits.keys()]);
    const latencies = [...commits.values()].map((committed, i) => times[i]! - committed).sort((a, b) => a - b);
    const final = await receiver.stats();

    for (const w of workers) await stopWorker(w.child);
    const status = await db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['status', eb.fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    await db.destroy();

    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    const ratio = eventsPerSecond / ceilingPerSecond;
    const lines = [
      `outbox backlog written: ${EVENTS} events in ${Math.ceil(EVENTS / EVENTS_PER_TRANSACTION)} transactions, ${writeMs.toFixed(0)} ms`,
      `receiver ceiling (1 process, keep-alive, ${CEILING_CONCURRENCY} at a time): ${ceilingPerSecond.toFixed(0)} req/s`,
      `delivery (${WORKERS} workers, backlog of ${EVENTS}): ${eventsPerSecond.toFixed(0)} events/s; ${final.requests} requests for ${final.unique} events; deliveries by status: ${status.map((s) => `${s.status} ${s.n}`).join(', ')}`,
      `  second worker ready ${(Math.max(...readyAt) - firstReady).toFixed(0)} ms after the first; first event received ${(firstAt - firstReady).toFixed(0)} ms after it, the first 10% in ${(tenthAt - firstReady).toFixed(0)} ms; from 10% to 90% of the events ${steadyPerSecond.toFixed(0)} events/s (${(steadyPerSecond / ceilingPerSecond).toFixed(2)} of the ceiling)`,
      `CPU seconds while delivering the backlog (from both workers ready, ${os.cpus().length} cores): workers ${(cpuAfter.workers - cpuBefore.workers).toFixed(1)}, postgres ${(cpuAfter.postgres - cpuBefore.postgres).toFixed(1)}, receiver ${(cpuAfter.receiver - cpuBefore.receiver).toFixed(1)}`,
      `unloaded commit-to-receipt (${UNLOADED} events, one per transaction, ~20/s): p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms`,
      `events_per_s / ceiling = ${ratio.toFixed(2)}   (target >= 0.50) ${ratio >= 0.5 ? 'met' : 'MISSED'}`,
      `unloaded p99           = ${p99.toFixed(0)} ms   (target < 1000 ms) ${p99 < 1000 ? 'met' : 'MISSED'}`,
    ];
    for (const st of statements) lines.push(`  ${String(st.total_ms).padStart(9)} ms  ${String(st.calls).padStart(6)} calls  ${String(st.mean_ms).padStart(8)} ms/call  ${String(st.rows).padStart(6)} rows  ${st.query}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    killAll();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}

if (process.argv.includes('--receiver')) {
  runReceiver();
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  });
}
