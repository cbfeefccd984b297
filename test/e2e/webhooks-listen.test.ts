import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sirSignature } from '../../src/modules/webhooks/webhooks.signing.js';
import { signPartnerRequest } from '../../src/platform/crypto/signing.js';
import { freePort } from '../../src/platform/db/pg-server.js';
import { Receiver, type Received } from '../harness/receiver.js';

/**
 * `almoner webhooks listen` for real: `serve` on an empty data dir, the listen command as its own
 * process reading the credentials file that start wrote, a receiver on 127.0.0.1, and an action
 * submitted through the signed API arriving there signed with the printed session secret.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let workDir: string;
let dataDir: string;
let port: number;
const children: ChildProcess[] = [];

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  output: () => string;
}

function start(args: string[], env: Record<string, string>): Proc {
  let stdout = '';
  let all = '';
  // The listen command must find its credentials in the data dir, not in whatever the runner's shell exports.
  const { ALMONER_API_URL: _a, ALMONER_SECRET_KEY: _k, ALMONER_HMAC_SECRET: _h, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), ...args], {
    cwd: root,
    env: { ...inherited, ALMONER_DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (d) => {
    stdout += d;
    all += d;
  });
  child.stderr!.on('data', (d) => (all += d));
  return { child, stdout: () => stdout, output: () => all };
}

async function until<T>(what: string, proc: Proc, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    if (proc.child.exitCode !== null) throw new Error(`${what}: the process exited (${proc.child.exitCode}):\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: timed out:\n${proc.output()}`);
}

async function stop(proc: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (proc.child.exitCode !== null) return proc.child.exitCode;
  const exited = new Promise<number | null>((r) => proc.child.once('exit', (code) => r(code)));
  proc.child.kill(signal);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-listen-'));
  dataDir = path.join(workDir, 'data');
  port = await freePort();
});

after(async () => {
  // Whatever a failed assertion left running.
  for (const child of children) if (child.exitCode === null && child.pid) child.kill('SIGKILL');
  await rm(workDir, { recursive: true, force: true });
});

test('listen forwards new events to a local URL, signed with the session secret, and survives the URL being down', { timeout: 240_000 }, async () => {
  const server = start(['serve'], { PORT: String(port) });
  const receiver = await new Receiver().start();
  let listen: Proc | undefined;
  try {
    await until('server ready', server, async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      } catch {
        return false;
      }
    }, 120_000);
    const creds = JSON.parse(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8'));

    async function submit(idempotencyKey: string): Promise<string> {
      const body = JSON.stringify({
        idempotencyKey,
        actionType: 'PURCHASE',
        amount: 12,
        currency: 'USD',
        stakeholders: [{ stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'user_listen' }],
        autoCreateUsers: true,
      });
      const pathWithQuery = '/v1/partner/actions/submit';
      const timestamp = String(Math.floor(Date.now() / 1000));
      const res = await fetch(`http://127.0.0.1:${port}${pathWithQuery}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-partner-key': creds.secretKey,
          'x-timestamp': timestamp,
          'x-signature': signPartnerRequest({ secret: creds.hmacSecret, timestamp, method: 'POST', pathWithQuery, body }),
        },
        body,
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text).actionId;
    }
    const arrived = (actionId: string) => () =>
      receiver.received.find((r) => {
        const e = JSON.parse(r.body);
        return e.type === 'action.completed' && e.data.actionId === actionId;
      });

    // An action before listen starts is history: listen begins from now.
    const before = await submit('listen-before');

    listen = start(
      ['webhooks', 'listen', '--forward-to', `${receiver.url}/hooks`, '--api', `http://127.0.0.1:${port}`, '--types', 'action.completed,transaction.completed', '--interval', '200'],
      {},
    );
    const l = listen;
    const secret = await until('session secret printed', l, () => /signing secret is (whsec_[0-9a-f]{64})/.exec(l.stdout())?.[1]);
    assert.equal(l.stdout().match(/whsec_/g)!.length, 1, 'the secret is printed once');

    const first = await submit('listen-1');
    const got: Received = await until('action.completed forwarded', l, arrived(first));
    const envelope = JSON.parse(got.body);
    assert.deepEqual(Object.keys(envelope), ['id', 'type', 'createdAt', 'data']);
    assert.match(envelope.id, /^evt_[0-9a-f]{24}$/);
    assert.equal(envelope.data.tokensDistributed, 12);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hooks');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['user-agent'], 'SIRGiving-Webhooks/1.0');
    assert.equal(got.headers['x-sir-signature'], sirSignature(secret, String(got.headers['x-sir-timestamp']), got.body));
    const verified = new Webhook(secret).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    });
    assert.equal((verified as { id: string }).id, envelope.id);
    assert.ok(receiver.received.some((r) => JSON.parse(r.body).type === 'transaction.completed'), 'every listed type is forwarded');
    assert.ok(!receiver.received.some((r) => JSON.parse(r.body).data.actionId === before), 'events from before the session are not');
    await until('the line for the event', l, () => l.stdout().includes(`  --> action.completed ${envelope.id}  [200]`));

    // The local URL goes down: the event is retried and given up, and listen keeps going.
    const receiverPort = receiver.port;
    await receiver.close();
    const lost = await submit('listen-while-down');
    await until('gave up on the event while the URL was down', l, () => /--> action\.completed evt_\w+ {2}\[ERROR [^\]]*ECONNREFUSED[^\]]*\] gave up after 4 attempts/.test(l.stdout()));
    await receiver.start(receiverPort);
    const second = await submit('listen-2');
    await until('forwarding resumed', l, arrived(second));
    assert.ok(!arrived(lost)(), `the event given up on is not replayed later:\n${l.output()}`);

    // A non-2xx answer is shown, not retried.
    receiver.behave = () => ({ status: 500 });
    const third = await submit('listen-3');
    await until('a 500 is reported', l, () => new RegExp(`--> action\\.completed evt_\\w+ {2}\\[500\\]`).test(l.stdout()));
    assert.equal(receiver.received.filter((r) => JSON.parse(r.body).data.actionId === third && JSON.parse(r.body).type === 'action.completed').length, 1);

    assert.ok(!l.output().includes(creds.secretKey), 'the secret key is never printed');
    assert.ok(!l.output().includes(creds.hmacSecret), 'the HMAC secret is never printed');
    assert.equal(await stop(l), 0, l.output());
    assert.match(l.stdout(), /> Stopped\./);

    // A refusal that retrying cannot fix ends the session with the server's reason, and still no secret.
    const wrongHmac = 'f'.repeat(64);
    const refused = start(['webhooks', 'listen', '--forward-to', `${receiver.url}/hooks`, '--api', `http://127.0.0.1:${port}`], {
      ALMONER_SECRET_KEY: creds.secretKey,
      ALMONER_HMAC_SECRET: wrongHmac,
    });
    const code = await new Promise<number | null>((r) => refused.child.once('exit', (c) => r(c)));
    assert.equal(code, 1, refused.output());
    assert.match(refused.output(), /401 INVALID_SIGNATURE/);
    assert.ok(!refused.output().includes(creds.secretKey) && !refused.output().includes(wrongHmac), refused.output());
  } finally {
    if (listen) await stop(listen);
    await receiver.close();
    assert.equal(await stop(server), 0, server.output());
  }
});

test('listen without credentials says what to do and exits 2', { timeout: 60_000 }, async () => {
  const empty = path.join(workDir, 'empty');
  const listen = start(['webhooks', 'listen', '--forward-to', 'http://127.0.0.1:9/hooks'], { ALMONER_DATA_DIR: empty });
  const code = await new Promise<number | null>((r) => listen.child.once('exit', (c) => r(c)));
  assert.equal(code, 2, listen.output());
  assert.match(listen.output(), /--key and --hmac-secret/);
});
