import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { freePort } from '../../src/platform/db/pg-server.js';

/**
 * The Givinga demo app's flow against `almoner serve` on a fresh data dir (embedded database), over
 * real HTTP: authenticate, customer, setup intent, payment methods, payment intent, a checkout
 * session paid in real Chromium, product + monthly price + subscription billed twice more by the
 * worker inside serve after the sandbox clock moves two months, pause, resume, cancel. Then the
 * money: the ledger check is clean and every balance equals the fee table applied to each charge.
 */
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CHROMIUM = process.env.ALMONER_CHROMIUM ?? '/usr/bin/chromium';
const CARD = { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2034, cvc: '123' };

let workDir: string;
let dataDir: string;
let base: string;
let server: ChildProcess | undefined;
let serverOutput = '';
let partnerSite: Server | undefined;
let partnerBase: string;
let browserServer: BrowserServer | undefined;
let browser: Browser | undefined;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitExit(pid: number, ms: number) {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'almoner-demo-flow-'));
  dataDir = path.join(workDir, 'data');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts'), 'serve'], {
    cwd: root,
    // 127.0.0.1 rather than the default localhost: Chromium may resolve localhost to ::1.
    env: { ...process.env, PORT: String(port), ALMONER_DATA_DIR: dataDir, ALMONER_PUBLIC_URL: base, LOG_LEVEL: 'warn', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (serverOutput += d));
  server.stderr!.on('data', (d) => (serverOutput += d));

  partnerSite = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${url.pathname}</title><h1 id="where">${url.pathname}</h1><p id="session">${url.searchParams.get('session_id') ?? ''}</p>`);
  });
  await new Promise<void>((resolve) => partnerSite!.listen(0, '127.0.0.1', resolve));
  const address = partnerSite.address();
  partnerBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  // A browser server rather than launch(): it exposes the browser's pid, so `after` can make sure it is gone.
  browserServer = await chromium.launchServer({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  browser = await chromium.connect(browserServer.wsEndpoint());

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited:\n${serverOutput}`);
    if (Date.now() > deadline) throw new Error(`server not ready:\n${serverOutput}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await browser?.close().catch(() => undefined);
  const browserPid = browserServer?.process().pid;
  await browserServer?.close().catch(() => undefined);
  if (browserPid && !(await waitExit(browserPid, 5_000))) process.kill(browserPid, 'SIGKILL');
  await new Promise<void>((resolve) => (partnerSite ? partnerSite.close(() => resolve()) : resolve()));
  if (server?.pid && server.exitCode === null) {
    server.kill('SIGTERM');
    if (!(await waitExit(server.pid, 20_000))) server.kill('SIGKILL');
  }
  // A server that had to be killed leaves its embedded PostgreSQL behind.
  const pgPid = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '0')).split('\n')[0]);
  if (pgPid > 0 && alive(pgPid)) {
    process.kill(pgPid, 'SIGTERM');
    if (!(await waitExit(pgPid, 10_000))) process.kill(pgPid, 'SIGKILL');
  }
  await rm(workDir, { recursive: true, force: true });
});

interface Call {
  status: number;
  body: any;
  text: string;
}

async function call(method: string, route: string, token: string | undefined, body?: unknown): Promise<Call> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

async function ok(method: string, route: string, token: string | undefined, body: unknown, status = 200): Promise<any> {
  const res = await call(method, route, token, body);
  assert.equal(res.status, status, `${method} ${route}: ${res.text}`);
  return res.body;
}

// The fee table, written out independently of src/modules/payments/fees.ts: card 2.9 % + 30 cents, half up.
const halfUp = (value: number, percentTimes10: number) => Math.floor((value * percentTimes10 + 500) / 1000);
const cardFee = (gross: number) => halfUp(gross, 29) + 30;
const cut = (amount: number) => halfUp(amount, 200);

test('the Givinga demo flow end to end; the ledger is clean and balances match the fee table', { timeout: 240_000 }, async () => {
  const creds = JSON.parse(await readFile(path.join(dataDir, 'sandbox-credentials.json'), 'utf8'));
  const operator = (await readFile(path.join(dataDir, 'operator-token'), 'utf8')).trim();
  const accountId: string = creds.accountId;

  // Authenticate the way the demo does: hex HMAC-SHA256 of the epoch seconds.
  const hashEpoch = Math.floor(Date.now() / 1000);
  const hmac = createHmac('sha256', creds.paymentsSecretKey).update(String(hashEpoch)).digest('hex');
  const auth = await ok('POST', `/api/partners/${accountId}/authenticate`, undefined, { hashEpoch, hmac });
  assert.equal(typeof auth.token, 'string');
  assert.equal(typeof auth.publicKey, 'string');
  const token: string = auth.token;
  const wrong = await call('POST', `/api/partners/${accountId}/authenticate`, undefined, { hashEpoch, hmac: hmac.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
  assert.equal(wrong.status, 401, wrong.text);

  const connected = await ok('GET', '/api/connected-accounts', token, undefined);
  assert.equal(connected.length, 1, JSON.stringify(connected));
  assert.equal(connected[0].percentageCut, 20);
  const connectedId: string = connected[0].paymentProcessorAccountId;

  const customer = await ok('POST', '/api/customers', token, { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', externalId: 'demo-ada' }, 201);
  assert.match(customer.customerId, /^cus_/);
  const customerId: string = customer.customerId;
  const cus = `/api/customers/${customerId}`;

  // Setup intent: a bare JSON string, the client secret the demo hands to confirmCardSetup.
  const clientSecret = await ok('POST', `${cus}/setup-intents`, token, undefined);
  assert.equal(typeof clientSecret, 'string');
  assert.match(clientSecret, /^seti_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/);
  const setup = await ok('POST', '/sandbox/setup-intents/confirm', undefined, { clientSecret, card: CARD });
  assert.equal(setup.status, 'succeeded', JSON.stringify(setup));

  const methods = await ok('GET', `${cus}/payment-methods`, token, undefined);
  assert.equal(methods.length, 1, JSON.stringify(methods));
  assert.equal(methods[0].id, setup.paymentMethod);
  assert.equal(methods[0].card?.last4, '4242');
  const savedCard: string = methods[0].id;

  // Payment intent, the demo's body verbatim, confirmed as stripe.confirmCardPayment would.
  const intent = await ok('POST', `${cus}/payment-intents`, token, {
    amount: 5000,
    currency: 'USD',
    customerCoveringFee: false,
    matchRequested: false,
    subaccountNumber: '123456',
    persistPaymentMethod: false,
  });
  assert.match(intent.clientSecret, /^pi_[A-Za-z0-9]+_secret_/);
  const paidIntent = await ok('POST', '/sandbox/payment-intents/confirm', undefined, { clientSecret: intent.clientSecret, card: CARD });
  assert.equal(paidIntent.status, 'succeeded', JSON.stringify(paidIntent));
  assert.match(paidIntent.chargeId ?? '', /^ch_/);

  // Checkout session, the demo's body verbatim, paid on the hosted page.
  const session = await ok('POST', `${cus}/checkout`, token, {
    subaccountNumber: '123456',
    currency: 'USD',
    amount: 5000,
    successURL: `${partnerBase}/thanks`,
    cancelURL: `${partnerBase}/cart`,
    productName: 'Account funding',
    quantity: 1,
  });
  assert.match(session.id, /^cs_/);
  assert.equal(session.url, `${base}/checkout/${session.id}`);
  const context = await browser!.newContext();
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    await page.goto(session.url);
    assert.equal(await page.locator('#total').textContent(), '$50.00');
    await page.locator('[data-card="4242 4242 4242 4242"]').click();
    await page.locator('#pay').click();
    await page.waitForURL(`${partnerBase}/thanks?session_id=${session.id}`, { timeout: 30_000 });
    assert.equal(await page.locator('#session').textContent(), session.id);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }

  // Product, monthly price and subscription, as the demo's subscribe page sends them.
  const product = await ok('POST', '/api/products', token, { name: 'Monthly subscription donation to 123456' });
  assert.match(product.productId, /^prod_/);
  const price = await ok('POST', `/api/products/${product.productId}/prices`, token, { interval: 'month', currency: 'usd', unitAmount: 500 });
  assert.match(price.priceId, /^price_/);
  assert.equal(price.type, 'recurring');
  assert.equal(price.recurringInterval, 'month');
  const sub = await ok(
    'POST',
    `${cus}/subscriptions`,
    token,
    { items: [{ quantity: 1, priceId: price.priceId }], paymentMethodId: savedCard, subaccountNumber: '123456', charityId: 123456, matchRequested: false, notes: 'Keep up the good work' },
    201,
  );
  assert.match(sub.subscriptionId, /^sub_/);
  assert.equal(sub.status, 'active');
  assert.equal(sub.amount, 500);
  assert.equal(sub.paused, false);
  const subPath = `${cus}/subscriptions/${sub.subscriptionId}`;

  const subscriptionCharges = async () => ((await ok('GET', `${cus}/payments`, token, undefined)) as { amount: number; status: string }[]).filter((p) => p.amount === 500);
  assert.equal((await subscriptionCharges()).length, 1, 'the first period is billed at once');

  // Two months ahead (62 days covers any two calendar months); the worker in serve bills on its next sweep.
  const advanced = await ok('POST', `/v1/admin/partners/${creds.partnerId}/sandbox-clock/advance`, operator, { seconds: 62 * 86_400 });
  assert.ok(Date.parse(advanced.sandboxNow) >= Date.now() + 61 * 86_400_000, JSON.stringify(advanced));
  const billDeadline = Date.now() + 45_000;
  let billed = await subscriptionCharges();
  while (billed.length < 3 && Date.now() < billDeadline) {
    await new Promise((r) => setTimeout(r, 500));
    billed = await subscriptionCharges();
  }
  assert.equal(billed.length, 3, `1 + 2 periods billed: ${JSON.stringify(billed)}`);
  assert.ok(billed.every((p) => p.status === 'succeeded'), JSON.stringify(billed));
  const afterBilling = await ok('GET', `/api/subscriptions/${sub.subscriptionId}`, token, undefined);
  assert.equal(afterBilling.status, 'active');
  assert.ok(Date.parse(afterBilling.currentPeriodEnd) > Date.parse(advanced.sandboxNow), 'the current period is the one after the new clock time');

  const paused = await ok('PUT', subPath, token, { pause: true });
  assert.equal(paused.subscriptionId, sub.subscriptionId);
  assert.equal(paused.paused, true);
  assert.equal(paused.status, 'active');
  const resumed = await ok('PUT', subPath, token, { pause: false });
  assert.equal(resumed.paused, false);
  assert.equal(resumed.resumes, null);
  assert.equal(resumed.status, 'active');
  const canceled = await ok('DELETE', subPath, token, undefined);
  assert.equal(canceled.status, 'canceled');
  assert.ok(canceled.endDate, JSON.stringify(canceled));
  assert.equal((await ok('GET', `/api/subscriptions/${sub.subscriptionId}`, token, undefined)).status, 'canceled');

  // Every payment of the flow, and nothing else: two $50 fundings and three $5 periods.
  const payments = (await ok('GET', `${cus}/payments`, token, undefined)) as { amount: number; status: string; donationAmount: number; tip: number; fee: number; partnerCut: number }[];
  assert.deepEqual(payments.map((p) => p.amount).sort((a, b) => a - b), [500, 500, 500, 5000, 5000]);
  for (const p of payments) {
    assert.equal(p.status, 'succeeded');
    assert.equal(p.tip, 0);
    assert.equal(p.donationAmount, p.amount);
    assert.equal(p.fee, cardFee(p.amount), JSON.stringify(p));
    assert.equal(p.partnerCut, cut(p.amount), JSON.stringify(p));
  }

  // The money. The fundings go to the subaccount; the subscription names both subaccount and
  // charity, and the contract's precedence sends it to the charity.
  const charges = [
    { gross: 5000, dest: 'subaccount:123456' },
    { gross: 5000, dest: 'subaccount:123456' },
    { gross: 500, dest: 'charity:123456' },
    { gross: 500, dest: 'charity:123456' },
    { gross: 500, dest: 'charity:123456' },
  ];
  const expected: Record<string, number> = {
    [`pay:clearing:${accountId}:USD`]: 0,
    [`pay:fees:${accountId}:USD`]: 0,
    [`pay:tips:${accountId}:USD`]: 0,
    [`pay:cut:${connectedId}:USD`]: 0,
  };
  for (const c of charges) {
    const fee = cardFee(c.gross);
    const share = cut(c.gross);
    const key = `pay:dest:${accountId}:${c.dest}:USD`;
    expected[`pay:clearing:${accountId}:USD`]! -= c.gross;
    expected[`pay:fees:${accountId}:USD`]! += fee;
    expected[`pay:cut:${connectedId}:USD`]! += share;
    expected[key] = (expected[key] ?? 0) + c.gross - fee - share;
  }
  // Written out too, so a mistake in the loop above cannot hide one in the server.
  assert.deepEqual(
    [expected[`pay:dest:${accountId}:subaccount:123456:USD`], expected[`pay:dest:${accountId}:charity:123456:USD`], expected[`pay:fees:${accountId}:USD`], expected[`pay:cut:${connectedId}:USD`]],
    [2 * (5000 - 175 - 1000), 3 * (500 - 45 - 100), 2 * 175 + 3 * 45, 2 * 1000 + 3 * 100],
  );
  const balances = (await ok('GET', `/v1/admin/payments-accounts/${accountId}/balances`, operator, undefined)) as { ledgerAccountId: string; currency: string; balance: number }[];
  assert.deepEqual(Object.fromEntries(balances.map((b) => [b.ledgerAccountId, b.balance])), expected);
  assert.ok(balances.every((b) => b.currency === 'USD'));

  const check = await ok('GET', '/v1/admin/ledger/check', operator, undefined);
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual([check.drift, check.unbalanced, check.orphans], [[], [], []]);
  assert.ok(check.transactions >= 5, JSON.stringify(check));
});
