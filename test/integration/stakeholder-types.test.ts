import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/platform/errors.js';
import { DEFAULT_STAKEHOLDER_TYPES, StakeholderTypesService } from '../../src/modules/rewards/stakeholder-types.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { signed, type SigningKey } from '../harness/context.js';
import { createRewardsTestContext, OPERATOR_TOKEN, type RewardsTestContext } from '../harness/with-routes.js';

/** Stakeholder types: lazily seeded defaults, the operator's changes, and the check actions and campaigns use. */

let ctx: RewardsTestContext;
before(async () => {
  ctx = await createRewardsTestContext();
});
after(async () => {
  await ctx.close();
});

const call = (key: SigningKey, method: string, url: string, body?: unknown) => ctx.app.inject(signed(ctx.clock, key, method, url, body));
const operator = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) =>
  ctx.app.inject({ method, url, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, ...(payload ? { payload } : {}) });
const adminUrl = (p: PartnerFixture, code?: string) =>
  `/v1/admin/partners/${p.partnerId}/stakeholder-types${code === undefined ? '' : `/${encodeURIComponent(code)}`}`;
const codesOf = (res: { json(): unknown }) => (res.json() as { data: { code: string }[] }).data.map((t) => t.code).sort();
const storedRows = async (partnerId: string) =>
  (await ctx.db.selectFrom('stakeholder_types').select('code').where('partner_id', '=', partnerId).execute()).map((r) => r.code).sort();

const DEFAULT_CODES = DEFAULT_STAKEHOLDER_TYPES.map((t) => t.code).sort();

describe('defaults', () => {
  test('a partner without rows gets the six defaults, with names, on its first read', async () => {
    const p = await createPartner(ctx.services);
    assert.deepEqual(await storedRows(p.partnerId), [], 'nothing is written before the first read');
    const res = await call(p.sk, 'GET', '/v1/partner/stakeholder-types');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(codesOf(res), ['ADVOCATE', 'CUSTOMER', 'DONOR', 'ORGANIZATION', 'REFERRER', 'VOLUNTEER']);
    const byCode = new Map((res.json() as { data: { code: string; name: string; createdAt: string }[] }).data.map((t) => [t.code, t]));
    assert.equal(byCode.get('CUSTOMER')!.name, 'Customer');
    assert.equal(byCode.get('ORGANIZATION')!.name, 'Organization');
    assert.ok(!Number.isNaN(Date.parse(byCode.get('DONOR')!.createdAt)));
    assert.deepEqual(await storedRows(p.partnerId), DEFAULT_CODES);
    // The publishable key reads too (a signed GET).
    const viaPk = await call(p.pk, 'GET', '/v1/partner/stakeholder-types');
    assert.equal(viaPk.statusCode, 200, viaPk.body);
    assert.deepEqual(codesOf(viaPk), DEFAULT_CODES);
  });

  test('concurrent first reads from several processes seed once', async () => {
    const p = await createPartner(ctx.services);
    const services = Array.from({ length: 6 }, () => new StakeholderTypesService(ctx.db));
    const lists = await Promise.all(services.map((s) => s.list(p.partnerId)));
    for (const list of lists) assert.deepEqual(list.map((t) => t.code).sort(), DEFAULT_CODES);
    assert.deepEqual(await storedRows(p.partnerId), DEFAULT_CODES);
  });

  test('the partner route needs a signed request', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/v1/partner/stakeholder-types' });
    assert.equal(res.statusCode, 401, res.body);
  });
});

describe('operator changes', () => {
  test('add, list, remove; the partner sees each change at once', async () => {
    const p = await createPartner(ctx.services);
    const added = await operator('POST', adminUrl(p), { code: 'MEMBER', name: 'Club member' });
    assert.equal(added.statusCode, 201, added.body);
    assert.equal(added.json().code, 'MEMBER');
    assert.equal(added.json().name, 'Club member');
    // Adding to a partner nobody had read yet still gives it the defaults.
    assert.deepEqual(codesOf(await operator('GET', adminUrl(p))), [...DEFAULT_CODES, 'MEMBER'].sort());
    // Warm the partner-facing cache, then change: the change shows without waiting for the TTL.
    assert.ok((await ctx.stakeholderTypes.codes(p.partnerId)).has('MEMBER'));
    const removed = await operator('DELETE', adminUrl(p, 'ADVOCATE'));
    assert.equal(removed.statusCode, 200, removed.body);
    assert.deepEqual(removed.json(), { code: 'ADVOCATE', deleted: true });
    assert.ok(!(await ctx.stakeholderTypes.codes(p.partnerId)).has('ADVOCATE'));
    const seen = await call(p.sk, 'GET', '/v1/partner/stakeholder-types');
    assert.deepEqual(codesOf(seen), ['CUSTOMER', 'DONOR', 'MEMBER', 'ORGANIZATION', 'REFERRER', 'VOLUNTEER']);
    // A removed default stays removed: the defaults are not written again.
    assert.ok(!(await storedRows(p.partnerId)).includes('ADVOCATE'));
  });

  test('a code that exists -> 409 STAKEHOLDER_TYPE_EXISTS; a malformed code or extra field -> 400', async () => {
    const p = await createPartner(ctx.services);
    const dup = await operator('POST', adminUrl(p), { code: 'CUSTOMER', name: 'Again' });
    assert.equal(dup.statusCode, 409, dup.body);
    assert.equal(dup.json().code, 'STAKEHOLDER_TYPE_EXISTS');
    for (const body of [
      { code: 'member', name: 'lower case' },
      { code: '1ST', name: 'digit first' },
      { code: 'A'.repeat(41), name: 'too long' },
      { code: 'OK', name: '' },
      { code: 'OK', name: 'x', extra: true },
      { code: 'OK' },
    ]) {
      const res = await operator('POST', adminUrl(p), body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });

  test('an unknown partner -> 404; an unknown code -> 404', async () => {
    const ghost = '65f1a2b3c4d5e6f7a8b9c0d1';
    for (const res of [
      await operator('GET', `/v1/admin/partners/${ghost}/stakeholder-types`),
      await operator('POST', `/v1/admin/partners/${ghost}/stakeholder-types`, { code: 'MEMBER', name: 'Member' }),
      await operator('DELETE', `/v1/admin/partners/${ghost}/stakeholder-types/CUSTOMER`),
    ]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'NOT_FOUND');
    }
    const p = await createPartner(ctx.services);
    const res = await operator('DELETE', adminUrl(p, 'NOPE'));
    assert.equal(res.statusCode, 404, res.body);
  });

  test('the last type cannot be removed (the defaults would come back)', async () => {
    const p = await createPartner(ctx.services);
    for (const code of DEFAULT_CODES.slice(1)) {
      const res = await operator('DELETE', adminUrl(p, code));
      assert.equal(res.statusCode, 200, res.body);
    }
    const last = await operator('DELETE', adminUrl(p, DEFAULT_CODES[0]!));
    assert.equal(last.statusCode, 409, last.body);
    assert.equal(last.json().code, 'INVALID_STATE');
    assert.deepEqual(await storedRows(p.partnerId), [DEFAULT_CODES[0]]);
  });

  test('concurrent removals of the last two types leave one', async () => {
    const p = await createPartner(ctx.services);
    for (const code of DEFAULT_CODES.slice(2)) await ctx.stakeholderTypes.remove(p.partnerId, code);
    const [a, b] = DEFAULT_CODES as [string, string];
    const results = await Promise.allSettled([
      new StakeholderTypesService(ctx.db).remove(p.partnerId, a),
      new StakeholderTypesService(ctx.db).remove(p.partnerId, b),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal((await storedRows(p.partnerId)).length, 1);
  });

  test('a type a live campaign splits on cannot be removed until the campaign ends', async () => {
    const p = await createPartner(ctx.services);
    await ctx.stakeholderTypes.add(p.partnerId, 'MEMBER', 'Member');
    const campaign = await call(p.sk, 'POST', '/v1/partner/campaigns', {
      name: 'Members first',
      actionTypes: ['PURCHASE'],
      splits: [
        { stakeholderTypeCode: 'MEMBER', percent: 60 },
        { stakeholderTypeCode: 'CUSTOMER', percent: 40 },
      ],
    });
    assert.equal(campaign.statusCode, 201, campaign.body);
    const refused = await operator('DELETE', adminUrl(p, 'MEMBER'));
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json().code, 'STAKEHOLDER_TYPE_IN_USE');
    assert.match(refused.json().message, new RegExp(campaign.json().id));
    const archived = await call(p.sk, 'DELETE', `/v1/partner/campaigns/${campaign.json().id}`);
    assert.equal(archived.statusCode, 200, archived.body);
    const ok = await operator('DELETE', adminUrl(p, 'MEMBER'));
    assert.equal(ok.statusCode, 200, ok.body);
  });
});

describe('codes() and assertRegistered()', () => {
  test('codes() is cached for the TTL: another process sees a change within it', async () => {
    const p = await createPartner(ctx.services);
    const other = new StakeholderTypesService(ctx.db, { cacheTtlMs: 150 });
    const first = await other.codes(p.partnerId);
    assert.deepEqual([...first].sort(), DEFAULT_CODES);
    // A change made elsewhere (another process) is not seen while the entry is fresh ...
    await ctx.stakeholderTypes.add(p.partnerId, 'PATRON', 'Patron');
    assert.ok(!(await other.codes(p.partnerId)).has('PATRON'));
    // ... and is once it has expired.
    await sleep(200);
    assert.ok((await other.codes(p.partnerId)).has('PATRON'));
  });

  test('assertRegistered names the unknown codes and lists the valid ones', async () => {
    const p = await createPartner(ctx.services);
    await ctx.stakeholderTypes.assertRegistered(p.partnerId, ['CUSTOMER', 'DONOR']);
    await ctx.stakeholderTypes.assertRegistered(p.partnerId, []);
    await assert.rejects(ctx.stakeholderTypes.assertRegistered(p.partnerId, ['CUSTOMER', 'FAN', 'SPONSOR', 'FAN']), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'UNKNOWN_STAKEHOLDER_TYPE');
      assert.match(err.message, /FAN, SPONSOR are not registered/);
      assert.match(err.message, /registered types: ADVOCATE, CUSTOMER, DONOR, ORGANIZATION, REFERRER, VOLUNTEER/);
      assert.equal(err.details?.length, 2);
      return true;
    });
  });

  test('types are per partner: one partner\'s addition is not another\'s', async () => {
    const a = await createPartner(ctx.services);
    const b = await createPartner(ctx.services);
    await ctx.stakeholderTypes.add(a.partnerId, 'MEMBER', 'Member');
    assert.ok((await ctx.stakeholderTypes.codes(a.partnerId)).has('MEMBER'));
    assert.ok(!(await ctx.stakeholderTypes.codes(b.partnerId)).has('MEMBER'));
    await assert.rejects(ctx.stakeholderTypes.assertRegistered(b.partnerId, ['MEMBER']), /MEMBER is not registered/);
  });
});
