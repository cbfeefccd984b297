import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

/** Contract B6.4 checkout sessions, and the sandbox's hosted checkout page that pays them. */

let ctx: TestContext;
let account: PaymentsFixture;
let token: string;
let customerId: string;
before(async () => {
  ctx = await createTestContext({ env: { ALMONER_PUBLIC_URL: 'https://pay.example.org' } });
  account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  token = await paymentsToken(ctx, account);
  await seedDestinations(ctx.services, account.accountId, [123456], [{ kind: 'giving_account', ref: '11420157' }, { kind: 'master_account', ref: 'corp' }, { kind: 'subaccount', ref: '123456', masterRef: 'corp' }]);
  customerId = ((await paymentsCall(ctx, token, 'POST', '/api/customers', { email: 'cs@example.com' })).json() as { customerId: string }).customerId;
});
after(async () => {
  assert.ok((await checkLedger(ctx.services.db)).ok);
  await ctx.close();
});

type Json = Record<string, unknown>;
const URLS = { successURL: 'https://partner.example/thanks', cancelURL: 'https://partner.example/cart' };
// The Givinga demo app's two bodies (contract B6.4).
const DEMO = { subaccountNumber: '123456', currency: 'USD', amount: 5000, ...URLS, productName: 'Account funding', quantity: 1 };
const DEMO2 = { givingaAccountNumber: '11420157', currency: 'JPY', amount: 50000, charityId: 123456, matchRequested: false, ...URLS, productName: 'Gift', quantity: 1, activityId: 'a1' };
const card = (number: string) => ({ number, expMonth: 12, expYear: 2034, cvc: '123' });

const createRaw = (body: Json, customer: string | null = customerId) =>
  paymentsCall(ctx, token, 'POST', customer ? `/api/customers/${customer}/checkout` : '/api/customers/checkout', body);
async function create(body: Json, customer: string | null = customerId): Promise<string> {
  const res = await createRaw(body, customer);
  assert.equal(res.statusCode, 200, res.body);
  const json = res.json() as { id: string; url: string };
  assert.match(json.id, /^cs_test_[A-Za-z0-9]{32}$/);
  assert.equal(json.url, `https://pay.example.org/checkout/${json.id}`);
  return json.id;
}
const pay = async (id: string, body: Json) => {
  const res = await ctx.app.inject({ method: 'POST', url: `/checkout/${id}/pay`, payload: body });
  return { status: res.statusCode, body: res.json() as Json };
};
const pageOf = (id: string) => ctx.app.inject({ method: 'GET', url: `/checkout/${id}` });
const intentOf = (id: string) => ctx.services.db.selectFrom('checkout_sessions as s').innerJoin('payment_intents as i', 'i.id', 's.payment_intent_id').selectAll('i').where('s.id', '=', id).executeTakeFirstOrThrow();

describe('creating a session', () => {
  test("the demo app's bodies, customer and guest", async () => {
    const a = await create(DEMO);
    const row = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', a).executeTakeFirstOrThrow();
    assert.equal(row.amount, 5000n);
    assert.equal(row.currency, 'USD');
    assert.equal(row.customer_id, customerId);
    assert.equal(row.status, 'open');
    assert.equal(row.expires_at.getTime() - row.created_at.getTime(), 24 * 3600_000);
    const b = await create(DEMO2, null);
    assert.equal((await ctx.services.db.selectFrom('checkout_sessions').select('customer_id').where('id', '=', b).executeTakeFirstOrThrow()).customer_id, null);
  });

  test('items: existing and custom prices, quantities, tip; the total is sum(unit × quantity)', async () => {
    const product = (await paymentsCall(ctx, token, 'POST', '/api/products', { name: 'Tree planting' })).json() as { productId: string };
    const price = (await paymentsCall(ctx, token, 'POST', `/api/products/${product.productId}/prices`, { currency: 'usd', unitAmount: 700 })).json() as { priceId: string };
    const id = await create({ currency: 'usd', ...URLS, charityId: 123456, tip: 150, items: [{ priceId: price.priceId, quantity: 3 }, { unitAmount: 1000, currency: 'USD', productName: 'Gift' }] });
    const row = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.amount, 3100n);
    assert.equal(row.tip, 150n);
    assert.deepEqual(row.line_items.map((l) => [l.name, l.unitAmount, l.quantity]), [['Tree planting', 700, 3], ['Gift', 1000, 1]]);
    const html = (await pageOf(id)).body;
    assert.match(html, /Tree planting/);
    assert.match(html, /\$21\.00/);
    assert.match(html, /\$32\.50/, 'total with the tip');
  });
});

describe('bad input', () => {
  const bad = async (body: Json, path: string, customer: string | null = customerId) => {
    const res = await createRaw(body, customer);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
    const json = res.json() as { details?: { path?: string; instancePath?: string }[]; message: string };
    const paths = (json.details ?? []).map((d) => d.path ?? d.instancePath);
    assert.ok(paths.some((p) => p?.startsWith(path)) || json.message.includes(path.slice(1).split('/')[0]!), `${path} not named: ${res.body}`);
  };
  const { amount: _a, productName: _p, quantity: _q, ...NO_LINE } = DEMO;

  test('neither items nor amount + productName + quantity; amount without the others; both', async () => {
    await bad(NO_LINE, '/amount');
    await bad({ ...NO_LINE, amount: 5000 }, '/productName');
    await bad({ ...NO_LINE, amount: 5000, productName: 'x' }, '/quantity');
    await bad({ ...NO_LINE, productName: 'x', quantity: 1 }, '/amount');
    await bad({ ...DEMO, items: [{ unitAmount: 100 }] }, '/amount');
    await bad({ ...NO_LINE, items: [] }, '/items');
    await bad({ ...NO_LINE, items: [{ quantity: 2 }] }, '/items/0/priceId');
  });

  test('URLs must be absolute http(s); currency is required', async () => {
    await bad({ ...DEMO, successURL: '/thanks' }, '/successURL');
    await bad({ ...DEMO, successURL: 'javascript:alert(1)' }, '/successURL');
    await bad({ ...DEMO, cancelURL: 'ftp://partner.example/x' }, '/cancelURL');
    const { cancelURL: _c, ...noCancel } = DEMO;
    await bad(noCancel, '/cancelURL');
    const { currency: _cur, ...noCurrency } = DEMO;
    await bad(noCurrency, '/currency');
    await bad({ ...DEMO, currency: 'ZZZ' }, '/currency');
  });

  test('intervals: mixed, recurring in payment mode, one-time in subscription mode, tipInterval', async () => {
    const items = (...intervals: (string | undefined)[]) => intervals.map((interval) => ({ unitAmount: 500, ...(interval ? { interval } : {}) }));
    await bad({ ...NO_LINE, mode: 'subscription', items: items('month', 'year') }, '/items/1/interval');
    await bad({ ...NO_LINE, items: items('month') }, '/items/0/interval');
    await bad({ ...NO_LINE, mode: 'subscription', items: items('month', undefined) }, '/items/1/interval');
    await bad({ ...DEMO, mode: 'subscription' }, '/mode');
    await bad({ ...NO_LINE, mode: 'subscription', items: items('month'), tip: 100, tipInterval: 'USD' }, '/tipInterval');
    await bad({ ...NO_LINE, mode: 'subscription', items: items('month'), tip: 100, tipInterval: 'week' }, '/tipInterval');
    await bad({ ...DEMO, tip: 100, tipInterval: 'month' }, '/tipInterval');
    await bad({ ...NO_LINE, mode: 'yearly', items: items('month') }, '/mode');
  });

  test('a price in another currency, custom fields on a priceId item, an unknown field', async () => {
    const product = (await paymentsCall(ctx, token, 'POST', '/api/products', { name: 'Euro thing' })).json() as { productId: string };
    const eur = (await paymentsCall(ctx, token, 'POST', `/api/products/${product.productId}/prices`, { currency: 'eur', unitAmount: 700 })).json() as { priceId: string };
    await bad({ ...NO_LINE, items: [{ priceId: eur.priceId }] }, '/items/0/priceId');
    await bad({ ...NO_LINE, items: [{ priceId: eur.priceId, unitAmount: 5 }] }, '/items/0/unitAmount');
    await bad({ ...NO_LINE, items: [{ unitAmount: 500, currency: 'eur' }] }, '/items/0/currency');
    await bad({ ...DEMO, color: 'red' }, '/color');
  });

  test('unknown price, destination, customer (or another account\'s), product or payment method -> 404', async () => {
    const notFound = async (body: Json, customer: string | null = customerId) => assert.equal((await createRaw(body, customer)).statusCode, 404, JSON.stringify(body));
    await notFound({ ...NO_LINE, items: [{ priceId: 'price_nope' }] });
    await notFound({ ...DEMO, subaccountNumber: '404' });
    await notFound({ ...DEMO, subaccountNumber: undefined, charityId: 999 });
    await notFound(DEMO, 'cus_nope');
    await notFound({ ...NO_LINE, items: [{ unitAmount: 500, productId: 'prod_nope' }] });
    await notFound({ ...DEMO, paymentMethodId: 'pm_nope' });
    const other = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
    const otherToken = await paymentsToken(ctx, other);
    const theirs = ((await paymentsCall(ctx, otherToken, 'POST', '/api/customers', { email: 'x@example.com' })).json() as { customerId: string }).customerId;
    await notFound(DEMO, theirs);
  });

  test('subscription mode needs a customer: a guest session is refused with 400', async () => {
    const { amount: _a, productName: _p, quantity: _q, ...lineless } = DEMO;
    const res = await createRaw({ ...lineless, mode: 'subscription', items: [{ unitAmount: 500, interval: 'month' }] }, null);
    assert.equal(res.statusCode, 400, res.body);
    assert.match(String((res.json() as Json).message), /needs a customer/);
  });
});

describe('subscription mode on the hosted page', () => {
  const { amount: _a, productName: _p, quantity: _q, ...LINELESS } = DEMO;
  const SUB = { ...LINELESS, mode: 'subscription', items: [{ unitAmount: 500, interval: 'month', productName: 'Monthly gift' }], tip: 100, tipInterval: 'month' };
  const subsOf = () => ctx.services.db.selectFrom('subscriptions').selectAll().where('customer_id', '=', customerId).execute();

  test('a decline creates nothing and the donor may retry; a good card starts the subscription, first month billed, card saved', async () => {
    const before = (await subsOf()).length;
    const id = await create(SUB);
    const declinedPay = await pay(id, { card: card('4000000000000002') });
    assert.equal(declinedPay.status, 200);
    assert.equal(declinedPay.body.status, 'requires_payment_method');
    assert.match(String((declinedPay.body.error as Json).message), /declined/i);
    assert.equal((await subsOf()).length, before);

    const paid = await pay(id, { card: card('4242424242424242') });
    assert.equal(paid.body.status, 'succeeded', JSON.stringify(paid.body));
    assert.match(String(paid.body.redirectUrl), /^https:\/\/partner\.example\/thanks/);
    const subs = await subsOf();
    assert.equal(subs.length, before + 1);
    const sub = subs.find((x) => x.amount === 500n)!;
    assert.equal(sub.interval, 'month');
    assert.equal(sub.tip, 100n);
    assert.equal(sub.status, 'active');
    const method = await ctx.services.db.selectFrom('payment_methods').selectAll().where('id', '=', sub.payment_method_id).executeTakeFirstOrThrow();
    assert.equal(method.customer_id, customerId);
    assert.equal(method.card_last4, '4242');
    const again = await pay(id, { card: card('4242424242424242') });
    assert.equal(again.status, 409);
  });

  test('3-D Secure: requires_action, then authenticate starts it', async () => {
    const id = await create(SUB);
    const challenged = await pay(id, { card: card('4000002760003184') });
    assert.equal(challenged.body.status, 'requires_action', JSON.stringify(challenged.body));
    const refused = await pay(id, { authenticate: false });
    assert.equal(refused.body.status, 'requires_payment_method');
    const challengedAgain = await pay(id, { card: card('4000002760003184') });
    assert.equal(challengedAgain.body.status, 'requires_action');
    const done = await pay(id, { authenticate: true });
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
  });
});

describe('the hosted page and paying it', () => {
  test('the page: partner name, lines, total, test cards, cancel link, a nonce CSP and no external resource', async () => {
    const id = await create({ ...DEMO, tip: 250, customerCoveringFee: true });
    const res = await pageOf(id);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    assert.match(res.body, new RegExp(`<script nonce="${nonce.replace(/[+/]/g, '\\$&')}">`));
    assert.doesNotMatch(res.body, /\ssrc=|<link\b(?![^>]*href="data:)|@import|url\(/, 'no external resource: only the cancel link leaves the page');
    const partner = await ctx.services.paymentsAccounts.get(account.accountId);
    assert.ok(res.body.includes(partner.partner_name.replace(/&/g, '&amp;')), 'partner name');
    assert.match(res.body, /Account funding/);
    assert.match(res.body, /\$50\.00/);
    assert.match(res.body, /Tip<\/td><td class="n">\$2\.50/);
    assert.match(res.body, /Processing costs you cover/);
    assert.match(res.body, /4242 4242 4242 4242/);
    assert.match(res.body, /href="https:\/\/partner\.example\/cart"/);
    const missing = await pageOf('cs_test_nope');
    assert.equal(missing.statusCode, 404);
    assert.equal((missing.json() as Json).code, 'NOT_FOUND');
  });

  test('success: one charge on the ledger, the successURL with session_id, then 409 and the page says paid', async () => {
    const id = await create(DEMO);
    const r = await pay(id, { card: { ...card('4242 4242 4242 4242'), name: 'Ada Donor' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { status: 'succeeded', redirectUrl: `https://partner.example/thanks?session_id=${id}`, error: null });
    const intent = await intentOf(id);
    assert.equal(intent.status, 'succeeded');
    assert.equal(intent.amount, 5000n);
    const charge = await ctx.services.db.selectFrom('charges').selectAll().where('id', '=', intent.charge_id!).executeTakeFirstOrThrow();
    assert.equal(charge.status, 'succeeded');
    assert.equal(charge.customer_id, customerId);
    assert.ok(charge.ledger_transaction_id);
    const again = await pay(id, { card: card('4242424242424242') });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'INVALID_STATE');
    assert.match((await pageOf(id)).body, /already paid/);
    const session = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(session.status, 'complete');
  });

  test('{CHECKOUT_SESSION_ID} in the successURL is replaced', async () => {
    const id = await create({ ...DEMO2, successURL: 'https://partner.example/done/{CHECKOUT_SESSION_ID}?x=1' }, null);
    const r = await pay(id, { card: card('4242424242424242') });
    assert.equal(r.body.redirectUrl, `https://partner.example/done/${id}?x=1`);
  });

  test('a decline shows the message and leaves the session open; another card then pays, once', async () => {
    const id = await create(DEMO);
    const declined = await pay(id, { card: card('4000000000009995') });
    assert.deepEqual(declined.body, {
      status: 'requires_payment_method',
      redirectUrl: null,
      error: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    const intent = await intentOf(id);
    const failed = await ctx.services.db.selectFrom('charges').select(['status', 'ledger_transaction_id']).where('payment_intent_id', '=', intent.id).execute();
    assert.deepEqual(failed, [{ status: 'failed', ledger_transaction_id: null }], 'nothing recorded as paid');
    const paid = await pay(id, { card: card('4242424242424242') });
    assert.equal(paid.body.status, 'succeeded');
    assert.equal((await intentOf(id)).id, intent.id, 'the retry confirms the same intent');
    const charges = await ctx.services.db.selectFrom('charges').select('status').where('payment_intent_id', '=', intent.id).orderBy('created_at').execute();
    assert.deepEqual(charges.map((c) => c.status).sort(), ['failed', 'succeeded']);
  });

  test('3-D Secure: requires_action, a failed challenge lets the donor retry, a passed one pays', async () => {
    const id = await create(DEMO);
    const challenged = await pay(id, { card: card('4000002500003155') });
    assert.equal(challenged.body.status, 'requires_action');
    const failed = await pay(id, { authenticate: false });
    assert.equal(failed.body.status, 'requires_payment_method');
    assert.equal((failed.body.error as Json).code, 'payment_intent_authentication_failure');
    assert.equal((await pay(id, { card: card('4000002500003155') })).body.status, 'requires_action');
    const passed = await pay(id, { authenticate: true });
    assert.equal(passed.body.status, 'succeeded');
    assert.match(String(passed.body.redirectUrl), /session_id=cs_test_/);
  });

  test('a saved method: the page offers it and paying with nothing uses it', async () => {
    const id = await create({ ...DEMO, paymentMethodId: 'pm_card_visa' });
    assert.match((await pageOf(id)).body, /saved visa •••• 4242/);
    assert.equal((await pay(id, {})).body.status, 'succeeded');
  });

  test('bad pay bodies: no card, a typo in the number, card and authenticate together, nothing to authenticate, unknown session', async () => {
    const id = await create(DEMO);
    assert.equal((await pay(id, {})).status, 400);
    assert.equal((await pay(id, { card: card('4242424242424241') })).status, 400);
    assert.equal((await pay(id, { card: card('4242424242424242'), authenticate: true })).status, 400);
    assert.equal((await pay(id, { authenticate: true })).status, 409);
    assert.equal((await pay(id, { card: card('4242424242424242'), extra: 1 })).status, 400);
    assert.equal((await pay('cs_test_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { card: card('4242424242424242') })).status, 404);
    assert.equal((await pay(id, { card: card('4242424242424242') })).body.status, 'succeeded', 'still payable after the bad attempts');
  });

  test('two pays at once: one charge, the other 409', async () => {
    const id = await create(DEMO);
    const results = await Promise.all([pay(id, { card: card('4242424242424242') }), pay(id, { card: card('4242424242424242') })]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
    const succeeded = await ctx.services.db.selectFrom('charges as c').innerJoin('checkout_sessions as s', 's.payment_intent_id', 'c.payment_intent_id').select('c.id').where('s.id', '=', id).where('c.status', '=', 'succeeded').execute();
    assert.equal(succeeded.length, 1);
  });

  test('24 hours later by the sandbox clock the session has expired: the page says so and paying is 409', async () => {
    const id = await create(DEMO);
    const advance = await ctx.app.inject({
      method: 'POST',
      url: `/v1/admin/partners/${account.partnerId}/sandbox-clock/advance`,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      payload: { seconds: 24 * 3600 },
    });
    try {
      assert.equal(advance.statusCode, 200, advance.body);
      assert.match((await pageOf(id)).body, /has expired/);
      const r = await pay(id, { card: card('4242424242424242') });
      assert.equal(r.status, 409);
      assert.match(String(r.body.message), /expired/);
    } finally {
      await ctx.services.partnerClock.advance(account.partnerId, -24 * 3600_000);
    }
  });
});
