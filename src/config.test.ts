import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseMasterKey } from './config.js';

/** Asserts that loading `env` fails with a ConfigError whose message names `variable`. */
function assertRejected(env: Record<string, string>, variable: string) {
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.name, 'ConfigError');
      assert.ok(err.message.includes(variable), `message does not name ${variable}: ${err.message}`);
      return true;
    },
    `${JSON.stringify(env)} should be rejected`,
  );
}

const MASTER_HEX = 'a1'.repeat(32);
const PG = 'postgres://almoner:pw@127.0.0.1:5432/almoner';

describe('defaults', () => {
  test('an empty environment gives the embedded, local defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 4000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, path.resolve('./data'));
    assert.ok(path.isAbsolute(c.dataDir));
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.masterKey, undefined);
    assert.equal(c.operatorToken, undefined);
    assert.equal(c.dbPoolSize, 10);
    assert.equal(c.publicUrl, 'http://localhost:4000');
    assert.equal(c.seedSandbox, true, 'the embedded mode seeds the demo partner');
    assert.equal(c.trustProxy, false);
    assert.equal(c.rateLimitWindowSeconds, 60);
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.logLevel, 'info');
  });

  test('the config is frozen', () => {
    const c = loadConfig({});
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
  });

  test('empty strings count as unset; unrelated variables are ignored', () => {
    const c = loadConfig({ PORT: '', LOG_LEVEL: '', ALMONER_DATA_DIR: '', HOME: '/root', SOMETHING_ELSE: 'x' });
    assert.equal(c.port, 4000);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.dataDir, path.resolve('./data'));
  });

  test('set values are taken over and typed', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      ALMONER_DATA_DIR: '/var/lib/almoner',
      ALMONER_DB_POOL_SIZE: '25',
      ALMONER_PUBLIC_URL: 'https://api.example.com/',
      ALMONER_TRUST_PROXY: 'true',
      ALMONER_RATE_LIMIT_WINDOW_SECONDS: '30',
      LOG_LEVEL: 'debug',
    });
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, '/var/lib/almoner');
    assert.equal(c.dbPoolSize, 25);
    assert.equal(c.publicUrl, 'https://api.example.com', 'trailing slash removed');
    assert.equal(c.trustProxy, true);
    assert.equal(c.rateLimitWindowSeconds, 30);
    assert.equal(c.logLevel, 'debug');
    assert.equal(loadConfig({ PORT: '8080' }).publicUrl, 'http://localhost:8080');
  });
});

describe('PORT', () => {
  for (const bad of ['abc', '-1', '4000.5', '1e3', ' 80', '0x50', '65536', '99999999999']) {
    test(`PORT=${JSON.stringify(bad)} is a ConfigError naming PORT`, () => {
      assertRejected({ PORT: bad }, 'PORT');
    });
  }
  test('0 and 65535 are accepted', () => {
    assert.equal(loadConfig({ PORT: '0' }).port, 0);
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  });
  test('the other whole-number settings are checked the same way', () => {
    assertRejected({ ALMONER_DB_POOL_SIZE: 'ten' }, 'ALMONER_DB_POOL_SIZE');
    assertRejected({ ALMONER_DB_POOL_SIZE: '0' }, 'ALMONER_DB_POOL_SIZE');
    assertRejected({ ALMONER_RATE_LIMIT_WINDOW_SECONDS: '3601' }, 'ALMONER_RATE_LIMIT_WINDOW_SECONDS');
  });
});

describe('database and master key', () => {
  test('DATABASE_URL without ALMONER_MASTER_KEY is an error naming ALMONER_MASTER_KEY', () => {
    assertRejected({ DATABASE_URL: PG }, 'ALMONER_MASTER_KEY');
  });

  test('DATABASE_URL with a master key: external database, no sandbox seeding unless asked', () => {
    const c = loadConfig({ DATABASE_URL: PG, ALMONER_MASTER_KEY: MASTER_HEX });
    assert.equal(c.databaseUrl, PG);
    assert.deepEqual(c.masterKey, Buffer.from(MASTER_HEX, 'hex'));
    assert.equal(c.seedSandbox, false);
    assert.equal(loadConfig({ DATABASE_URL: PG, ALMONER_MASTER_KEY: MASTER_HEX, ALMONER_SEED_SANDBOX: 'true' }).seedSandbox, true);
    assert.equal(loadConfig({ ALMONER_SEED_SANDBOX: 'false' }).seedSandbox, false);
    assert.equal(loadConfig({ DATABASE_URL: 'postgresql://h/db', ALMONER_MASTER_KEY: MASTER_HEX }).databaseUrl, 'postgresql://h/db');
  });

  test('a DATABASE_URL that is not PostgreSQL is an error naming DATABASE_URL', () => {
    assertRejected({ DATABASE_URL: 'mysql://h/db', ALMONER_MASTER_KEY: MASTER_HEX }, 'DATABASE_URL');
  });

  test('the master key is read from 64 hex characters, in either case, with surrounding whitespace', () => {
    const bytes = randomBytes(32);
    const hex = bytes.toString('hex');
    assert.deepEqual(parseMasterKey(hex), bytes);
    assert.deepEqual(parseMasterKey(hex.toUpperCase()), bytes);
    assert.deepEqual(parseMasterKey(`  ${hex}\n`), bytes);
    assert.deepEqual(loadConfig({ ALMONER_MASTER_KEY: hex }).masterKey, bytes);
  });

  test('the master key is read from base64 and base64url of exactly 32 bytes', () => {
    for (let i = 0; i < 20; i++) {
      const bytes = randomBytes(32);
      assert.deepEqual(parseMasterKey(bytes.toString('base64')), bytes);
      assert.deepEqual(parseMasterKey(bytes.toString('base64url')), bytes);
      assert.deepEqual(loadConfig({ ALMONER_MASTER_KEY: bytes.toString('base64') }).masterKey, bytes);
    }
  });

  test('a master key of the wrong size or alphabet is an error naming ALMONER_MASTER_KEY, without echoing it', () => {
    const bad = [
      'a1'.repeat(31), // 31 bytes of hex
      `${'a1'.repeat(32)}00`, // 33 bytes of hex
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(16).toString('hex'), // 32 hex chars = 16 bytes
      'correct horse battery staple correct horse',
      `${randomBytes(32).toString('base64').slice(0, -2)}!!`,
    ];
    for (const value of bad) {
      assert.throws(() => parseMasterKey(value), ConfigError, value);
      assert.throws(
        () => loadConfig({ ALMONER_MASTER_KEY: value }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.includes('ALMONER_MASTER_KEY') && !err.message.includes(value),
        value,
      );
    }
  });
});

describe('other settings', () => {
  test('an invalid LOG_LEVEL is an error naming LOG_LEVEL and the allowed levels', () => {
    assertRejected({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL');
    assertRejected({ LOG_LEVEL: 'INFO' }, 'LOG_LEVEL');
    assert.throws(() => loadConfig({ LOG_LEVEL: 'verbose' }), /info/);
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      assert.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level);
    }
  });

  test('boolean switches accept only true/false', () => {
    assertRejected({ ALMONER_TRUST_PROXY: 'yes' }, 'ALMONER_TRUST_PROXY');
    assertRejected({ ALMONER_SEED_SANDBOX: '1' }, 'ALMONER_SEED_SANDBOX');
  });

  test('a short operator token is refused, and the message does not echo it', () => {
    const token = 'short-secret';
    assert.throws(
      () => loadConfig({ ALMONER_OPERATOR_TOKEN: token }),
      (err: unknown) => err instanceof ConfigError && err.message.includes('ALMONER_OPERATOR_TOKEN') && !err.message.includes(token),
    );
    const ok = 'op_'.padEnd(30, 'x');
    assert.equal(loadConfig({ ALMONER_OPERATOR_TOKEN: ok }).operatorToken, ok);
  });

  test('URLs must carry their scheme', () => {
    assertRejected({ ALMONER_PUBLIC_URL: 'api.example.com' }, 'ALMONER_PUBLIC_URL');
    assertRejected({ REDIS_URL: 'localhost:6379' }, 'REDIS_URL');
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl, 'redis://127.0.0.1:6379');
  });
});

describe('webhook delivery settings', () => {
  test('defaults: insecure sandbox endpoints only with the embedded database; 15 s timeout and a longer lease', () => {
    const embedded = loadConfig({}).webhooks;
    assert.equal(embedded.allowInsecureSandbox, true);
    assert.equal(embedded.dispatchInServe, true);
    assert.equal(embedded.timeoutMs, 15_000);
    assert.equal(embedded.leaseMs, 45_000);
    assert.equal(embedded.rotationGraceMs, 24 * 3_600_000);
    assert.equal(embedded.batchSize, 600);
    assert.equal(loadConfig({ ALMONER_WEBHOOK_BATCH_SIZE: '10' }).webhooks.batchSize, 10);
    assert.equal(loadConfig({}).rewardBatchesInFlight, 1);
    assert.equal(loadConfig({ ALMONER_REWARD_BATCHES_IN_FLIGHT: '2' }).rewardBatchesInFlight, 2);
    assert.equal(loadConfig({ DATABASE_URL: PG, ALMONER_MASTER_KEY: MASTER_HEX }).webhooks.allowInsecureSandbox, false);
    const forced = loadConfig({ DATABASE_URL: PG, ALMONER_MASTER_KEY: MASTER_HEX, ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'true' });
    assert.equal(forced.webhooks.allowInsecureSandbox, true);
  });

  test('a lease not longer than the timeout is refused: two processes could send one delivery at once', () => {
    assertRejected({ ALMONER_WEBHOOK_TIMEOUT_MS: '5000', ALMONER_WEBHOOK_LEASE_MS: '5000' }, 'ALMONER_WEBHOOK_LEASE_MS');
    assert.equal(loadConfig({ ALMONER_WEBHOOK_TIMEOUT_MS: '1000', ALMONER_WEBHOOK_LEASE_MS: '3000' }).webhooks.leaseMs, 3000);
  });

  test('bad values name their variable', () => {
    assertRejected({ ALMONER_WEBHOOK_DISPATCHER: 'off' }, 'ALMONER_WEBHOOK_DISPATCHER');
    assertRejected({ ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'yes' }, 'ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX');
    assertRejected({ ALMONER_WEBHOOK_CONCURRENCY: '0' }, 'ALMONER_WEBHOOK_CONCURRENCY');
    assertRejected({ ALMONER_WEBHOOK_TIMEOUT_MS: '15s' }, 'ALMONER_WEBHOOK_TIMEOUT_MS');
    assertRejected({ ALMONER_WEBHOOK_BATCH_SIZE: '0' }, 'ALMONER_WEBHOOK_BATCH_SIZE');
    assertRejected({ ALMONER_REWARD_BATCHES_IN_FLIGHT: '0' }, 'ALMONER_REWARD_BATCHES_IN_FLIGHT');
    assertRejected({ ALMONER_REWARD_BATCHES_IN_FLIGHT: '9' }, 'ALMONER_REWARD_BATCHES_IN_FLIGHT');
  });
});

describe('Stripe and Plaid settings', () => {
  test('defaults: Stripe itself over https, no webhook secret, Plaid off', () => {
    const c = loadConfig({});
    assert.deepEqual(
      { host: c.stripe.host, port: c.stripe.port, protocol: c.stripe.protocol, secrets: c.stripe.webhookSecrets, timeout: c.stripe.timeoutMs, retries: c.stripe.maxNetworkRetries },
      { host: 'api.stripe.com', port: 443, protocol: 'https', secrets: [], timeout: 30_000, retries: 1 },
    );
    assert.equal(c.plaid, null);
    assert.ok(Object.isFrozen(c.stripe));
  });

  test('the API base is split into the host, port and protocol the SDK takes', () => {
    const local = loadConfig({ ALMONER_STRIPE_API_BASE: 'http://127.0.0.1:12111' }).stripe;
    assert.deepEqual([local.host, local.port, local.protocol], ['127.0.0.1', 12111, 'http']);
    const plain = loadConfig({ ALMONER_STRIPE_API_BASE: 'https://stripe.internal/' }).stripe;
    assert.deepEqual([plain.host, plain.port, plain.protocol], ['stripe.internal', 443, 'https']);
    assertRejected({ ALMONER_STRIPE_API_BASE: 'api.stripe.com' }, 'ALMONER_STRIPE_API_BASE');
    assertRejected({ ALMONER_STRIPE_API_BASE: 'https://api.stripe.com/v1' }, 'ALMONER_STRIPE_API_BASE');
  });

  test('webhook secrets: one or more whsec_ values, comma-separated; anything else is refused without echoing it', () => {
    assert.deepEqual(loadConfig({ ALMONER_STRIPE_WEBHOOK_SECRET: 'whsec_test,whsec_live' }).stripe.webhookSecrets, ['whsec_test', 'whsec_live']);
    for (const bad of ['sk_test_notasecret', 'whsec_a,,whsec_b', 'whsec_a, whsec_b']) {
      assert.throws(
        () => loadConfig({ ALMONER_STRIPE_WEBHOOK_SECRET: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.includes('ALMONER_STRIPE_WEBHOOK_SECRET') && !err.message.includes(bad),
      );
    }
  });

  test('Plaid: client id and secret together, sandbox host by default, an override for tests', () => {
    const c = loadConfig({ ALMONER_PLAID_CLIENT_ID: 'client', ALMONER_PLAID_SECRET: 'secret' }).plaid!;
    assert.deepEqual(c, { clientId: 'client', secret: 'secret', environment: 'sandbox', basePath: 'https://sandbox.plaid.com' });
    const prod = loadConfig({ ALMONER_PLAID_CLIENT_ID: 'client', ALMONER_PLAID_SECRET: 'secret', ALMONER_PLAID_ENV: 'production' }).plaid!;
    assert.equal(prod.basePath, 'https://production.plaid.com');
    const local = loadConfig({ ALMONER_PLAID_CLIENT_ID: 'c', ALMONER_PLAID_SECRET: 's', ALMONER_PLAID_API_BASE: 'http://127.0.0.1:9000/' }).plaid!;
    assert.equal(local.basePath, 'http://127.0.0.1:9000');
    assertRejected({ ALMONER_PLAID_CLIENT_ID: 'client' }, 'ALMONER_PLAID_SECRET');
    assertRejected({ ALMONER_PLAID_ENV: 'development' }, 'ALMONER_PLAID_ENV');
    assertRejected({ ALMONER_STRIPE_TIMEOUT_MS: '10' }, 'ALMONER_STRIPE_TIMEOUT_MS');
  });
});
