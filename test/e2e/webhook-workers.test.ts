import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Kysely } from 'kysely';
import { systemClock } from '../../src/platform/clock.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import type { Database } from '../../src/platform/db/schema.js';
import { newEvent, writeEvents } from '../../src/platform/outbox/outbox.js';
import { createServices, type Services } from '../../src/services.js';
import { createPartner } from '../factories/partners.js';
import { createTestDatabase } from '../harness/context.js';

/**
 * Webhook delivery by real `almoner worker` processes sharing one database:
 * - a worker is killed with SIGKILL while it holds requests open; a new worker delivers everything,
 *   the deliveries the dead one had claimed only once their lease has run out;
 * - two workers deliver a few hundred events together; no event is ever in flight twice at once,
 *   and each arrives exactly once.
 * Every worker is a child process of this file and is killed by its PID in `after`, however the
 * tests end.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TIMEOUT_MS = 3_000;
const LEASE_MS = 4_000;
const POLL_MS = 50;

let workDir: string;
let databaseUrl: string;
let masterKey: Buffer;
let db: Kysely<Database>;
let services: Services;
const workers = new Set<ChildProcess>();
const servers: HookReceiver[] = [];

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-webhook-workers-'));
  databaseUrl = await createTestDatabase();
  masterKey = randomBytes(32);
  db = createKysely(createPgPool({ connectionString: databaseUrl, max: 4 }));
  services = createServices(db, masterKey, systemClock, { webhooks: { allowInsecureSandbox: true } });
});

after(async () => {
  for (const w of workers) {
    if (w.exitCode === null && w.signalCode === null && w.pid) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const s of servers) await s.close();
  await db?.destroy();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

interface Worker {
  child: ChildProcess;
  output: () => string;
}

function startWorker(name: string, env: Record<string, string> = {}): Worker {
  let out = '';
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: masterKey.toString('hex'),
    ALMONER_DATA_DIR: path.join(workDir, name),
    ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'true',
    ALMONER_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    ALMONER_WEBHOOK_LEASE_MS: String(LEASE_MS),
    ALMONER_WEBHOOK_POLL_MS: String(POLL_MS),
    ALMONER_DB_POOL_SIZE: '4',
    LOG_LEVEL: 'warn',
    ...env,
  };
  delete childEnv.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'worker'], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.add(child);
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitStarted(w: Worker) {
  await waitFor(() => {
    if (w.child.exitCode !== null) throw new Error(`worker exited:\n${w.output()}`);
    return w.output().includes('almoner worker started');
  }, 30_000, () => `worker did not start:\n${w.output()}`);
}

async function killHard(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGKILL');
  await exited;
}

async function stopGracefully(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, describe: () => string) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A receiver that knows, per event (the webhook-id header), how many requests are open right now:
 * the harness receiver records requests only once their body has arrived and cannot say that.
 */
class HookReceiver {
  mode: 'hang' | 'ok' = 'ok';
  /** Answer delay in ms for 'ok', so deliveries overlap in time and a double delivery would show. */
  delayMs: () => number = () => 0;
  readonly open = new Map<string, number>();
  /** Event ids seen twice at the same moment. */
  readonly overlaps: string[] = [];
  readonly requests: { id: string; at: number }[] = [];
  readonly answered = new Map<string, number>();
  openNow = 0;
  peakOpen = 0;
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly sockets = new Set<Socket>();
  port = 0;

  get url() {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start() {
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    servers.push(this);
    return this;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const id = String(req.headers['webhook-id']);
    const openBefore = this.open.get(id) ?? 0;
    if (openBefore > 0) this.overlaps.push(id);
    this.open.set(id, openBefore + 1);
    this.openNow += 1;
    this.peakOpen = Math.max(this.peakOpen, this.openNow);
    this.requests.push({ id, at: Date.now() });
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      this.openNow -= 1;
      const left = (this.open.get(id) ?? 1) - 1;
      if (left === 0) this.open.delete(id);
      else this.open.set(id, left);
    };
    // A request is open until its answer is written or its connection dies (the sender was killed).
    res.on('close', finish);
    req.resume();
    req.on('end', () => {
      if (this.mode === 'hang') return;
      const send = () => {
        if (res.destroyed) return finish();
        this.answered.set(id, (this.answered.get(id) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        finish();
      };
      const delay = this.delayMs();
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  }
}

/** A partner with one sandbox endpoint at `url`, subscribed to action.completed. */
async function endpointFor(url: string) {
  const partner = await createPartner(services);
  const scope = { partnerId: partner.partnerId, environment: 'sandbox' as const };
  const hook = await services.webhooks.create(scope, { url, eventTypes: ['action.completed'] });
  return { partnerId: partner.partnerId, endpointId: hook.id };
}

async function writeActionEvents(partnerId: string, count: number, perTransaction: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += perTransaction) {
    const events = Array.from({ length: Math.min(perTransaction, count - i) }, (_, k) =>
      newEvent(partnerId, 'sandbox', 'action.completed', { actionId: `act_${i + k}`, tokensDistributed: i + k }, new Date()),
    );
    await db.transaction().execute((trx) => writeEvents(trx, events));
    ids.push(...events.map((e) => e.id));
  }
  return ids;
}

/** Failed attempts, and successes a later attempt followed: a success the delivery row records has none. */
const attemptRows = (endpointId: string) => db.selectFrom('webhook_attempts').select('id').where('endpoint_id', '=', endpointId).execute();

const deliveriesOf = (endpointId: string) =>
  db.selectFrom('webhook_deliveries').select(['event_id', 'status', 'next_attempt_at', 'attempts']).where('endpoint_id', '=', endpointId).execute();

test('kill -9 of a worker holding deliveries open: a new worker delivers every event once the lease has run out', { timeout: 60_000 }, async (t) => {
  const EVENTS = 40;
  const PER_ENDPOINT = 8;
  const receiver = await new HookReceiver().start();
  receiver.mode = 'hang';
  const { partnerId, endpointId } = await endpointFor(receiver.url);
  const eventIds = await writeActionEvents(partnerId, EVENTS, 10);

  const a = startWorker('a', { ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY: String(PER_ENDPOINT) });
  await waitStarted(a);
  // A has filled every slot it has for the endpoint with requests the receiver will never answer.
  await waitFor(() => receiver.openNow === PER_ENDPOINT, TIMEOUT_MS - 1_000, () => `worker A has ${receiver.openNow} requests open:\n${a.output()}`);
  await killHard(a.child);
  const killedAt = Date.now();
  assert.equal(a.child.signalCode, 'SIGKILL');
  const heldByA = new Set(receiver.requests.map((r) => r.id));
  assert.equal(heldByA.size, PER_ENDPOINT, 'worker A sent each claimed event once');

  // The dead worker's claims are still leased to it: DELIVERING, not due before the lease ends.
  // That is the events in flight, and any it had claimed ahead without sending yet.
  const rows = await deliveriesOf(endpointId);
  assert.equal(rows.length, EVENTS, 'every event was fanned out to the endpoint');
  const leased = rows.filter((r) => r.status === 'DELIVERING');
  const leaseEnds = new Map(leased.map((r) => [r.event_id, r.next_attempt_at!.getTime()]));
  assert.deepEqual([...heldByA].filter((id) => !leaseEnds.has(id)), [], 'every event in flight at A is leased');
  assert.ok(rows.filter((r) => r.status !== 'DELIVERING').every((r) => r.status === 'PENDING' && r.attempts === 0));

  receiver.mode = 'ok';
  const b = startWorker('b', { ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY: String(PER_ENDPOINT) });
  await waitStarted(b);
  await waitFor(
    async () => (await deliveriesOf(endpointId)).every((r) => r.status === 'SUCCEEDED'),
    LEASE_MS + 20_000,
    () => `not every delivery succeeded:\n${b.output()}`,
  );
  const doneAt = Date.now();
  assert.equal(await stopGracefully(b.child), 0, b.output());

  // Nothing lost: every event was answered 200.
  const missing = eventIds.filter((id) => !receiver.answered.has(id));
  assert.deepEqual(missing, [], 'every event was delivered');
  // The leased ones went out (again, for those A had sent) only after their lease ended, and then once.
  for (const [id, until] of leaseEnds) {
    const again = receiver.requests.filter((r) => r.id === id).slice(heldByA.has(id) ? 1 : 0);
    assert.equal(again.length, 1, `${id} was sent once after the kill`);
    // Millisecond timestamps from two processes' clocks (the worker's Date and this one) on one machine.
    assert.ok(again[0]!.at >= until - 5, `${id} was sent again ${until - again[0]!.at} ms before its lease ended`);
  }
  // The others were never sent twice.
  for (const id of eventIds.filter((id) => !leaseEnds.has(id))) assert.equal(receiver.answered.get(id), 1, id);
  // One recorded attempt per delivery, the success its row holds: the dead worker's never were.
  const final = await deliveriesOf(endpointId);
  assert.deepEqual(
    final.filter((r) => r.status !== 'SUCCEEDED' || r.attempts !== 1).map((r) => r.event_id),
    [],
    'every delivery succeeded at its one recorded attempt',
  );
  assert.equal((await attemptRows(endpointId)).length, 0, 'no failure was recorded');
  assert.deepEqual(receiver.overlaps, [], 'no event was in flight twice at once');
  t.diagnostic(`${EVENTS} events; A held ${PER_ENDPOINT} open and ${leaseEnds.size} leased when killed; all delivered ${doneAt - killedAt} ms after the kill (lease ${LEASE_MS} ms)`);
});

test('two workers on one database: no event in flight twice at once, each delivered exactly once', { timeout: 60_000 }, async (t) => {
  const EVENTS = 400;
  const PER_ENDPOINT = 4;
  const receiver = await new HookReceiver().start();
  receiver.delayMs = () => 5 + Math.floor(Math.random() * 20);
  const { partnerId, endpointId } = await endpointFor(receiver.url);

  // Small batches: a process holds at most two batches of an endpoint beyond what it sends, so the
  // backlog cannot all go to whichever worker fans out first; the other must claim its share.
  const env = { ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY: String(PER_ENDPOINT), ALMONER_WEBHOOK_BATCH_SIZE: '10' };
  const one = startWorker('one', env);
  const two = startWorker('two', env);
  await Promise.all([waitStarted(one), waitStarted(two)]);
  // Written while both run, in transactions of different sizes, so claims race the fan-out.
  const eventIds: string[] = [];
  const writing = Date.now();
  for (const size of [1, 50, 7, 100, 42, 200]) eventIds.push(...(await writeActionEvents(partnerId, size, size)));
  assert.equal(eventIds.length, EVENTS);

  await waitFor(
    async () => {
      const rows = await deliveriesOf(endpointId);
      return rows.length === EVENTS && rows.every((r) => r.status === 'SUCCEEDED');
    },
    40_000,
    () => `not every delivery succeeded:\n${one.output()}\n${two.output()}`,
  );
  const deliveredMs = Date.now() - writing;
  assert.equal(await stopGracefully(one.child), 0, one.output());
  assert.equal(await stopGracefully(two.child), 0, two.output());

  assert.deepEqual(receiver.overlaps, [], 'no event was in flight twice at once');
  const counts = new Map<string, number>();
  for (const r of receiver.requests) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  assert.deepEqual(eventIds.filter((id) => counts.get(id) !== 1), [], 'every event arrived exactly once');
  assert.equal(receiver.requests.length, EVENTS, 'and nothing else arrived');
  // One worker never has more than PER_ENDPOINT requests open to an endpoint, so more at once
  // means both workers were delivering at the same time: the test exercised the shared queue.
  assert.ok(receiver.peakOpen > PER_ENDPOINT, `peak of ${receiver.peakOpen} requests open at once`);
  const final = await deliveriesOf(endpointId);
  assert.ok(final.every((r) => r.status === 'SUCCEEDED' && r.attempts === 1), 'one attempt recorded per delivery');
  assert.equal((await attemptRows(endpointId)).length, 0, 'and no failed one');
  t.diagnostic(`${EVENTS} events through two workers in ${deliveredMs} ms, peak ${receiver.peakOpen} requests open at once (${PER_ENDPOINT} per worker)`);
});
