import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * The only reader of process.env. Everything is validated once at boot; a bad setting stops the
 * process with a message naming the variable, instead of failing later on the first request.
 */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 4000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  ALMONER_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  ALMONER_DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  ALMONER_MASTER_KEY: Type.Optional(Type.String({ minLength: 1 })),
  ALMONER_OPERATOR_TOKEN: Type.Optional(Type.String({ minLength: 24 })),
  ALMONER_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  ALMONER_SEED_SANDBOX: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  ALMONER_TRUST_PROXY: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false' }),
  ALMONER_RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 60 }),
  ALMONER_KEY_ENVIRONMENTS: Type.String({ pattern: '^(sandbox|production)(,(sandbox|production))?$', default: 'sandbox,production' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  ALMONER_WEBHOOK_DISPATCHER: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'true' }),
  ALMONER_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 15_000 }),
  ALMONER_WEBHOOK_LEASE_MS: Type.Optional(Type.Integer({ minimum: 200, maximum: 600_000 })),
  ALMONER_WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
  ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1_000, default: 32 }),
  ALMONER_WEBHOOK_POLL_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 200 }),
  ALMONER_WEBHOOK_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 600 }),
  ALMONER_REWARD_BATCHES_IN_FLIGHT: Type.Integer({ minimum: 1, maximum: 8, default: 1 }),
  ALMONER_WEBHOOK_ROTATION_GRACE_HOURS: Type.Integer({ minimum: 0, maximum: 720, default: 24 }),
  ALMONER_STRIPE_API_BASE: Type.String({ pattern: '^https?://[^/?#]+/?$', default: 'https://api.stripe.com' }),
  ALMONER_STRIPE_WEBHOOK_SECRET: Type.Optional(Type.String({ pattern: '^whsec_[^,\\s]+(,whsec_[^,\\s]+)*$' })),
  ALMONER_STRIPE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 120_000, default: 30_000 }),
  ALMONER_STRIPE_MAX_NETWORK_RETRIES: Type.Integer({ minimum: 0, maximum: 5, default: 1 }),
  ALMONER_PLAID_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  ALMONER_PLAID_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  ALMONER_PLAID_ENV: Type.Union([Type.Literal('sandbox'), Type.Literal('production')], { default: 'sandbox' }),
  ALMONER_PLAID_API_BASE: Type.Optional(Type.String({ pattern: '^https?://[^?#]+$' })),
  ALMONER_EVERYORG_BASE: Type.String({ pattern: '^https?://[^?#]+$', default: 'https://www.every.org' }),
  ALMONER_EVERYORG_WEBHOOK_TOKEN: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  ALMONER_EVERYORG_INTAKE_TOKEN: Type.Optional(Type.String({ minLength: 24, maxLength: 200 })),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
});

type Env = Static<typeof EnvSchema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Absent: the embedded database inside dataDir. */
  readonly databaseUrl: string | undefined;
  readonly dbPoolSize: number;
  /** 32 bytes; absent only in embedded mode, where it is generated into dataDir on first start. */
  readonly masterKey: Buffer | undefined;
  readonly operatorToken: string | undefined;
  readonly publicUrl: string;
  /**
   * Every.org donate links. webhookToken is the token Every.org issued for our partner webhook (it
   * rides in every link); intakeToken is what Every.org's notifications must carry to be believed.
   * Unset, both are derived from the master key, which is enough for the sandbox.
   */
  readonly everyOrg: { readonly base: string; readonly webhookToken: string | undefined; readonly intakeToken: string | undefined };
  readonly seedSandbox: boolean;
  readonly trustProxy: boolean;
  readonly rateLimitWindowSeconds: number;
  readonly redisUrl: string | undefined;
  readonly logLevel: string;
  /** Which key environments this deployment accepts; the other gets 401 KEY_ENVIRONMENT_MISMATCH. */
  readonly keyEnvironments: readonly ('sandbox' | 'production')[];
  /**
   * Reward batches of one partner and environment a process keeps in flight at once (each one
   * database transaction on a connection of its own).
   */
  readonly rewardBatchesInFlight: number;
  readonly webhooks: {
    /**
     * Sandbox endpoints may use http:// and loopback or private addresses. On by default only for
     * the embedded database (a developer's own machine); production endpoints never may.
     */
    readonly allowInsecureSandbox: boolean;
    /** Run the delivery dispatcher inside `serve` (turn off when dedicated workers deliver). */
    readonly dispatchInServe: boolean;
    readonly timeoutMs: number;
    /** A claim's lease; always longer than the timeout so a live dispatcher finishes first. */
    readonly leaseMs: number;
    readonly maxInFlight: number;
    readonly perEndpointConcurrency: number;
    readonly pollMs: number;
    /** Events fanned out per transaction and deliveries claimed per claim. */
    readonly batchSize: number;
    readonly rotationGraceMs: number;
  };
  readonly stripe: StripeConfig;
  /** null: Plaid is not configured; sandbox accounts use the offline Plaid stand-in, Stripe accounts cannot link through Plaid. */
  readonly plaid: PlaidConfig | null;
}

export interface StripeConfig {
  /** Where the SDK sends requests: Stripe itself, or a local emulator in tests. */
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
  /**
   * Signing secrets of the Stripe webhook endpoints that deliver to /api/stripe/webhook: one per
   * endpoint (a test-mode and a live-mode one), or two during a rotation. Empty: the route refuses
   * every event, since none could be verified.
   */
  readonly webhookSecrets: readonly string[];
  readonly timeoutMs: number;
  readonly maxNetworkRetries: number;
}

export interface PlaidConfig {
  readonly clientId: string;
  readonly secret: string;
  readonly environment: 'sandbox' | 'production';
  readonly basePath: string;
}

const PLAID_HOSTS = { sandbox: 'https://sandbox.plaid.com', production: 'https://production.plaid.com' } as const;

/** The SDK takes host, port and protocol separately; the setting is one URL. */
export function stripeEndpoint(base: string): Pick<StripeConfig, 'host' | 'port' | 'protocol'> {
  const url = new URL(base);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const INTEGER_VARS = new Set([
  'PORT',
  'ALMONER_DB_POOL_SIZE',
  'ALMONER_RATE_LIMIT_WINDOW_SECONDS',
  'ALMONER_WEBHOOK_TIMEOUT_MS',
  'ALMONER_WEBHOOK_LEASE_MS',
  'ALMONER_WEBHOOK_CONCURRENCY',
  'ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY',
  'ALMONER_WEBHOOK_POLL_MS',
  'ALMONER_WEBHOOK_BATCH_SIZE',
  'ALMONER_REWARD_BATCHES_IN_FLIGHT',
  'ALMONER_WEBHOOK_ROTATION_GRACE_HOURS',
  'ALMONER_STRIPE_TIMEOUT_MS',
  'ALMONER_STRIPE_MAX_NETWORK_RETRIES',
]);

/** Accepts 64 hex characters or base64 of exactly 32 bytes. */
export function parseMasterKey(raw: string): Buffer {
  const trimmed = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const b64 = Buffer.from(trimmed, 'base64');
  if (b64.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return b64;
  throw new ConfigError(
    'ALMONER_MASTER_KEY must be 32 random bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)',
  );
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key];
    if (value === undefined || value === '') continue;
    if (INTEGER_VARS.has(key)) {
      if (!/^\d+$/.test(value)) throw new ConfigError(`${key} must be a whole number, got "${value}"`);
      raw[key] = Number(value);
    } else {
      raw[key] = value;
    }
  }
  const withDefaults = Value.Default(EnvSchema, raw) as Env;
  const firstError = Value.Errors(EnvSchema, withDefaults).First();
  if (firstError) {
    const name = firstError.path.replace(/^\//, '') || 'configuration';
    // For a choice of fixed values TypeBox only says "Expected union value"; list the choices so
    // the message says what to set (these settings are not secrets, so echoing the value is fine).
    const choices = (firstError.schema.anyOf as { const?: unknown }[] | undefined)
      ?.map((s) => s.const)
      .filter((v) => v !== undefined);
    const detail = choices?.length
      ? `must be one of ${choices.join(', ')}, got "${String(firstError.value)}"`
      : firstError.message;
    throw new ConfigError(`${name}: ${detail}`);
  }
  const e = withDefaults;
  const masterKey = e.ALMONER_MASTER_KEY ? parseMasterKey(e.ALMONER_MASTER_KEY) : undefined;
  if (e.DATABASE_URL && !masterKey) {
    throw new ConfigError(
      'ALMONER_MASTER_KEY is required when DATABASE_URL is set: secrets at rest are encrypted with it, so every process must share one key (generate one with: openssl rand -hex 32)',
    );
  }
  const seedSandbox = e.ALMONER_SEED_SANDBOX ? e.ALMONER_SEED_SANDBOX === 'true' : !e.DATABASE_URL;
  const leaseMs = e.ALMONER_WEBHOOK_LEASE_MS ?? e.ALMONER_WEBHOOK_TIMEOUT_MS + 30_000;
  if (leaseMs <= e.ALMONER_WEBHOOK_TIMEOUT_MS) {
    throw new ConfigError(
      `ALMONER_WEBHOOK_LEASE_MS (${leaseMs}) must be longer than ALMONER_WEBHOOK_TIMEOUT_MS (${e.ALMONER_WEBHOOK_TIMEOUT_MS}), or two dispatchers could send one delivery at once`,
    );
  }
  if (Boolean(e.ALMONER_PLAID_CLIENT_ID) !== Boolean(e.ALMONER_PLAID_SECRET)) {
    throw new ConfigError('ALMONER_PLAID_CLIENT_ID and ALMONER_PLAID_SECRET go together: set both to use Plaid, or neither');
  }
  const plaid: PlaidConfig | null =
    e.ALMONER_PLAID_CLIENT_ID && e.ALMONER_PLAID_SECRET
      ? Object.freeze({
          clientId: e.ALMONER_PLAID_CLIENT_ID,
          secret: e.ALMONER_PLAID_SECRET,
          environment: e.ALMONER_PLAID_ENV,
          basePath: (e.ALMONER_PLAID_API_BASE ?? PLAID_HOSTS[e.ALMONER_PLAID_ENV]).replace(/\/+$/, ''),
        })
      : null;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.ALMONER_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    dbPoolSize: e.ALMONER_DB_POOL_SIZE,
    masterKey,
    operatorToken: e.ALMONER_OPERATOR_TOKEN,
    publicUrl: (e.ALMONER_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    seedSandbox,
    trustProxy: e.ALMONER_TRUST_PROXY === 'true',
    rateLimitWindowSeconds: e.ALMONER_RATE_LIMIT_WINDOW_SECONDS,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    keyEnvironments: Object.freeze([...new Set(e.ALMONER_KEY_ENVIRONMENTS.split(','))]) as readonly ('sandbox' | 'production')[],
    rewardBatchesInFlight: e.ALMONER_REWARD_BATCHES_IN_FLIGHT,
    webhooks: Object.freeze({
      allowInsecureSandbox: e.ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX
        ? e.ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX === 'true'
        : !e.DATABASE_URL,
      dispatchInServe: e.ALMONER_WEBHOOK_DISPATCHER === 'true',
      timeoutMs: e.ALMONER_WEBHOOK_TIMEOUT_MS,
      leaseMs,
      maxInFlight: e.ALMONER_WEBHOOK_CONCURRENCY,
      perEndpointConcurrency: e.ALMONER_WEBHOOK_ENDPOINT_CONCURRENCY,
      pollMs: e.ALMONER_WEBHOOK_POLL_MS,
      batchSize: e.ALMONER_WEBHOOK_BATCH_SIZE,
      rotationGraceMs: e.ALMONER_WEBHOOK_ROTATION_GRACE_HOURS * 3_600_000,
    }),
    stripe: Object.freeze({
      ...stripeEndpoint(e.ALMONER_STRIPE_API_BASE),
      webhookSecrets: Object.freeze(e.ALMONER_STRIPE_WEBHOOK_SECRET ? e.ALMONER_STRIPE_WEBHOOK_SECRET.split(',') : []),
      timeoutMs: e.ALMONER_STRIPE_TIMEOUT_MS,
      maxNetworkRetries: e.ALMONER_STRIPE_MAX_NETWORK_RETRIES,
    }),
    plaid,
    everyOrg: Object.freeze({
      base: e.ALMONER_EVERYORG_BASE.replace(/\/+$/, ''),
      webhookToken: e.ALMONER_EVERYORG_WEBHOOK_TOKEN,
      intakeToken: e.ALMONER_EVERYORG_INTAKE_TOKEN,
    }),
  });
}
