/**
 * `npm test`: unit tests, then the integration suite on a throwaway PostgreSQL 15 cluster and again
 * on the embedded database that `npm start` uses, then the end-to-end tests. Prints one closing
 * line "N passed, N failed". Arguments filter test files by substring; ALMONER_TEST_DBS=postgres
 * or =embedded runs one database only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../src/platform/db/migrate.js';
import { startEmbedded } from '../src/platform/db/embedded.js';
import { createKysely, createPgPool } from '../src/platform/db/postgres.js';
import { startTestCluster } from './harness/postgres.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);
const dbs = (process.env.ALMONER_TEST_DBS ?? 'postgres,embedded').split(',');

async function findTests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...(await findTests(full)));
    } else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

const selected = (files: string[]) => (filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files);

async function prepareTemplate(adminUrl: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query('DROP DATABASE IF EXISTS almoner_template');
  await client.query('CREATE DATABASE almoner_template');
  await client.end();
  const url = new URL(adminUrl);
  url.pathname = '/almoner_template';
  const db = createKysely(createPgPool({ connectionString: url.toString(), max: 2 }));
  await migrate(db);
  await db.destroy();
}

interface RunResult {
  label: string;
  pass: number;
  fail: number;
  code: number;
}

async function runNodeTests(label: string, files: string[], env: Record<string, string>): Promise<RunResult> {
  if (files.length === 0) return { label, pass: 0, fail: 0, code: 0 };
  const tapDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-tap-'));
  const tapFile = path.join(tapDir, 'out.tap');
  process.stdout.write(`\n=== ${label}: ${files.length} file(s) ===\n`);
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  const tap = await readFile(tapFile, 'utf8').catch(() => '');
  await rm(tapDir, { recursive: true, force: true });
  const num = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  return { label, pass: num('pass'), fail: num('fail') + num('cancelled'), code };
}

async function main() {
  const unit = selected(await findTests(path.join(root, 'src')));
  const integration = selected(await findTests(path.join(root, 'test', 'integration')));
  const e2e = selected(await findTests(path.join(root, 'test', 'e2e')));
  const results: RunResult[] = [];

  results.push(await runNodeTests('unit', unit, {}));

  if (dbs.includes('postgres') && (integration.length || e2e.length)) {
    const cluster = await startTestCluster();
    try {
      await prepareTemplate(cluster.url());
      results.push(
        await runNodeTests('integration on PostgreSQL 15', integration, {
          ALMONER_TEST_ADMIN_URL: cluster.url(),
          ALMONER_TEST_DB: 'postgres',
        }),
      );
      results.push(
        await runNodeTests('end-to-end', e2e, { ALMONER_TEST_ADMIN_URL: cluster.url(), ALMONER_TEST_DB: 'postgres' }),
      );
    } finally {
      await cluster.stop();
    }
  }

  if (dbs.includes('embedded') && integration.length) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-embedded-'));
    const server = await startEmbedded(dataDir);
    try {
      const admin = new URL(server.url);
      admin.pathname = '/postgres';
      await prepareTemplate(admin.toString());
      results.push(
        await runNodeTests('integration on the embedded database', integration, {
          ALMONER_TEST_ADMIN_URL: admin.toString(),
          ALMONER_TEST_DB: 'embedded',
        }),
      );
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  let pass = 0;
  let fail = 0;
  process.stdout.write('\n');
  for (const r of results) {
    pass += r.pass;
    fail += r.fail;
    if (r.code !== 0 && r.fail === 0) fail += 1; // a crashed runner counts as a failure
    process.stdout.write(`${r.label}: ${r.pass} passed, ${r.fail} failed\n`);
  }
  process.stdout.write(`${pass} passed, ${fail} failed\n`);
  process.exit(fail > 0 || pass === 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`test runner failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
