import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPaymentsAccount } from '../factories/payments.js';
import { createPool, operatorCall, outboxEvents, partnerCall } from '../factories/rewards.js';
import { closeWithLedgerCheck, createTestContext, type TestContext } from '../harness/context.js';
import { Value } from '@sinclair/typebox/value';
import { organizationsRepo } from '../../src/modules/organizations/index.js';
import { EVENT_DATA_SCHEMAS } from '../../src/modules/webhooks/event-catalogue.js';

/**
 * Donation links (contract A8.3): create-link for both providers, the hosted checkout paid or
 * declined, Every.org's notification, the donation's status, its reward and its events.
 */
let ctx: TestContext;
let partner: PartnerFixture;
before(async () => {
  ctx = await createTestContext();
  partner = await createPartner(ctx.services);
  await createPool(ctx.services, partner.partnerId);
  await createPaymentsAccount(ctx.services, partner.partnerId);
  await organizationsRepo.ensure(ctx.services.db, { slug: 'test-shelter', name: 'Test Shelter', ein: '990000001', status: 'active' });
  await organizationsRepo.ensure(ctx.services.db, { slug: 'closed-charity', name: 'Closed Charity', ein: '990000002', status: 'inactive' });
});
after(closeWithLedgerCheck(() => ctx, 'donations'));

type Json = Record<string, unknown>;
const widget = (method: 'GET' | 'POST', url: string, body?: unknown, key = partner.sandbox.publishableKey) =>
  ctx.app.inject({ method, url, headers: { 'x-partner-key': key }, ...(body !== undefined ? { payload: body as object } : {}) });
const createLink = async (body: Json, status = 201) => {
  const res = await widget('POST', '/v1/partner/donations/create-link', body);
  assert.equal(res.statusCode, status, res.body);
  return res.json() as Json;
};
const statusOf = async (id: string) => {
  const res = await widget('GET', `/v1/partner/donations/status/${id}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Json;
};
const pay = (link: string, card: string) =>
  ctx.app.inject({ method: 'POST', url: `${new URL(link).pathname}/pay`, payload: { card: { number: card, expMonth: 12, expYear: 2040, cvc: '123' } } });
const balance = async (user: string) => {
  const res = await partnerCall(ctx, partner.sk, 'GET', `/v1/partner/users/${user}/balance`);
  return res.statusCode === 404 ? null : ((res.json() as Json).balance as number);
};
const base = { nonprofitSlug: 'test-shelter', amount: 2500, currency: 'USD' };

describe('provider stripe: the hosted checkout', () => {
  test('paid: COMPLETED at once, the donor and the referrer rewarded once, donation.completed with the tokens', async () => {
    await partnerCall(ctx, partner.sk, 'POST', '/v1/partner/users', { externalUserId: 'referrer_1' });
    const link = await createLink({ ...base, provider: 'stripe', tipPercent: 10, externalUserId: 'donor_1', referralCode: 'referrer_1', firstName: 'Ada', successUrl: 'https://partner.example/thanks?x=1' });
    assert.equal(link.status, 'PENDING');
    assert.match(String(link.donationLink), /\/checkout\/cs_test_/);
    assert.match(String(link.partnerDonationId), /^don_/);
    assert.equal((await statusOf(String(link.partnerDonationId))).status, 'PENDING');

    const paid = await pay(String(link.donationLink), '4242424242424242');
    assert.equal(paid.statusCode, 200, paid.body);
    const redirect = new URL(String((paid.json() as Json).redirectUrl));
    assert.equal(redirect.origin + redirect.pathname, 'https://partner.example/thanks');
    assert.equal(redirect.searchParams.get('x'), '1');
    assert.equal(redirect.searchParams.get('partnerDonationId'), link.partnerDonationId);

    const s = await statusOf(String(link.partnerDonationId));
    assert.equal(s.status, 'COMPLETED');
    assert.equal(s.amount, 2500);
    assert.equal(s.tip, 250);
    // $25 with no campaign: 25 tokens split evenly between the two stakeholders.
    assert.equal(s.tokensAwarded, 25);
    assert.equal(await balance('donor_1'), 12.5);
    assert.equal(await balance('referrer_1'), 12.5);
    // The charge is the donation plus the tip plus what covers no fee (not asked): the tip is on it.
    const charge = await ctx.services.db.selectFrom('charges').select(['amount', 'tip', 'status']).where('status', '=', 'succeeded').orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    assert.equal(charge.tip, 250n);

    // Asking again, or the worker's sweep, changes nothing more.
    await statusOf(String(link.partnerDonationId));
    await ctx.services.donations.sweep();
    const events = (await outboxEvents(ctx.services.db, partner.partnerId, 'donation.completed')).filter((e) => (e.data as Json).partnerDonationId === link.partnerDonationId);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data, { partnerDonationId: link.partnerDonationId, amount: 2500, currency: 'USD', provider: 'stripe', tokensAwarded: 25 });
    assert.equal(await balance('donor_1'), 12.5);
  });

  test('declined: FAILED with the reason and donation.failed, no tokens; a later good card completes it', async () => {
    const link = await createLink({ ...base, provider: 'stripe', externalUserId: 'donor_2' });
    const declined = await pay(String(link.donationLink), '4000000000000002');
    assert.equal(declined.statusCode, 200, declined.body);
    assert.equal((declined.json() as Json).status, 'requires_payment_method');
    const s = await statusOf(String(link.partnerDonationId));
    assert.equal(s.status, 'FAILED');
    assert.match(String(s.failureReason), /declined/i);
    assert.equal(s.tokensAwarded, null);
    assert.equal(await balance('donor_2'), null);
    const failed = (await outboxEvents(ctx.services.db, partner.partnerId, 'donation.failed')).filter((e) => (e.data as Json).partnerDonationId === link.partnerDonationId);
    assert.equal(failed.length, 1);

    const paid = await pay(String(link.donationLink), '4242424242424242');
    assert.equal((paid.json() as Json).status, 'succeeded', paid.body);
    const after = await statusOf(String(link.partnerDonationId));
    assert.equal(after.status, 'COMPLETED');
    assert.equal(after.failureReason, null);
    assert.equal(await balance('donor_2'), 25);
  });

  test('a full refund takes the reward back once; a partial refund does not', async () => {
    const link = await createLink({ ...base, provider: 'stripe', externalUserId: 'donor_refund' });
    await pay(String(link.donationLink), '4242424242424242');
    assert.equal(await balance('donor_refund'), 25);
    const session = new URL(String(link.donationLink)).pathname.split('/').pop()!;
    const { charge_id } = await ctx.services.db
      .selectFrom('checkout_sessions as cs')
      .innerJoin('payment_intents as pi', 'pi.id', 'cs.payment_intent_id')
      .select('pi.charge_id')
      .where('cs.id', '=', session)
      .executeTakeFirstOrThrow();
    const refund = (amount?: number) => operatorCall(ctx, 'POST', `/v1/admin/charges/${charge_id}/refund`, amount === undefined ? {} : { amount });
    const partial = await refund(100);
    assert.equal(partial.statusCode, 200, partial.body);
    assert.equal(await balance('donor_refund'), 25);
    const full = await refund();
    assert.equal(full.statusCode, 200, full.body);
    assert.equal(await balance('donor_refund'), 0);
    await ctx.services.donations.sweep();
    const reversed = (await outboxEvents(ctx.services.db, partner.partnerId, 'action.reversed')).length;
    await ctx.services.donations.sweep();
    assert.equal((await outboxEvents(ctx.services.db, partner.partnerId, 'action.reversed')).length, reversed);
    assert.equal(await balance('donor_refund'), 0);
  });

  test('no donor user and no referrer: COMPLETED, nothing to reward, donation.completed with 0 tokens', async () => {
    const link = await createLink({ ...base, provider: 'stripe' });
    await pay(String(link.donationLink), '4242424242424242');
    const s = await statusOf(String(link.partnerDonationId));
    assert.equal(s.status, 'COMPLETED');
    assert.equal(s.tokensAwarded, null);
    const events = (await outboxEvents(ctx.services.db, partner.partnerId, 'donation.completed')).filter((e) => (e.data as Json).partnerDonationId === link.partnerDonationId);
    assert.equal((events[0]!.data as Json).tokensAwarded, 0);
  });

  test('monthly becomes a subscription paid on the hosted page', async () => {
    const link = await createLink({ ...base, provider: 'stripe', frequency: 'monthly', donorEmail: 'ada@example.org', tipAmount: 100, externalUserId: 'donor_3' });
    const paid = await pay(String(link.donationLink), '4242424242424242');
    assert.equal((paid.json() as Json).status, 'succeeded', paid.body);
    const s = await statusOf(String(link.partnerDonationId));
    assert.equal(s.status, 'COMPLETED');
    assert.equal(s.frequency, 'monthly');
    const subs = await ctx.services.db.selectFrom('subscriptions').select(['amount', 'tip', 'interval', 'status']).where('status', '=', 'active').execute();
    assert.ok(subs.some((x) => x.amount === 2500n && x.tip === 100n && x.interval === 'month'), JSON.stringify(subs, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  });
});

describe('provider every.org', () => {
  const intake = (token: string | undefined, body: Json) =>
    ctx.app.inject({ method: 'POST', url: `/v1/integrations/every-org/donations${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`, payload: body });
  // What the operator registers with Every.org (almoner every-org intake-url).
  const intakeToken = () => new URL(ctx.services.donations.everyOrgSetup().intakeUrl).searchParams.get('token')!;

  test('the link is an Every.org donate URL with amount, frequency, ids, metadata, token and success URL', async () => {
    const link = await createLink({ ...base, frequency: 'monthly', metadata: { campaign: 'spring' }, donorEmail: 'a@b.org', firstName: 'Ada' });
    const url = new URL(String(link.donationLink));
    assert.equal(link.provider, 'every.org');
    assert.equal(url.origin + url.pathname, 'https://www.every.org/test-shelter');
    const params = new URLSearchParams(url.hash.replace(/^#\/donate\?/, ''));
    assert.equal(params.get('amount'), '25');
    assert.equal(params.get('frequency'), 'MONTHLY');
    assert.equal(params.get('partner_donation_id'), link.partnerDonationId);
    assert.deepEqual(JSON.parse(Buffer.from(params.get('partner_metadata')!, 'base64').toString()), { partnerDonationId: link.partnerDonationId, campaign: 'spring' });
    assert.ok(params.get('webhook_token'));
    assert.notEqual(params.get('webhook_token'), intakeToken());
    assert.equal(new URL(params.get('success_url')!).searchParams.get('partnerDonationId'), link.partnerDonationId);
    assert.equal(params.get('email'), 'a@b.org');
    assert.equal(params.get('first_name'), 'Ada');
  });

  test('the notification: wrong token 401, unknown donation 404, both without change; five copies at once complete it once', async () => {
    const link = await createLink({ ...base, externalUserId: 'donor_4' });
    const id = String(link.partnerDonationId);
    const note = { chargeId: 'every_ch_1', partnerDonationId: id, amount: '30.00', netAmount: '29.10', currency: 'USD', frequency: 'One-time', toNonprofit: { slug: 'test-shelter' } };
    assert.equal((await intake('wrong-token-wrong-token-wrong', note)).statusCode, 401);
    assert.equal((await intake(undefined, note)).statusCode, 401);
    assert.equal((await intake(intakeToken(), { ...note, partnerDonationId: 'don_unknown' })).statusCode, 404);
    assert.equal((await statusOf(id)).status, 'PENDING');

    const answers = await Promise.all(Array.from({ length: 5 }, () => intake(intakeToken(), note)));
    assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200], answers.map((a) => a.body).join('\n'));
    assert.equal(answers.filter((a) => (a.json() as Json).duplicate === false).length, 1);
    const s = await statusOf(id);
    assert.equal(s.status, 'COMPLETED');
    // The donor gave $30, not the $25 the link suggested: the reward follows what was given.
    assert.equal(s.amount, 3000);
    assert.equal(s.tokensAwarded, 30);
    assert.equal(await balance('donor_4'), 30);
    const events = (await outboxEvents(ctx.services.db, partner.partnerId, 'donation.completed')).filter((e) => (e.data as Json).partnerDonationId === id);
    assert.equal(events.length, 1);
  });
});

test('every donation event written matches its published schema', async () => {
  for (const type of ['donation.completed', 'donation.failed'] as const) {
    const events = await outboxEvents(ctx.services.db, partner.partnerId, type);
    assert.ok(events.length > 0, type);
    for (const e of events) assert.ok(Value.Check(EVENT_DATA_SCHEMAS[type], e.data), `${type}: ${JSON.stringify(e.data)}`);
  }
});

describe('bad input', () => {
  const refused = async (body: Json, status: number, code: string, path?: string) => {
    const res = await widget('POST', '/v1/partner/donations/create-link', body);
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    const err = res.json() as { code: string; message: string; details?: { path?: string }[] };
    assert.equal(err.code, code, res.body);
    if (path) assert.ok(err.details?.some((d) => d.path === path), res.body);
  };

  test('amounts, currencies, frequencies, tips, slugs, referrers and URLs', async () => {
    await refused({ ...base, amount: 99 }, 400, 'VALIDATION_ERROR', '/amount');
    await refused({ ...base, amount: 100_000_000 }, 400, 'VALIDATION_ERROR', '/amount');
    await refused({ ...base, amount: 25.5 }, 400, 'VALIDATION_ERROR');
    await refused({ ...base, currency: 'XYZ' }, 400, 'VALIDATION_ERROR', '/currency');
    await refused({ ...base, currency: 'EUR' }, 400, 'VALIDATION_ERROR', '/currency');
    await refused({ ...base, frequency: 'weekly' }, 400, 'VALIDATION_ERROR');
    await refused({ ...base, provider: 'paypal' }, 400, 'VALIDATION_ERROR');
    await refused({ ...base, provider: 'stripe', tipPercent: 101 }, 400, 'VALIDATION_ERROR', '/tipPercent');
    await refused({ ...base, provider: 'stripe', tipPercent: -1 }, 400, 'VALIDATION_ERROR', '/tipPercent');
    await refused({ ...base, provider: 'stripe', tipPercent: 10.123 }, 400, 'VALIDATION_ERROR', '/tipPercent');
    await refused({ ...base, provider: 'stripe', tipPercent: 10, tipAmount: 100 }, 400, 'VALIDATION_ERROR', '/tipPercent');
    await refused({ ...base, tipAmount: 100 }, 400, 'VALIDATION_ERROR', '/tipAmount');
    await refused({ ...base, provider: 'stripe', frequency: 'monthly' }, 400, 'VALIDATION_ERROR', '/donorEmail');
    await refused({ ...base, nonprofitSlug: 'no-such-charity' }, 404, 'ORGANIZATION_NOT_FOUND');
    await refused({ ...base, nonprofitSlug: 'closed-charity' }, 404, 'ORGANIZATION_NOT_FOUND');
    await refused({ ...base, referralCode: 'nobody' }, 404, 'USER_NOT_FOUND', '/referralCode');
    await refused({ ...base, successUrl: 'javascript:alert(1)' }, 400, 'VALIDATION_ERROR', '/successUrl');
    await refused({ ...base, surprise: true }, 400, 'VALIDATION_ERROR');
  });

  test('unknown donation 404; another partner cannot see it; a partner without DONATIONS gets 403', async () => {
    assert.equal((await widget('GET', '/v1/partner/donations/status/don_nothing')).statusCode, 404);
    const link = await createLink({ ...base });
    const other = await createPartner(ctx.services);
    const seen = await widget('GET', `/v1/partner/donations/status/${String(link.partnerDonationId)}`, undefined, other.sandbox.publishableKey);
    assert.equal(seen.statusCode, 404);
    const off = await operatorCall(ctx, 'PATCH', `/v1/admin/partners/${other.partnerId}`, { enabledFeatures: ['ACTIONS'] });
    assert.equal(off.statusCode, 200, off.body);
    const res = await widget('POST', '/v1/partner/donations/create-link', base, other.sandbox.publishableKey);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal((res.json() as Json).code, 'FEATURE_NOT_ENABLED');
  });

  test('provider stripe without a payments account: 409 naming the fix', async () => {
    const other = await createPartner(ctx.services);
    const res = await widget('POST', '/v1/partner/donations/create-link', { ...base, provider: 'stripe' }, other.sandbox.publishableKey);
    assert.equal(res.statusCode, 409, res.body);
    assert.match((res.json() as Json).message as string, /payments account/);
  });
});
