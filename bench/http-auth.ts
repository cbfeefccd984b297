/**
 * npm run bench:http — what request authentication costs.
 *
 * Starts `almoner serve` as its own process on a fresh embedded database (or on DATABASE_URL when
 * set), creates 100 users, then drives with autocannon at 50 connections:
 *   1. GET /healthz                       (no auth, no database: the server's ceiling)
 *   2. signed GET /v1/partner/users?page=1&limit=20   (key lookup, HMAC check, rate limit, 2 queries)
 * and prints requests/s and latency of both, their ratio, and the server's peak RSS (VmHWM).
 * Every request is signed with its own timestamp, as a real partner backend would do.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { signPartnerRequest } from '../src/platform/crypto/signing.js';
import { freePort } from '../src/platform/db/pg-server.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = 50;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

interface Creds {
  secretKey: string;
  hmacSecret: string;
}

async function waitForServer(base: string, child: ReturnType<typeof spawn>) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('server exited during start');
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not become ready');
}

/**
 * Signs with the current second's timestamp. The load generator shares the machine's two cores with
 * the server, so it reuses a signature within the same second (as a client may: the server accepts a
 * timestamp for ±300 s) rather than spend the server's CPU on its own HMACs; the server still
 * verifies every request in full.
 */
const signatureCache = new Map<string, { second: number; headers: Record<string, string> }>();
function signedHeaders(creds: Creds, method: string, pathWithQuery: string, body = '') {
  const second = Math.floor(Date.now() / 1000);
  const cacheKey = `${method} ${pathWithQuery} ${body}`;
  const hit = signatureCache.get(cacheKey);
  if (hit && hit.second === second) return hit.headers;
  const timestamp = String(second);
  const headers = {
    'x-partner-key': creds.secretKey,
    'x-timestamp': timestamp,
    'x-signature': signPartnerRequest({ secret: creds.hmacSecret, timestamp, method, pathWithQuery, body }),
  };
  signatureCache.set(cacheKey, { second, headers });
  return headers;
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function main() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), '--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      ALMONER_DATA_DIR: dataDir,
      ALMONER_SEED_SANDBOX: 'true',
      // Request logging would measure the log pipe; both routes run under the same setting.
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...(process.env.DATABASE_URL ? { ALMONER_MASTER_KEY: process.env.ALMONER_MASTER_KEY ?? 'a'.repeat(64) } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitForServer(base, child);
    const creds = JSON.parse(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8')) as Creds;
    // The sandbox partner's default limit would throttle the benchmark itself.
    const op = (await readFile(path.join(dataDir, 'operator-token'), 'utf8')).trim();
    const partnerId = JSON.parse(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8')).partnerId as string;
    const patch = await fetch(`${base}/v1/admin/partners/${partnerId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${op}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimit: 10_000_000 }),
    });
    if (!patch.ok) throw new Error(`could not raise the rate limit: ${patch.status}`);
    for (let i = 0; i < 100; i++) {
      const body = JSON.stringify({ externalUserId: `bench_user_${i}`, email: `u${i}@example.com` });
      const res = await fetch(`${base}/v1/partner/users`, {
        method: 'POST',
        headers: { ...signedHeaders(creds, 'POST', '/v1/partner/users', body), 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 201) throw new Error(`user create failed: ${res.status} ${await res.text()}`);
    }

    const warm = { url: base, connections: 10, duration: 2 };
    await run({ ...warm, requests: [{ method: 'GET', path: '/healthz' }] });

    const health = await run({ url: base, connections: CONNECTIONS, duration: DURATION_S, requests: [{ method: 'GET', path: '/healthz' }] });
    const listPath = '/v1/partner/users?page=1&limit=20';
    const signedReqs = await run({
      url: base,
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [
        {
          method: 'GET',
          path: listPath,
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...signedHeaders(creds, 'GET', listPath) } }),
        },
      ],
    });
    const peak = await peakRssMb(child.pid!);

    const row = (name: string, r: autocannon.Result) =>
      `${name.padEnd(40)} ${r.requests.average.toFixed(0).padStart(8)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`;
    const lines = [
      '',
      `almoner HTTP auth benchmark: ${CONNECTIONS} connections, ${DURATION_S} s each, database: ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'embedded'}, LOG_LEVEL=${process.env.LOG_LEVEL ?? 'warn'}`,
      row('GET /healthz (ceiling)', health),
      row('signed GET /v1/partner/users (20 rows)', signedReqs),
      `signed / healthz ratio: ${(signedReqs.requests.average / health.requests.average).toFixed(3)}`,
      `server peak RSS (VmHWM): ${peak} MB`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (signedReqs.non2xx > 0 || signedReqs.errors > 0) process.exitCode = 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
