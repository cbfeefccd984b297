import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { checkLedger } from '../../src/modules/ledger/index.js';
import { freePort } from '../../src/platform/db/pg-server.js';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, epochHmac, seedDestinations } from '../factories/payments.js';
import { createTestContext, type TestContext } from '../harness/context.js';

/**
 * The hosted checkout page in real Chromium: the app listens on 127.0.0.1 with a real PostgreSQL
 * database, a partner creates a session through the API, the donor is declined once, pays with the
 * success card and lands on the partner's successURL (a tiny local page) with session_id.
 */
const CHROMIUM = process.env.ALMONER_CHROMIUM ?? '/usr/bin/chromium';

let ctx: TestContext;
let base: string;
let partnerSite: Server;
let partnerBase: string;
let browser: Browser | undefined;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ctx = await createTestContext({ env: { ALMONER_PUBLIC_URL: base } });
  await ctx.app.listen({ port, host: '127.0.0.1' });
  partnerSite = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${url.pathname}</title><h1 id="where">${url.pathname}</h1><p id="session">${url.searchParams.get('session_id') ?? ''}</p>`);
  });
  await new Promise<void>((resolve) => partnerSite.listen(0, '127.0.0.1', resolve));
  const address = partnerSite.address();
  partnerBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => partnerSite.close(() => resolve()));
  await ctx.close();
});

async function api<T>(path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  return JSON.parse(text) as T;
}

test('decline, then success on the hosted page; the donor lands on successURL; the charge is on the ledger', { timeout: 120_000 }, async () => {
  const account = await createPaymentsAccount(ctx.services, (await createPartner(ctx.services)).partnerId);
  await seedDestinations(ctx.services, account.accountId, [123456]);
  const hashEpoch = Math.floor(ctx.clock.now().getTime() / 1000);
  const { token } = await api<{ token: string }>(`/api/partners/${account.accountId}/authenticate`, { hashEpoch, hmac: epochHmac(account.secretKey, hashEpoch) });
  const session = await api<{ id: string; url: string }>(
    '/api/customers/checkout',
    { charityId: 123456, currency: 'USD', amount: 2500, productName: 'Clean water', quantity: 2, tip: 300, successURL: `${partnerBase}/thanks`, cancelURL: `${partnerBase}/cart` },
    token,
  );
  assert.equal(session.url, `${base}/checkout/${session.id}`);

  // A phone-sized window: the page must fit it without sideways scrolling.
  const context = await browser!.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(session.url);
    const partner = await ctx.services.paymentsAccounts.get(account.accountId);
    assert.equal(await page.locator('h1').textContent(), `Donate to ${partner.partner_name}`);
    assert.equal(await page.locator('#total').textContent(), '$53.00');
    assert.equal(await page.locator('#cancel').getAttribute('href'), `${partnerBase}/cart`);
    // Browser-side expressions go as strings: the project compiles without the DOM library.
    assert.ok(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'), 'fits a 360 px screen');

    // Keyboard only: type the declining card and submit with Enter.
    await page.locator('#number').focus();
    await page.keyboard.type('4000 0000 0000 9995');
    await page.keyboard.press('Tab');
    await page.keyboard.type('12/34');
    await page.keyboard.press('Tab');
    await page.keyboard.type('123');
    await page.keyboard.press('Enter');
    const message = page.locator('#message');
    await message.waitFor({ state: 'visible' });
    assert.equal(await message.textContent(), 'Your card has insufficient funds.');
    assert.equal(await message.getAttribute('role'), 'alert');
    assert.equal(await page.evaluate<string | undefined>('document.activeElement?.id'), 'number', 'focus returns to the card number to try again');

    // The listed success card fills the form; paying redirects to the partner's page.
    await page.locator('[data-card="4242 4242 4242 4242"]').click();
    await page.locator('#pay').click();
    await page.waitForURL(`${partnerBase}/thanks?session_id=${session.id}`);
    assert.equal(await page.locator('#session').textContent(), session.id);
    assert.deepEqual(problems, [], 'no script error and no CSP violation');

    // Back on the page after paying: it says so, and paying again is refused.
    await page.goto(session.url);
    assert.match((await page.locator('main').textContent()) ?? '', /already paid/);
  } finally {
    await context.close();
  }

  const row = await ctx.services.db.selectFrom('checkout_sessions').selectAll().where('id', '=', session.id).executeTakeFirstOrThrow();
  assert.equal(row.status, 'complete');
  const charges = await ctx.services.db.selectFrom('charges').selectAll().where('payment_intent_id', '=', row.payment_intent_id).orderBy('created_at').execute();
  assert.deepEqual(charges.map((c) => [c.status, c.failure_code]), [['failed', 'insufficient_funds'], ['succeeded', null]]);
  const paid = charges[1]!;
  assert.equal(paid.amount, 5000n);
  assert.equal(paid.tip, 300n);
  assert.equal(paid.gross, 5300n);
  assert.equal(paid.fee + paid.partner_cut + paid.tip + paid.destination_amount, paid.gross);
  assert.ok(paid.ledger_transaction_id, 'the successful charge is a ledger transaction');
  assert.equal(charges[0]!.ledger_transaction_id, null, 'the decline moved no money');
  const balances = await ctx.services.destinations.balances(account.accountId);
  const dest = balances.find((b) => b.ledgerAccountId === `pay:dest:${account.accountId}:charity:123456:USD`);
  assert.equal(dest?.balance, Number(paid.destination_amount), JSON.stringify(balances));
  assert.equal(balances.find((b) => b.ledgerAccountId.startsWith(`pay:tips:${account.accountId}:`))?.balance, 300);
  const report = await checkLedger(ctx.services.db);
  assert.ok(report.ok, JSON.stringify(report));
});
