import { buildApp, LOG_REDACT } from './app.js';
import { boot, createRateLimiter } from './boot.js';
import { ConfigError, loadConfig } from './config.js';
import { MigrationError } from './platform/db/migrate.js';
import { ensureSandboxPartner } from './modules/partners/sandbox.js';
import { runAdminCommand, ADMIN_USAGE } from './cli/admin.js';
import { runWebhooksCommand, WEBHOOKS_USAGE } from './cli/webhooks-listen.js';
import { ORGS_USAGE, processOutput, runOrgsCommand } from './cli/orgs.js';
import { ensureCuratedOrganizations } from './modules/organizations/index.js';
import { startBackgroundWork } from './worker.js';
import { ensureSandboxRewards } from './modules/rewards/sandbox.js';
import { ensureSandboxPayments } from './modules/payments/sandbox.js';

const USAGE = `almoner <command>

  serve              run the API (migrates first; seeds the sandbox partner in embedded mode)
  worker             run background work (webhook delivery, schedules) in its own process
  migrate            apply pending database migrations and exit
${ADMIN_USAGE}
${WEBHOOKS_USAGE}
${ORGS_USAGE}
Configuration comes from environment variables; see .env.example.`;

async function serve() {
  const config = loadConfig();
  const runtime = await boot(config);
  const { services } = runtime;
  let lastRedisWarning = 0;
  const rateLimiter = createRateLimiter(runtime.config, (err) => {
    // One line a minute is enough to notice an outage without flooding the log.
    if (Date.now() - lastRedisWarning < 60_000) return;
    lastRedisWarning = Date.now();
    app.log.warn({ err }, 'rate-limit store unreachable; limiting per process until it is back');
  });
  const app = await buildApp({
    config: runtime.config,
    services,
    rateLimiter,
    logger: { level: runtime.config.logLevel, redact: LOG_REDACT },
  });
  let sandbox: Awaited<ReturnType<typeof ensureSandboxPartner>> | undefined;
  if (runtime.config.seedSandbox) {
    sandbox = await ensureSandboxPartner(services, runtime.config.dataDir);
    await ensureSandboxRewards(services, sandbox.credentials.partnerId);
    sandbox.credentials = await ensureSandboxPayments(services, runtime.config.dataDir, sandbox.credentials);
    await ensureCuratedOrganizations(services.db);
  }

  // The directory's search index builds in the background; search answers from SQL until it is in.
  services.organizations.onIndexBuilt = (built) => app.log.info(built, 'directory search index built');
  services.organizations.onIndexError = (err) => app.log.warn({ err }, 'directory search index not refreshed; it keeps answering, or SQL does');
  services.organizations.startIndex();
  const background = startBackgroundWork(services, app.log, { deliverWebhooks: runtime.config.webhooks.dispatchInServe });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await background.stop();
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  await app.listen({ port: runtime.config.port, host: runtime.config.host });
  const base = runtime.config.publicUrl;
  const lines = [
    '',
    `  almoner is running at ${base}`,
    `  API docs:       ${base}/partner-api`,
    `  database:       ${runtime.database.kind === 'embedded' ? `embedded PostgreSQL in ${runtime.config.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`,
  ];
  if (sandbox) {
    lines.push(`  sandbox partner credentials: ${sandbox.file}${sandbox.created ? ' (new)' : ''}`);
  }
  if (runtime.database.kind === 'embedded') {
    lines.push(`  operator token: ${runtime.config.dataDir}/operator-token`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

async function migrateOnly() {
  const runtime = await boot(loadConfig());
  process.stdout.write(
    runtime.migrationsApplied.length ? `applied: ${runtime.migrationsApplied.join(', ')}\n` : 'database is up to date\n',
  );
  await runtime.close();
}

async function worker() {
  const runtime = await boot(loadConfig(), { applicationName: 'almoner-worker' });
  // Errors do not survive JSON.stringify; keep what an operator needs.
  const log = {
    warn: (obj: { err?: unknown }, msg: string) => {
      const err = obj.err instanceof Error ? { err: { message: obj.err.message, code: (obj.err as { code?: unknown }).code } } : {};
      process.stderr.write(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg, ...obj, ...err })}\n`);
    },
  };
  const background = startBackgroundWork(runtime.services, log);
  process.stdout.write('almoner worker started: webhook delivery, campaign schedules and grant expiry\n');
  const stop = async () => {
    await background.stop();
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  setInterval(() => {}, 1 << 30);
}

async function main(argv: string[]) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve();
    case 'migrate':
      return migrateOnly();
    case 'worker':
      return worker();
    case 'webhooks':
      // A client of the API: it boots no database. Its three variables are its own, not server config.
      process.exitCode = await runWebhooksCommand(rest, process.env, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
      return;
    case 'orgs': {
      const runtime = await boot(loadConfig());
      try {
        process.exitCode = await runOrgsCommand(runtime.database.url, rest, processOutput());
      } finally {
        await runtime.close();
      }
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default: {
      const runtime = await boot(loadConfig());
      try {
        const handled = await runAdminCommand(runtime.services, command, rest, (line) => process.stdout.write(`${line}\n`));
        if (!handled) {
          process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
          process.exitCode = 2;
        }
      } finally {
        await runtime.close();
      }
    }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof MigrationError) {
    process.stderr.write(`almoner: ${err.message}\n`);
    process.exit(78);
  }
  if (err instanceof Error && err.name === 'AppError') {
    process.stderr.write(`almoner: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`almoner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
