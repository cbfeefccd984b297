import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createPool, purchase } from '../factories/rewards.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

test('contract scenario 2: a PURCHASE of 49.99 for user_42 distributes 50 tokens, once', async () => {
  const p = await createPartner(ctx.services);
  await createPool(ctx.services, p.partnerId);
  const body = purchase('order_98765', '49.99');
  const res = await ctx.app.inject(signed(ctx.clock, p.sk, 'POST', '/v1/partner/actions/submit', undefined, { rawBody: body }));
  assert.equal(res.statusCode, 200, res.body);
  const r = res.json();
  assert.equal(r.status, 'COMPLETED');
  assert.equal(r.tokensDistributed, 50);
  assert.equal(r.transactionIds.length, 1);
  const again = await ctx.app.inject(signed(ctx.clock, p.sk, 'POST', '/v1/partner/actions/submit', undefined, { rawBody: body }));
  assert.equal(again.statusCode, 409, again.body);
  assert.equal(again.json().code, 'IDEMPOTENT');
  assert.equal(again.json().actionId, r.actionId);
  const bal = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users/user_42/balance'));
  assert.equal(bal.statusCode, 200, bal.body);
  assert.equal(bal.json().balance, 50);
  const rev = await ctx.app.inject(signed(ctx.clock, p.sk, 'POST', `/v1/partner/actions/${r.actionId}/reverse`, { amount: 20, reason: 'refund' }));
  assert.equal(rev.statusCode, 200, rev.body);
  assert.equal(rev.json().status, 'PARTIALLY_REVERSED');
  assert.equal(rev.json().reversal.reversedTokens, 20);
  const bal2 = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users/user_42/balance'));
  assert.equal(bal2.json().balance, 30);
  const report = await checkLedger(ctx.services.db);
  assert.ok(report.ok, JSON.stringify(report));
});
