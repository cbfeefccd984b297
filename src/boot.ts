import { Redis } from 'ioredis';
import { ConfigError, parseMasterKey, type Config } from './config.js';
import { systemClock, type Clock } from './platform/clock.js';
import { ensureDataDir, newMasterKeyHex, newOperatorToken, readOrCreateSecret } from './platform/data-dir.js';
import { openDatabase, type DatabaseHandle } from './platform/db/index.js';
import { migrate } from './platform/db/migrate.js';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './platform/http/rate-limit.js';
import { createServices, serviceOptions, type Services } from './services.js';

export interface Runtime {
  config: Config;
  database: DatabaseHandle;
  services: Services;
  migrationsApplied: string[];
  close(): Promise<void>;
}

/**
 * Everything a process needs before it does work: data dir, database (embedded or PostgreSQL),
 * migrations, secrets. In embedded mode the master key and operator token are generated into the
 * data dir; with DATABASE_URL they must come from the environment so every process agrees.
 */
export async function boot(input: Config, options: { clock?: Clock; applicationName?: string } = {}): Promise<Runtime> {
  let config = input;
  await ensureDataDir(config.dataDir);
  if (!config.databaseUrl) {
    const masterKey = config.masterKey ?? parseMasterKey(await readOrCreateSecret(config.dataDir, 'master.key', newMasterKeyHex));
    const operatorToken = config.operatorToken ?? (await readOrCreateSecret(config.dataDir, 'operator-token', newOperatorToken));
    config = Object.freeze({ ...config, masterKey, operatorToken });
  }
  if (!config.masterKey) throw new ConfigError('ALMONER_MASTER_KEY is required');
  const database = await openDatabase(config, options.applicationName);
  try {
    const migrationsApplied = await migrate(database.db);
    // The embedded server's address too, which config does not know.
    const services = createServices(database.db, config.masterKey!, options.clock ?? systemClock, { ...serviceOptions(config), databaseUrl: database.url });
    return { config, database, services, migrationsApplied, close: () => database.close() };
  } catch (err) {
    await database.close();
    throw err;
  }
}

export function createRateLimiter(config: Config, onError: (err: unknown) => void = () => {}): RateLimiter {
  if (!config.redisUrl) return new MemoryRateLimiter(config.rateLimitWindowSeconds);
  // Fail fast while Redis is away instead of queueing commands behind a dead connection.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 });
  redis.on('error', onError);
  return new RedisRateLimiter(redis, config.rateLimitWindowSeconds, onError);
}
