import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { objectId } from '../../src/platform/crypto/ids.js';
import type { Database, Environment } from '../../src/platform/db/schema.js';
import { createKysely, createPgPool } from '../../src/platform/db/postgres.js';
import { PartnerClock } from '../../src/modules/rewards/partner-clock.js';
import { runCampaignSchedule } from '../../src/modules/rewards/campaigns.scheduler.js';
import { campaignsRepo } from '../../src/modules/rewards/campaigns.repo.js';
import { pickHighestPriority as pickCampaign } from '../../src/modules/rewards/campaign-pick.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { signed, type SigningKey } from '../harness/context.js';
import { createRewardsTestContext, type RewardsTestContext } from '../harness/with-routes.js';

/** Campaigns (contract A8.7): CRUD, exact decimals, validation, status machine, schedule and events, on a real database. */

let ctx: RewardsTestContext;
before(async () => {
  ctx = await createRewardsTestContext();
});
after(async () => {
  await ctx.close();
});

const HOUR = 3_600_000;
const BASE = '/v1/partner/campaigns';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = Record<string, any>;

const call = (key: SigningKey, method: string, url: string, body?: unknown) => ctx.app.inject(signed(ctx.clock, key, method, url, body));
/** Sends the body text exactly as written, for literals JSON.stringify cannot produce (1e0, 1.00000). */
const callRaw = (key: SigningKey, method: string, url: string, rawBody: string) =>
  ctx.app.inject(signed(ctx.clock, key, method, url, undefined, { rawBody }));
const prodKey = (p: PartnerFixture): SigningKey => ({ key: p.production!.secretKey, hmacSecret: p.production!.hmacSecret });
const iso = (msFromNow: number) => new Date(ctx.clock.now().getTime() + msFromNow).toISOString();
/** Like iso() but on the partner's sandbox clock, which may run ahead. */
const sandboxIso = async (partnerId: string, msFromNow: number) =>
  new Date((await ctx.partnerClock.now(partnerId, 'sandbox')).getTime() + msFromNow).toISOString();

async function create(key: SigningKey, body: Json): Promise<Json> {
  const res = await call(key, 'POST', BASE, body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Json;
}

async function statusEvents(campaignId: string) {
  const rows = await ctx.db
    .selectFrom('outbox_events')
    .selectAll()
    .where('type', '=', 'campaign.status_changed')
    .where(sql<string>`data->>'campaignId'`, '=', campaignId)
    .orderBy('seq')
    .execute();
  return rows;
}
const eventData = async (campaignId: string) => (await statusEvents(campaignId)).map((e) => e.data);

/** A 400/404/409 with the one error body and a message matching `message`. */
function assertError(res: { statusCode: number; body: string; json(): unknown }, status: number, code: string, message?: RegExp) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json() as Json;
  assert.equal(body.code, code, res.body);
  if (message) assert.match(body.message, message, res.body);
}

async function lastEventSeq(): Promise<bigint> {
  const row = await ctx.db.selectFrom('outbox_events').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow();
  return row.seq === null ? 0n : BigInt(row.seq);
}

async function createPool(partnerId: string, environment: Environment) {
  const id = objectId();
  const accountId = `pool:${id}`;
  await ctx.db
    .insertInto('ledger_accounts')
    .values({ id: accountId, partner_id: partnerId, environment, kind: 'POOL', asset: 'SIR', balance: 0, credits_total: 0, debits_total: 0 })
    .execute();
  await ctx.db
    .insertInto('token_pools')
    .values({
      id,
      partner_id: partnerId,
      environment,
      name: 'Test pool',
      status: 'ACTIVE',
      account_id: accountId,
      vesting_days: null,
      grant_expiry_days: null,
      expires_at: null,
      redemption_rules: null,
      auto_refill_threshold: 0,
      auto_refill_amount: 0,
      low_balance_threshold: 0,
      created_at: ctx.clock.now(),
      updated_at: ctx.clock.now(),
    })
    .execute();
  return id;
}

describe('create, get, list, patch, delete', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });

  test('a minimal campaign gets the documented defaults', async () => {
    const c = await create(p.sk, { name: 'Spring double points', actionTypes: ['PURCHASE'] });
    assert.match(c.id, /^[0-9a-f]{24}$/);
    const { id, createdAt, updatedAt, ...rest } = c;
    assert.ok(!Number.isNaN(Date.parse(createdAt)) && createdAt === updatedAt);
    assert.deepEqual(rest, {
      name: 'Spring double points',
      description: null,
      status: 'DRAFT',
      actionTypes: ['PURCHASE'],
      multiplier: 1,
      splits: [],
      tiers: [],
      schedule: { startsAt: null, endsAt: null, timezone: 'UTC', autoStart: false },
      budget: { totalTokens: null, spentTokens: 0, perUserCap: null },
      tokenPoolId: null,
      priority: 0,
    });
    const got = await call(p.pk, 'GET', `${BASE}/${id}`);
    assert.equal(got.statusCode, 200, got.body);
    assert.deepEqual(got.json(), c);
    assert.deepEqual(await eventData(id), [], 'a DRAFT is no status change');
  });

  test('every field round-trips exactly and is stored in fixed point', async () => {
    const pool = await createPool(p.partnerId, 'sandbox');
    const startsAt = iso(-HOUR);
    const endsAt = iso(30 * 24 * HOUR);
    const raw = `{
      "name": "Everything", "description": "All the rules", "actionTypes": ["PURCHASE", "DONATION"],
      "multiplier": 1.2345,
      "splits": [{"stakeholderTypeCode": "CUSTOMER", "percent": 33.33}, {"stakeholderTypeCode": "REFERRER", "percent": 66.67}],
      "tiers": [{"minAmount": 100, "multiplier": 2}, {"minAmount": 0, "maxAmount": 100, "multiplier": 1.5}],
      "schedule": {"startsAt": "${startsAt}", "endsAt": "${endsAt}", "timezone": "america/new_york"},
      "budget": {"totalTokens": 100000.5, "perUserCap": 250.25},
      "tokenPoolId": "${pool}", "priority": -7
    }`;
    const res = await callRaw(p.sk, 'POST', BASE, raw);
    assert.equal(res.statusCode, 201, res.body);
    const c = res.json() as Json;
    assert.equal(c.name, 'Everything');
    assert.equal(c.description, 'All the rules');
    assert.deepEqual(c.actionTypes, ['PURCHASE', 'DONATION']);
    assert.equal(c.multiplier, 1.2345);
    assert.deepEqual(c.splits, [
      { stakeholderTypeCode: 'CUSTOMER', percent: 33.33 },
      { stakeholderTypeCode: 'REFERRER', percent: 66.67 },
    ]);
    assert.deepEqual(c.tiers, [
      { minAmount: 0, maxAmount: 100, multiplier: 1.5 },
      { minAmount: 100, maxAmount: null, multiplier: 2 },
    ]);
    assert.deepEqual(c.schedule, { startsAt, endsAt, timezone: 'America/New_York', autoStart: false });
    assert.deepEqual(c.budget, { totalTokens: 100000.5, spentTokens: 0, perUserCap: 250.25 });
    assert.equal(c.tokenPoolId, pool);
    assert.equal(c.priority, -7);
    // A number the text carries exactly appears exactly in the response text too.
    assert.match(res.body, /"multiplier":1\.2345/);

    const row = await ctx.db.selectFrom('campaigns').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
    assert.equal(row.multiplier_bp, 12345n);
    assert.deepEqual(row.splits, [
      { stakeholderTypeCode: 'CUSTOMER', percent: '33.33' },
      { stakeholderTypeCode: 'REFERRER', percent: '66.67' },
    ]);
    assert.deepEqual(row.tiers, [
      { minAmountMinor: '0', maxAmountMinor: '1000000', multiplierBp: '15000' },
      { minAmountMinor: '1000000', maxAmountMinor: null, multiplierBp: '20000' },
    ]);
    assert.equal(row.budget_total, 10000050n);
    assert.equal(row.per_user_cap, 25025n);
    assert.equal(row.environment, 'sandbox');
  });

  test('list: newest first, paginated, filtered by status; archived only on request', async () => {
    const q = await createPartner(ctx.services);
    const a = await create(q.sk, { name: 'A', actionTypes: ['PURCHASE'] });
    const b = await create(q.sk, { name: 'B', actionTypes: ['PURCHASE'], status: 'ACTIVE' });
    const c = await create(q.sk, { name: 'C', actionTypes: ['PURCHASE'] });
    const all = await call(q.pk, 'GET', BASE);
    assert.equal(all.statusCode, 200, all.body);
    assert.deepEqual(
      (all.json().data as Json[]).map((x) => x.name),
      ['C', 'B', 'A'],
    );
    assert.deepEqual({ ...(all.json() as Json), data: undefined }, { data: undefined, page: 1, limit: 20, total: 3 });
    const page2 = await call(q.sk, 'GET', `${BASE}?page=2&limit=2`);
    assert.deepEqual((page2.json().data as Json[]).map((x) => x.id), [a.id]);
    assert.equal(page2.json().total, 3);
    const active = await call(q.sk, 'GET', `${BASE}?status=ACTIVE`);
    assert.deepEqual((active.json().data as Json[]).map((x) => x.id), [b.id]);
    const beyond = await call(q.sk, 'GET', `${BASE}?page=9`);
    assert.deepEqual(beyond.json(), { data: [], page: 9, limit: 20, total: 3 });

    assert.equal((await call(q.sk, 'DELETE', `${BASE}/${c.id}`)).statusCode, 200);
    const after = await call(q.sk, 'GET', BASE);
    assert.deepEqual((after.json().data as Json[]).map((x) => x.name), ['B', 'A']);
    const withArchived = await call(q.sk, 'GET', `${BASE}?includeArchived=true&status=ENDED`);
    assert.deepEqual((withArchived.json().data as Json[]).map((x) => x.id), [c.id]);
    assertError(await call(q.sk, 'GET', `${BASE}?status=OVER`), 400, 'VALIDATION_ERROR');
    assertError(await call(q.sk, 'GET', `${BASE}?colour=red`), 400, 'VALIDATION_ERROR');
  });

  test('PATCH changes any field; schedule and budget merge field by field; null clears', async () => {
    const c = await create(p.sk, {
      name: 'Before',
      description: 'old',
      actionTypes: ['PURCHASE'],
      schedule: { startsAt: iso(HOUR), endsAt: iso(2 * HOUR) },
      budget: { totalTokens: 500, perUserCap: 10 },
    });
    ctx.clock.advance(1000);
    const raw = '{"name":"After","description":null,"actionTypes":["VOLUNTEER"],"multiplier":2.5,"priority":3,' +
      '"splits":[{"stakeholderTypeCode":"VOLUNTEER","percent":100}],"tiers":[{"minAmount":0.5,"multiplier":3}],' +
      '"schedule":{"timezone":"Europe/Paris"},"budget":{"perUserCap":null}}';
    const res = await callRaw(p.sk, 'PATCH', `${BASE}/${c.id}`, raw);
    assert.equal(res.statusCode, 200, res.body);
    const u = res.json() as Json;
    assert.equal(u.name, 'After');
    assert.equal(u.description, null);
    assert.deepEqual(u.actionTypes, ['VOLUNTEER']);
    assert.equal(u.multiplier, 2.5);
    assert.equal(u.priority, 3);
    assert.deepEqual(u.splits, [{ stakeholderTypeCode: 'VOLUNTEER', percent: 100 }]);
    assert.deepEqual(u.tiers, [{ minAmount: 0.5, maxAmount: null, multiplier: 3 }]);
    assert.deepEqual(u.schedule, { ...c.schedule, timezone: 'Europe/Paris' }, 'dates kept, zone changed');
    assert.deepEqual(u.budget, { totalTokens: 500, spentTokens: 0, perUserCap: null });
    assert.equal(u.createdAt, c.createdAt);
    assert.ok(Date.parse(u.updatedAt) > Date.parse(c.updatedAt));

    const cleared = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { splits: [], tiers: [], schedule: { startsAt: null }, budget: { totalTokens: null } });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(cleared.json().splits, []);
    assert.deepEqual(cleared.json().tiers, []);
    assert.equal(cleared.json().schedule.startsAt, null);
    assert.equal(cleared.json().schedule.endsAt, c.schedule.endsAt);
    assert.equal(cleared.json().budget.totalTokens, null);

    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, {}), 400, 'VALIDATION_ERROR');
  });

  test('DELETE archives: ENDED + archived, 200 with the campaign, one event, still readable, final', async () => {
    const c = await create(p.sk, { name: 'Short lived', actionTypes: ['PURCHASE'], status: 'ACTIVE' });
    const del = await call(p.sk, 'DELETE', `${BASE}/${c.id}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(del.json().status, 'ENDED');
    assert.equal(del.json().id, c.id);
    const row = await ctx.db.selectFrom('campaigns').select(['archived_at', 'status']).where('id', '=', c.id).executeTakeFirstOrThrow();
    assert.ok(row.archived_at instanceof Date);
    const again = await call(p.sk, 'DELETE', `${BASE}/${c.id}`);
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), del.json(), 'repeating the archive changes nothing');
    assert.deepEqual(await eventData(c.id), [
      { campaignId: c.id, previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'manual' },
      { campaignId: c.id, previousStatus: 'ACTIVE', status: 'ENDED', reason: 'manual' },
    ]);
    assert.equal((await call(p.sk, 'GET', `${BASE}/${c.id}`)).json().status, 'ENDED');
    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { name: 'Revived?' }), 409, 'INVALID_STATE', /final/);
  });

  test('writes need the secret key', async () => {
    const res = await call(p.pk, 'POST', BASE, { name: 'x', actionTypes: ['PURCHASE'] });
    assertError(res, 403, 'SECRET_KEY_REQUIRED');
  });
});

describe('validation', () => {
  let p: PartnerFixture;
  const valid = { name: 'Valid', actionTypes: ['PURCHASE'] };
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });
  const post = (body: Json) => call(p.sk, 'POST', BASE, { ...valid, ...body });
  const postRaw = (fragment: string) => callRaw(p.sk, 'POST', BASE, `{"name":"Raw","actionTypes":["PURCHASE"],${fragment}}`);

  test('splits that do not add up to 100', async () => {
    assertError(
      await post({ splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 50 }, { stakeholderTypeCode: 'DONOR', percent: 40 }] }),
      400,
      'VALIDATION_ERROR',
      /add up to exactly 100, not 90/,
    );
    assertError(
      await post({ splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 50.005 }, { stakeholderTypeCode: 'DONOR', percent: 49.995 }] }),
      400,
      'VALIDATION_ERROR',
      /at most 2 decimal places/,
    );
  });

  test('an unregistered stakeholder type -> 400 UNKNOWN_STAKEHOLDER_TYPE naming it and the valid ones', async () => {
    const res = await post({ splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 50 }, { stakeholderTypeCode: 'ALIEN', percent: 50 }] });
    assertError(res, 400, 'UNKNOWN_STAKEHOLDER_TYPE', /ALIEN is not registered/);
    assert.match(res.json().message, /CUSTOMER/);
    assert.match(res.json().message, /VOLUNTEER/);
    // Registered by the operator, the same body is accepted.
    await ctx.stakeholderTypes.add(p.partnerId, 'ALIEN', 'Alien');
    const ok = await post({ splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 50 }, { stakeholderTypeCode: 'ALIEN', percent: 50 }] });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('a stakeholder type used twice in splits', async () => {
    assertError(
      await post({ splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 50 }, { stakeholderTypeCode: 'CUSTOMER', percent: 50 }] }),
      400,
      'VALIDATION_ERROR',
      /CUSTOMER is already used/,
    );
  });

  test('reversed dates, on create and when a PATCH moves one end past the other', async () => {
    assertError(await post({ schedule: { startsAt: iso(2 * HOUR), endsAt: iso(HOUR) } }), 400, 'VALIDATION_ERROR', /dates reversed/);
    assertError(await post({ schedule: { startsAt: iso(HOUR), endsAt: iso(HOUR) } }), 400, 'VALIDATION_ERROR', /dates reversed/);
    const c = await create(p.sk, { ...valid, schedule: { startsAt: iso(HOUR), endsAt: iso(2 * HOUR) } });
    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { schedule: { endsAt: iso(30 * 60_000) } }), 400, 'VALIDATION_ERROR', /dates reversed/);
    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { schedule: { startsAt: iso(3 * HOUR) } }), 400, 'VALIDATION_ERROR', /dates reversed/);
    assert.deepEqual((await call(p.sk, 'GET', `${BASE}/${c.id}`)).json(), c, 'a refused PATCH changes nothing');
    assertError(await post({ schedule: { startsAt: 'tomorrow' } }), 400, 'VALIDATION_ERROR');
  });

  test('overlapping tiers and malformed ranges', async () => {
    assertError(
      await post({ tiers: [{ minAmount: 0, maxAmount: 100, multiplier: 1 }, { minAmount: 99.99, maxAmount: 200, multiplier: 2 }] }),
      400,
      'VALIDATION_ERROR',
      /tiers\[0\] and tiers\[1\] overlap/,
    );
    assertError(await post({ tiers: [{ minAmount: 10, maxAmount: 5, multiplier: 1 }] }), 400, 'VALIDATION_ERROR', /maxAmount must be greater/);
    assertError(await post({ tiers: [{ minAmount: -1, multiplier: 1 }] }), 400, 'VALIDATION_ERROR');
    assertError(await post({ tiers: [{ minAmount: 0, multiplier: 0 }] }), 400, 'VALIDATION_ERROR', /multiplier/);
    assertError(await post({ tiers: [{ minAmount: 0.00001, multiplier: 1 }] }), 400, 'VALIDATION_ERROR', /at most 4 decimal places/);
    const ok = await post({ tiers: [{ minAmount: 0, maxAmount: 100, multiplier: 1 }, { minAmount: 100, multiplier: 1.5 }] });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('multiplier: 0, negative, too many decimals, over 1000, exponent notation', async () => {
    assertError(await post({ multiplier: 0 }), 400, 'VALIDATION_ERROR', /multiplier/);
    assertError(await post({ multiplier: -1.5 }), 400, 'VALIDATION_ERROR', /multiplier/);
    assertError(await post({ multiplier: 1.00001 }), 400, 'VALIDATION_ERROR', /at most 4 decimal places/);
    assertError(await post({ multiplier: 1000.5 }), 400, 'VALIDATION_ERROR', /multiplier/);
    assertError(await postRaw('"multiplier":1e0'), 400, 'VALIDATION_ERROR', /exponent notation/);
    assertError(await postRaw('"multiplier":15E-1'), 400, 'VALIDATION_ERROR', /exponent notation/);
    assertError(await postRaw('"tiers":[{"minAmount":1e2,"multiplier":1}]'), 400, 'VALIDATION_ERROR', /exponent notation/);
    assertError(await postRaw('"budget":{"totalTokens":1e3}'), 400, 'VALIDATION_ERROR', /exponent notation/);
    // Trailing zeros are exact, and read from the text, not the double.
    const ok = await postRaw('"multiplier":1.50000');
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal(ok.json().multiplier, 1.5);
    const exact = await postRaw('"multiplier":0.0001');
    assert.equal(exact.statusCode, 201, exact.body);
    assert.equal(exact.json().multiplier, 0.0001);
  });

  test('unknown properties are refused at every level', async () => {
    for (const body of [
      { colour: 'red' },
      { schedule: { startsAt: iso(HOUR), repeat: 'weekly' } },
      { splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 100, weight: 1 }] },
      { tiers: [{ minAmount: 0, multiplier: 1, label: 'base' }] },
      { budget: { totalTokens: 10, currency: 'SIR' } },
    ]) {
      const res = await post(body);
      assertError(res, 400, 'VALIDATION_ERROR', /unknown property/);
    }
    const c = await create(p.sk, valid);
    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { name: 'x', spentTokens: 0 }), 400, 'VALIDATION_ERROR', /unknown property/);
  });

  test('other field rules: name, actionTypes, status, timezone, budget, priority', async () => {
    for (const body of [
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { actionTypes: [] },
      { actionTypes: ['purchase'] },
      { actionTypes: ['PURCHASE', 'PURCHASE'] },
      { actionTypes: Array.from({ length: 21 }, (_, i) => `T${i}`) },
      { status: 'PAUSED' },
      { status: 'ENDED' },
      { schedule: { timezone: 'Mars/Olympus_Mons' } },
      { budget: { totalTokens: 0 } },
      { budget: { perUserCap: -5 } },
      { budget: { totalTokens: 1.005 } },
      { priority: 1001 },
      { priority: 1.5 },
      { multiplier: '2' },
    ]) {
      const res = await post(body);
      assertError(res, 400, 'VALIDATION_ERROR');
    }
    const missing = await call(p.sk, 'POST', BASE, { name: 'No types' });
    assertError(missing, 400, 'VALIDATION_ERROR', /actionTypes/);
  });

  test('tokenPoolId must be this partner\'s pool in this environment', async () => {
    const other = await createPartner(ctx.services);
    const own = await createPool(p.partnerId, 'sandbox');
    const ownProduction = await createPool(p.partnerId, 'production');
    const foreign = await createPool(other.partnerId, 'sandbox');
    assertError(await post({ tokenPoolId: foreign }), 404, 'NOT_FOUND', /Token pool/);
    assertError(await post({ tokenPoolId: ownProduction }), 404, 'NOT_FOUND', /Token pool/);
    assertError(await post({ tokenPoolId: 'nope' }), 404, 'NOT_FOUND');
    const ok = await post({ tokenPoolId: own });
    assert.equal(ok.statusCode, 201, ok.body);
    const prod = await call(prodKey(p), 'POST', BASE, { ...valid, tokenPoolId: ownProduction });
    assert.equal(prod.statusCode, 201, prod.body);
    const cleared = await call(p.sk, 'PATCH', `${BASE}/${ok.json().id}`, { tokenPoolId: null });
    assert.equal(cleared.json().tokenPoolId, null);
    assertError(await call(p.sk, 'PATCH', `${BASE}/${ok.json().id}`, { tokenPoolId: foreign }), 404, 'NOT_FOUND');
  });

  test('budget total cannot go below what was spent', async () => {
    const c = await create(p.sk, { ...valid, budget: { totalTokens: 100 } });
    // Spending is the action engine's job; 5 tokens are recorded directly here.
    await ctx.db.updateTable('campaigns').set({ budget_spent: 500n }).where('id', '=', c.id).execute();
    assertError(await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { budget: { totalTokens: 4.99 } }), 409, 'BUDGET_BELOW_SPENT', /5 tokens/);
    const equal = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { budget: { totalTokens: 5 } });
    assert.equal(equal.statusCode, 200, equal.body);
    assert.deepEqual(equal.json().budget, { totalTokens: 5, spentTokens: 5, perUserCap: null });
    const unlimited = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { budget: { totalTokens: null } });
    assert.equal(unlimited.json().budget.totalTokens, null);
  });
});

describe('isolation', () => {
  test("another partner's campaign is a 404 on every route, and never listed", async () => {
    const a = await createPartner(ctx.services);
    const b = await createPartner(ctx.services);
    const c = await create(a.sk, { name: 'Mine', actionTypes: ['PURCHASE'] });
    assertError(await call(b.sk, 'GET', `${BASE}/${c.id}`), 404, 'NOT_FOUND');
    assertError(await call(b.sk, 'PATCH', `${BASE}/${c.id}`, { status: 'ACTIVE' }), 404, 'NOT_FOUND');
    assertError(await call(b.sk, 'DELETE', `${BASE}/${c.id}`), 404, 'NOT_FOUND');
    assert.equal((await call(b.sk, 'GET', BASE)).json().total, 0);
    assertError(await call(a.sk, 'GET', `${BASE}/65f1a2b3c4d5e6f7a8b9c0d1`), 404, 'NOT_FOUND');
    const untouched = await call(a.sk, 'GET', `${BASE}/${c.id}`);
    assert.equal(untouched.json().status, 'DRAFT');
    assert.deepEqual(await eventData(c.id), []);
  });

  test('sandbox and production are separate: the other environment gets 404', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const sandbox = await create(p.sk, { name: 'Sandbox', actionTypes: ['PURCHASE'] });
    const production = await create(prodKey(p), { name: 'Production', actionTypes: ['PURCHASE'] });
    assertError(await call(prodKey(p), 'GET', `${BASE}/${sandbox.id}`), 404, 'NOT_FOUND');
    assertError(await call(p.sk, 'GET', `${BASE}/${production.id}`), 404, 'NOT_FOUND');
    assertError(await call(prodKey(p), 'DELETE', `${BASE}/${sandbox.id}`), 404, 'NOT_FOUND');
    assert.deepEqual((await call(p.sk, 'GET', BASE)).json().data.map((c: Json) => c.id), [sandbox.id]);
    assert.deepEqual((await call(prodKey(p), 'GET', BASE)).json().data.map((c: Json) => c.id), [production.id]);
    const events = await statusEvents(production.id);
    assert.deepEqual(events, []);
  });
});

describe('status transitions and their events', () => {
  let p: PartnerFixture;
  before(async () => {
    p = await createPartner(ctx.services, { withProduction: true });
  });
  const patch = (id: string, body: Json) => call(p.sk, 'PATCH', `${BASE}/${id}`, body);

  test('DRAFT -> ACTIVE -> PAUSED -> ACTIVE -> ENDED, one event each, in the same transaction as the change', async () => {
    const c = await create(p.sk, { name: 'Lifecycle', actionTypes: ['PURCHASE'] });
    for (const status of ['ACTIVE', 'PAUSED', 'ACTIVE', 'ENDED']) {
      const res = await patch(c.id, { status });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().status, status);
    }
    const events = await statusEvents(c.id);
    assert.deepEqual(
      events.map((e) => e.data),
      [
        { campaignId: c.id, previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'manual' },
        { campaignId: c.id, previousStatus: 'ACTIVE', status: 'PAUSED', reason: 'manual' },
        { campaignId: c.id, previousStatus: 'PAUSED', status: 'ACTIVE', reason: 'manual' },
        { campaignId: c.id, previousStatus: 'ACTIVE', status: 'ENDED', reason: 'manual' },
      ],
    );
    for (const e of events) {
      assert.equal(e.partner_id, p.partnerId);
      assert.equal(e.environment, 'sandbox');
      assert.match(e.id, /^evt_/);
    }
  });

  test('refused transitions are 409 INVALID_STATE and change nothing', async () => {
    const draft = await create(p.sk, { name: 'Draft', actionTypes: ['PURCHASE'] });
    assertError(await patch(draft.id, { status: 'PAUSED' }), 409, 'INVALID_STATE', /DRAFT campaign cannot become PAUSED/);
    const active = await create(p.sk, { name: 'Active', actionTypes: ['PURCHASE'], status: 'ACTIVE' });
    assertError(await patch(active.id, { status: 'DRAFT' }), 409, 'INVALID_STATE');
    assert.equal((await patch(active.id, { status: 'PAUSED' })).statusCode, 200);
    assertError(await patch(active.id, { status: 'DRAFT' }), 409, 'INVALID_STATE');
    assert.equal((await patch(active.id, { status: 'ENDED' })).statusCode, 200);
    for (const status of ['ACTIVE', 'PAUSED', 'DRAFT', 'ENDED']) {
      assertError(await patch(active.id, { status }), 409, 'INVALID_STATE', /final/);
    }
    assert.equal((await call(p.sk, 'GET', `${BASE}/${draft.id}`)).json().status, 'DRAFT');
    assert.equal((await call(p.sk, 'GET', `${BASE}/${active.id}`)).json().status, 'ENDED');
    assert.equal((await eventData(draft.id)).length, 0);
    assert.equal((await eventData(active.id)).length, 3);
  });

  test('the same status again is no change and no event', async () => {
    const c = await create(p.sk, { name: 'Steady', actionTypes: ['PURCHASE'], status: 'ACTIVE' });
    const res = await patch(c.id, { status: 'ACTIVE', name: 'Steady still' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await eventData(c.id)).length, 1);
  });

  test('a campaign whose endsAt has passed cannot be activated', async () => {
    assertError(
      await call(p.sk, 'POST', BASE, { name: 'Too late', actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { endsAt: iso(-1000) } }),
      409,
      'INVALID_STATE',
      /endsAt/,
    );
    const c = await create(p.sk, { name: 'Past', actionTypes: ['PURCHASE'], schedule: { startsAt: iso(-2 * HOUR), endsAt: iso(-HOUR) } });
    assertError(await patch(c.id, { status: 'ACTIVE' }), 409, 'INVALID_STATE', /endsAt/);
    // Moving endsAt into the future in the same PATCH makes it possible.
    const moved = await patch(c.id, { status: 'ACTIVE', schedule: { endsAt: iso(HOUR) } });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.equal(moved.json().status, 'ACTIVE');
  });

  test('moving endsAt into the past on a running campaign ends it at once, by schedule', async () => {
    const c = await create(p.sk, { name: 'Cut short', actionTypes: ['PURCHASE'], status: 'ACTIVE' });
    const res = await patch(c.id, { schedule: { endsAt: iso(-1000) } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'ENDED');
    assert.deepEqual((await eventData(c.id)).at(-1), { campaignId: c.id, previousStatus: 'ACTIVE', status: 'ENDED', reason: 'schedule' });
  });
});

describe('schedule: auto start and end, on the partner clock', () => {
  test('ACTIVE before startsAt waits as DRAFT (autoStart) and starts when the sandbox clock reaches it', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const startsAt = iso(HOUR);
    const endsAt = iso(3 * HOUR);
    const body = { name: 'Later', actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { startsAt, endsAt } };
    const sandbox = await create(p.sk, body);
    const production = await create(prodKey(p), body);
    for (const c of [sandbox, production]) {
      assert.equal(c.status, 'DRAFT');
      assert.equal(c.schedule.autoStart, true);
      assert.deepEqual(await eventData(c.id), [], 'waiting is not a status change');
    }
    assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 0, 'nothing is due yet');

    // Only the sandbox runs ahead: its campaign starts, the production one keeps waiting on real time.
    await ctx.partnerClock.advance(p.partnerId, HOUR);
    assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 1);
    const started = (await call(p.sk, 'GET', `${BASE}/${sandbox.id}`)).json();
    assert.equal(started.status, 'ACTIVE');
    assert.equal(started.schedule.autoStart, false);
    assert.deepEqual(await eventData(sandbox.id), [{ campaignId: sandbox.id, previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'schedule' }]);
    const [event] = await statusEvents(sandbox.id);
    // The event is stamped with the partner's (sandbox) time.
    assert.ok(event!.created_at.getTime() >= Date.parse(startsAt));
    assert.equal((await call(prodKey(p), 'GET', `${BASE}/${production.id}`)).json().status, 'DRAFT');

    // Real time reaches startsAt: production starts too; the sandbox one is not started twice.
    ctx.clock.advance(HOUR);
    try {
      assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 1);
      assert.equal((await call(prodKey(p), 'GET', `${BASE}/${production.id}`)).json().status, 'ACTIVE');
      assert.equal((await eventData(sandbox.id)).length, 1);

      // Both reach endsAt on their own clocks (sandbox is an hour ahead).
      ctx.clock.advance(HOUR);
      assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 1);
      assert.equal((await call(p.sk, 'GET', `${BASE}/${sandbox.id}`)).json().status, 'ENDED');
      assert.equal((await call(prodKey(p), 'GET', `${BASE}/${production.id}`)).json().status, 'ACTIVE');
      ctx.clock.advance(HOUR);
      assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 1);
      assert.deepEqual((await eventData(production.id)).map((e) => `${e.previousStatus}->${e.status}:${e.reason}`), [
        'DRAFT->ACTIVE:schedule',
        'ACTIVE->ENDED:schedule',
      ]);
    } finally {
      ctx.clock.advance(-3 * HOUR);
    }
  });

  test('a PATCH to ACTIVE before startsAt also waits; DRAFT cancels the automatic start', async () => {
    const p = await createPartner(ctx.services);
    const c = await create(p.sk, { name: 'Pending', actionTypes: ['PURCHASE'], schedule: { startsAt: iso(HOUR) } });
    const waiting = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { status: 'ACTIVE' });
    assert.equal(waiting.json().status, 'DRAFT');
    assert.equal(waiting.json().schedule.autoStart, true);
    const cancelled = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { status: 'DRAFT' });
    assert.equal(cancelled.json().schedule.autoStart, false);
    await ctx.partnerClock.advance(p.partnerId, 2 * HOUR);
    assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 0);
    assert.equal((await call(p.sk, 'GET', `${BASE}/${c.id}`)).json().status, 'DRAFT');
  });

  test('moving startsAt of a waiting campaign into the past starts it in that PATCH', async () => {
    const p = await createPartner(ctx.services);
    const c = await create(p.sk, { name: 'Sooner', actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { startsAt: iso(HOUR) } });
    assert.equal(c.status, 'DRAFT');
    const res = await call(p.sk, 'PATCH', `${BASE}/${c.id}`, { schedule: { startsAt: iso(-1000) } });
    assert.equal(res.json().status, 'ACTIVE');
    assert.deepEqual(await eventData(c.id), [{ campaignId: c.id, previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'schedule' }]);
  });

  test('a waiting campaign whose whole window passed ends directly; a paused one ends at endsAt', async () => {
    const p = await createPartner(ctx.services);
    const waiting = await create(p.sk, { name: 'Missed', actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { startsAt: iso(HOUR), endsAt: iso(2 * HOUR) } });
    const paused = await create(p.sk, { name: 'Paused', actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { endsAt: iso(2 * HOUR) } });
    assert.equal((await call(p.sk, 'PATCH', `${BASE}/${paused.id}`, { status: 'PAUSED' })).statusCode, 200);
    await ctx.partnerClock.advance(p.partnerId, 3 * HOUR);
    assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 2);
    assert.deepEqual(await eventData(waiting.id), [{ campaignId: waiting.id, previousStatus: 'DRAFT', status: 'ENDED', reason: 'schedule' }]);
    assert.deepEqual((await eventData(paused.id)).at(-1), { campaignId: paused.id, previousStatus: 'PAUSED', status: 'ENDED', reason: 'schedule' });
  });

  test('schedulers running concurrently in several processes make each transition and its event exactly once', async () => {
    const p = await createPartner(ctx.services);
    const q = await createPartner(ctx.services);
    // Separate pools stand in for separate worker processes.
    const others: Kysely<Database>[] = Array.from({ length: 3 }, () =>
      createKysely(createPgPool({ connectionString: ctx.databaseUrl, max: 4 })),
    );
    try {
      const ids: string[] = [];
      for (let round = 0; round < 3; round++) {
        const roundIds: string[] = [];
        for (const partner of [p, q]) {
          for (let i = 0; i < 8; i++) {
            const c = await create(partner.sk, {
              name: `Due ${round}.${i}`,
              actionTypes: ['PURCHASE'],
              status: 'ACTIVE',
              schedule: { startsAt: iso(HOUR - 1), endsAt: iso(11 * HOUR) },
            });
            roundIds.push(c.id);
          }
        }
        ctx.clock.advance(HOUR);
        const seqBefore = await lastEventSeq();
        // Unfiltered runs, as the workers make them: campaigns of earlier tests may fall due too.
        const counts = await Promise.all([ctx.db, ...others, ctx.db].map((db) => runCampaignSchedule(db, new PartnerClock(db, ctx.clock))));
        const written = await ctx.db
          .selectFrom('outbox_events')
          .select((eb) => eb.fn.countAll<bigint>().as('n'))
          .where('type', '=', 'campaign.status_changed')
          .where('seq', '>', seqBefore)
          .executeTakeFirstOrThrow();
        const total = counts.reduce((a, b) => a + b, 0);
        assert.equal(BigInt(total), written.n, `round ${round}: the runs report exactly the transitions they wrote (${counts.join(', ')})`);
        assert.ok(total >= roundIds.length, `round ${round}: ${counts.join(', ')}`);
        ids.push(...roundIds);
      }
      for (const id of ids) {
        assert.deepEqual(await eventData(id), [{ campaignId: id, previousStatus: 'DRAFT', status: 'ACTIVE', reason: 'schedule' }], id);
      }
      // Nothing is left to do; a further run changes nothing.
      assert.equal(await runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }), 0);
    } finally {
      ctx.clock.advance(-3 * HOUR);
      await Promise.all(others.map((db) => db.destroy()));
    }
  });

  test('a manual change racing the scheduler leaves a consistent chain of events', async () => {
    const p = await createPartner(ctx.services);
    for (let i = 0; i < 5; i++) {
      const c = await create(p.sk, { name: `Race ${i}`, actionTypes: ['PURCHASE'], status: 'ACTIVE', schedule: { endsAt: await sandboxIso(p.partnerId, HOUR) } });
      await ctx.partnerClock.advance(p.partnerId, HOUR);
      const [patched] = await Promise.all([
        call(p.sk, 'PATCH', `${BASE}/${c.id}`, { status: 'PAUSED' }),
        runCampaignSchedule(ctx.db, ctx.partnerClock, { partnerId: p.partnerId }),
      ]);
      // Whichever came first, the campaign ends: either the PATCH saw endsAt passed, or the scheduler ended it first (409).
      assert.ok(patched.statusCode === 200 || patched.statusCode === 409, patched.body);
      const final = (await call(p.sk, 'GET', `${BASE}/${c.id}`)).json();
      assert.equal(final.status, 'ENDED');
      const chain = await eventData(c.id);
      let status = 'DRAFT';
      for (const e of chain) {
        assert.equal(e.previousStatus, status, JSON.stringify(chain));
        status = e.status as string;
      }
      assert.equal(status, 'ENDED');
    }
  });
});

describe('for the action engine', () => {
  test('campaignsRepo.applicable + pickCampaign: running, by type and window, highest priority, oldest on a tie', async () => {
    const p = await createPartner(ctx.services, { withProduction: true });
    const low = await create(p.sk, { name: 'Low', actionTypes: ['PURCHASE'], status: 'ACTIVE', priority: 1 });
    ctx.clock.advance(1000);
    const tieOld = await create(p.sk, { name: 'Tie old', actionTypes: ['PURCHASE', 'DONATION'], status: 'ACTIVE', priority: 5 });
    ctx.clock.advance(1000);
    await create(p.sk, { name: 'Tie new', actionTypes: ['PURCHASE'], status: 'ACTIVE', priority: 5 });
    const future = await create(p.sk, { name: 'Future', actionTypes: ['PURCHASE'], status: 'ACTIVE', priority: 9, schedule: { startsAt: iso(HOUR) } });
    const paused = await create(p.sk, { name: 'Paused', actionTypes: ['VOLUNTEER'], status: 'ACTIVE', priority: 9 });
    await call(p.sk, 'PATCH', `${BASE}/${paused.id}`, { status: 'PAUSED' });
    await create(prodKey(p), { name: 'Production', actionTypes: ['PURCHASE'], status: 'ACTIVE', priority: 100 });

    const rows = await campaignsRepo.applicable(ctx.db, { partnerId: p.partnerId, environment: 'sandbox' }, []);
    assert.deepEqual(rows.map((r) => r.name), ['Tie old', 'Tie new', 'Low'], 'ACTIVE only, this environment, best first');
    assert.ok(!rows.some((r) => r.id === future.id), 'a waiting campaign is still a DRAFT');
    const now = await ctx.partnerClock.now(p.partnerId, 'sandbox');
    assert.equal(pickCampaign(rows, 'PURCHASE', now)?.id, tieOld.id);
    assert.equal(pickCampaign(rows, 'DONATION', now)?.id, tieOld.id);
    assert.equal(pickCampaign(rows, 'VOLUNTEER', now), undefined);
    await call(p.sk, 'PATCH', `${BASE}/${tieOld.id}`, { status: 'PAUSED' });
    const after = await campaignsRepo.applicable(ctx.db, { partnerId: p.partnerId, environment: 'sandbox' }, []);
    assert.equal(pickCampaign(after, 'PURCHASE', now)?.name, 'Tie new');
    assert.equal(pickCampaign(after, 'DONATION', now), undefined);
    assert.ok(after.some((r) => r.id === low.id));
  });
});
