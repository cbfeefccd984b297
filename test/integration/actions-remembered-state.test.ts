import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { randomBytes } from 'node:crypto';
import { accountIds } from '../../src/modules/ledger/index.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, ledgerBalance, operatorCall, outboxEvents, partnerCall, purchase } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type TestContext } from '../harness/context.js';

/**
 * A batch of submissions is usually decided against what the previous batch of the same partner left
 * in this process (pool balances, running campaigns, row versions) and written in one statement that
 * checks those rows are unchanged. These tests change the rows between two submissions in every way
 * the process does not see coming (another API process, an operator, a direct SQL change) and expect
 * the second submission to be decided on the new rows, exactly as if nothing had been remembered.
 */
let ctx: TestContext;
let twin: TestContext;
before(async () => {
  ctx = await createTestContext();
  twin = await createTestContext({ databaseUrl: ctx.databaseUrl, masterKey: ctx.config.masterKey! });
});
after(async () => {
  await twin.close();
  await closeWithLedgerCheck(() => ctx, 'actions-remembered-state.test.ts')();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

async function submit(c: TestContext, p: PartnerFixture, key: string, amount: string, extra: Record<string, unknown> = {}) {
  const res = await partnerCall(c, p.sk, 'POST', '/v1/partner/actions/submit', purchase(key, amount, ['user_42'], extra));
  return { status: res.statusCode, body: res.json() as Json };
}

const poolBalance = (poolId: string) => ledgerBalance(ctx.services.db, accountIds.pool(poolId));

/**
 * Two submissions of 1 token here: the first creates the user (which takes the locked way and leaves
 * nothing remembered), the second is decided on a fresh read and leaves its state remembered.
 */
async function remember(c: TestContext, p: PartnerFixture, prefix: string) {
  for (const n of [1, 2]) assert.equal((await submit(c, p, `${prefix}_warm_${n}`, '1')).status, 200);
}

test('a pool funded by an operator between two submissions funds the second one', async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 100n });
  assert.equal((await submit(ctx, p, 'fund_1', '60')).status, 200);
  assert.equal((await submit(ctx, p, 'fund_2', '60')).status, 402, 'only 40 tokens are left');
  const funded = await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${pool.id}/fund`, '{"amount":100}');
  assert.equal(funded.statusCode, 200, funded.body);
  const second = await submit(ctx, p, 'fund_3', '60');
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(await poolBalance(pool.id), 8_000n);
});

test('a pool drawn on by another API process: the next submission here sees what is left', async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 102n });
  await remember(ctx, p, 'twin');
  assert.equal((await submit(ctx, p, 'twin_1', '60')).status, 200);
  assert.equal((await submit(twin, p, 'twin_2', '30')).status, 200);
  const refused = await submit(ctx, p, 'twin_3', '20');
  assert.equal(refused.status, 402, JSON.stringify(refused.body));
  assert.equal(refused.body.code, 'INSUFFICIENT_POOL');
  assert.equal((await submit(ctx, p, 'twin_4', '10')).status, 200);
  assert.equal(await poolBalance(pool.id), 0n);
});

test('a key first used through another API process answers 409 here, with that result', async () => {
  const p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId, { tokens: 100n });
  await remember(ctx, p, 'key');
  assert.equal((await submit(ctx, p, 'key_1', '10')).status, 200);
  const original = await submit(twin, p, 'key_2', '10');
  assert.equal(original.status, 200);
  const retry = await submit(ctx, p, 'key_2', '10');
  assert.equal(retry.status, 409, JSON.stringify(retry.body));
  assert.equal(retry.body.code, 'IDEMPOTENT');
  assert.equal(retry.body.actionId, original.body.actionId);
});

test('campaigns created, changed, paused and resumed behind the process apply from the next submission', async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 10_000n });
  const db = ctx.services.db;
  const now = ctx.clock.now();
  assert.equal((await submit(ctx, p, 'camp_1', '10')).body.tokensDistributed, 10, 'no campaign: 1 token per dollar');

  const id = randomBytes(12).toString('hex');
  await sql`INSERT INTO campaigns (id, partner_id, environment, name, status, action_types, multiplier_bp, splits, token_pool_id, priority, created_at, updated_at)
            VALUES (${id}, ${p.partnerId}, 'sandbox', 'double', 'ACTIVE', '["PURCHASE"]', 20000, '[]', ${pool.id}, 0, ${now}, ${now})`.execute(db);
  assert.equal((await submit(ctx, p, 'camp_2', '10')).body.tokensDistributed, 20, 'a new running campaign is picked');

  await sql`UPDATE campaigns SET multiplier_bp = 30000 WHERE id = ${id}`.execute(db);
  assert.equal((await submit(ctx, p, 'camp_3', '10')).body.tokensDistributed, 30, 'its new multiplier applies');

  await sql`UPDATE campaigns SET budget_total = budget_spent + 1000 WHERE id = ${id}`.execute(db);
  const overBudget = await submit(ctx, p, 'camp_4', '10');
  assert.equal(overBudget.status, 402, JSON.stringify(overBudget.body));
  assert.equal(overBudget.body.code, 'CAMPAIGN_BUDGET_EXHAUSTED');

  await sql`UPDATE campaigns SET status = 'PAUSED', budget_total = NULL WHERE id = ${id}`.execute(db);
  assert.equal((await submit(ctx, p, 'camp_5', '10')).body.tokensDistributed, 10, 'a paused campaign is not picked');
  const named = await submit(ctx, p, 'camp_6', '10', { campaignId: id });
  assert.equal(named.status, 409, JSON.stringify(named.body));

  await sql`UPDATE campaigns SET status = 'ACTIVE' WHERE id = ${id}`.execute(db);
  assert.equal((await submit(ctx, p, 'camp_7', '10', { campaignId: id })).body.tokensDistributed, 30, 'resumed');
  const spent = await sql<{ budget_spent: bigint }>`SELECT budget_spent FROM campaigns WHERE id = ${id}`.execute(db);
  assert.equal(BigInt(spent.rows[0]!.budget_spent), 8_000n, 'the campaign counts every token it gave');
});

test('a new default pool, once the old one expires, is drawn on from the next submission', async () => {
  const p = await createPartner(ctx.services);
  const old = await createPool(ctx.services, p.partnerId, { tokens: 100n });
  assert.equal((await submit(ctx, p, 'dflt_1', '10')).status, 200);
  await sql`UPDATE token_pools SET status = 'CLOSED' WHERE id = ${old.id}`.execute(ctx.services.db);
  assert.equal((await submit(ctx, p, 'dflt_2', '10')).status, 402, 'a closed pool funds nothing');
  const fresh = await createPool(ctx.services, p.partnerId, { tokens: 100n });
  assert.equal((await submit(ctx, p, 'dflt_3', '10')).status, 200);
  assert.equal(await poolBalance(fresh.id), 9_000n);
  assert.equal(await poolBalance(old.id), 9_000n);
});

test('another process drawing a pool below its alert threshold: the next submission here raises the alert once', async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 102n, lowBalanceThresholdUnits: 5_000n });
  await remember(ctx, p, 'alert');
  assert.equal((await submit(ctx, p, 'alert_1', '10')).status, 200);
  assert.equal((await submit(twin, p, 'alert_2', '35')).status, 200, '55 left: still above 50');
  // Here the pool is remembered at 90; this draw really takes it from 55 to 45.
  assert.equal((await submit(ctx, p, 'alert_3', '10')).status, 200);
  assert.equal(await poolBalance(pool.id), 4_500n);
  const alerts = (await outboxEvents(ctx.services.db, p.partnerId, 'token_pool.low_balance')).filter((e) => e.data.tokenPoolId === pool.id);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.data.balance, 45);
  assert.equal((await submit(ctx, p, 'alert_4', '10')).status, 200);
  assert.equal((await outboxEvents(ctx.services.db, p.partnerId, 'token_pool.low_balance')).filter((e) => e.data.tokenPoolId === pool.id).length, 1, 'once per crossing');
});

test("a campaign budget spent by another process: this process refuses what would exceed it, and grants what still fits", async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 10_000n });
  const now = ctx.clock.now();
  const id = randomBytes(12).toString('hex');
  await sql`INSERT INTO campaigns (id, partner_id, environment, name, status, action_types, multiplier_bp, splits, token_pool_id, priority, budget_total, created_at, updated_at)
            VALUES (${id}, ${p.partnerId}, 'sandbox', 'budget', 'ACTIVE', '["PURCHASE"]', 10000, '[]', ${pool.id}, 0, 3200, ${now}, ${now})`.execute(ctx.services.db);
  await remember(ctx, p, 'budget');
  assert.equal((await submit(ctx, p, 'budget_1', '10')).status, 200);
  assert.equal((await submit(twin, p, 'budget_2', '15')).status, 200);
  const over = await submit(ctx, p, 'budget_3', '10');
  assert.equal(over.status, 402, JSON.stringify(over.body));
  assert.equal(over.body.code, 'CAMPAIGN_BUDGET_EXHAUSTED');
  assert.equal((await submit(ctx, p, 'budget_4', '5')).status, 200);
  const spent = await sql<{ budget_spent: bigint }>`SELECT budget_spent FROM campaigns WHERE id = ${id}`.execute(ctx.services.db);
  assert.equal(BigInt(spent.rows[0]!.budget_spent), 3_200n);
  assert.equal(await poolBalance(pool.id), 1_000_000n - 3_200n);
});
