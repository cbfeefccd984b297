import assert from 'node:assert/strict';
import { before, after, test } from 'node:test';
import { accountIds, balanceAt } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createPool, purchase } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, signed, type TestContext } from '../harness/context.js';

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext({ now: new Date('2026-03-01T00:00:00Z') });
});
after(closeWithLedgerCheck(() => ctx, 'ledger.test.ts'));

test('point-in-time balance: an account as it stood at any moment, from its postings alone', async () => {
  const p = await createPartner(ctx.services);
  const pool = await createPool(ctx.services, p.partnerId, { tokens: 1000n });
  const account = accountIds.pool(pool.id);
  const t0 = ctx.clock.now();

  ctx.clock.advance(3_600_000);
  const first = await ctx.app.inject(signed(ctx.clock, p.sk, 'POST', '/v1/partner/actions/submit', undefined, { rawBody: purchase('pit-1', '100') }));
  assert.equal(first.statusCode, 200, first.body);
  const t1 = ctx.clock.now();

  ctx.clock.advance(3_600_000);
  const second = await ctx.app.inject(signed(ctx.clock, p.sk, 'POST', '/v1/partner/actions/submit', undefined, { rawBody: purchase('pit-2', '250.5') }));
  assert.equal(second.statusCode, 200, second.body);

  const units = (tokens: bigint) => tokens * 100n;
  assert.equal(await balanceAt(ctx.services.db, account, new Date(t0.getTime() - 1)), 0n, 'before funding');
  assert.equal(await balanceAt(ctx.services.db, account, t0), units(1000n), 'funded');
  assert.equal(await balanceAt(ctx.services.db, account, t1), units(900n), 'after the first reward');
  assert.equal(await balanceAt(ctx.services.db, account, ctx.clock.now()), units(649n), 'after both (250.5 rounds to 251)');
  const wallet = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/token-pools/' + pool.id));
  assert.equal(wallet.json().balance, 649, 'the stored balance agrees with the postings');
});
