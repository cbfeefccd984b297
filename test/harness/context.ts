import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { ManualClock } from '../../src/platform/clock.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import type { RateLimiter } from '../../src/platform/http/rate-limit.js';
import { signPartnerRequest } from '../../src/platform/crypto/signing.js';
import { createServices, serviceOptions, type Services } from '../../src/services.js';

/**
 * One isolated world per test file: a fresh database cloned from the migrated template on the
 * server the runner started (throwaway PostgreSQL or the embedded server), a manual clock and the
 * real app. ALMONER_TEST_ADMIN_URL and ALMONER_TEST_TEMPLATE come from test/run.ts.
 */
export interface TestContext {
  app: FastifyInstance;
  services: Services;
  clock: ManualClock;
  config: Config;
  databaseUrl: string;
  dbKind: string;
  close(): Promise<void>;
}

export const OPERATOR_TOKEN = 'op_test_operator_token_0123456789abcdef';

export function adminUrl(): string {
  const url = process.env.ALMONER_TEST_ADMIN_URL;
  if (!url) throw new Error('ALMONER_TEST_ADMIN_URL is not set: run the tests with `npm test`');
  return url;
}

export async function createTestDatabase(): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const template = process.env.ALMONER_TEST_TEMPLATE ?? 'almoner_template';
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createTestContext(
  options: {
    env?: Record<string, string>;
    rateLimiter?: RateLimiter;
    now?: Date;
    /** Share another context's database (a second API process); its master key must come along. */
    databaseUrl?: string;
    masterKey?: Buffer;
  } = {},
): Promise<TestContext> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-test-'));
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: (options.masterKey ?? randomBytes(32)).toString('hex'),
    ALMONER_OPERATOR_TOKEN: OPERATOR_TOKEN,
    ALMONER_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // Sandbox endpoints point at receivers on 127.0.0.1 in tests, as on a developer's machine.
    ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'true',
    ...options.env,
  });
  // ALMONER_TEST_POOL_MAX=1 flushes out code that takes a second connection while holding one in a
  // transaction: with one connection such code hangs instead of passing until the pool runs dry.
  const pool = createPgPool({ connectionString: databaseUrl, max: Number(process.env.ALMONER_TEST_POOL_MAX ?? 10) });
  // With one connection, a wait for the pool is a nested acquisition: print where it came from.
  if (process.env.ALMONER_TEST_POOL_MAX === '1') {
    const connect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
    (pool as unknown as { connect: (...a: unknown[]) => unknown }).connect = (...a: unknown[]) => {
      if (pool.idleCount === 0 && pool.totalCount >= 1) console.error('POOLWAIT', new Error().stack);
      return connect(...a);
    };
  }
  const db = createKysely(pool);
  const clock = new ManualClock(options.now ?? new Date());
  const services = createServices(db, config.masterKey!, clock, serviceOptions(config));
  const app = await buildApp({ config, services, ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}) });
  await app.ready();
  return {
    app,
    services,
    clock,
    config,
    databaseUrl,
    dbKind: process.env.ALMONER_TEST_DB ?? 'postgres',
    async close() {
      await app.close();
      await db.destroy();
    },
  };
}

export interface SigningKey {
  key: string;
  hmacSecret: string;
}

/** Builds inject options for a signed partner request, exactly as a partner's backend would send it. */
export function signed(
  clock: ManualClock,
  credentials: SigningKey,
  method: string,
  url: string,
  body?: unknown,
  overrides: { timestamp?: string; signature?: string; rawBody?: string; headers?: Record<string, string> } = {},
): InjectOptions {
  const raw = overrides.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const timestamp = overrides.timestamp ?? String(Math.floor(clock.now().getTime() / 1000));
  const signature =
    overrides.signature ??
    signPartnerRequest({ secret: credentials.hmacSecret, timestamp, method, pathWithQuery: url, body: raw });
  const headers: Record<string, string> = {
    'x-partner-key': credentials.key,
    'x-timestamp': timestamp,
    'x-signature': signature,
    ...(raw !== undefined ? { 'content-type': 'application/json' } : {}),
    ...overrides.headers,
  };
  return { method: method as InjectOptions['method'], url, headers, ...(raw !== undefined ? { payload: raw } : {}) };
}

/** An `after` hook for files that move tokens: close the context, then insist the ledger is clean. */
export function closeWithLedgerCheck(getContext: () => TestContext, label: string) {
  return async () => {
    const ctx = getContext();
    const { checkLedger } = await import('../../src/modules/ledger/index.js');
    const report = await checkLedger(ctx.services.db);
    await ctx.close();
    if (!report.ok) throw new Error(`ledger check after ${label}: ${JSON.stringify(report)}`);
  };
}
