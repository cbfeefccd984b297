import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { systemClock } from '../../src/platform/clock.js';
import { signPartnerRequest } from '../../src/platform/crypto/signing.js';
import { freePort } from '../../src/platform/db/pg-server.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import type { Database } from '../../src/platform/db/schema.js';
import { createServices } from '../../src/services.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, purchase } from '../factories/rewards.js';
import { createTestDatabase, OPERATOR_TOKEN } from '../harness/context.js';

/**
 * Crash test: the real server (`almoner serve`, PostgreSQL mode) takes a load of submissions from
 * clients that retry with the same key after any connection error or 5xx, and is killed with
 * SIGKILL in the middle, twice, each time restarted on the same port. A request in flight at the
 * kill may have committed without its answer reaching the client; its retry must then get 409
 * IDEMPOTENT with the action that was committed, not a second action. Afterwards the database is
 * read directly: every key has exactly one action, every acknowledgement matches it, and the
 * ledger agrees with the actions.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CLIENTS = 20;
const KILLS = 2;

let workDir: string;
let databaseUrl: string;
let db: Kysely<Database>;
let masterKey: Buffer;
let port: number;
let partner: PartnerFixture;
let poolId: string;
const children = new Set<ChildProcess>();
/** Set when the test ends, however it ends, so no client keeps retrying after it. */
let stopAll = false;

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-crash-'));
  databaseUrl = await createTestDatabase();
  masterKey = randomBytes(32);
  db = createKysely(createPgPool({ connectionString: databaseUrl, max: 4 }));
  // The partner, its key and its pool are made the way an operator would, in this process; the
  // server only has to share the database and the master key that seals the signing secret.
  const services = createServices(db, masterKey, systemClock);
  partner = await createPartner(services);
  await services.partners.updatePartner(partner.partnerId, { rateLimit: 10_000_000 });
  poolId = (await createPool(services, partner.partnerId, { tokens: 10_000_000n })).id;
  port = await freePort();
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await db?.destroy();
  await rm(workDir, { recursive: true, force: true });
});

function startServer(): { child: ChildProcess; output: () => string } {
  let out = '';
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: masterKey.toString('hex'),
    PORT: String(port),
    HOST: '127.0.0.1',
    ALMONER_DATA_DIR: path.join(workDir, 'data'),
    ALMONER_OPERATOR_TOKEN: OPERATOR_TOKEN,
    ALMONER_SEED_SANDBOX: 'false',
    LOG_LEVEL: 'warn',
  };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitReady(child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not ready:\n${output()}`);
}

async function killHard(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

/**
 * Freezes the server (SIGSTOP) until it is caught between a commit and its answers: some key the
 * clients are still waiting for is already in the database. Then SIGKILL, so those answers are
 * lost for good and only the clients' retries can learn the outcome. Returns how many keys were
 * caught that way (0 if no try landed in that window).
 */
async function killBetweenCommitAndAnswer(child: ChildProcess, waiting: () => string[]) {
  const pid = child.pid!;
  for (let tries = 1; tries <= 200; tries++) {
    process.kill(pid, 'SIGSTOP');
    // Answers already written to the socket reach the clients meanwhile; what is left is unanswered.
    await new Promise((r) => setTimeout(r, 25));
    const keys = waiting();
    const committed = keys.length === 0 ? [] : await db.selectFrom('actions').select('idempotency_key').where('partner_id', '=', partner.partnerId).where('idempotency_key', 'in', keys).execute();
    if (committed.length > 0 || tries === 200) {
      await killHard(child);
      return { tries, caught: committed.length };
    }
    process.kill(pid, 'SIGCONT');
    await new Promise((r) => setTimeout(r, 3 + (tries % 7) * 4));
  }
  return { tries: 0, caught: 0 };
}

async function stopGracefully(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

interface KeyRecord {
  key: string;
  tokens: number;
  attempts: number;
  /** Attempts that ended without an answer (connection refused or reset, 5xx). */
  unanswered: number;
  status?: number;
  actionId?: string;
  idempotentIds: string[];
}

/** One POST with a fresh signature; undefined when the server could not answer. */
async function post(url: string, body: string): Promise<{ status: number; json: Record<string, unknown> } | undefined> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = signPartnerRequest({ secret: partner.sk.hmacSecret, timestamp, method: 'POST', pathWithQuery: url, body });
  try {
    const res = await fetch(`http://127.0.0.1:${port}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-partner-key': partner.sk.key, 'x-timestamp': timestamp, 'x-signature': signature },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status >= 500) return undefined;
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** Sends one key until the server answers it, retrying with the same body after any failure. */
async function deliver(rec: KeyRecord, deadline: number) {
  const body = purchase(rec.key, `${rec.tokens}.00`, [`crash_user_${rec.key.split('-')[0]}`]);
  for (;;) {
    if (stopAll) return;
    assert.ok(Date.now() < deadline, `key ${rec.key} still unanswered after ${rec.attempts} attempts`);
    rec.attempts += 1;
    const r = await post('/v1/partner/actions/submit', body);
    if (!r) {
      rec.unanswered += 1;
      await new Promise((res) => setTimeout(res, 50));
      continue;
    }
    if (r.status === 409 && r.json.code === 'IDEMPOTENT') {
      rec.idempotentIds.push(String(r.json.actionId));
      rec.status ??= 409;
      rec.actionId ??= String(r.json.actionId);
      return;
    }
    assert.equal(r.status, 200, `${rec.key}: ${JSON.stringify(r.json)}`);
    assert.ok(rec.status === undefined, `${rec.key} was answered 200 after an earlier answer`);
    rec.status = 200;
    rec.actionId = String(r.json.actionId);
    assert.equal(r.json.tokensDistributed, rec.tokens);
    return;
  }
}

test('kill -9 under load, restart, retries with the same keys: every acknowledged action exists exactly once', { timeout: 60_000 }, async (t) => {
  try {
    await crashAndCheck(t);
  } finally {
    stopAll = true;
  }
});

async function crashAndCheck(t: { diagnostic(message: string): void }) {
  const started = Date.now();
  let server = startServer();
  await waitReady(server.child, server.output);
  const boot1 = Date.now() - started;

  const records: KeyRecord[] = [];
  let issuing = true;
  const deadline = Date.now() + 45_000;
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let n = 0; issuing; n++) {
      const rec: KeyRecord = { key: `c${c}-${n}`, tokens: 1 + ((c * 31 + n * 7) % 50), attempts: 0, unanswered: 0, idempotentIds: [] };
      records.push(rec);
      await deliver(rec, deadline);
    }
  });

  // A cycle: load for a while, SIGKILL, restart on the same port while the clients keep retrying.
  // The first kill lands wherever it lands; the second waits for a commit whose answers are not out.
  const restarts: number[] = [];
  const served: number[] = [];
  let caught = { tries: 0, caught: 0 };
  for (let k = 0; k < KILLS; k++) {
    const before = records.filter((r) => r.status !== undefined).length;
    await new Promise((r) => setTimeout(r, 1500));
    served.push(records.filter((r) => r.status !== undefined).length - before);
    if (k === KILLS - 1) caught = await killBetweenCommitAndAnswer(server.child, () => records.filter((r) => r.status === undefined).map((r) => r.key));
    else await killHard(server.child);
    const down = Date.now();
    server = startServer();
    await waitReady(server.child, server.output);
    restarts.push(Date.now() - down);
  }
  await new Promise((r) => setTimeout(r, 1500));
  issuing = false;
  await Promise.all(clients);
  assert.equal(await stopGracefully(server.child), 0, server.output());
  const loadMs = Date.now() - started;

  // Every load phase did real work, and the kills did catch requests in flight.
  assert.ok(served.every((n) => n > 0), `answers per phase before each kill: ${served.join(', ')}`);
  const inDoubt = records.filter((r) => r.unanswered > 0);
  assert.ok(inDoubt.length > 0, 'some requests were cut off by the kills');
  assert.ok(caught.caught > 0, `the server was caught between a commit and its answers (${caught.tries} tries)`);

  // ---- the database, read directly
  const actions = await db
    .selectFrom('actions')
    .select(['id', 'idempotency_key', 'status', 'tokens_distributed', 'ledger_transaction_id'])
    .where('partner_id', '=', partner.partnerId)
    .execute();
  const byKey = new Map<string, typeof actions>();
  for (const a of actions) byKey.set(a.idempotency_key, [...(byKey.get(a.idempotency_key) ?? []), a]);
  const twice = [...byKey].filter(([, list]) => list.length > 1);
  assert.deepEqual(twice, [], 'no key has two actions');
  assert.equal(actions.length, records.length, 'one action per key sent, no more and no fewer');
  for (const rec of records) {
    const [a] = byKey.get(rec.key) ?? [];
    assert.ok(a, `acknowledged key ${rec.key} has its action`);
    assert.equal(a.id, rec.actionId, `${rec.key}: the acknowledged action is the stored one`);
    assert.ok(rec.idempotentIds.every((id) => id === a.id), `${rec.key}: every 409 named the stored action`);
    assert.equal(a.status, 'COMPLETED');
    assert.equal(BigInt(a.tokens_distributed), BigInt(rec.tokens) * 100n);
  }

  const rewards = await db.selectFrom('ledger_transactions').select(['id', 'reference']).where('partner_id', '=', partner.partnerId).where('kind', '=', 'REWARD').execute();
  const withTokens = actions.filter((a) => a.status === 'COMPLETED' && BigInt(a.tokens_distributed) > 0n);
  assert.equal(rewards.length, withTokens.length, 'one REWARD ledger transaction per COMPLETED action with tokens');
  assert.deepEqual(new Set(rewards.map((r) => r.id)), new Set(withTokens.map((a) => a.ledger_transaction_id)));
  const credits = await db.selectFrom('token_transactions').select('id').where('partner_id', '=', partner.partnerId).where('type', '=', 'CREDIT').execute();
  assert.equal(credits.length, withTokens.length);
  const events = await db.selectFrom('outbox_events').select('id').where('partner_id', '=', partner.partnerId).where('type', '=', 'action.completed').execute();
  assert.equal(events.length, actions.length, 'one action.completed event per action, written with it');

  const paid = actions.reduce((s, a) => s + BigInt(a.tokens_distributed), 0n);
  const pool = await sql<{ balance: bigint; debits_total: bigint }>`
    SELECT a.balance, a.debits_total FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id WHERE p.id = ${poolId}`.execute(db);
  assert.equal(10_000_000n * 100n - BigInt(pool.rows[0]!.balance), paid, 'the pool paid each action once');
  const wallets = await sql<{ total: bigint }>`
    SELECT coalesce(sum(balance), 0)::bigint AS total FROM ledger_accounts WHERE kind = 'WALLET' AND partner_id = ${partner.partnerId}`.execute(db);
  assert.equal(BigInt(wallets.rows[0]!.total), paid);
  const report = await checkLedger(db);
  assert.ok(report.ok, JSON.stringify({ drift: report.drift.slice(0, 5), unbalanced: report.unbalanced.slice(0, 5) }));

  const committedUnanswered = inDoubt.filter((r) => r.status === 409).length;
  assert.ok(committedUnanswered >= caught.caught, 'keys committed before the kill were answered 409 IDEMPOTENT on retry');
  t.diagnostic(
    `${records.length} keys from ${CLIENTS} clients, ${records.reduce((s, r) => s + r.attempts, 0)} requests in ${loadMs} ms ` +
      `(first boot ${boot1} ms, ${KILLS} x kill -9, restarts ${restarts.join(' / ')} ms; the last kill after ${caught.tries} SIGSTOP tries caught ${caught.caught} committed, unanswered keys); ` +
      `${inDoubt.length} keys retried after a failure, ${committedUnanswered} of them had committed before the kill (answered 409 IDEMPOTENT), ` +
      `${inDoubt.length - committedUnanswered} had not (answered 200 on retry)`,
  );
}
