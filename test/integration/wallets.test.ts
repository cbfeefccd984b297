import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountIds, TOKEN_ASSET } from '../../src/modules/ledger/index.js';
import { createPartner, prodKey } from '../factories/partners.js';
import { advanceSandbox, createPool, DAY_SECONDS, ledgerBalance, operatorCall, outboxEvents, partnerCall, purchase, rowCounts } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type SigningKey, type TestContext } from '../harness/context.js';

/** Balances, vesting, grant expiry and redemption (issue 3, items 2, 7 and 9; contract A8.4). */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(closeWithLedgerCheck(() => ctx, 'wallets.test.ts'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

const call = (creds: SigningKey, method: string, url: string, body?: unknown) => partnerCall(ctx, creds, method, url, body);

async function ok(res: { statusCode: number; body: string; json(): unknown }, status = 200): Promise<Json> {
  assert.equal(res.statusCode, status, res.body);
  return res.json() as Json;
}
function refused(res: { statusCode: number; body: string; json(): unknown }, status: number, code: string): Json {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json() as Json;
  assert.equal(body.code, code, res.body);
  return body;
}

const reward = async (creds: SigningKey, key: string, amount: string, user = 'user_42') =>
  ok(await call(creds, 'POST', '/v1/partner/actions/submit', purchase(key, amount, [user])));
const balance = async (creds: SigningKey, user = 'user_42') => ok(await call(creds, 'GET', `/v1/partner/users/${user}/balance`));
const userTxs = async (creds: SigningKey, user = 'user_42') => (await ok(await call(creds, 'GET', `/v1/partner/users/${user}/transactions?limit=100`))).data as Json[];
const redeem = (creds: SigningKey, body: unknown, user = 'user_42') => call(creds, 'POST', `/v1/partner/users/${user}/redeem`, body);
async function walletUnits(partnerId: string, externalId: string, environment: 'sandbox' | 'production' = 'sandbox') {
  const u = await ctx.services.db
    .selectFrom('partner_users')
    .select('id')
    .where('partner_id', '=', partnerId)
    .where('environment', '=', environment)
    .where('external_user_id', '=', externalId)
    .executeTakeFirstOrThrow();
  return ledgerBalance(ctx.services.db, accountIds.wallet(u.id));
}

describe('vesting', () => {
  test('rewards are pending until the sandbox clock passes the vesting period', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    await createPool(ctx.services, p.partnerId, { vestingDays: 7 });
    await createPool(ctx.services, p.partnerId, { vestingDays: 7, environment: 'production' });
    const r = await reward(p.sk, 'vest_1', '50');
    await reward(prodKey(p), 'vest_prod', '50');

    assert.deepEqual(await balance(p.sk), { externalUserId: 'user_42', balance: 0, pendingBalance: 50, lifetimeEarned: 50, expiringSoon: 0, currency: 'SIR' });
    const [credit] = await userTxs(p.sk);
    assert.equal(credit!.id, r.transactionIds[0]);
    assert.equal(credit!.status, 'PENDING');
    assert.ok(credit!.availableAt);
    const vestsAt = Date.parse(credit!.availableAt);
    assert.equal(vestsAt - Date.parse(credit!.createdAt), 7 * DAY_SECONDS * 1000);
    // Pending tokens cannot be spent.
    refused(await redeem(p.sk, { amount: 10, idempotencyKey: 'early' }), 409, 'INSUFFICIENT_USER_BALANCE');

    // One second short of seven days: still pending.
    await advanceSandbox(ctx, p.partnerId, 7 * DAY_SECONDS - 1);
    assert.equal((await balance(p.sk)).pendingBalance, 50);
    assert.equal((await balance(p.sk)).balance, 0);

    const sandboxNow = await advanceSandbox(ctx, p.partnerId, 1);
    assert.equal(Date.parse(sandboxNow), vestsAt);
    const vested = await balance(p.sk);
    assert.deepEqual([vested.balance, vested.pendingBalance, vested.lifetimeEarned], [50, 0, 50]);
    assert.equal((await userTxs(p.sk))[0]!.status, 'COMPLETED');
    assert.equal((await ok(await redeem(p.sk, { amount: 10, idempotencyKey: 'after_vesting' }))).balance, 40);

    // Production runs on real time: the sandbox clock moved, production did not.
    const prod = await balance(prodKey(p));
    assert.deepEqual([prod.balance, prod.pendingBalance], [0, 50]);
    refused(await redeem(prodKey(p), { amount: 1, idempotencyKey: 'prod_early' }), 409, 'INSUFFICIENT_USER_BALANCE');
  });

  test('a reversal takes back tokens that are still vesting', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId, { vestingDays: 30, tokens: 100n });
    const r = await reward(p.sk, 'vest_rev', '50');
    const rev = await ok(await call(p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, { amount: 20 }));
    assert.equal(rev.reversal.reversedTokens, 20);
    assert.equal(rev.reversal.shortfallTokens, 0);
    const b = await balance(p.sk);
    assert.deepEqual([b.balance, b.pendingBalance, b.lifetimeEarned], [0, 30, 30]);
    await advanceSandbox(ctx, p.partnerId, 30 * DAY_SECONDS);
    assert.deepEqual([(await balance(p.sk)).balance, (await balance(p.sk)).pendingBalance], [30, 0]);
  });

  test('the sandbox clock route: operator only, unknown partner -> 404, bad seconds -> 400', async () => {
    const p = await createPartner(ctx.services);
    const url = `/v1/admin/partners/${p.partnerId}/sandbox-clock/advance`;
    const noToken = await ctx.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"seconds":60}' });
    assert.equal(noToken.statusCode, 401, noToken.body);
    const signedByPartner = await call(p.sk, 'POST', url, { seconds: 60 });
    assert.equal(signedByPartner.statusCode, 401, signedByPartner.body);
    refused(await operatorCall(ctx, 'POST', '/v1/admin/partners/65f1a2b3c4d5e6f7a8b9c0d1/sandbox-clock/advance', { seconds: 60 }), 404, 'NOT_FOUND');
    for (const seconds of [0, -5, 1.5, '60']) {
      refused(await operatorCall(ctx, 'POST', url, { seconds }), 400, 'VALIDATION_ERROR');
    }
    const before = Date.now();
    const moved = await advanceSandbox(ctx, p.partnerId, 3600);
    assert.ok(Date.parse(moved) - ctx.clock.now().getTime() === 3_600_000, `${moved} is not one hour ahead of ${ctx.clock.now().toISOString()}`);
    assert.ok(Date.now() - before < 60_000);
  });
});

describe('grant expiry', () => {
  test('after the expiry period the balance drops, an EXPIRY transaction appears and the ledger moves to EXPIRED', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId, { grantExpiryDays: 60 });
    const r = await reward(p.sk, 'exp_1', '50');
    const [credit] = await userTxs(p.sk);
    assert.equal(Date.parse(credit!.expiresAt) - Date.parse(credit!.createdAt), 60 * DAY_SECONDS * 1000);

    // Expiring within 30 days only once the grant is inside that window.
    assert.deepEqual([(await balance(p.sk)).balance, (await balance(p.sk)).expiringSoon], [50, 0]);
    await advanceSandbox(ctx, p.partnerId, 31 * DAY_SECONDS);
    const soon = await balance(p.sk);
    assert.deepEqual([soon.balance, soon.expiringSoon, soon.pendingBalance], [50, 50, 0]);
    await ok(await redeem(p.sk, { amount: 5, idempotencyKey: 'before_expiry' }));
    assert.equal((await balance(p.sk)).expiringSoon, 45);

    const counts = await rowCounts(ctx.services.db, p.partnerId);
    await advanceSandbox(ctx, p.partnerId, 29 * DAY_SECONDS);
    const after = await balance(p.sk);
    assert.deepEqual([after.balance, after.pendingBalance, after.expiringSoon, after.lifetimeEarned], [0, 0, 0, 50]);

    const txs = await userTxs(p.sk);
    const expiry = txs.filter((t) => t.type === 'EXPIRY');
    assert.equal(expiry.length, 1, JSON.stringify(txs));
    assert.equal(expiry[0]!.amount, 45);
    assert.equal(expiry[0]!.externalUserId, 'user_42');
    assert.equal(expiry[0]!.actionId, null);
    const one = await ok(await call(p.sk, 'GET', `/v1/partner/transactions/${expiry[0]!.id}`));
    assert.equal(one.type, 'EXPIRY');

    assert.equal(await ledgerBalance(ctx.services.db, accountIds.expired(p.partnerId, 'sandbox', TOKEN_ASSET)), 4500n);
    assert.equal(await walletUnits(p.partnerId, 'user_42'), 0n);
    const now = await rowCounts(ctx.services.db, p.partnerId);
    assert.equal(now.ledgerTransactions - counts.ledgerTransactions, 1, 'one EXPIRY ledger transaction');
    const events = (await outboxEvents(ctx.services.db, p.partnerId, 'transaction.completed')).filter((e) => e.data.type === 'EXPIRY');
    assert.deepEqual(events.map((e) => [e.data.transactionId, e.data.amount]), [[expiry[0]!.id, 45]]);

    // Moving the clock again expires nothing twice.
    await advanceSandbox(ctx, p.partnerId, DAY_SECONDS);
    assert.equal((await userTxs(p.sk)).filter((t) => t.type === 'EXPIRY').length, 1);
    refused(await redeem(p.sk, { amount: 1, idempotencyKey: 'after_expiry' }), 409, 'INSUFFICIENT_USER_BALANCE');
    // A reversal of the expired reward finds nothing left to take.
    const rev = await call(p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, {});
    assert.equal(rev.statusCode, 409, rev.body);
    assert.equal((rev.json() as Json).code, 'INSUFFICIENT_USER_BALANCE');
  });

  test('an expired grant is never spent, even before the sweep has run', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId, { grantExpiryDays: 1 });
    await reward(p.sk, 'exp_nosweep', '30');
    // The base clock moves (no operator route, so no sweep): the grant is past its expiry in the database.
    ctx.clock.advance(DAY_SECONDS * 1000);
    const b = await balance(p.sk);
    assert.deepEqual([b.balance, b.pendingBalance], [0, 0]);
    refused(await redeem(p.sk, { amount: 1, idempotencyKey: 'nosweep' }), 409, 'INSUFFICIENT_USER_BALANCE');
    // The background sweep then expires it.
    assert.equal(await ctx.services.wallets.sweepPartner({ partnerId: p.partnerId, environment: 'sandbox' }), 1);
    assert.equal(await ledgerBalance(ctx.services.db, accountIds.expired(p.partnerId, 'sandbox', TOKEN_ASSET)), 3000n);
    assert.equal(await ctx.services.wallets.sweepPartner({ partnerId: p.partnerId, environment: 'sandbox' }), 0);
  });

  test('spending and expiry take the oldest grant first', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId, { grantExpiryDays: 60 });
    await reward(p.sk, 'old_grant', '50'); // day 0, expires day 60
    await advanceSandbox(ctx, p.partnerId, 10 * DAY_SECONDS);
    await reward(p.sk, 'new_grant', '50'); // day 10, expires day 70
    await advanceSandbox(ctx, p.partnerId, 10 * DAY_SECONDS);
    // 60 = all of the old grant + 10 of the new one.
    assert.equal((await ok(await redeem(p.sk, { amount: 60, idempotencyKey: 'oldest_first' }))).balance, 40);

    // Day 61: the old grant has expired, but it was already spent, so nothing is lost.
    await advanceSandbox(ctx, p.partnerId, 41 * DAY_SECONDS);
    assert.equal((await balance(p.sk)).balance, 40);
    assert.equal((await userTxs(p.sk)).filter((t) => t.type === 'EXPIRY').length, 0);

    // Day 71: the new grant's 40 expire.
    await advanceSandbox(ctx, p.partnerId, 10 * DAY_SECONDS);
    assert.equal((await balance(p.sk)).balance, 0);
    const expiry = (await userTxs(p.sk)).filter((t) => t.type === 'EXPIRY');
    assert.deepEqual(expiry.map((t) => t.amount), [40]);
  });
});

describe('redemption', () => {
  test('spends available tokens into the REDEMPTION account; more than available -> 409, nothing written', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId);
    await reward(p.sk, 'r_1', '30');
    await reward(p.sk, 'r_2', '20.50');
    assert.equal((await balance(p.sk)).balance, 21 + 30);

    const counts = await rowCounts(ctx.services.db, p.partnerId);
    const tooMuch = refused(await redeem(p.sk, { amount: 51.01, idempotencyKey: 'too_much' }), 409, 'INSUFFICIENT_USER_BALANCE');
    assert.match(tooMuch.message, /51/);
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts);

    const res = await ok(await call(p.sk, 'POST', '/v1/partner/users/user_42/redeem', '{"amount":12.34,"idempotencyKey":"spend_1","reason":"gift card"}'));
    assert.equal(res.externalUserId, 'user_42');
    assert.equal(res.amount, 12.34);
    assert.equal(res.balance, 38.66);
    const tx = await ok(await call(p.sk, 'GET', `/v1/partner/transactions/${res.transactionId}`));
    assert.deepEqual([tx.type, tx.amount, tx.actionId, tx.status], ['REDEMPTION', 12.34, null, 'COMPLETED']);
    assert.equal(await ledgerBalance(ctx.services.db, accountIds.redemption(p.partnerId, 'sandbox', TOKEN_ASSET)), 1234n);
    assert.equal(await walletUnits(p.partnerId, 'user_42'), 3866n);
    const b = await balance(p.sk);
    assert.equal(b.lifetimeEarned, 51, 'spending is not un-earning');
    const events = (await outboxEvents(ctx.services.db, p.partnerId, 'transaction.completed')).filter((e) => e.data.type === 'REDEMPTION');
    assert.deepEqual(events.map((e) => e.data.transactionId), [res.transactionId]);

    // Exactly everything is fine; then nothing is left.
    assert.equal((await ok(await redeem(p.sk, { amount: 38.66, idempotencyKey: 'spend_rest' }))).balance, 0);
    refused(await redeem(p.sk, { amount: 0.01, idempotencyKey: 'spend_more' }), 409, 'INSUFFICIENT_USER_BALANCE');
  });

  test('idempotency: same key and amount -> 409 IDEMPOTENT with the original; other amount or user -> 422', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId);
    await reward(p.sk, 'ri_1', '50');
    await reward(p.sk, 'ri_2', '50', 'other_user');
    const first = await ok(await redeem(p.sk, { amount: 5, idempotencyKey: 'rd_1' }));
    const counts = await rowCounts(ctx.services.db, p.partnerId);
    for (const raw of ['{"amount":5,"idempotencyKey":"rd_1"}', '{"amount":5.00,"idempotencyKey":"rd_1"}']) {
      const again = refused(await call(p.sk, 'POST', '/v1/partner/users/user_42/redeem', raw), 409, 'IDEMPOTENT');
      assert.equal(again.transactionId, first.transactionId);
      assert.equal(again.amount, 5);
      assert.equal(again.externalUserId, 'user_42');
    }
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts, 'a replay wrote something');
    assert.equal((await balance(p.sk)).balance, 45, 'spent once');
    refused(await redeem(p.sk, { amount: 6, idempotencyKey: 'rd_1' }), 422, 'IDEMPOTENCY_KEY_REUSED');
    refused(await redeem(p.sk, { amount: 5, idempotencyKey: 'rd_1' }, 'other_user'), 422, 'IDEMPOTENCY_KEY_REUSED');
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts);
    assert.equal((await balance(p.sk, 'other_user')).balance, 50);

    // Concurrent first attempts with one key: one spends, the others get the original.
    const storm = await Promise.all(Array.from({ length: 8 }, () => redeem(p.sk, { amount: 7, idempotencyKey: 'rd_storm' }, 'other_user')));
    const statuses = storm.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [200, ...Array(7).fill(409)], storm.map((r) => r.body).join('\n'));
    assert.equal(new Set(storm.map((r) => (r.json() as Json).transactionId)).size, 1);
    assert.equal((await balance(p.sk, 'other_user')).balance, 43);
  });

  test('bad redemptions -> 400/404, nothing written', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId);
    await reward(p.sk, 'rb_1', '50');
    const counts = await rowCounts(ctx.services.db, p.partnerId);
    for (const raw of [
      '{"amount":0,"idempotencyKey":"b1"}',
      '{"amount":-1,"idempotencyKey":"b2"}',
      '{"amount":1.001,"idempotencyKey":"b3"}',
      '{"amount":1e1,"idempotencyKey":"b4"}',
      '{"amount":"5","idempotencyKey":"b5"}',
      '{"amount":5}',
      '{"amount":5,"idempotencyKey":"b6","extra":true}',
    ]) {
      refused(await call(p.sk, 'POST', '/v1/partner/users/user_42/redeem', raw), 400, 'VALIDATION_ERROR');
    }
    refused(await redeem(p.sk, { amount: 1, idempotencyKey: 'b7' }, 'ghost'), 404, 'NOT_FOUND');
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts);
    // A user of another partner is not found either.
    const other = await createPartner(ctx.services);
    refused(await redeem(other.sk, { amount: 1, idempotencyKey: 'b8' }), 404, 'NOT_FOUND');
    assert.equal((await balance(p.sk)).balance, 50);
  });
});
