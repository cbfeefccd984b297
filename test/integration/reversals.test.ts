import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountIds } from '../../src/modules/ledger/index.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { actionBody, createPool, ledgerBalance, outboxEvents, partnerCall, purchase, rowCounts } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type SigningKey, type TestContext } from '../harness/context.js';

/** POST /v1/partner/actions/:actionId/reverse: full, partial, idempotent, forced (issue 3, item 6). */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(closeWithLedgerCheck(() => ctx, 'reversals.test.ts'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

const call = (creds: SigningKey, method: string, url: string, body?: unknown) => partnerCall(ctx, creds, method, url, body);
const reverse = (creds: SigningKey, actionId: string, body: unknown = {}) => call(creds, 'POST', `/v1/partner/actions/${actionId}/reverse`, body);

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

interface World {
  p: PartnerFixture;
  poolId: string;
}

async function world(tokens = 1000n): Promise<World> {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens });
  return { p, poolId: pool.id };
}

async function reward(w: World, key: string, amount: string, users: string[] = ['user_42']): Promise<Json> {
  return ok(await call(w.p.sk, 'POST', '/v1/partner/actions/submit', purchase(key, amount, users)));
}
const balance = async (w: World, user: string) => (await ok(await call(w.p.sk, 'GET', `/v1/partner/users/${user}/balance`))) as Json;
const poolBalance = async (w: World) => (await ok(await call(w.p.sk, 'GET', `/v1/partner/token-pools/${w.poolId}`))).balance as number;
const action = async (w: World, id: string) => ok(await call(w.p.sk, 'GET', `/v1/partner/actions/${id}`));
async function walletUnits(w: World, externalId: string) {
  const u = await ctx.services.db.selectFrom('partner_users').select('id').where('partner_id', '=', w.p.partnerId).where('external_user_id', '=', externalId).executeTakeFirstOrThrow();
  return ledgerBalance(ctx.services.db, accountIds.wallet(u.id));
}

describe('full and partial reversals', () => {
  test('a full reversal returns every token to the pool and marks the action REVERSED', async () => {
    const w = await world();
    const r = await reward(w, 'full_1', '49.99');
    assert.equal(await poolBalance(w), 950);
    const res = await ok(await reverse(w.p.sk, r.actionId, { reason: 'refund #1' }));
    assert.equal(res.id, r.actionId);
    assert.equal(res.status, 'REVERSED');
    assert.equal(res.tokensDistributed, 50);
    assert.equal(res.tokensReversed, 50);
    assert.ok(res.reversedAt);
    assert.equal(res.reversal.reversedTokens, 50);
    assert.equal(res.reversal.shortfallTokens, 0);
    assert.equal(res.reversal.reason, 'refund #1');
    assert.equal(res.reversal.reversalTransactionIds.length, 1);

    assert.equal(await poolBalance(w), 1000, 'tokens back in the pool');
    const bal = await balance(w, 'user_42');
    assert.equal(bal.balance, 0);
    assert.equal(bal.lifetimeEarned, 0, 'a reversed reward is not earned');
    assert.equal(await walletUnits(w, 'user_42'), 0n);

    const tx = await ok(await call(w.p.sk, 'GET', `/v1/partner/transactions/${res.reversal.reversalTransactionIds[0]}`));
    assert.deepEqual([tx.type, tx.amount, tx.actionId, tx.externalUserId], ['REVERSAL', 50, r.actionId, 'user_42']);
    const credit = await ok(await call(w.p.sk, 'GET', `/v1/partner/transactions/${r.transactionIds[0]}`));
    assert.equal(credit.status, 'REVERSED');

    const events = await outboxEvents(ctx.services.db, w.p.partnerId, 'action.reversed');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data, {
      actionId: r.actionId,
      reversedTokens: 50,
      shortfallTokens: 0,
      reversalTransactionIds: res.reversal.reversalTransactionIds,
      reason: 'refund #1',
    });
    assert.equal((await action(w, r.actionId)).status, 'REVERSED');

    // Nothing is left: a second reversal is refused and changes nothing.
    const counts = await rowCounts(ctx.services.db, w.p.partnerId);
    refused(await reverse(w.p.sk, r.actionId), 409, 'ACTION_NOT_REVERSIBLE');
    refused(await reverse(w.p.sk, r.actionId, { amount: 1 }), 409, 'ACTION_NOT_REVERSIBLE');
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), counts);
  });

  test('a full reversal needs no body at all (every field is optional)', async () => {
    const w = await world();
    const r = await reward(w, 'nobody_1', '50');
    const res = await ok(await call(w.p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`));
    assert.equal(res.status, 'REVERSED');
    assert.equal(res.reversal.reversedTokens, 50);
    assert.equal(res.reversal.reason, null);
    assert.equal(await poolBalance(w), 1000);
  });

  test('partial reversals add up; the last one completes the reversal', async () => {
    const w = await world();
    const r = await reward(w, 'part_1', '50');
    const first = await ok(await reverse(w.p.sk, r.actionId, { amount: 20, reason: 'partial refund' }));
    assert.equal(first.status, 'PARTIALLY_REVERSED');
    assert.equal(first.tokensReversed, 20);
    assert.equal(first.reversal.reversedTokens, 20);
    assert.equal((await balance(w, 'user_42')).balance, 30);
    assert.equal(await poolBalance(w), 970);
    assert.equal((await ok(await call(w.p.sk, 'GET', `/v1/partner/transactions/${r.transactionIds[0]}`))).status, 'COMPLETED');

    // Token amounts carry up to 2 decimals, read exactly from the JSON text.
    const second = await ok(await call(w.p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, '{"amount":0.29}'));
    assert.equal(second.reversal.reversedTokens, 0.29);
    assert.equal(second.tokensReversed, 20.29);
    assert.equal((await balance(w, 'user_42')).balance, 29.71);

    // Without an amount: everything left.
    const rest = await ok(await reverse(w.p.sk, r.actionId));
    assert.equal(rest.status, 'REVERSED');
    assert.equal(rest.reversal.reversedTokens, 29.71);
    assert.equal(rest.tokensReversed, 50);
    assert.equal((await balance(w, 'user_42')).balance, 0);
    assert.equal(await poolBalance(w), 1000);
    refused(await reverse(w.p.sk, r.actionId, { amount: 0.01 }), 409, 'ACTION_NOT_REVERSIBLE');
    assert.equal((await outboxEvents(ctx.services.db, w.p.partnerId, 'action.reversed')).length, 3);
  });

  test('several stakeholders give back in proportion to what they received', async () => {
    const w = await world();
    const r = await ok(
      await call(w.p.sk, 'POST', '/v1/partner/actions/submit', actionBody({
        key: 'multi_1',
        amount: '30',
        stakeholders: [
          { stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'm_a' },
          { stakeholderTypeCode: 'REFERRER', partnerUserId: 'm_b' },
          { stakeholderTypeCode: 'ADVOCATE', partnerUserId: 'm_c' },
        ],
      })),
    );
    assert.equal(r.tokensDistributed, 30);
    const res = await ok(await reverse(w.p.sk, r.actionId, { amount: 10 }));
    assert.equal(res.reversal.reversalTransactionIds.length, 3);
    const left = await Promise.all(['m_a', 'm_b', 'm_c'].map(async (u) => (await balance(w, u)).balance as number));
    assert.deepEqual(left.map((x) => Math.round(x * 100)).sort(), [666, 667, 667], `balances ${left.join(', ')}`);
    assert.equal(Math.round(left.reduce((s, x) => s + x, 0) * 100), 2000);
    assert.equal(await poolBalance(w), 980);
  });
});

describe('refused reversals', () => {
  test('more than was distributed -> 400, nothing changes', async () => {
    const w = await world();
    const r = await reward(w, 'over_1', '50');
    const counts = await rowCounts(ctx.services.db, w.p.partnerId);
    const body = refused(await reverse(w.p.sk, r.actionId, { amount: 50.01 }), 400, 'VALIDATION_ERROR');
    assert.ok((body.details as Json[]).some((d) => d.path === 'body.amount'), JSON.stringify(body));
    refused(await reverse(w.p.sk, r.actionId, { amount: 1000 }), 400, 'VALIDATION_ERROR');
    await ok(await reverse(w.p.sk, r.actionId, { amount: 30 }));
    const after30 = await rowCounts(ctx.services.db, w.p.partnerId);
    // 20 left: 20.01 is too much.
    refused(await reverse(w.p.sk, r.actionId, { amount: 20.01 }), 400, 'VALIDATION_ERROR');
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), after30);
    assert.equal(after30.reversals, counts.reversals + 1);
  });

  test('bad amounts and unknown properties -> 400', async () => {
    const w = await world();
    const r = await reward(w, 'bad_amt', '50');
    const counts = await rowCounts(ctx.services.db, w.p.partnerId);
    for (const raw of ['{"amount":0}', '{"amount":-1}', '{"amount":1.001}', '{"amount":1e1}', '{"amount":"5"}', '{"force":"yes"}', '{"note":"x"}', `{"idempotencyKey":"${'k'.repeat(256)}"}`]) {
      const res = await call(w.p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, raw);
      assert.equal(res.statusCode, 400, `${raw}: ${res.body}`);
      assert.equal((res.json() as Json).code, 'VALIDATION_ERROR', raw);
    }
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), counts);
    assert.equal((await action(w, r.actionId)).status, 'COMPLETED');
  });

  test('a FAILED action -> 409 ACTION_NOT_REVERSIBLE', async () => {
    const w = await world(10n);
    const res = await call(w.p.sk, 'POST', '/v1/partner/actions/submit', purchase('failed_1', '49.99'));
    assert.equal(res.statusCode, 402, res.body);
    const actionId = (res.json() as Json).actionId as string;
    refused(await reverse(w.p.sk, actionId), 409, 'ACTION_NOT_REVERSIBLE');
    refused(await reverse(w.p.sk, actionId, { amount: 1, idempotencyKey: 'rf_1', force: true }), 409, 'ACTION_NOT_REVERSIBLE');
    assert.equal((await action(w, actionId)).status, 'FAILED');
    assert.equal(await poolBalance(w), 10);
  });

  test("an unknown or another partner's action -> 404", async () => {
    const w = await world();
    const theirs = await world();
    const r = await reward(theirs, 'theirs_1', '50');
    refused(await reverse(w.p.sk, r.actionId), 404, 'NOT_FOUND');
    refused(await reverse(w.p.sk, '65f1a2b3c4d5e6f7a8b9c0d1'), 404, 'NOT_FOUND');
    assert.equal((await action(theirs, r.actionId)).status, 'COMPLETED');
    assert.equal((await balance(theirs, 'user_42')).balance, 50);
  });
});

describe('reversal idempotency', () => {
  test('the same key and body -> 409 IDEMPOTENT with the original reversal; another amount -> 422', async () => {
    const w = await world();
    const r = await reward(w, 'idem_1', '50');
    const first = await ok(await reverse(w.p.sk, r.actionId, { amount: 10, reason: 'refund', idempotencyKey: 'refund_1' }));
    const counts = await rowCounts(ctx.services.db, w.p.partnerId);
    const again = refused(await reverse(w.p.sk, r.actionId, { amount: 10, reason: 'refund', idempotencyKey: 'refund_1' }), 409, 'IDEMPOTENT');
    assert.equal(again.id, r.actionId);
    assert.equal(again.reversal.id, first.reversal.id);
    assert.equal(again.reversal.reversedTokens, 10);
    assert.deepEqual(again.reversal.reversalTransactionIds, first.reversal.reversalTransactionIds);
    assert.equal(again.tokensReversed, 10);
    // The same amount written as 10.00 is the same request.
    refused(await call(w.p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, '{"amount":10.00,"reason":"refund","idempotencyKey":"refund_1"}'), 409, 'IDEMPOTENT');
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), counts, 'a replay wrote something');
    assert.equal((await balance(w, 'user_42')).balance, 40, 'reversed once');

    for (const body of [
      { amount: 5, reason: 'refund', idempotencyKey: 'refund_1' },
      { reason: 'refund', idempotencyKey: 'refund_1' },
      { amount: 10, reason: 'other reason', idempotencyKey: 'refund_1' },
      { amount: 10, reason: 'refund', idempotencyKey: 'refund_1', force: true },
    ]) {
      refused(await reverse(w.p.sk, r.actionId, body), 422, 'IDEMPOTENCY_KEY_REUSED');
    }
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), counts);

    // Keys belong to their action: the same key on another action is a new reversal.
    const r2 = await reward(w, 'idem_2', '50');
    const other = await ok(await reverse(w.p.sk, r2.actionId, { amount: 10, reason: 'refund', idempotencyKey: 'refund_1' }));
    assert.notEqual(other.reversal.id, first.reversal.id);
  });

  test('a replay after the action was fully reversed still answers with the original reversal', async () => {
    const w = await world();
    const r = await reward(w, 'idem_3', '50');
    const first = await ok(await reverse(w.p.sk, r.actionId, { idempotencyKey: 'whole' }));
    assert.equal(first.status, 'REVERSED');
    const again = refused(await reverse(w.p.sk, r.actionId, { idempotencyKey: 'whole' }), 409, 'IDEMPOTENT');
    assert.equal(again.reversal.id, first.reversal.id);
    assert.equal(again.status, 'REVERSED');
  });
});

describe('a user who spent part of the reward', () => {
  test('-> 409 INSUFFICIENT_USER_BALANCE; force takes what is there and records the shortfall', async () => {
    const w = await world();
    const r = await reward(w, 'spent_1', '50');
    const redeemed = await ok(await call(w.p.sk, 'POST', '/v1/partner/users/user_42/redeem', { amount: 30, idempotencyKey: 'redeem_1' }));
    assert.equal(redeemed.balance, 20);
    const counts = await rowCounts(ctx.services.db, w.p.partnerId);

    const body = refused(await reverse(w.p.sk, r.actionId, { reason: 'refund' }), 409, 'INSUFFICIENT_USER_BALANCE');
    assert.match(body.message, /user_42/);
    assert.match(body.message, /force/);
    assert.deepEqual(await rowCounts(ctx.services.db, w.p.partnerId), counts, 'a refused reversal wrote something');
    assert.equal((await balance(w, 'user_42')).balance, 20);
    assert.equal((await action(w, r.actionId)).status, 'COMPLETED');
    // 20 is still there, so a partial reversal of 20 needs no force.
    refused(await reverse(w.p.sk, r.actionId, { amount: 20.01 }), 409, 'INSUFFICIENT_USER_BALANCE');

    const forced = await ok(await reverse(w.p.sk, r.actionId, { reason: 'refund', force: true }));
    assert.equal(forced.status, 'REVERSED');
    assert.equal(forced.reversal.reversedTokens, 20);
    assert.equal(forced.reversal.shortfallTokens, 30);
    assert.ok(forced.reversal.shortfallTokens > 0);
    assert.equal(forced.tokensReversed, 50);
    const bal = await balance(w, 'user_42');
    assert.equal(bal.balance, 0, 'no negative balance');
    assert.equal(await walletUnits(w, 'user_42'), 0n, 'the wallet account is at zero, not below');
    assert.equal(await poolBalance(w), 970, 'the pool got back what the user still held');

    const events = await outboxEvents(ctx.services.db, w.p.partnerId, 'action.reversed');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.data.reversedTokens, 20);
    assert.equal(events[0]!.data.shortfallTokens, 30);
    const row = await ctx.services.db.selectFrom('action_reversals').selectAll().where('action_id', '=', r.actionId).executeTakeFirstOrThrow();
    assert.deepEqual([BigInt(row.requested_units), BigInt(row.reversed_units), BigInt(row.shortfall_units), row.forced], [5000n, 2000n, 3000n, true]);
  });

  test('a user holding nothing: force records the whole amount as shortfall and moves nothing', async () => {
    const w = await world();
    const r = await reward(w, 'spent_2', '40');
    await ok(await call(w.p.sk, 'POST', '/v1/partner/users/user_42/redeem', { amount: 40, idempotencyKey: 'redeem_all' }));
    refused(await reverse(w.p.sk, r.actionId, { amount: 10 }), 409, 'INSUFFICIENT_USER_BALANCE');
    const ledgerBefore = (await rowCounts(ctx.services.db, w.p.partnerId)).ledgerTransactions;
    const forced = await ok(await reverse(w.p.sk, r.actionId, { amount: 10, force: true }));
    assert.equal(forced.status, 'PARTIALLY_REVERSED');
    assert.equal(forced.reversal.reversedTokens, 0);
    assert.equal(forced.reversal.shortfallTokens, 10);
    assert.deepEqual(forced.reversal.reversalTransactionIds, []);
    assert.equal((await rowCounts(ctx.services.db, w.p.partnerId)).ledgerTransactions, ledgerBefore, 'no ledger transaction for nothing');
    assert.equal(await poolBalance(w), 960);
  });

  test("the user's other rewards cover a reversal of one they spent", async () => {
    const w = await world();
    const a = await reward(w, 'cover_a', '50');
    ctx.clock.advance(1000);
    await reward(w, 'cover_b', '50');
    // Oldest first: the redemption eats all of A's grant and 10 of B's.
    await ok(await call(w.p.sk, 'POST', '/v1/partner/users/user_42/redeem', { amount: 60, idempotencyKey: 'cover_redeem' }));
    // The user holds 40 in all: reversing A's 50 is short, 40 is fine and comes out of B's grant.
    refused(await reverse(w.p.sk, a.actionId), 409, 'INSUFFICIENT_USER_BALANCE');
    const part = await ok(await reverse(w.p.sk, a.actionId, { amount: 40 }));
    assert.equal(part.reversal.shortfallTokens, 0);
    assert.equal((await balance(w, 'user_42')).balance, 0);
    assert.equal(await poolBalance(w), 940);
  });
});
