import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool, purchase } from '../factories/rewards.js';
import { createTestContext, signed, type TestContext } from '../harness/context.js';

/**
 * Many concurrent requests over real sockets, then invariants read straight from the database.
 * Two API processes on one database are two apps here (each with its own group commit), which is
 * what several `almoner serve` processes behind a load balancer look like to PostgreSQL.
 */
let ctx: TestContext;
let twin: TestContext;
let bases: string[];

before(async () => {
  ctx = await createTestContext();
  // The second process also keeps up to three batches of a partner in flight at once, so the storms
  // split over both run concurrent batches of one pool inside a process as well as across the two.
  twin = await createTestContext({ databaseUrl: ctx.databaseUrl, masterKey: ctx.config.masterKey!, env: { ALMONER_REWARD_BATCHES_IN_FLIGHT: '3' } });
  bases = [];
  for (const c of [ctx, twin]) {
    // A deep backlog: 2,000 connections arrive at once and none should wait for a SYN retry.
    bases.push(await c.app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }));
  }
});
after(async () => {
  await twin.close();
  await ctx.close();
});

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function send(base: string, p: PartnerFixture, method: string, url: string, rawBody?: string): Promise<Reply> {
  const o = signed(ctx.clock, p.sk, method, url, undefined, rawBody === undefined ? {} : { rawBody });
  const res = await fetch(base + url, { method, headers: o.headers as Record<string, string>, ...(rawBody !== undefined ? { body: rawBody } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function newPartner(tokens: bigint) {
  const p = await createPartner(ctx.services);
  // The storms below are far above the default per-window limit; rate limiting is not under test.
  await ctx.services.partners.updatePartner(p.partnerId, { rateLimit: 10_000_000 });
  const pool = await createPool(ctx.services, p.partnerId, { tokens });
  return { p, pool };
}

async function poolBalance(poolId: string): Promise<bigint> {
  const r = await sql<{ balance: bigint }>`SELECT a.balance FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id WHERE p.id = ${poolId}`.execute(ctx.services.db);
  return BigInt(r.rows[0]!.balance);
}

function shuffle<T>(items: T[], seed: number): T[] {
  // Fisher-Yates over a fixed LCG: the send order is mixed across keys, and the same on every run.
  let s = seed >>> 0;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function assertLedgerClean() {
  const report = await checkLedger(ctx.services.db);
  assert.ok(report.ok, JSON.stringify({ drift: report.drift.slice(0, 5), unbalanced: report.unbalanced.slice(0, 5) }));
  const negative = await sql<{ id: string; balance: bigint }>`
    SELECT id, balance FROM ledger_accounts WHERE kind IN ('POOL', 'WALLET') AND balance < 0`.execute(ctx.services.db);
  assert.deepEqual(negative.rows, [], 'no pool or wallet below zero');
  const grants = await sql<{ n: bigint }>`SELECT count(*) AS n FROM token_transactions WHERE remaining < 0 OR remaining > amount`.execute(ctx.services.db);
  assert.equal(Number(grants.rows[0]!.n), 0, 'every grant keeps 0 <= remaining <= amount');
}

const KEYS = 50;
const COPIES = 40;

async function idempotencyStorm(servers: string[], label: string) {
  const { p, pool } = await newPartner(1_000_000n);
  const before = await poolBalance(pool.id);
  // Key k earns k+1 tokens ((k+1).25 USD rounds down), split between two users shared with other keys.
  const bodyOf = (k: number) => purchase(`${label}-order-${k}`, `${k + 1}.25`, [`u${k % 7}`, `v${k % 5}`]);
  const jobs = shuffle(
    // Copy c of every key goes to server c mod n, so each key's copies reach every process.
    Array.from({ length: KEYS * COPIES }, (_, i) => ({ key: i % KEYS, server: servers[Math.floor(i / KEYS) % servers.length]! })),
    KEYS * COPIES + servers.length,
  );
  const started = Date.now();
  const replies = await Promise.all(jobs.map(async (j) => ({ key: j.key, r: await send(j.server, p, 'POST', '/v1/partner/actions/submit', bodyOf(j.key)) })));
  const ms = Date.now() - started;

  const other = replies.filter((x) => x.r.status !== 200 && x.r.status !== 409);
  assert.deepEqual(other.slice(0, 3), [], `only 200 and 409 (${other.length} others)`);
  const originals = new Map<number, Record<string, unknown>>();
  for (const { key, r } of replies) {
    if (r.status !== 200) continue;
    assert.ok(!originals.has(key), `key ${key} was answered 200 twice: ${JSON.stringify([originals.get(key), r.body])}`);
    originals.set(key, r.body);
  }
  assert.equal(originals.size, KEYS, 'every key got exactly one original result');
  for (const { key, r } of replies) {
    const original = originals.get(key)!;
    assert.equal(original.status, 'COMPLETED');
    assert.equal(original.tokensDistributed, key + 1);
    if (r.status === 200) continue;
    assert.equal(r.body.code, 'IDEMPOTENT', JSON.stringify(r.body));
    // The 409 carries the original result's fields, not a second action's.
    for (const field of ['actionId', 'idempotencyKey', 'tokensDistributed', 'transactionIds']) {
      assert.deepEqual(r.body[field], original[field], `key ${key}: ${field} of the 409 is the original's`);
    }
  }

  const db = ctx.services.db;
  const actions = await db.selectFrom('actions').select(['id', 'idempotency_key', 'status', 'tokens_distributed', 'ledger_transaction_id']).where('partner_id', '=', p.partnerId).execute();
  assert.equal(actions.length, KEYS, 'exactly one action per key');
  assert.deepEqual(new Set(actions.map((a) => a.id)), new Set([...originals.values()].map((o) => o.actionId)));
  assert.ok(actions.every((a) => a.status === 'COMPLETED'));
  const rewards = await db.selectFrom('ledger_transactions').select(['id', 'reference']).where('partner_id', '=', p.partnerId).where('kind', '=', 'REWARD').execute();
  assert.equal(rewards.length, KEYS, 'one REWARD ledger transaction per key');
  assert.deepEqual(new Set(rewards.map((t) => t.reference)), new Set(actions.map((a) => a.id)));
  const credits = await db.selectFrom('token_transactions').select(['action_id']).where('partner_id', '=', p.partnerId).where('type', '=', 'CREDIT').execute();
  assert.equal(credits.length, KEYS * 2, 'two credits per action, no more');
  const completedEvents = await db.selectFrom('outbox_events').select('id').where('partner_id', '=', p.partnerId).where('type', '=', 'action.completed').execute();
  assert.equal(completedEvents.length, KEYS, 'one action.completed event per action');

  const expected = BigInt((KEYS * (KEYS + 1)) / 2) * 100n;
  assert.equal(before - (await poolBalance(pool.id)), expected, 'the pool paid each key once');
  const wallets = await sql<{ total: bigint }>`
    SELECT coalesce(sum(a.balance), 0)::bigint AS total FROM ledger_accounts a WHERE a.kind = 'WALLET' AND a.partner_id = ${p.partnerId}`.execute(db);
  assert.equal(BigInt(wallets.rows[0]!.total), expected);
  await assertLedgerClean();
  return { requests: replies.length, ms, ok200: originals.size, idempotent409: replies.length - originals.size };
}

test('50 keys x 40 concurrent identical submissions over one socket server: one action per key', { timeout: 60_000 }, async (t) => {
  const f = await idempotencyStorm([bases[0]!], 'one');
  t.diagnostic(`${f.requests} requests in ${f.ms} ms: ${f.ok200} x 200, ${f.idempotent409} x 409 IDEMPOTENT`);
});

test('the same storm split over two API processes on one database: still one action per key', { timeout: 60_000 }, async (t) => {
  const f = await idempotencyStorm(bases, 'two');
  t.diagnostic(`${f.requests} requests in ${f.ms} ms over 2 processes: ${f.ok200} x 200, ${f.idempotent409} x 409 IDEMPOTENT`);
  // The invariants above held while batches of one pool overlapped inside the second process (its
  // thousand requests arrive at once, so far more than 24 wait behind its first batch), and the first
  // process never ran more than its one.
  t.diagnostic(`batches of one partner in flight at most: ${ctx.services.actions.peakBatchesInFlight} and ${twin.services.actions.peakBatchesInFlight}`);
  assert.ok(twin.services.actions.peakBatchesInFlight >= 2, 'the second process ran batches of the pool side by side');
  assert.ok(twin.services.actions.peakBatchesInFlight <= 3);
  assert.equal(ctx.services.actions.peakBatchesInFlight, 1);
});

async function overdraw(servers: string[], label: string) {
  const POOL_TOKENS = 1000n;
  const { p, pool } = await newPartner(POOL_TOKENS);
  const before = await poolBalance(pool.id);
  assert.equal(before, POOL_TOKENS * 100n);
  const N = 200;
  const tokensOf = (i: number) => ((i * 7919) % 20) + 1; // 1..20 tokens, 2,100 in all: twice the pool
  const requested = Array.from({ length: N }, (_, i) => tokensOf(i)).reduce((s, x) => s + x, 0);
  assert.ok(BigInt(requested) > POOL_TOKENS * 2n - 100n);
  const started = Date.now();
  const replies = await Promise.all(
    Array.from({ length: N }, async (_, i) => ({
      i,
      r: await send(servers[i % servers.length]!, p, 'POST', '/v1/partner/actions/submit', purchase(`${label}-big-${i}`, `${tokensOf(i)}.00`, [`w${i % 9}`])),
    })),
  );
  const ms = Date.now() - started;
  let paid = 0n;
  const failedTokens: number[] = [];
  for (const { i, r } of replies) {
    if (r.status === 200) {
      assert.equal(r.body.tokensDistributed, tokensOf(i));
      paid += BigInt(tokensOf(i)) * 100n;
    } else {
      assert.equal(r.status, 402, JSON.stringify(r.body));
      assert.equal(r.body.code, 'INSUFFICIENT_POOL');
      assert.equal(r.body.status, 'FAILED');
      failedTokens.push(tokensOf(i));
    }
  }
  assert.ok(failedTokens.length > 0, 'the storm did exceed the pool');
  const after = await poolBalance(pool.id);
  assert.ok(after >= 0n, 'the pool never goes below zero');
  assert.equal(before - after, paid, 'what left the pool is exactly what the 200s were told');
  // An action fails only when the pool cannot pay it, and the pool only shrinks, so every failed
  // action still could not be paid at the end: nothing was refused while tokens were there.
  assert.ok(failedTokens.every((t) => BigInt(t) * 100n > after), `final balance ${after} < every refused reward`);

  const db = ctx.services.db;
  const rows = await db.selectFrom('actions').select(['status', 'tokens_distributed', 'failure_code']).where('partner_id', '=', p.partnerId).execute();
  assert.equal(rows.length, N);
  const completed = rows.filter((r) => r.status === 'COMPLETED');
  const failed = rows.filter((r) => r.status === 'FAILED');
  assert.equal(completed.reduce((s, r) => s + BigInt(r.tokens_distributed), 0n), before - after, 'sum of COMPLETED tokens equals the pool decrease');
  assert.equal(failed.length, failedTokens.length);
  assert.ok(failed.every((r) => r.failure_code === 'INSUFFICIENT_POOL' && BigInt(r.tokens_distributed) === 0n));
  const rewards = await db.selectFrom('ledger_transactions').select('id').where('partner_id', '=', p.partnerId).where('kind', '=', 'REWARD').execute();
  assert.equal(rewards.length, completed.length);
  const failedEvents = await db.selectFrom('outbox_events').select('id').where('partner_id', '=', p.partnerId).where('type', '=', 'action.failed').execute();
  assert.equal(failedEvents.length, failed.length);
  await assertLedgerClean();
  return { N, ms, completed: completed.length, failed: failed.length, left: after };
}

test('concurrent submissions that together exceed the pool: never below zero, the rest FAILED with 402', { timeout: 60_000 }, async (t) => {
  for (const [servers, label] of [[[bases[0]!], 'one'], [bases, 'two']] as const) {
    const f = await overdraw([...servers], label);
    t.diagnostic(`${label} process(es): ${f.N} submissions in ${f.ms} ms, ${f.completed} completed, ${f.failed} x 402, ${f.left} units left`);
  }
});

test('concurrent reversals, redemptions and new rewards on the same users never make a balance negative', { timeout: 60_000 }, async (t) => {
  const { p, pool } = await newPartner(100_000n);
  const funded = await poolBalance(pool.id);
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  const base = bases[0]!;
  // 36 rewards of 10..45 tokens, each to two of the six users.
  const seeded: { id: string; tokens: number }[] = [];
  for (let i = 0; i < 36; i++) {
    const tokens = 10 + i;
    const r = await send(base, p, 'POST', '/v1/partner/actions/submit', purchase(`seed-${i}`, `${tokens}`, [users[i % 6]!, users[(i + 1 + (i % 5)) % 6]!]));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    seeded.push({ id: r.body.actionId as string, tokens });
  }

  const jobs: { kind: string; run: () => Promise<Reply> }[] = [];
  seeded.forEach((a, i) => {
    const url = `/v1/partner/actions/${a.id}/reverse`;
    // A mix that collides: full, partial, forced, and a second full reversal of the same action.
    const bodies = [
      i % 3 === 0 ? {} : { amount: Number((a.tokens / 3).toFixed(2)), reason: 'partial refund' },
      i % 4 === 0 ? { force: true } : { amount: 5.5 },
      ...(i % 2 === 0 ? [{}] : []),
    ];
    for (const b of bodies) jobs.push({ kind: 'reverse', run: () => send(base, p, 'POST', url, JSON.stringify(b)) });
  });
  users.forEach((u, ui) => {
    for (let k = 0; k < 10; k++) {
      // 20..80 tokens each, about three times what a user holds: the users run dry while reversals still want their share.
      const amount = ((ui * 13 + k * 17) % 60) + 20.25;
      jobs.push({
        kind: 'redeem',
        run: () => send(base, p, 'POST', `/v1/partner/users/${u}/redeem`, JSON.stringify({ amount, idempotencyKey: `redeem-${u}-${k}` })),
      });
    }
  });
  for (let i = 0; i < 30; i++) {
    jobs.push({ kind: 'submit', run: () => send(base, p, 'POST', '/v1/partner/actions/submit', purchase(`late-${i}`, `${5 + i}`, [users[i % 6]!])) });
  }
  const allowed = new Set(['200', '409 INSUFFICIENT_USER_BALANCE', '409 ACTION_NOT_REVERSIBLE', '400 VALIDATION_ERROR']);
  const tally = new Map<string, number>();
  const replies: { kind: string; r: Reply }[] = [];
  const storm = async (batch: typeof jobs, seed: number) => {
    const got = await Promise.all(shuffle(batch, seed).map(async (j) => ({ kind: j.kind, r: await j.run() })));
    for (const { kind, r } of got) {
      const label = r.status === 200 ? '200' : `${r.status} ${String(r.body.code)}`;
      assert.ok(allowed.has(label) && !(kind !== 'reverse' && label !== '200' && label !== '409 INSUFFICIENT_USER_BALANCE'), `${kind}: ${JSON.stringify(r)}`);
      tally.set(`${kind} ${label}`, (tally.get(`${kind} ${label}`) ?? 0) + 1);
    }
    replies.push(...got);
  };
  const started = Date.now();
  await storm(jobs, 7);
  // Second round: each user spends everything first, then forced full reversals of every action race
  // new rewards and small redemptions for the same users. Forced reversals must take what is there
  // and record the rest as shortfall, never push a wallet below zero.
  for (const u of users) {
    const bal = await send(base, p, 'GET', `/v1/partner/users/${u}/balance`);
    const all = bal.body.balance as number;
    if (all > 0) {
      const r = await send(base, p, 'POST', `/v1/partner/users/${u}/redeem`, JSON.stringify({ amount: all, idempotencyKey: `drain-${u}` }));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      replies.push({ kind: 'redeem', r });
    }
  }
  const second: typeof jobs = seeded.map((a) => ({
    kind: 'reverse',
    run: () => send(base, p, 'POST', `/v1/partner/actions/${a.id}/reverse`, JSON.stringify({ force: true, reason: 'chargeback' })),
  }));
  users.forEach((u, ui) => {
    second.push({ kind: 'submit', run: () => send(base, p, 'POST', '/v1/partner/actions/submit', purchase(`refill-${u}`, `${3 + ui}`, [u])) });
    for (let k = 0; k < 4; k++) {
      second.push({ kind: 'redeem', run: () => send(base, p, 'POST', `/v1/partner/users/${u}/redeem`, JSON.stringify({ amount: 1.5, idempotencyKey: `small-${u}-${k}` })) });
    }
  });
  await storm(second, 11);
  const ms = Date.now() - started;
  assert.ok((tally.get('redeem 200') ?? 0) > 0 && (tally.get('reverse 200') ?? 0) > 0, JSON.stringify([...tally]));

  const db = ctx.services.db;
  // Per user: the wallet account, the grants and the balance route agree, and none is negative.
  for (const u of users) {
    const user = await db.selectFrom('partner_users').select('id').where('partner_id', '=', p.partnerId).where('external_user_id', '=', u).executeTakeFirstOrThrow();
    const acc = await db.selectFrom('ledger_accounts').select('balance').where('id', '=', `wallet:${user.id}`).executeTakeFirstOrThrow();
    const sums = await sql<{ remaining: bigint; credited: bigint; out: bigint }>`
      SELECT coalesce(sum(remaining) FILTER (WHERE type = 'CREDIT'), 0)::bigint AS remaining,
             coalesce(sum(amount) FILTER (WHERE type = 'CREDIT'), 0)::bigint AS credited,
             coalesce(sum(amount) FILTER (WHERE type IN ('REVERSAL', 'REDEMPTION', 'EXPIRY')), 0)::bigint AS out
        FROM token_transactions WHERE user_id = ${user.id}`.execute(db);
    const s = sums.rows[0]!;
    const balance = BigInt(acc.balance);
    assert.ok(balance >= 0n, `${u} wallet ${balance}`);
    assert.equal(BigInt(s.remaining), balance, `${u}: unspent grants equal the wallet account`);
    assert.equal(BigInt(s.credited) - BigInt(s.out), balance, `${u}: credits minus what went out equal the wallet account`);
    const bal = await send(base, p, 'GET', `/v1/partner/users/${u}/balance`);
    assert.equal(bal.status, 200);
    assert.equal(BigInt(Math.round((bal.body.balance as number) * 100)), balance, `${u}: balance route`);
  }
  // Per action: never more reversed than distributed; the pool got back exactly what was recovered.
  const acts = await db.selectFrom('actions').select(['id', 'tokens_distributed', 'tokens_reversed']).where('partner_id', '=', p.partnerId).execute();
  assert.ok(acts.every((a) => BigInt(a.tokens_reversed) <= BigInt(a.tokens_distributed)));
  const rev = await sql<{ requested: bigint; recovered: bigint; shortfall: bigint }>`
    SELECT coalesce(sum(requested_units), 0)::bigint AS requested, coalesce(sum(reversed_units), 0)::bigint AS recovered,
           coalesce(sum(shortfall_units), 0)::bigint AS shortfall FROM action_reversals WHERE partner_id = ${p.partnerId}`.execute(db);
  const { requested, recovered, shortfall } = rev.rows[0]!;
  assert.equal(BigInt(requested), BigInt(recovered) + BigInt(shortfall), 'a reversal recovers what it asked for, less its recorded shortfall');
  assert.ok(BigInt(shortfall) > 0n, 'the forced round did meet drained wallets');
  assert.equal(acts.reduce((s, a) => s + BigInt(a.tokens_reversed), 0n), BigInt(requested));
  const distributed = acts.reduce((s, a) => s + BigInt(a.tokens_distributed), 0n);
  assert.equal(await poolBalance(pool.id), funded - distributed + BigInt(recovered));
  const redeemedOk = replies.filter((x) => x.kind === 'redeem' && x.r.status === 200).reduce((s, x) => s + BigInt(Math.round((x.r.body.amount as number) * 100)), 0n);
  const redemption = await db.selectFrom('ledger_accounts').select('balance').where('id', '=', `redemption:${p.partnerId}:sandbox:SIR`).executeTakeFirstOrThrow();
  assert.equal(BigInt(redemption.balance), redeemedOk, 'the redemption account holds exactly the acknowledged redemptions');
  await assertLedgerClean();
  t.diagnostic(`${replies.length} concurrent requests in ${ms} ms: ${[...tally].map(([k, v]) => `${k}=${v}`).join(', ')}; shortfall ${shortfall} units`);
});

test('concurrent copies of one redemption key and of one reversal key: one effect, every copy answered with it', { timeout: 60_000 }, async (t) => {
  const { p, pool } = await newPartner(10_000n);
  const base = bases[0]!;
  const seed = await send(base, p, 'POST', '/v1/partner/actions/submit', purchase('burst-seed', '30', ['zoe']));
  assert.equal(seed.status, 200, JSON.stringify(seed.body));
  const actionId = seed.body.actionId as string;
  const COPIES_EACH = 10;

  // A reversal of 5 and a redemption of everything left (25), each retried concurrently.
  const reversals = Array.from({ length: COPIES_EACH }, () =>
    send(base, p, 'POST', `/v1/partner/actions/${actionId}/reverse`, JSON.stringify({ amount: 5, idempotencyKey: 'refund-1' })),
  );
  const reversed = await Promise.all(reversals);
  const redemptions = Array.from({ length: COPIES_EACH }, () =>
    send(base, p, 'POST', '/v1/partner/users/zoe/redeem', JSON.stringify({ amount: 25, idempotencyKey: 'spend-1' })),
  );
  const redeemed = await Promise.all(redemptions);

  const describe = (rs: Reply[]) => rs.map((r) => `${r.status} ${String(r.body.code ?? '')}`).join(', ');
  const revOk = reversed.filter((r) => r.status === 200);
  assert.equal(revOk.length, 1, `one reversal took effect: ${describe(reversed)}`);
  const reversalId = (revOk[0]!.body.reversal as { id: string }).id;
  for (const r of reversed.filter((x) => x.status !== 200)) {
    assert.equal(r.body.code, 'IDEMPOTENT', `a copy of the reversal is answered with the original: ${describe(reversed)}`);
    assert.equal((r.body.reversal as { id: string }).id, reversalId);
  }
  const redOk = redeemed.filter((r) => r.status === 200);
  assert.equal(redOk.length, 1, `one redemption took effect: ${describe(redeemed)}`);
  for (const r of redeemed.filter((x) => x.status !== 200)) {
    // A copy that lost the race must not say the redemption failed: it succeeded under this key.
    assert.equal(r.body.code, 'IDEMPOTENT', `a copy of the redemption is answered with the original: ${describe(redeemed)}`);
    assert.equal(r.body.transactionId, redOk[0]!.body.transactionId);
  }

  const db = ctx.services.db;
  const action = await db.selectFrom('actions').select(['tokens_reversed', 'status']).where('id', '=', actionId).executeTakeFirstOrThrow();
  assert.equal(BigInt(action.tokens_reversed), 500n);
  assert.equal((await db.selectFrom('action_reversals').select('id').where('action_id', '=', actionId).execute()).length, 1);
  const spent = await db.selectFrom('token_transactions').select('amount').where('partner_id', '=', p.partnerId).where('type', '=', 'REDEMPTION').execute();
  assert.deepEqual(spent.map((s) => BigInt(s.amount)), [2500n]);
  assert.equal(await poolBalance(pool.id), 10_000n * 100n - 3000n + 500n);
  const bal = await send(base, p, 'GET', '/v1/partner/users/zoe/balance');
  assert.equal(bal.body.balance, 0);
  await assertLedgerClean();
  t.diagnostic(`reversal copies: ${describe(reversed)}; redemption copies: ${describe(redeemed)}`);
});
