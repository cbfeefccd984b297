import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { accountIds, TOKEN_ASSET } from '../../src/modules/ledger/index.js';
import { createPartner, prodKey } from '../factories/partners.js';
import { createPool, ledgerBalance, operatorCall, outboxEvents, partnerCall, purchase, rowCounts } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type SigningKey, type TestContext } from '../harness/context.js';

/** Token pools (contract A8.8; issue 3, item 2): operator creation and approval, alerts, refill, allocation requests. */

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(closeWithLedgerCheck(() => ctx, 'pools.test.ts'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

const call = (creds: SigningKey, method: string, url: string, body?: unknown) => partnerCall(ctx, creds, method, url, body);
const submit = (creds: SigningKey, key: string, amount: string, user = 'user_42') => call(creds, 'POST', '/v1/partner/actions/submit', purchase(key, amount, [user]));

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
const getPool = async (creds: SigningKey, id: string) => ok(await call(creds, 'GET', `/v1/partner/token-pools/${id}`));
const poolEvents = async (partnerId: string, type: string, poolId: string) =>
  (await outboxEvents(ctx.services.db, partnerId, type)).filter((e) => e.data.tokenPoolId === poolId);

describe('operator pool management and the partner view', () => {
  test('an operator creates a pool (exact decimals); the partner lists and reads it, nobody else does', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const other = await createPartner(ctx.services);
    const created = await ok(
      await operatorCall(
        ctx,
        'POST',
        `/v1/admin/partners/${p.partnerId}/token-pools`,
        '{"environment":"sandbox","name":"Launch pool","initialAmount":1000.25,"vestingDays":3,"grantExpiryDays":365,"lowBalanceThreshold":100,"autoRefill":{"enabled":false,"threshold":0,"amount":0}}',
      ),
      201,
    );
    assert.equal(created.environment, 'sandbox');
    assert.equal(created.name, 'Launch pool');
    assert.equal(created.status, 'ACTIVE', 'sandbox pools are usable at once');
    assert.equal(created.balance, 1000.25);
    assert.equal(created.allocated, 1000.25);
    assert.equal(created.distributed, 0);
    assert.deepEqual(created.restrictions, { vestingDays: 3, grantExpiryDays: 365, expiresAt: null, redemptionRules: null });
    assert.deepEqual(created.autoRefill, { enabled: false, threshold: 0, amount: 0 });
    assert.equal(created.lowBalanceThreshold, 100);

    const prodPool = await ok(await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/token-pools`, { environment: 'production', name: 'Prod', initialAmount: 10 }), 201);
    assert.equal(prodPool.status, 'PENDING_APPROVAL');

    assert.deepEqual(await getPool(p.sk, created.id), created);
    const list = await ok(await call(p.sk, 'GET', '/v1/partner/token-pools'));
    assert.deepEqual([list.page, list.limit, list.total], [1, 20, 1]);
    assert.deepEqual(list.data.map((x: Json) => x.id), [created.id]);
    const prodList = await ok(await call(prodKey(p), 'GET', '/v1/partner/token-pools'));
    assert.deepEqual(prodList.data.map((x: Json) => x.id), [prodPool.id]);
    // The publishable key may read too (signed GET, contract A4.5).
    assert.equal((await call(p.pk, 'GET', `/v1/partner/token-pools/${created.id}`)).statusCode, 200);

    refused(await call(other.sk, 'GET', `/v1/partner/token-pools/${created.id}`), 404, 'NOT_FOUND');
    refused(await call(prodKey(p), 'GET', `/v1/partner/token-pools/${created.id}`), 404, 'NOT_FOUND');
    refused(await call(p.sk, 'GET', `/v1/partner/token-pools/${prodPool.id}`), 404, 'NOT_FOUND');
    assert.equal((await ok(await call(other.sk, 'GET', '/v1/partner/token-pools'))).total, 0);
  });

  test('bad pool bodies -> 400; unknown partner or pool -> 404', async () => {
    const p = await createPartner(ctx.services);
    const url = `/v1/admin/partners/${p.partnerId}/token-pools`;
    for (const body of [
      '{"environment":"sandbox","name":"x","initialAmount":1.001}',
      '{"environment":"sandbox","name":"x","initialAmount":1e3}',
      '{"environment":"sandbox","name":"x","initialAmount":-1}',
      '{"environment":"staging","name":"x"}',
      '{"environment":"sandbox","name":""}',
      '{"environment":"sandbox","name":"x","grantExpiryDays":0}',
      '{"environment":"sandbox","name":"x","colour":"red"}',
    ]) {
      refused(await operatorCall(ctx, 'POST', url, body), 400, 'VALIDATION_ERROR');
    }
    assert.equal((await ok(await call(p.sk, 'GET', '/v1/partner/token-pools'))).total, 0);
    refused(await operatorCall(ctx, 'POST', '/v1/admin/partners/65f1a2b3c4d5e6f7a8b9c0d1/token-pools', { environment: 'sandbox', name: 'x', initialAmount: 5 }), 404, 'NOT_FOUND');
    refused(await operatorCall(ctx, 'POST', '/v1/admin/partners/65f1a2b3c4d5e6f7a8b9c0d1/allocation', { environment: 'sandbox', amount: 5 }), 404, 'NOT_FOUND');
    refused(await operatorCall(ctx, 'POST', '/v1/admin/token-pools/65f1a2b3c4d5e6f7a8b9c0d1/fund', { amount: 1 }), 404, 'NOT_FOUND');
    refused(await operatorCall(ctx, 'POST', '/v1/admin/token-pools/65f1a2b3c4d5e6f7a8b9c0d1/approve'), 404, 'NOT_FOUND');
  });

  test('zero or absurd amounts -> 400, never a 500', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 10n });
    const counts = await rowCounts(ctx.services.db, p.partnerId);
    const huge = '100000000000000000000';
    for (const [url, body] of [
      [`/v1/admin/token-pools/${pool.id}/fund`, '{"amount":0}'],
      [`/v1/admin/token-pools/${pool.id}/fund`, `{"amount":${huge}}`],
      [`/v1/admin/partners/${p.partnerId}/allocation`, '{"environment":"sandbox","amount":0}'],
      [`/v1/admin/partners/${p.partnerId}/allocation`, `{"environment":"sandbox","amount":${huge}}`],
      [`/v1/admin/partners/${p.partnerId}/token-pools`, `{"environment":"sandbox","name":"x","initialAmount":${huge}}`],
    ] as const) {
      refused(await operatorCall(ctx, 'POST', url, body), 400, 'VALIDATION_ERROR');
    }
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', `{"amount":${huge}}`), 400, 'VALIDATION_ERROR');
    refused(await call(p.sk, 'POST', '/v1/partner/users/nobody/redeem', `{"amount":${huge},"idempotencyKey":"huge"}`), 400, 'VALIDATION_ERROR');
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts);
    assert.equal((await getPool(p.sk, pool.id)).balance, 10);
  });

  test('an expired pool funds nothing: 402, and a live pool of the environment is used instead', async () => {
    const p = await createPartner(ctx.services);
    const expiresAt = new Date(ctx.clock.now().getTime() + 3_600_000).toISOString();
    const pool = await ok(await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/token-pools`, { environment: 'sandbox', name: 'Short', initialAmount: 100, expiresAt }), 201);
    assert.equal(pool.restrictions.expiresAt, expiresAt);
    assert.equal((await ok(await submit(p.sk, 'exp_pool_1', '10'))).tokensDistributed, 10);
    ctx.clock.advance(3_600_000);
    refused(await submit(p.sk, 'exp_pool_2', '10'), 402, 'INSUFFICIENT_POOL');
    const fresh = await createPool(ctx.services, p.partnerId, { tokens: 50n });
    const r = await ok(await submit(p.sk, 'exp_pool_3', '10'));
    assert.equal((await ok(await call(p.sk, 'GET', `/v1/partner/actions/${r.actionId}`))).tokenPoolId, fresh.id);
    assert.equal((await getPool(p.sk, pool.id)).balance, 90);
  });

  test('fund adds tokens as a ledger transaction from issuance', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 10n });
    const funded = await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${pool.id}/fund`, '{"amount":2.5}'));
    assert.equal(funded.balance, 12.5);
    assert.equal(await ledgerBalance(ctx.services.db, accountIds.pool(pool.id)), 1250n);
    assert.equal(await ledgerBalance(ctx.services.db, accountIds.issuance(p.partnerId, 'sandbox', TOKEN_ASSET)), -1250n);
  });

  test('a production pool waits for approval: 402 until the operator approves it', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const pool = await ok(await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/token-pools`, { environment: 'production', name: 'Live', initialAmount: 100 }), 201);
    assert.equal(pool.status, 'PENDING_APPROVAL');
    const blocked = refused(await submit(prodKey(p), 'prod_1', '10'), 402, 'INSUFFICIENT_POOL');
    assert.equal(blocked.status, 'FAILED');
    assert.equal((await getPool(prodKey(p), pool.id)).balance, 100);

    const approved = await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${pool.id}/approve`));
    assert.equal(approved.status, 'ACTIVE');
    assert.equal((await ok(await submit(prodKey(p), 'prod_2', '10'))).tokensDistributed, 10);
    assert.equal((await getPool(prodKey(p), pool.id)).balance, 90);
    refused(await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${pool.id}/approve`), 409, 'INVALID_STATE');
    // The key that failed stays failed.
    assert.equal(refused(await submit(prodKey(p), 'prod_1', '10'), 409, 'IDEMPOTENT').status, 'FAILED');
    // Sandbox pools need no approval and cannot be approved.
    const sandboxPool = await createPool(ctx.services, p.partnerId);
    refused(await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${sandboxPool.id}/approve`), 409, 'INVALID_STATE');
  });
});

describe('balance alerts', () => {
  test('token_pool.low_balance once per crossing, token_pool.depleted at zero', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 100n, lowBalanceThresholdUnits: 4000n });
    const low = () => poolEvents(p.partnerId, 'token_pool.low_balance', pool.id);
    const depleted = () => poolEvents(p.partnerId, 'token_pool.depleted', pool.id);

    await ok(await submit(p.sk, 'lb_1', '30')); // 70
    assert.equal((await low()).length, 0);
    const crossing = await ok(await submit(p.sk, 'lb_2', '40')); // 30 < 40
    let events = await low();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data, { tokenPoolId: pool.id, balance: 30, threshold: 40, environment: 'sandbox' });
    await ok(await submit(p.sk, 'lb_3', '10')); // 20, still under: no new alert
    assert.equal((await low()).length, 1);

    // Back over the threshold (a reversal returns 40), then under again: a second crossing.
    await ok(await call(p.sk, 'POST', `/v1/partner/actions/${crossing.actionId}/reverse`, {})); // 60
    assert.equal((await low()).length, 1);
    await ok(await submit(p.sk, 'lb_4', '30')); // 30
    events = await low();
    assert.equal(events.length, 2);
    assert.equal(events[1]!.data.balance, 30);

    assert.equal((await depleted()).length, 0);
    await ok(await submit(p.sk, 'lb_5', '30')); // 0
    const gone = await depleted();
    assert.equal(gone.length, 1);
    assert.deepEqual(gone[0]!.data, { tokenPoolId: pool.id, environment: 'sandbox' });
    assert.equal((await low()).length, 2, 'reaching zero from under the threshold is not a new crossing');
    const view = await getPool(p.sk, pool.id);
    assert.deepEqual([view.balance, view.status, view.distributed], [0, 'DEPLETED', 140]);

    refused(await submit(p.sk, 'lb_6', '1'), 402, 'INSUFFICIENT_POOL');
    assert.equal((await depleted()).length, 1, 'a failed action on an empty pool is not a second depletion');

    // Funding brings it back to ACTIVE and re-arms both alerts.
    await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pools/${pool.id}/fund`, { amount: 50 }));
    assert.equal((await getPool(p.sk, pool.id)).status, 'ACTIVE');
    await ok(await submit(p.sk, 'lb_7', '50')); // 0 again
    assert.equal((await low()).length, 3);
    assert.equal((await depleted()).length, 2);
  });

  test('a pool without a threshold never alerts low balance', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 10n });
    await ok(await submit(p.sk, 'nt_1', '9'));
    assert.equal((await poolEvents(p.partnerId, 'token_pool.low_balance', pool.id)).length, 0);
  });
});

describe('auto-refill', () => {
  test("tops the pool up from the partner's allocation, as a ledger transaction, as far as the allocation goes", async () => {
    const p = await createPartner(ctx.services);
    const alloc = await ok(await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/allocation`, { environment: 'sandbox', amount: 150 }));
    assert.deepEqual(alloc, { environment: 'sandbox', allocation: 150 });
    const allocationAccount = accountIds.allocation(p.partnerId, 'sandbox', TOKEN_ASSET);
    assert.equal(await ledgerBalance(ctx.services.db, allocationAccount), 15000n);

    const pool = await ok(
      await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/token-pools`, {
        environment: 'sandbox',
        name: 'Refilling',
        initialAmount: 100,
        autoRefill: { enabled: true, threshold: 50, amount: 100 },
        lowBalanceThreshold: 45,
      }),
      201,
    );
    assert.deepEqual(pool.autoRefill, { enabled: true, threshold: 50, amount: 100 });
    const refills = async () =>
      ctx.services.db.selectFrom('ledger_transactions').selectAll().where('partner_id', '=', p.partnerId).where('kind', '=', 'REFILL').orderBy('created_at').execute();

    await ok(await submit(p.sk, 'ar_1', '60')); // 40 < 50 -> +100
    let view = await getPool(p.sk, pool.id);
    assert.equal(view.balance, 140);
    assert.equal(await ledgerBalance(ctx.services.db, allocationAccount), 5000n);
    const [first] = await refills();
    assert.ok(first, 'a REFILL ledger transaction');
    assert.equal(first.reference, pool.id);
    const postings = await ctx.services.db.selectFrom('ledger_postings').select(['account_id', 'amount']).where('transaction_id', '=', first.id).orderBy('amount').execute();
    assert.deepEqual(postings.map((x) => [x.account_id, BigInt(x.amount)]), [[allocationAccount, -10000n], [accountIds.pool(pool.id), 10000n]]);
    assert.equal((await poolEvents(p.partnerId, 'token_pool.low_balance', pool.id)).length, 0, 'the refill kept it above the alert threshold');

    await ok(await submit(p.sk, 'ar_2', '100')); // 40 -> only 50 left in the allocation
    view = await getPool(p.sk, pool.id);
    assert.equal(view.balance, 90);
    assert.equal(await ledgerBalance(ctx.services.db, allocationAccount), 0n);
    assert.equal((await refills()).length, 2);

    await ok(await submit(p.sk, 'ar_3', '50')); // 40, nothing left to draw on
    view = await getPool(p.sk, pool.id);
    assert.equal(view.balance, 40);
    assert.equal((await refills()).length, 2);
    assert.equal((await poolEvents(p.partnerId, 'token_pool.low_balance', pool.id)).length, 1, 'now it alerts');
    assert.equal(view.allocated, 250);
    assert.equal(view.distributed, 210);
  });

  test('allocation bodies are checked', async () => {
    const p = await createPartner(ctx.services);
    for (const body of ['{"environment":"sandbox","amount":1.234}', '{"environment":"sandbox"}', '{"amount":5}', '{"environment":"sandbox","amount":"5"}']) {
      refused(await operatorCall(ctx, 'POST', `/v1/admin/partners/${p.partnerId}/allocation`, body), 400, 'VALIDATION_ERROR');
    }
  });
});

describe('allocation requests', () => {
  test('a partner asks (202); the operator approves (the pool is funded) or declines (nothing moves)', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 10n });
    const counts = await rowCounts(ctx.services.db, p.partnerId);
    const asked = await ok(await call(p.sk, 'POST', '/v1/partner/token-pools/request', '{"amount":500.5,"tokenPoolId":"' + pool.id + '","reason":"holiday promo"}'), 202);
    assert.match(asked.requestId, /^tpr_/);
    assert.deepEqual(
      { status: asked.status, amount: asked.amount, tokenPoolId: asked.tokenPoolId, environment: asked.environment },
      { status: 'PENDING', amount: 500.5, tokenPoolId: pool.id, environment: 'sandbox' },
    );
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), counts, 'asking moves no tokens');
    assert.equal((await getPool(p.sk, pool.id)).balance, 10);

    const pending = await ok(await operatorCall(ctx, 'GET', '/v1/admin/token-pool-requests?status=PENDING'));
    const listed = (pending as unknown as Json[]).find((r) => r.requestId === asked.requestId);
    assert.ok(listed, 'the operator sees the request');
    assert.deepEqual([listed.partnerId, listed.reason, listed.amount, listed.decidedAt], [p.partnerId, 'holiday promo', 500.5, null]);

    const approved = await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${asked.requestId}/approve`, { note: 'ok' }));
    assert.equal(approved.requestId, asked.requestId);
    assert.equal(approved.status, 'APPROVED');
    assert.ok(approved.decidedAt);
    assert.equal((await getPool(p.sk, pool.id)).balance, 510.5);
    refused(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${asked.requestId}/approve`), 409, 'INVALID_STATE');
    refused(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${asked.requestId}/decline`), 409, 'INVALID_STATE');
    assert.equal((await getPool(p.sk, pool.id)).balance, 510.5, 'approved once');

    const second = await ok(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 1000, tokenPoolId: pool.id }), 202);
    const before = await rowCounts(ctx.services.db, p.partnerId);
    const declined = await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${second.requestId}/decline`, { note: 'not now' }));
    assert.equal(declined.status, 'DECLINED');
    assert.deepEqual(await rowCounts(ctx.services.db, p.partnerId), before, 'declining moves nothing');
    assert.equal((await getPool(p.sk, pool.id)).balance, 510.5);
    refused(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${second.requestId}/approve`), 409, 'INVALID_STATE');
    const declinedList = (await ok(await operatorCall(ctx, 'GET', '/v1/admin/token-pool-requests?status=DECLINED'))) as unknown as Json[];
    assert.ok(declinedList.some((r) => r.requestId === second.requestId));
  });

  test('a request without a pool adds to the allocation that auto-refill draws on', async () => {
    const p = await createPartner(ctx.services);
    await createPool(ctx.services, p.partnerId, { tokens: 1n });
    const asked = await ok(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 75 }), 202);
    assert.equal(asked.tokenPoolId, null);
    await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${asked.requestId}/approve`));
    assert.equal(await ledgerBalance(ctx.services.db, accountIds.allocation(p.partnerId, 'sandbox', TOKEN_ASSET)), 7500n);
  });

  test("bad requests: amount 0, too many decimals, another partner's pool, the publishable key", async () => {
    const p = await createPartner(ctx.services);
    const other = await createPartner(ctx.services);
    const theirs = await createPool(ctx.services, other.partnerId);
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 0 }), 400, 'VALIDATION_ERROR');
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', '{"amount":1.001}'), 400, 'VALIDATION_ERROR');
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 5, extra: 1 }), 400, 'VALIDATION_ERROR');
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 5, tokenPoolId: theirs.id }), 404, 'NOT_FOUND');
    const ownProduction = await createPool(ctx.services, p.partnerId, { environment: 'production' });
    refused(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 5, tokenPoolId: ownProduction.id }), 404, 'NOT_FOUND');
    refused(await call(p.pk, 'POST', '/v1/partner/token-pools/request', { amount: 5 }), 403, 'SECRET_KEY_REQUIRED');
    refused(await operatorCall(ctx, 'POST', '/v1/admin/token-pool-requests/tpr_nope/approve'), 404, 'NOT_FOUND');
  });

  test('deciding a request works however many requests exist before it', async () => {
    const p = await createPartner(ctx.services);
    const pool = await createPool(ctx.services, p.partnerId, { tokens: 1n });
    // More requests than the operator list shows (500), all older than the one decided below.
    await ctx.services.db
      .insertInto('token_pool_requests')
      .values(
        Array.from({ length: 501 }, (_, i) => ({
          id: `tpr_bulk_${i}`,
          partner_id: p.partnerId,
          environment: 'sandbox' as const,
          token_pool_id: null,
          amount: 100n,
          reason: null,
          status: 'PENDING' as const,
          created_at: new Date(ctx.clock.now().getTime() - 86_400_000 + i),
        })),
      )
      .execute();
    const asked = await ok(await call(p.sk, 'POST', '/v1/partner/token-pools/request', { amount: 9, tokenPoolId: pool.id }), 202);
    const approved = await ok(await operatorCall(ctx, 'POST', `/v1/admin/token-pool-requests/${asked.requestId}/approve`));
    assert.equal(approved.requestId, asked.requestId);
    assert.equal(approved.status, 'APPROVED');
    assert.equal((await getPool(p.sk, pool.id)).balance, 10);
  });
});

describe('ledger check route', () => {
  test('the operator can run the ledger check', async () => {
    const res = await ok(await operatorCall(ctx, 'GET', '/v1/admin/ledger/check'));
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.ok(res.transactions > 0);
    assert.deepEqual([res.drift, res.unbalanced], [[], []]);
  });
});
