import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestContext, signed, type TestContext } from '../harness/context.js';
import { createPartner } from '../factories/partners.js';

let ctx: TestContext;
before(async () => {
  ctx = await createTestContext();
});
after(async () => {
  await ctx.close();
});

test('a signed GET /v1/partner/users lists users', async () => {
  const p = await createPartner(ctx.services);
  const res = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users?page=1&limit=20'));
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { data: [], page: 1, limit: 20, total: 0 });
  assert.ok(res.headers['x-ratelimit-limit']);
});
