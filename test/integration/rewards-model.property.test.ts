import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { signed } from '../harness/context.js';
import { createRewardsTestContext, OPERATOR_TOKEN, type RewardsTestContext } from '../harness/with-routes.js';

/**
 * Model-based property test of the rewards engine over HTTP: random submits (new keys, retries with
 * the same body, other bodies under a used key, bursts of one key), reversals (full, partial,
 * forced, with and without their own key), redemptions and sandbox clock moves, against a plain
 * in-memory model of grants, the pool and the campaign budget. After every command the pool and the
 * balances of the users it touched must equal the model; after every run every user, the campaign's
 * spent budget, the recorded shortfalls and the ledger check must too.
 *
 * The model is written from the rules (contract and issue), not from the engine's code: rewards
 * round half up to whole tokens, splits and reversal shares use largest remainder (earlier index
 * first on ties), reversals take the action's own grant first and then the user's newest grants,
 * redemptions spend the oldest vested grants, expired grants count for nothing.
 */

const DAY = 86_400_000;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];

let ctx: RewardsTestContext;
before(async () => {
  ctx = await createRewardsTestContext();
});
after(async () => {
  await ctx.close();
});

// ------------------------------------------------------------------ model

interface Grant {
  actionId: string;
  user: string;
  remaining: bigint;
  createdAt: number;
  availableAt: number;
  expiresAt: number | null;
}
interface ModelAction {
  key: string;
  body: string;
  id: string;
  status: 'COMPLETED' | 'FAILED' | 'PARTIALLY_REVERSED' | 'REVERSED';
  tokens: bigint;
  reversed: bigint;
  holders: { user: string; units: bigint }[];
  viaCampaign: boolean;
}
interface ModelCampaign {
  multiplierBp: bigint;
  splits: { code: string; hundredths: bigint }[];
  total: bigint | null;
  spent: bigint;
  cap: bigint | null;
  /** What each user received through the campaign, kept only when there is a per-user cap. */
  userSpent: Map<string, bigint>;
}
interface Model {
  offsetMs: number;
  pool: bigint;
  poolExpiresAt: number | null;
  vestingDays: number;
  expiryDays: number | null;
  users: Set<string>;
  grants: Grant[];
  actions: ModelAction[];
  redemptions: { key: string; user: string; units: bigint; text: string }[];
  reversalKeys: Map<string, { hash: string; reversalId: string }>;
  /** The last reversal sent with a key, to be retried word for word. */
  lastKeyedReversal: { url: string; body: string; reversalId: string } | null;
  campaign: ModelCampaign | null;
  shortfall: bigint;
  /** Lifetime earned per user: credits less what reversals took back. */
  earned: Map<string, bigint>;
  seq: number;
}
interface Real {
  p: PartnerFixture;
  poolId: string;
  campaignId: string | null;
}

const sum = (xs: bigint[]) => xs.reduce((s, x) => s + x, 0n);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const tokensText = (units: bigint) => `${units / 100n}.${String(units % 100n).padStart(2, '0')}`;
const unitsOf = (n: unknown) => {
  assert.equal(typeof n, 'number', `expected a number of tokens, got ${JSON.stringify(n)}`);
  return BigInt(Math.round((n as number) * 100));
};
const roundHalfUp = (n: bigint, d: bigint) => (2n * (n % d) >= d ? n / d + 1n : n / d);

/** Largest remainder: floors, then one unit each to the largest remainders, earlier index first on ties. */
function largestRemainder(total: bigint, weights: bigint[]): bigint[] {
  const w = sum(weights);
  if (w === 0n) return weights.map(() => 0n);
  const parts = weights.map((x) => (total * x) / w);
  let left = total - sum(parts);
  const order = weights.map((_, i) => i).sort((a, b) => {
    const ra = (total * weights[a]!) % w;
    const rb = (total * weights[b]!) % w;
    return ra === rb ? a - b : ra > rb ? -1 : 1;
  });
  for (const i of order) {
    if (left === 0n) break;
    parts[i]! += 1n;
    left -= 1n;
  }
  return parts;
}

const nowOf = (m: Model) => ctx.clock.now().getTime() + m.offsetMs;
const live = (g: Grant, now: number) => g.expiresAt === null || g.expiresAt > now;
function balances(m: Model, user: string) {
  const now = nowOf(m);
  const mine = m.grants.filter((g) => g.user === user && live(g, now));
  return {
    available: sum(mine.filter((g) => g.availableAt <= now).map((g) => g.remaining)),
    pending: sum(mine.filter((g) => g.availableAt > now).map((g) => g.remaining)),
  };
}

// ------------------------------------------------------------------ HTTP

interface Reply {
  status: number;
  body: Record<string, unknown>;
}
/** What the runs exercised, by route and answer, so a generator that drifts into trivial cases shows. */
const seen = new Map<string, number>();
async function call(r: Real, method: string, url: string, raw?: string): Promise<Reply> {
  const res = await ctx.app.inject(signed(ctx.clock, r.p.sk, method, url, undefined, raw === undefined ? {} : { rawBody: raw }));
  const body = res.body ? (res.json() as Record<string, unknown>) : {};
  if (method === 'POST') {
    const route = /\/(submit|reverse|redeem|campaigns)$/.exec(url)?.[1] ?? url;
    const label = `${route} ${res.statusCode}${typeof body.code === 'string' ? ` ${body.code}` : ''}${body.reversal && (body.reversal as { shortfallTokens: number }).shortfallTokens > 0 ? ' shortfall' : ''}`;
    seen.set(label, (seen.get(label) ?? 0) + 1);
  }
  return { status: res.statusCode, body };
}
async function operator(url: string, body: unknown): Promise<Reply> {
  const res = await ctx.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}
function expectError(reply: Reply, status: number, code: string, what: string) {
  assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.code, code, `${what}: ${JSON.stringify(reply.body)}`);
}

async function checkPool(m: Model, r: Real, what: string) {
  const res = await call(r, 'GET', `/v1/partner/token-pools/${r.poolId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(unitsOf(res.body.balance), m.pool, `${what}: pool balance`);
}
async function checkUsers(m: Model, r: Real, users: Iterable<string>, what: string) {
  for (const u of users) {
    const res = await call(r, 'GET', `/v1/partner/users/${u}/balance`);
    if (!m.users.has(u)) {
      assert.equal(res.status, 404, `${what}: ${u} should not exist`);
      continue;
    }
    assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
    const want = { ...balances(m, u), earned: m.earned.get(u) ?? 0n };
    assert.deepEqual(
      { available: unitsOf(res.body.balance), pending: unitsOf(res.body.pendingBalance), earned: unitsOf(res.body.lifetimeEarned) },
      want,
      `${what}: balance of ${u}`,
    );
  }
}

// ------------------------------------------------------------------ commands

type Cmd = fc.AsyncCommand<Model, Real>;

function submitBody(key: string, amount: string, users: string[], types: string[]) {
  const holders = users.map((u, i) => `{"stakeholderTypeCode":"${types[i]}","partnerUserId":"${u}"}`).join(',');
  return `{"idempotencyKey":${JSON.stringify(key)},"actionType":"PURCHASE","amount":${amount},"currency":"USD","stakeholders":[${holders}],"autoCreateUsers":true}`;
}

class Submit implements Cmd {
  constructor(
    readonly users: string[],
    readonly types: string[],
    readonly amount: { text: string; minor: bigint },
    readonly keyMode: 'new' | 'retry' | 'otherBody' | 'burst',
    readonly pick: number,
  ) {}
  check = () => true;
  toString() {
    return `submit(${this.keyMode}#${this.pick}, ${this.amount.text}, ${this.users.map((u, i) => `${u}:${this.types[i]![0]}`).join('+')})`;
  }
  async run(m: Model, r: Real) {
    ctx.clock.advance(1000);
    const what = this.toString();
    if ((this.keyMode === 'retry' || this.keyMode === 'otherBody') && m.actions.length > 0) {
      const a = m.actions[this.pick % m.actions.length]!;
      if (this.keyMode === 'retry') {
        const res = await call(r, 'POST', '/v1/partner/actions/submit', a.body);
        expectError(res, 409, 'IDEMPOTENT', what);
        assert.equal(res.body.actionId, a.id, what);
        assert.equal(unitsOf(res.body.tokensDistributed), a.tokens, what);
      } else {
        const other = submitBody(a.key, `${this.amount.minor / 100n + 1n}`, this.users, this.types);
        expectError(await call(r, 'POST', '/v1/partner/actions/submit', other), 422, 'IDEMPOTENCY_KEY_REUSED', what);
      }
      await checkPool(m, r, what);
      return;
    }

    const key = `k${m.seq++}`;
    const body = submitBody(key, this.amount.text, this.users, this.types);
    const copies = this.keyMode === 'burst' ? 3 : 1;
    const replies = await Promise.all(Array.from({ length: copies }, () => call(r, 'POST', '/v1/partner/actions/submit', body)));
    if (this.amount.minor === 0n) {
      for (const res of replies) expectError(res, 400, 'VALIDATION_ERROR', what);
      return;
    }
    // Exactly one copy is the original; the others replay it.
    const originals = replies.filter((x) => x.status !== 409);
    assert.equal(originals.length, 1, `${what}: ${JSON.stringify(replies)}`);
    const res = originals[0]!;
    for (const dup of replies.filter((x) => x.status === 409)) {
      expectError(dup, 409, 'IDEMPOTENT', what);
      assert.equal(dup.body.actionId, res.body.actionId, what);
    }

    const c = m.campaign;
    const total = roundHalfUp(this.amount.minor * (c?.multiplierBp ?? 10_000n), 100n * 10_000n) * 100n;
    let alloc: bigint[];
    if (!c || c.splits.length === 0) {
      alloc = largestRemainder(total, this.users.map(() => 1n));
    } else {
      alloc = this.users.map(() => 0n);
      const shares = largestRemainder(total, c.splits.map((s) => s.hundredths));
      c.splits.forEach((s, si) => {
        const members = this.types.slice(0, this.users.length).flatMap((t, i) => (t === s.code ? [i] : []));
        largestRemainder(shares[si]!, members.map(() => 1n)).forEach((part, j) => (alloc[members[j]!] = part));
      });
    }
    if (c && c.cap !== null) {
      const cap = c.cap;
      alloc = alloc.map((units, i) => {
        const room = max(0n, cap - (c.userSpent.get(this.users[i]!) ?? 0n));
        return min(units, room);
      });
    }
    const distributed = sum(alloc);
    const now = nowOf(m);
    for (const u of this.users) m.users.add(u);
    let failure: string | null = null;
    if (m.poolExpiresAt !== null && m.poolExpiresAt <= now) failure = 'INSUFFICIENT_POOL';
    else if (c && c.total !== null && c.spent + distributed > c.total) failure = 'CAMPAIGN_BUDGET_EXHAUSTED';
    else if (m.pool < distributed) failure = 'INSUFFICIENT_POOL';

    const action: ModelAction = {
      key,
      body,
      id: String(res.body.actionId),
      status: failure ? 'FAILED' : 'COMPLETED',
      tokens: failure ? 0n : distributed,
      reversed: 0n,
      holders: failure ? [] : this.users.flatMap((u, i) => (alloc[i]! > 0n ? [{ user: u, units: alloc[i]! }] : [])),
      viaCampaign: c !== null,
    };
    if (failure) {
      expectError(res, 402, failure, what);
      assert.equal(res.body.status, 'FAILED', what);
    } else {
      assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)} (model: ${distributed} units, pool ${m.pool})`);
      assert.equal(res.body.status, 'COMPLETED');
      assert.equal(unitsOf(res.body.tokensDistributed), distributed, what);
      assert.equal((res.body.transactionIds as string[]).length, action.holders.length, what);
      m.pool -= distributed;
      for (const h of action.holders) {
        m.grants.push({
          actionId: action.id,
          user: h.user,
          remaining: h.units,
          createdAt: now,
          availableAt: now + m.vestingDays * DAY,
          expiresAt: m.expiryDays === null ? null : now + m.expiryDays * DAY,
        });
        m.earned.set(h.user, (m.earned.get(h.user) ?? 0n) + h.units);
        if (c && c.cap !== null) c.userSpent.set(h.user, (c.userSpent.get(h.user) ?? 0n) + h.units);
      }
      if (c) c.spent += distributed;
    }
    m.actions.push(action);
    await checkPool(m, r, what);
    await checkUsers(m, r, this.users, what);
  }
}

class Reverse implements Cmd {
  constructor(
    readonly pick: number,
    readonly partialPercent: number | null,
    readonly force: boolean,
    readonly key: number | null,
    /** Retry the last keyed reversal word for word instead. */
    readonly again: boolean,
  ) {}
  check = (m: Readonly<Model>) => m.actions.length > 0;
  toString() {
    if (this.again) return 'reverse(retry the last keyed reversal)';
    return `reverse(#${this.pick}, ${this.partialPercent === null ? 'all' : `${this.partialPercent}%`}${this.force ? ', force' : ''}${this.key === null ? '' : `, rk${this.key}`})`;
  }
  async run(m: Model, r: Real) {
    ctx.clock.advance(1000);
    const what = this.toString();
    if (this.again && m.lastKeyedReversal) {
      const last = m.lastKeyedReversal;
      const res = await call(r, 'POST', last.url, last.body);
      expectError(res, 409, 'IDEMPOTENT', what);
      assert.equal((res.body.reversal as { id: string }).id, last.reversalId, what);
      await checkPool(m, r, what);
      return;
    }
    const a = m.actions[this.pick % m.actions.length]!;
    const left = a.tokens - a.reversed;
    const requested = this.partialPercent === null ? null : max(1n, (left * BigInt(this.partialPercent)) / 100n);
    const fields = [
      ...(requested === null ? [] : [`"amount":${tokensText(requested)}`]),
      ...(this.force ? ['"force":true'] : []),
      ...(this.key === null ? [] : [`"idempotencyKey":"rk${this.key}"`]),
    ];
    const url = `/v1/partner/actions/${a.id}/reverse`;
    const res = await call(r, 'POST', url, `{${fields.join(',')}}`);
    const hash = `${requested ?? 'all'}|${this.force}`;
    const keyed = this.key === null ? undefined : `${a.id}|rk${this.key}`;
    const prior = keyed ? m.reversalKeys.get(keyed) : undefined;

    if (prior) {
      if (prior.hash === hash) {
        expectError(res, 409, 'IDEMPOTENT', what);
        assert.equal((res.body.reversal as { id: string }).id, prior.reversalId, what);
      } else {
        expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED', what);
      }
    } else if (a.status === 'FAILED' || a.status === 'REVERSED' || left <= 0n) {
      expectError(res, 409, 'ACTION_NOT_REVERSIBLE', what);
    } else if (requested !== null && requested > left) {
      expectError(res, 400, 'VALIDATION_ERROR', what);
    } else {
      const units = requested ?? left;
      const now = nowOf(m);
      const shares = largestRemainder(units, a.holders.map((h) => h.units));
      const plan = a.holders.map((h, i) => {
        const own = m.grants.filter((g) => g.user === h.user && g.actionId === a.id && live(g, now));
        const newestFirst = m.grants.filter((g) => g.user === h.user && g.actionId !== a.id && live(g, now)).sort((x, y) => y.createdAt - x.createdAt);
        const grants = [...own, ...newestFirst];
        const held = sum(grants.map((g) => g.remaining));
        return { h, need: shares[i]!, grants, held };
      });
      const short = plan.find((x) => x.need > 0n && x.held < x.need);
      if (short && !this.force) {
        expectError(res, 409, 'INSUFFICIENT_USER_BALANCE', `${what} (${short.h.user} holds ${short.held}, owes ${short.need})`);
      } else {
        let recovered = 0n;
        let shortfall = 0n;
        for (const x of plan) {
          const take = min(x.need, x.held);
          shortfall += x.need - take;
          recovered += take;
          m.earned.set(x.h.user, (m.earned.get(x.h.user) ?? 0n) - take);
          let rest = take;
          for (const g of x.grants) {
            const t = min(g.remaining, rest);
            g.remaining -= t;
            rest -= t;
          }
          const c = m.campaign;
          if (a.viaCampaign && c && take > 0n && c.userSpent.has(x.h.user)) c.userSpent.set(x.h.user, max(0n, c.userSpent.get(x.h.user)! - take));
        }
        m.pool += recovered;
        if (a.viaCampaign && m.campaign && recovered > 0n) m.campaign.spent = max(0n, m.campaign.spent - recovered);
        a.reversed += units;
        a.status = units === left ? 'REVERSED' : 'PARTIALLY_REVERSED';
        m.shortfall += shortfall;
        assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
        const rev = res.body.reversal as Record<string, unknown>;
        assert.equal(res.body.status, a.status, what);
        assert.equal(unitsOf(res.body.tokensReversed), a.reversed, what);
        assert.equal(unitsOf(rev.reversedTokens), recovered, `${what}: recovered`);
        assert.equal(unitsOf(rev.shortfallTokens), shortfall, `${what}: shortfall`);
        if (keyed) {
          m.reversalKeys.set(keyed, { hash, reversalId: String(rev.id) });
          m.lastKeyedReversal = { url, body: `{${fields.join(',')}}`, reversalId: String(rev.id) };
        }
      }
    }
    await checkPool(m, r, what);
    await checkUsers(m, r, a.holders.map((h) => h.user), what);
  }
}

class Redeem implements Cmd {
  constructor(
    /** An index into the users created so far, or null for one that does not exist. */
    readonly userPick: number | null,
    readonly units: bigint,
    readonly keyMode: 'new' | 'retry' | 'otherBody',
    readonly pick: number,
  ) {}
  check = () => true;
  toString() {
    return `redeem(${this.userPick === null ? 'ghost' : `user#${this.userPick}`}, ${tokensText(this.units)}, ${this.keyMode}#${this.pick})`;
  }
  async run(m: Model, r: Real) {
    ctx.clock.advance(1000);
    const what = this.toString();
    const prior = m.redemptions.length > 0 && this.keyMode !== 'new' ? m.redemptions[this.pick % m.redemptions.length]! : undefined;
    const known = [...m.users].sort();
    const chosen = this.userPick === null || known.length === 0 ? 'ghost' : known[this.userPick % known.length]!;
    const user = prior && this.keyMode === 'retry' ? prior.user : chosen;
    const units = prior && this.keyMode === 'retry' ? prior.units : this.units;
    const key = prior ? prior.key : `r${m.seq++}`;
    const res = await call(r, 'POST', `/v1/partner/users/${user}/redeem`, `{"amount":${tokensText(units)},"idempotencyKey":"${key}"}`);
    if (!m.users.has(user)) {
      expectError(res, 404, 'NOT_FOUND', what);
    } else if (prior) {
      if (prior.user === user && prior.units === units) expectError(res, 409, 'IDEMPOTENT', what);
      else expectError(res, 422, 'IDEMPOTENCY_KEY_REUSED', what);
    } else {
      const now = nowOf(m);
      const spendable = m.grants.filter((g) => g.user === user && live(g, now) && g.availableAt <= now).sort((x, y) => x.createdAt - y.createdAt);
      const available = sum(spendable.map((g) => g.remaining));
      if (available < units) {
        expectError(res, 409, 'INSUFFICIENT_USER_BALANCE', `${what} (model: ${available} available)`);
      } else {
        let rest = units;
        for (const g of spendable) {
          const t = min(g.remaining, rest);
          g.remaining -= t;
          rest -= t;
        }
        assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)} (model: ${available} available)`);
        assert.equal(unitsOf(res.body.amount), units, what);
        assert.equal(unitsOf(res.body.balance), available - units, what);
        m.redemptions.push({ key, user, units, text: tokensText(units) });
      }
    }
    await checkUsers(m, r, [user], what);
  }
}

class MoveClock implements Cmd {
  constructor(readonly hours: number) {}
  check = () => true;
  toString() {
    return `clock(+${this.hours}h)`;
  }
  async run(m: Model, r: Real) {
    const res = await operator(`/v1/admin/partners/${r.p.partnerId}/sandbox-clock/advance`, { seconds: this.hours * 3600 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    m.offsetMs += this.hours * 3_600_000;
    assert.equal(res.body.sandboxNow, new Date(nowOf(m)).toISOString(), 'sandbox time');
    await checkUsers(m, r, m.users, this.toString());
  }
}

const amountArb = fc
  .record({ whole: fc.integer({ min: 0, max: 60 }), frac: fc.integer({ min: 0, max: 99 }), decimals: fc.constantFrom(0, 1, 2) })
  .map(({ whole, frac, decimals }) => {
    if (decimals === 0) return { text: `${whole}`, minor: BigInt(whole) * 100n };
    if (decimals === 1) return { text: `${whole}.${Math.floor(frac / 10)}`, minor: BigInt(whole) * 100n + BigInt(Math.floor(frac / 10)) * 10n };
    return { text: `${whole}.${String(frac).padStart(2, '0')}`, minor: BigInt(whole) * 100n + BigInt(frac) };
  });
const submitArb = fc
  .record({
    users: fc.uniqueArray(fc.constantFrom(...USERS), { minLength: 1, maxLength: 3 }),
    types: fc.array(fc.constantFrom('CUSTOMER', 'REFERRER'), { minLength: 3, maxLength: 3 }),
    amount: amountArb,
    keyMode: fc.constantFrom('new', 'new', 'new', 'new', 'retry', 'otherBody', 'burst'),
    pick: fc.nat(),
  })
  .map((x): Cmd => new Submit(x.users, x.types, x.amount, x.keyMode as Submit['keyMode'], x.pick));
const reverseArb = fc
  .record({
    pick: fc.nat(),
    partial: fc.option(fc.integer({ min: 1, max: 130 }), { nil: null }),
    force: fc.boolean(),
    key: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
    again: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
  })
  .map((x): Cmd => new Reverse(x.pick, x.partial, x.force, x.key, x.again));
const redeemArb = fc
  .record({
    user: fc.option(fc.nat(), { nil: null, freq: 8 }),
    units: fc.integer({ min: 1, max: 1500 }),
    keyMode: fc.constantFrom('new', 'new', 'new', 'retry', 'otherBody'),
    pick: fc.nat(),
  })
  .map((x): Cmd => new Redeem(x.user, BigInt(x.units), x.keyMode as Redeem['keyMode'], x.pick));
const clockArb = fc.integer({ min: 1, max: 40 }).map((h): Cmd => new MoveClock(h));

const worldArb = fc.record({
  poolTokens: fc.integer({ min: 200, max: 3000 }),
  vestingDays: fc.constantFrom(null, 0, 1, 3),
  expiryDays: fc.constantFrom(null, 1, 3),
  poolExpiresInDays: fc.constantFrom(null, null, 8),
  campaign: fc.option(
    fc.record({
      multiplier: fc.constantFrom('1', '1.5', '2', '0.75'),
      splits: fc.constantFrom('none', 'c100', 'c70r30', 'c3333r6667'),
      total: fc.option(fc.integer({ min: 100, max: 1500 }), { nil: null }),
      cap: fc.option(fc.integer({ min: 20, max: 300 }), { nil: null }),
    }),
    { nil: null, freq: 2 },
  ),
});
type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never;

const SPLITS: Record<string, { code: string; percent: string }[]> = {
  none: [],
  c100: [{ code: 'CUSTOMER', percent: '100' }],
  c70r30: [{ code: 'CUSTOMER', percent: '70' }, { code: 'REFERRER', percent: '30' }],
  c3333r6667: [{ code: 'CUSTOMER', percent: '33.33' }, { code: 'REFERRER', percent: '66.67' }],
};

async function setUp(w: World): Promise<{ model: Model; real: Real }> {
  const p = await createPartner(ctx.services);
  const now = ctx.clock.now().getTime();
  const pool = await operator(`/v1/admin/partners/${p.partnerId}/token-pools`, {
    environment: 'sandbox',
    name: 'model pool',
    initialAmount: w.poolTokens,
    vestingDays: w.vestingDays,
    grantExpiryDays: w.expiryDays,
    expiresAt: w.poolExpiresInDays === null ? null : new Date(now + w.poolExpiresInDays * DAY).toISOString(),
  });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  const model: Model = {
    offsetMs: 0,
    pool: BigInt(w.poolTokens) * 100n,
    poolExpiresAt: w.poolExpiresInDays === null ? null : now + w.poolExpiresInDays * DAY,
    vestingDays: w.vestingDays ?? 0,
    expiryDays: w.expiryDays,
    users: new Set(),
    grants: [],
    actions: [],
    redemptions: [],
    reversalKeys: new Map(),
    lastKeyedReversal: null,
    campaign: null,
    shortfall: 0n,
    earned: new Map(),
    seq: 0,
  };
  const real: Real = { p, poolId: String(pool.body.id), campaignId: null };
  if (w.campaign) {
    const splits = SPLITS[w.campaign.splits]!;
    const budget = [
      ...(w.campaign.total === null ? [] : [`"totalTokens":${w.campaign.total}`]),
      ...(w.campaign.cap === null ? [] : [`"perUserCap":${w.campaign.cap}`]),
    ];
    const raw =
      `{"name":"model campaign","status":"ACTIVE","actionTypes":["PURCHASE"],"multiplier":${w.campaign.multiplier},` +
      `"splits":[${splits.map((s) => `{"stakeholderTypeCode":"${s.code}","percent":${s.percent}}`).join(',')}],"budget":{${budget.join(',')}}}`;
    const res = await call(real, 'POST', '/v1/partner/campaigns', raw);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'ACTIVE');
    real.campaignId = String(res.body.id);
    const [whole, frac = ''] = w.campaign.multiplier.split('.');
    model.campaign = {
      multiplierBp: BigInt(whole!) * 10_000n + BigInt(frac.padEnd(4, '0')),
      splits: splits.map((s) => {
        const [sw, sf = ''] = s.percent.split('.');
        return { code: s.code, hundredths: BigInt(sw!) * 100n + BigInt(sf.padEnd(2, '0')) };
      }),
      total: w.campaign.total === null ? null : BigInt(w.campaign.total) * 100n,
      spent: 0n,
      cap: w.campaign.cap === null ? null : BigInt(w.campaign.cap) * 100n,
      userSpent: new Map(),
    };
  }
  return { model, real };
}

async function finalChecks(m: Model, r: Real) {
  await checkPool(m, r, 'end of run');
  await checkUsers(m, r, USERS, 'end of run');
  const db = ctx.db;
  if (m.campaign && r.campaignId) {
    const res = await call(r, 'GET', `/v1/partner/campaigns/${r.campaignId}`);
    const spent = unitsOf((res.body.budget as Record<string, unknown>).spentTokens);
    assert.equal(spent, m.campaign.spent, 'campaign spent budget');
    if (m.campaign.total !== null) assert.ok(spent <= m.campaign.total, 'campaign budget never exceeded');
    const rows = await db.selectFrom('campaign_user_spend').select(['user_id', 'spent']).where('campaign_id', '=', r.campaignId).execute();
    if (m.campaign.cap !== null) for (const row of rows) assert.ok(BigInt(row.spent) <= m.campaign.cap, 'per-user cap never exceeded');
  }
  // Grant by grant: redemptions spent the oldest vested grants, reversals the action's own grant and
  // then the newest, so each grant has exactly what the model says (an expired one may have been
  // swept to zero already).
  const rows = await db
    .selectFrom('token_transactions')
    .select(['action_id', 'external_user_id', 'remaining'])
    .where('partner_id', '=', r.p.partnerId)
    .where('type', '=', 'CREDIT')
    .execute();
  const stored = new Map(rows.map((row) => [`${row.action_id}|${row.external_user_id}`, BigInt(row.remaining)]));
  assert.equal(stored.size, m.grants.length, 'one grant per rewarded stakeholder');
  const now = nowOf(m);
  for (const g of m.grants) {
    const got = stored.get(`${g.actionId}|${g.user}`);
    const ok = got === g.remaining || (!live(g, now) && got === 0n);
    assert.ok(ok, `grant of ${g.user} from ${g.actionId} (created ${new Date(g.createdAt).toISOString()}): stored ${got}, model ${g.remaining}`);
  }
  const shortfall = await sql<{ s: bigint }>`SELECT coalesce(sum(shortfall_units), 0)::bigint AS s FROM action_reversals WHERE partner_id = ${r.p.partnerId}`.execute(db);
  assert.equal(BigInt(shortfall.rows[0]!.s), m.shortfall, 'recorded forced shortfalls');
  const negative = await sql<{ id: string }>`
    SELECT id FROM ledger_accounts WHERE partner_id = ${r.p.partnerId} AND kind IN ('POOL', 'WALLET') AND balance < 0`.execute(db);
  assert.deepEqual(negative.rows, [], 'no pool or wallet below zero');
  // Each wallet account equals the unspent grants it holds (expired ones until they are swept).
  const mismatch = await sql<{ user_id: string }>`
    SELECT t.user_id FROM token_transactions t JOIN ledger_accounts a ON a.id = 'wallet:' || t.user_id
     WHERE t.partner_id = ${r.p.partnerId} AND t.type = 'CREDIT'
     GROUP BY t.user_id, a.balance HAVING sum(t.remaining) <> a.balance OR min(t.remaining) < 0`.execute(db);
  assert.deepEqual(mismatch.rows, [], 'wallet accounts equal their unspent grants');
  const report = await checkLedger(db);
  assert.ok(report.ok, JSON.stringify({ drift: report.drift.slice(0, 5), unbalanced: report.unbalanced.slice(0, 5) }));
}

test('rewards engine against an in-memory model: balances, pool, budgets, shortfalls and the ledger', { timeout: 120_000 }, async (t) => {
  let runs = 0;
  let commands = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(worldArb, fc.commands([submitArb, submitArb, submitArb, reverseArb, reverseArb, redeemArb, redeemArb, clockArb], { maxCommands: 40, size: 'max' }), async (world, cmds) => {
      runs += 1;
      const { model, real } = await setUp(world);
      await fc.asyncModelRun(() => ({ model, real }), cmds);
      commands += [...cmds].length;
      await finalChecks(model, real);
    }),
    // Bounded: 25 runs normally take well under a minute; a slow machine stops early rather than
    // running on, and shrinking a failure stops at the same limit.
    { numRuns: 25, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
  );
  t.diagnostic(`${runs} runs, ${commands} commands in ${Date.now() - started} ms`);
  t.diagnostic([...seen].sort().map(([k, v]) => `${k}: ${v}`).join('; '));
  assert.ok(runs >= 10, `only ${runs} runs fitted in the time limit`);
});
