import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db/schema.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import { campaignsRoutes } from '../../src/modules/rewards/campaigns.routes.js';
import { CampaignsService } from '../../src/modules/rewards/campaigns.service.js';
import { PartnerClock } from '../../src/modules/rewards/partner-clock.js';
import { StakeholderTypesService } from '../../src/modules/rewards/stakeholder-types.js';
import { stakeholderTypesRoutes } from '../../src/modules/rewards/stakeholder-types.routes.js';
import { createServices, serviceOptions } from '../../src/services.js';
import { createTestDatabase, OPERATOR_TOKEN, type TestContext } from './context.js';

export { OPERATOR_TOKEN };

export interface RewardsTestContext extends TestContext {
  db: Kysely<Database>;
  partnerClock: PartnerClock;
  stakeholderTypes: StakeholderTypesService;
  campaigns: CampaignsService;
}

/** The service of that name when services.ts wires one (so HTTP and the test share it), else undefined. */
function wired<T>(services: object, name: string, type: abstract new (...args: never[]) => T): T | undefined {
  const value = (services as Record<string, unknown>)[name];
  return value instanceof type ? (value as T) : undefined;
}

/**
 * createTestContext() plus the campaign and stakeholder-type routes. buildApp() leaves the app unready, so
 * plugins it does not register yet can be added before ready(); once app.ts registers them, the routes it
 * serves are used as they are and the services come from createServices().
 */
export async function createRewardsTestContext(options: { now?: Date } = {}): Promise<RewardsTestContext> {
  const databaseUrl = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-test-'));
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    ALMONER_MASTER_KEY: randomBytes(32).toString('hex'),
    ALMONER_OPERATOR_TOKEN: OPERATOR_TOKEN,
    ALMONER_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    // Sandbox endpoints point at receivers on 127.0.0.1 in tests, as on a developer's machine.
    ALMONER_WEBHOOKS_ALLOW_INSECURE_SANDBOX: 'true',
  });
  const pool = createPgPool({ connectionString: databaseUrl, max: 10 });
  const db = createKysely(pool);
  const clock = new ManualClock(options.now ?? new Date());
  const services = createServices(db, config.masterKey!, clock, serviceOptions(config));
  const partnerClock = wired(services, 'partnerClock', PartnerClock) ?? new PartnerClock(db, clock);
  const stakeholderTypes = wired(services, 'stakeholderTypes', StakeholderTypesService) ?? new StakeholderTypesService(db);
  const campaigns = wired(services, 'campaigns', CampaignsService) ?? new CampaignsService(db, partnerClock, stakeholderTypes);

  const app = await buildApp({ config, services });
  if (!app.hasRoute({ method: 'GET', url: '/v1/partner/campaigns' })) {
    await app.register(campaignsRoutes, { campaigns });
  }
  if (!app.hasRoute({ method: 'GET', url: '/v1/partner/stakeholder-types' })) {
    await app.register(stakeholderTypesRoutes, { stakeholderTypes });
  }
  await app.ready();
  return {
    app,
    services,
    clock,
    config,
    databaseUrl,
    dbKind: process.env.ALMONER_TEST_DB ?? 'postgres',
    db,
    partnerClock,
    stakeholderTypes,
    campaigns,
    async close() {
      await app.close();
      await db.destroy();
    },
  };
}
