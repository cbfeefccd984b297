import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { deliveriesRepo } from '../../src/modules/webhooks/deliveries.repo.js';
import { migrate, MIGRATIONS_DIR } from '../../src/platform/db/migrate.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import type { Database } from '../../src/platform/db/schema.js';
import { adminUrl } from '../harness/context.js';

/**
 * Migration 0017 moves a delivery's final success from webhook_attempts to the delivery row alone.
 * Deliveries written the old way (every attempt a row) keep the same attempt log and the same health
 * figures afterwards: only the attempt rows that repeat their SUCCEEDED delivery's row go.
 */
let db: Kysely<Database>;
let dir: string;
const name = `t_${randomBytes(6).toString('hex')}`;

before(async () => {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  await admin.end();
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  db = createKysely(createPgPool({ connectionString: url.toString(), max: 2 }));
  dir = await mkdtemp(path.join(os.tmpdir(), 'almoner-migrations-'));
  for (const file of await readdir(MIGRATIONS_DIR)) {
    if (file.endsWith('.sql') && file < '0017') await copyFile(path.join(MIGRATIONS_DIR, file), path.join(dir, file));
  }
});

after(async () => {
  await db?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.end();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

test('0017 drops only the attempt rows that repeat a SUCCEEDED delivery; logs and health read the same', async () => {
  await migrate(db, dir);
  await sql`INSERT INTO partners (id, name, slug, rate_limit) VALUES ('ptn_m', 'M', 'm', 100)`.execute(db);
  await sql`INSERT INTO webhook_endpoints (id, partner_id, environment, url, secret_sealed)
            VALUES ('whk_m', 'ptn_m', 'sandbox', 'https://example.com/hooks', 'sealed')`.execute(db);
  // [delivery, status, attempts as [second, succeeded, status code]]
  const deliveries: [string, string, [number, boolean, number | null][]][] = [
    ['whd_first_time', 'SUCCEEDED', [[1, true, 200]]],
    ['whd_after_failures', 'SUCCEEDED', [[2, false, 500], [3, false, null], [4, true, 204]]],
    ['whd_failed', 'FAILED', [[5, false, 410]]],
    ['whd_waiting', 'PENDING', [[6, false, 503]]],
    // Succeeded, then queued again by hand: its success is history, not its row's.
    ['whd_retried', 'PENDING', [[7, true, 200]]],
    ['whd_never_sent', 'PENDING', []],
  ];
  for (const [id, status, attempts] of deliveries) {
    const last = attempts[attempts.length - 1];
    await sql`
      INSERT INTO webhook_deliveries (id, endpoint_id, partner_id, environment, event_id, event_type, event_created_at, payload,
                                      status, attempts, max_attempts, next_attempt_at, last_attempt_at, last_status_code,
                                      last_latency_ms, delivered_at, created_at, updated_at)
      VALUES (${id}, 'whk_m', 'ptn_m', 'sandbox', ${`evt_${id}`}, 'action.completed', ${at(0)}, '{}', ${status}, ${attempts.length}, 8,
              ${status === 'PENDING' ? at(60) : null}, ${last ? at(last[0]) : null}, ${last?.[2] ?? null}, ${last ? 10 * last[0] : null},
              ${status === 'SUCCEEDED' ? at(last![0]) : null}, ${at(0)}, ${at(0)})`.execute(db);
    for (const [second, succeeded, code] of attempts) {
      await sql`
        INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, succeeded, status_code, latency_ms, error)
        VALUES (${id}, 'whk_m', ${at(second)}, ${succeeded}, ${code}, ${10 * second}, ${succeeded ? null : 'failed'})`.execute(db);
    }
  }
  const logs = async () => {
    const rows = await db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();
    return Object.fromEntries(
      await Promise.all(rows.map(async (r) => [r.id, (await deliveriesRepo.attemptLog(db, r)).map((a) => [a.attempted_at.getTime(), a.succeeded, a.status_code, a.latency_ms])])),
    );
  };
  const expected = Object.fromEntries(deliveries.map(([id, , attempts]) => [id, attempts.map(([s, ok, code]) => [at(s).getTime(), ok, code, 10 * s])]));
  const rowsBefore = await db.selectFrom('webhook_attempts').select('id').execute();

  const applied = await migrate(db);
  assert.equal(applied[0], '0017_webhook_success_on_delivery');
  const kept = await db.selectFrom('webhook_attempts').select(['delivery_id', 'attempted_at']).orderBy('id').execute();
  assert.equal(kept.length, rowsBefore.length - 2, 'the two final successes of SUCCEEDED deliveries');
  assert.deepEqual(
    kept.filter((a) => a.delivery_id === 'whd_first_time' || (a.delivery_id === 'whd_after_failures' && a.attempted_at.getTime() === at(4).getTime())),
    [],
  );
  assert.deepEqual(await logs(), expected);

  const [health] = await deliveriesRepo.health(db, ['whk_m'], at(0), at(60));
  assert.deepEqual([Number(health!.attempts), Number(health!.succeeded), Number(health!.pending)], [7, 3, 3]);
  assert.deepEqual(health!.last_success_at, at(4), 'the latest success on a SUCCEEDED row');
  assert.deepEqual([health!.p50, health!.p99], [40, 70]);
});
