import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CREDENTIALS_FILE,
  DEMO_PARTNER_NAME,
  ensureSandboxPartner,
  type SandboxCredentials,
} from '../../src/modules/partners/sandbox.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';

/**
 * First-start seeding: the demo partner and the credentials file a new user reads to make their
 * first signed call. Tests run in order and share one database, like successive server starts.
 */

let ctx: TestContext;
const dirs: string[] = [];
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'almoner-seed-'));
  dirs.push(dir);
  return dir;
}

const FIELDS = ['hmacSecret', 'keyId', 'partnerId', 'portalEmail', 'portalPassword', 'publishableKey', 'secretKey'];

async function readCredentials(file: string): Promise<SandboxCredentials> {
  return JSON.parse(await readFile(file, 'utf8')) as SandboxCredentials;
}

async function modeOf(file: string) {
  return (await stat(file)).mode & 0o777;
}

function usersCall(c: SandboxCredentials) {
  return ctx.app.inject(signed(ctx.clock, { key: c.secretKey, hmacSecret: c.hmacSecret }, 'GET', '/v1/partner/users'));
}

function portalLogin(email: string, password: string) {
  return ctx.app.inject({ method: 'POST', url: '/v1/partner/auth/login', payload: { email, password } });
}

async function demoPartners() {
  return ctx.services.db.selectFrom('partners').selectAll().where('name', '=', DEMO_PARTNER_NAME).execute();
}

let dataDir: string;
let first: SandboxCredentials;

test('the first start creates an ACTIVE Demo Partner and a 0600 credentials file with exactly the documented fields', async () => {
  dataDir = await tempDir();
  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  assert.equal(result.file, path.join(dataDir, CREDENTIALS_FILE));
  assert.equal(await modeOf(result.file), 0o600);

  const onDisk = JSON.parse(await readFile(result.file, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(onDisk).sort(), FIELDS);
  assert.deepEqual(onDisk, { ...result.credentials });
  first = result.credentials;
  assert.match(first.keyId, /^key_/);
  assert.match(first.publishableKey, /^pk_test_[0-9a-f]{64}$/);
  assert.match(first.secretKey, /^sk_test_[0-9a-f]{64}$/);
  assert.match(first.hmacSecret, /^[0-9a-f]{64}$/);
  assert.ok(first.portalPassword.length >= 10);

  const partners = await demoPartners();
  assert.equal(partners.length, 1);
  assert.equal(partners[0]!.id, first.partnerId);
  assert.equal(partners[0]!.status, 'ACTIVE');
  const key = await ctx.services.db.selectFrom('api_keys').selectAll().where('id', '=', first.keyId).executeTakeFirstOrThrow();
  assert.equal(key.partner_id, first.partnerId);
  assert.equal(key.environment, 'sandbox');
});

test('a second start reuses the file and the key', async () => {
  const before = await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8');
  const again = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(again.created, false);
  assert.equal(again.credentials.keyId, first.keyId);
  assert.deepEqual({ ...again.credentials }, { ...first });
  assert.equal(await readFile(again.file, 'utf8'), before);
  assert.equal((await demoPartners()).length, 1);
  const keys = await ctx.services.db.selectFrom('api_keys').select('id').where('partner_id', '=', first.partnerId).execute();
  assert.equal(keys.length, 1, 'no extra key pair on a restart');
});

test('the credentials work for a signed request, the widget and the portal login', async () => {
  const res = await usersCall(first);
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { data: [], page: 1, limit: 20, total: 0 });

  const widget = await ctx.app.inject({ method: 'GET', url: '/v1/partner/config', headers: { 'x-partner-key': first.publishableKey } });
  assert.equal(widget.statusCode, 200, widget.body);
  assert.equal(widget.json().name, DEMO_PARTNER_NAME);
  assert.equal(widget.json().isActive, true);

  const login = await portalLogin(first.portalEmail, first.portalPassword);
  assert.equal(login.statusCode, 200, login.body);
  assert.equal(login.json().partner.id, first.partnerId);
  assert.equal(login.json().partner.status, 'ACTIVE');
  assert.equal(login.json().publishableKey, first.publishableKey);
});

test('a revoked key is replaced: a new pair, the file rewritten (still 0600), the old key refused', async () => {
  await ctx.services.keys.revokeKey(first.partnerId, first.keyId);
  assert.equal((await usersCall(first)).statusCode, 401);

  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  const fresh = result.credentials;
  assert.equal(fresh.partnerId, first.partnerId, 'the same demo partner keeps its data');
  assert.notEqual(fresh.keyId, first.keyId);
  assert.notEqual(fresh.secretKey, first.secretKey);
  assert.notEqual(fresh.hmacSecret, first.hmacSecret);
  assert.deepEqual({ ...(await readCredentials(result.file)) }, { ...fresh });
  assert.deepEqual(Object.keys(await readCredentials(result.file)).sort(), FIELDS);
  assert.equal(await modeOf(result.file), 0o600);

  assert.equal((await usersCall(fresh)).statusCode, 200);
  assert.equal((await usersCall(first)).statusCode, 401);
  assert.equal((await portalLogin(fresh.portalEmail, fresh.portalPassword)).statusCode, 200);
  assert.equal((await demoPartners()).length, 1);
  first = fresh;
});

test('a deactivated key is replaced too', async () => {
  await ctx.services.keys.updateKey(first.partnerId, first.keyId, { isActive: false });
  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  assert.notEqual(result.credentials.keyId, first.keyId);
  assert.equal((await usersCall(result.credentials)).statusCode, 200);
  first = result.credentials;
});

test('an expired key is replaced, so the file never names credentials that cannot work', async () => {
  await ctx.services.keys.updateKey(first.partnerId, first.keyId, {
    expiresAt: new Date(ctx.clock.now().getTime() - 1000).toISOString(),
  });
  assert.equal((await usersCall(first)).json().code, 'KEY_EXPIRED');
  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  assert.notEqual(result.credentials.keyId, first.keyId);
  assert.equal((await usersCall(result.credentials)).statusCode, 200);
  first = result.credentials;
});

test('a file left readable by others is tightened to 0600 when rewritten', async () => {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  await chmod(file, 0o644);
  await ctx.services.keys.revokeKey(first.partnerId, first.keyId);
  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  assert.equal(await modeOf(file), 0o600);
  first = result.credentials;
});

test('an unreadable file is replaced with working credentials for the same partner', async () => {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  await writeFile(file, '{ this is not json', { mode: 0o600 });
  const result = await ensureSandboxPartner(ctx.services, dataDir);
  assert.equal(result.created, true);
  assert.equal(result.credentials.partnerId, first.partnerId);
  assert.equal((await usersCall(result.credentials)).statusCode, 200);
  assert.deepEqual({ ...(await readCredentials(file)) }, { ...result.credentials });
  first = result.credentials;
});

test('a fresh data dir against the same database reuses the demo partner and issues a new pair', async () => {
  const otherDir = await tempDir();
  const result = await ensureSandboxPartner(ctx.services, otherDir);
  assert.equal(result.created, true);
  assert.equal(result.credentials.partnerId, first.partnerId);
  assert.equal((await demoPartners()).length, 1);
  assert.equal((await usersCall(result.credentials)).statusCode, 200);
  // The login now uses the password written to the new file.
  assert.equal((await portalLogin(result.credentials.portalEmail, result.credentials.portalPassword)).statusCode, 200);
});
