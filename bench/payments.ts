/**
 * npm run bench:payments — sandbox card charges per second, against the same server's ceiling
 * measured in the same run.
 *
 * A throwaway durable PostgreSQL cluster (fsync and synchronous_commit on) and `almoner serve` as its
 * own process on it, so that autocannon does not share the server's event loop. Setup goes through
 * the services (partner, sandbox payments account, a charity, a connected account taking 20 %) and
 * the Payments API (token, customer). Then, autocannon at 50 connections against that one server:
 *   1. GET /healthz                                  (no auth, no database: the ceiling)
 *   2. POST /api/customers/{id}/charges               (a pm_card_visa charge of 2000 + tip 100: a
 *      payment method, a succeeded charge and its ledger transaction per request)
 *   3. the same with a distinct Idempotency-Key per request (the key row is claimed and answered
 *      in the charge's transaction)
 * and prints req/s, p50 and p99 of each, the charges / healthz ratio, the charge rows written and a
 * ledger check after the load. BENCH_SECONDS (default 20) sets each charge run's length; the
 * ceiling runs half as long. ALMONER_DB_POOL_SIZE sets the server's pool (default 10, as shipped):
 * the figures are the server's as configured, so a pool that cannot serve 50 concurrent charges
 * shows here as timeouts rather than being tuned away.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { checkLedger } from '../src/modules/ledger/index.js';
import { organizationsRepo } from '../src/modules/organizations/index.js';
import { systemClock } from '../src/platform/clock.js';
import { migrate } from '../src/platform/db/migrate.js';
import { createKysely, createPgPool } from '../src/platform/db/postgres.js';
import { createServices } from '../src/services.js';
import { startTestCluster, type TestCluster } from '../test/harness/postgres.js';
import { load, startServe, stopServe } from './serve.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CEILING_SECONDS = Math.max(1, Math.round(SECONDS / 2));
const CONNECTIONS = 50;
const CHARITY_ID = 424242;
/** Setup, three runs and teardown fit well inside this; past it everything is stopped. */
const RUN_LIMIT_MS = (3 * SECONDS + 180) * 1000;
const MASTER_KEY = randomBytes(32);

async function startServer(databaseUrl: string): Promise<{ child: ChildProcess; base: string; dataDir: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-bench-payments-'));
  const { child, base } = await startServe({
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: MASTER_KEY.toString('hex'),
    ALMONER_DATA_DIR: dataDir,
    ALMONER_SEED_SANDBOX: 'false',
    ALMONER_DB_POOL_SIZE: process.env.ALMONER_DB_POOL_SIZE ?? '10',
  });
  return { child, base, dataDir };
}

async function main() {
  let cluster: TestCluster | undefined;
  let server: { child: ChildProcess; base: string; dataDir: string } | undefined;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench:payments did not finish within ${RUN_LIMIT_MS / 1000} s; stopping\n`);
    if (server?.child.pid && server.child.exitCode === null) server.child.kill('SIGKILL');
    void Promise.race([cluster?.stop(), new Promise((r) => setTimeout(r, 20_000))]).finally(() => process.exit(1));
  }, RUN_LIMIT_MS);
  try {
    cluster = await startTestCluster({ durable: true, settings: { shared_buffers: '256MB', max_connections: '200' } });
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_payments');
    await admin.end();
    const databaseUrl = cluster.url('bench_payments');
    process.stdout.write(`PostgreSQL ${databaseUrl.replace(/:[^:@/]+@/, ':***@')} durable (fsync on, synchronous_commit on)\n`);

    const db = createKysely(createPgPool({ connectionString: databaseUrl, max: 4 }));
    try {
      await migrate(db);
      const services = createServices(db, MASTER_KEY, systemClock);
      const reg = await services.partners.register({ email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: 'bench-password-1', partnerName: 'Bench' });
      await services.partners.setStatus(reg.partner.id, 'ACTIVE');
      const account = await services.paymentsAccounts.create(reg.partner.id, { environment: 'sandbox' });
      await organizationsRepo.ensure(db, { id: CHARITY_ID, slug: `bench-charity-${CHARITY_ID}`, name: 'Bench charity' });
      await services.catalog.createConnected(account.accountId, { percentageCut: 20 });

      server = await startServer(databaseUrl);
      const { base } = server;
      const hashEpoch = Math.floor(Date.now() / 1000);
      const auth = await fetch(`${base}/api/partners/${account.accountId}/authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hashEpoch, hmac: createHmac('sha256', account.secretKey).update(String(hashEpoch)).digest('hex') }),
      });
      if (auth.status !== 200) throw new Error(`authenticate failed: ${auth.status} ${await auth.text()}`);
      const token = ((await auth.json()) as { token: string }).token;
      const authz = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const cust = await fetch(`${base}/api/customers`, { method: 'POST', headers: authz, body: JSON.stringify({ email: 'donor@example.com' }) });
      if (cust.status !== 201) throw new Error(`customer create failed: ${cust.status} ${await cust.text()}`);
      const customerId = ((await cust.json()) as { customerId: string }).customerId;

      const chargePath = `/api/customers/${customerId}/charges`;
      const chargeBody = JSON.stringify({ amount: 2000, paymentMethodId: 'pm_card_visa', charityId: CHARITY_ID, tip: 100 });
      const probe = await fetch(`${base}${chargePath}`, { method: 'POST', headers: authz, body: chargeBody });
      if (probe.status !== 200) throw new Error(`charge failed: ${probe.status} ${await probe.text()}`);

      const charges = () =>
        db.selectFrom('charges').select((eb) => eb.fn.countAll<string>().as('n')).where('account_id', '=', account.accountId).where('status', '=', 'succeeded').executeTakeFirstOrThrow().then((r) => Number(r.n));
      const healthz = { method: 'GET' as const, path: '/healthz' };
      const charge = { method: 'POST' as const, path: chargePath, headers: authz, body: chargeBody };
      const run = randomBytes(4).toString('hex');
      let seq = 0;
      const keyedCharge = {
        ...charge,
        setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...authz, 'idempotency-key': `bench-${run}-${seq++}` } }),
      };

      // JIT, connection pool and the hot ledger rows' pages, before anything is measured.
      await load({ url: base, connections: 10, duration: 2, requests: [healthz] });
      await load({ url: base, connections: 10, duration: 2, requests: [charge] });

      const ceiling = await load({ url: base, connections: CONNECTIONS, duration: CEILING_SECONDS, requests: [healthz] });
      const before = await charges();
      const plain = await load({ url: base, connections: CONNECTIONS, duration: SECONDS, requests: [charge] });
      const between = await charges();
      const keyed = await load({ url: base, connections: CONNECTIONS, duration: SECONDS, requests: [keyedCharge] });
      // Requests still in flight when autocannon stops are finished by the server but not counted.
      await new Promise((r) => setTimeout(r, 1000));
      const after = await charges();
      const keyRows = await db
        .selectFrom('payments_idempotency')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('account_id', '=', account.accountId)
        .where('key', 'like', `bench-${run}-%`)
        .executeTakeFirstOrThrow();
      const ledger = await checkLedger(db);

      const row = (name: string, r: autocannon.Result) =>
        `${name.padEnd(44)} ${r.requests.average.toFixed(0).padStart(6)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   2xx ${r['2xx']}   non-2xx ${r.non2xx}${statuses(r)}   errors ${r.errors}   timeouts ${r.timeouts}`;
      const statuses = (r: autocannon.Result) => {
        const other = Object.entries(r.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2'));
        return other.length ? ` (${other.map(([code, s]) => `${code}: ${s.count}`).join(', ')})` : '';
      };
      const lines = [
        `almoner payments benchmark: ${CONNECTIONS} connections, ceiling ${CEILING_SECONDS} s, charges ${SECONDS} s each, server pool ${process.env.ALMONER_DB_POOL_SIZE ?? '10'}, ${os.cpus().length} CPUs`,
        row('GET /healthz (ceiling)', ceiling),
        row('POST charges (pm_card_visa, 2000 + tip 100)', plain),
        row('POST charges, distinct Idempotency-Key', keyed),
        `charges / healthz ratio:          ${(plain.requests.average / ceiling.requests.average).toFixed(3)}`,
        `keyed charges / healthz ratio:    ${(keyed.requests.average / ceiling.requests.average).toFixed(3)}`,
        `charge rows (succeeded):          ${after} in all; ${between - before} during the plain run (2xx ${plain['2xx']}), ${after - between} during the keyed run (2xx ${keyed['2xx']}, key rows ${keyRows.n})`,
        `ledger check: ${ledger.ok ? 'clean' : 'NOT CLEAN'} (${ledger.accounts} accounts, ${ledger.transactions} transactions, ${ledger.postings} postings, drift ${ledger.drift.length}, unbalanced ${ledger.unbalanced.length}, orphans ${ledger.orphans.length})`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      if (!ledger.ok || plain.non2xx + plain.errors + keyed.non2xx + keyed.errors > 0) process.exitCode = 1;
    } finally {
      if (server) await stopServe(server.child);
      await db.destroy();
    }
  } finally {
    if (server) await rm(server.dataDir, { recursive: true, force: true });
    await cluster?.stop();
    clearTimeout(watchdog);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
