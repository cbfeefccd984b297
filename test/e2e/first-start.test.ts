import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../src/platform/db/pg-server.js';

/**
 * The newcomer's path, for real: `almoner serve` on an empty data dir (embedded database), the
 * credentials file it writes, and the README's curl + openssl recipe run verbatim in bash.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
let workDir: string;
let dataDir: string;
let port: number;

function startServer(): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'serve'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), ALMONER_DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function waitReady(child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited:\n${output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready:\n${output()}`);
}

async function stopServer(child: ChildProcess) {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return exited;
}

function readmeRecipe(readme: string): string {
  const m = /<!-- recipe:signed-request -->\s*```bash\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the signed-request recipe block');
  return m[1]!;
}

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-e2e-'));
  dataDir = path.join(workDir, 'data');
  port = await freePort();
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

test('first start, the README recipe, restart with the same credentials, clean shutdown', { timeout: 240_000 }, async () => {
  const first = startServer();
  await waitReady(first.child, first.output);
  try {
    const credsFile = path.join(dataDir, 'sandbox-credentials.json');
    const mode = (await stat(credsFile)).mode & 0o777;
    assert.equal(mode, 0o600, 'credentials file is private');
    const creds = JSON.parse(await readFile(credsFile, 'utf8'));
    assert.deepEqual(Object.keys(creds).sort(), [
      'accountId',
      'hmacSecret',
      'keyId',
      'partnerId',
      'paymentsSecretKey',
      'portalEmail',
      'portalPassword',
      'publishableKey',
      'secretKey',
    ]);
    assert.match(creds.accountId, /^acct_[0-9A-Za-z]{16}$/);
    assert.match(creds.paymentsSecretKey, /^psk_test_[0-9a-f]{48}$/);
    assert.match(creds.secretKey, /^sk_test_[0-9a-f]{64}$/);
    assert.match(creds.publishableKey, /^pk_test_[0-9a-f]{64}$/);
    assert.match(creds.hmacSecret, /^[0-9a-f]{64}$/);
    assert.match(first.output(), /sandbox-credentials\.json/);
    assert.match(first.output(), /\/partner-api/);

    const recipe = readmeRecipe(await readFile(path.join(root, 'README.md'), 'utf8'));
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', recipe], {
      cwd: workDir,
      env: { ...process.env, BASE: `http://127.0.0.1:${port}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const codes = [...run.stdout.matchAll(/^HTTP (\d{3})$/gm)].map((m) => m[1]);
    assert.deepEqual(codes, ['200', '201', '401'], run.stdout);
    assert.match(run.stdout, /"data":\[\]/);
    assert.match(run.stdout, /INVALID_SIGNATURE/);

    // The portal login from the credentials file works too.
    const login = await fetch(`http://127.0.0.1:${port}/v1/partner/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: creds.portalEmail, password: creds.portalPassword }),
    });
    assert.equal(login.status, 200);
  } finally {
    assert.equal(await stopServer(first.child), 0, first.output());
  }

  const pgPid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '0')).split('\n')[0]);
  assert.equal(pgPid, 0, 'the embedded PostgreSQL stopped with the service');

  const before = await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8');
  const second = startServer();
  await waitReady(second.child, second.output);
  try {
    assert.equal(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8'), before, 'credentials are reused');
    const recipe = readmeRecipe(await readFile(path.join(root, 'README.md'), 'utf8'));
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', recipe], {
      cwd: workDir,
      env: { ...process.env, BASE: `http://127.0.0.1:${port}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // user_42 exists from the first run now: list 200, create 409, tampered 401.
    const codes = [...run.stdout.matchAll(/^HTTP (\d{3})$/gm)].map((m) => m[1]);
    assert.deepEqual(codes, ['200', '409', '401'], run.stdout);
    assert.match(run.stdout, /"externalUserId":"user_42"/);
  } finally {
    assert.equal(await stopServer(second.child), 0, second.output());
  }
});

test('a CLI command shares the running embedded database; after kill -9 a restart takes it over', { timeout: 240_000 }, async () => {
  const server = startServer();
  await waitReady(server.child, server.output);
  const creds = JSON.parse(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8'));
  let pgPid = 0;
  try {
    const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'partners', 'list'], {
      cwd: root,
      env: { ...process.env, ALMONER_DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${creds.partnerId}\\s+ACTIVE`));
    // The server's database survived the CLI's exit.
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    pgPid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  } finally {
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
  }
  assert.ok(pgPid > 0);
  assert.doesNotThrow(() => process.kill(pgPid, 0), 'the database outlives a SIGKILLed server');

  const again = startServer();
  await waitReady(again.child, again.output);
  try {
    assert.throws(() => process.kill(pgPid, 0), 'the orphaned database was stopped and replaced');
    const login = await fetch(`http://127.0.0.1:${port}/v1/partner/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: creds.portalEmail, password: creds.portalPassword }),
    });
    assert.equal(login.status, 200);
  } finally {
    assert.equal(await stopServer(again.child), 0, again.output());
  }
});
