import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRateLimiter } from '../../src/boot.js';
import { loadConfig } from '../../src/config.js';
import { createPartner } from '../factories/partners.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';
import { startRedis } from '../harness/redis.js';

/**
 * Two API instances on one database and one Redis enforce ONE limit per partner, and an API whose
 * Redis is gone keeps answering (falling back to its own counter).
 */
let redis: Awaited<ReturnType<typeof startRedis>>;
let a: TestContext;
let b: TestContext;

before(async () => {
  redis = await startRedis();
  const cfg = loadConfig({ REDIS_URL: redis.url, ALMONER_DATA_DIR: '/tmp' });
  a = await createTestContext({ rateLimiter: createRateLimiter(cfg) });
  // The second instance shares the first one's database: same partner, same keys.
  b = await createTestContext({ rateLimiter: createRateLimiter(cfg), databaseUrl: a.databaseUrl, masterKey: a.config.masterKey! });
});

after(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

test('two processes share one rate limit through Redis', async () => {
  const p = await createPartner(a.services);
  await a.services.partners.updatePartner(p.partnerId, { rateLimit: 10 });
  b.clock.set(a.clock.now());
  const codes: number[] = [];
  for (let i = 0; i < 12; i++) {
    const ctx = i % 2 === 0 ? a : b;
    const res = await ctx.app.inject(signed(ctx.clock, p.sk, 'GET', '/v1/partner/users'));
    codes.push(res.statusCode);
    if (i === 11) {
      assert.equal(res.headers['x-ratelimit-limit'], '10');
      assert.equal(res.headers['x-ratelimit-remaining'], '0');
      assert.ok(Number(res.headers['retry-after']) >= 1);
    }
  }
  assert.deepEqual(codes, [...Array(10).fill(200), 429, 429]);
});

test('with Redis down the API still answers', async () => {
  const p = await createPartner(a.services);
  await redis.stop();
  const res = await a.app.inject(signed(a.clock, p.sk, 'GET', '/v1/partner/users'));
  assert.equal(res.statusCode, 200);
  assert.ok(res.headers['x-ratelimit-limit']);
});
