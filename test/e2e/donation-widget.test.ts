import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { donationRewardKey } from '../../src/modules/donations/donations.rewards.js';
import { organizationsRepo } from '../../src/modules/organizations/index.js';
import { ensureSandboxPartner, type SandboxCredentials } from '../../src/modules/partners/sandbox.js';
import { ensureSandboxPayments } from '../../src/modules/payments/sandbox.js';
import { ensureSandboxRewards } from '../../src/modules/rewards/sandbox.js';
import { freePort } from '../../src/platform/db/pg-server.js';
import { startBackgroundWork, type BackgroundWork } from '../../src/worker.js';
import { partnerCall } from '../factories/rewards.js';
import { createTestContext, type SigningKey, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';
import { createHook, envelopeOf, type Envelope } from '../harness/webhooks.js';

/**
 * The donation widget in real Chromium against a listening server with a real database, set up the
 * way `serve` sets up its first start (sandbox partner, pool, default campaign, payments account),
 * plus a DONATION campaign, a nonprofit to find and a webhook receiver. A donor finds the nonprofit
 * by search, gives $25 with a 10 % tip on the hosted checkout page and comes back to the widget's
 * status view; once on the demo page with the success card, once on a partner's own page (another
 * origin) with the decline card.
 */
const CHROMIUM = process.env.ALMONER_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(ROOT, 'test-output', 'screenshots');

const ORG = { slug: 'harbor-lights-animal-rescue', name: 'Harbor Lights Animal Rescue', city: 'Portland', state: 'ME' };
// The campaign the donations go through: 2 tokens per dollar donated (the tip earns nothing).
const MULTIPLIER = 2;
const DONATION_CENTS = 2500;
const TIP_CENTS = 250;
const EXPECTED_TOKENS = (DONATION_CENTS / 100) * MULTIPLIER;

let ctx: TestContext;
let base: string;
let sandbox: SandboxCredentials;
let sk: SigningKey;
let receiver: Receiver;
let background: BackgroundWork;
let partnerSite: Server;
let partnerBase: string;
let browser: Browser | undefined;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  ctx = await createTestContext({ env: { ALMONER_PUBLIC_URL: base, ALMONER_SEED_SANDBOX: 'true' } });
  await ctx.app.listen({ port, host: '127.0.0.1' });
  sandbox = (await ensureSandboxPartner(ctx.services, ctx.config.dataDir)).credentials;
  await ensureSandboxRewards(ctx.services, sandbox.partnerId);
  sandbox = await ensureSandboxPayments(ctx.services, ctx.config.dataDir, sandbox);
  sk = { key: sandbox.secretKey, hmacSecret: sandbox.hmacSecret };
  await organizationsRepo.ensure(ctx.services.db, { ...ORG, status: 'active' });
  const campaign = await partnerCall(ctx, sk, 'POST', '/v1/partner/campaigns', {
    name: 'Double tokens for giving',
    actionTypes: ['DONATION'],
    status: 'ACTIVE',
    multiplier: MULTIPLIER,
    priority: 10,
  });
  assert.equal(campaign.statusCode, 201, campaign.body);

  receiver = await new Receiver().start();
  await createHook(ctx, sk, { url: `${receiver.url}/almoner`, eventTypes: ['donation.completed', 'donation.failed', 'action.completed'] });
  background = startBackgroundWork(ctx.services, { warn: (obj, msg) => console.warn(msg, obj) }, { intervalMs: 200 });

  // A partner's own site on another origin: the widget must work cross-origin, from its script's host.
  partnerSite = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const attrs =
      url.pathname === '/fixed'
        ? `data-key="${sandbox.publishableKey}" data-nonprofit="${ORG.slug}" data-target="_blank" data-amounts="5,20"`
        : url.pathname === '/badkey'
          ? 'data-key="pk_test_0000"'
          : `data-key="${sandbox.publishableKey}" data-external-user-id="site_user_1"`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">` +
        `<title>Shop</title><h1>Our shop gives back</h1><div data-almoner-donate ${attrs}></div><script src="${base}/widget.js" async></script>`,
    );
  });
  await new Promise<void>((resolve) => partnerSite.listen(0, '127.0.0.1', resolve));
  const address = partnerSite.address();
  partnerBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await background?.stop();
  await receiver?.close();
  await new Promise<void>((resolve) => (partnerSite ? partnerSite.close(() => resolve()) : resolve()));
  await ctx?.close();
});

/** Script errors, CSP violations and failed requests the page reports. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}

async function balance(user: string): Promise<number | null> {
  const res = await partnerCall(ctx, sk, 'GET', `/v1/partner/users/${user}/balance`);
  if (res.statusCode === 404) return null;
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { balance: number }).balance;
}

/** The events the receiver got about one donation and its reward action, waiting up to 15 s for `want`. */
async function eventsAbout(donationId: string, want: string[]): Promise<Envelope[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const related = receiver.received
      .map(envelopeOf)
      .filter((e) => e.data.partnerDonationId === donationId || e.data.idempotencyKey === donationRewardKey(donationId));
    if (want.every((t) => related.some((e) => e.type === t)) || Date.now() > deadline) return related;
    await sleep(200);
  }
}

/** Search, pick with the keyboard, $25 by arrow key from $10, a 10 % tip, the donor's details; then donate. */
async function fillAndDonate(page: Page, donor: { first: string; last: string; email: string }) {
  const search = page.getByRole('combobox', { name: 'Find a nonprofit' });
  await search.waitFor();
  await search.pressSequentially('harbor lig', { delay: 20 });
  const option = page.getByRole('option', { name: new RegExp(ORG.name) });
  await option.waitFor();
  await search.press('ArrowDown');
  assert.equal(await search.getAttribute('aria-activedescendant'), await option.getAttribute('id'));
  await search.press('Enter');
  await page.getByRole('heading', { name: `Donate to ${ORG.name}` }).waitFor();
  assert.equal(await search.isVisible(), false, 'the chosen nonprofit replaces the search box');

  await page.getByRole('radio', { name: '$10', exact: true }).focus();
  await page.keyboard.press('ArrowRight');
  assert.ok(await page.getByRole('radio', { name: '$25', exact: true }).isChecked(), 'arrow keys move through the amounts');
  await page.getByRole('radio', { name: '15%', exact: true }).check();
  await page.getByRole('radio', { name: '10%', exact: true }).check();
  await page.getByLabel('First name').fill(donor.first);
  await page.getByLabel('Last name').fill(donor.last);
  await page.getByLabel('Email').fill(donor.email);
  assert.equal(await page.locator('[data-ref=sum]').textContent(), '$25.00 donation + $2.50 tip = $27.50');
  const go = page.getByRole('button', { name: 'Donate $27.50' });
  await go.click();
  await page.waitForURL(/\/checkout\/cs_/);
  assert.equal(await page.locator('#total').textContent(), '$27.50', 'the checkout charges what the widget showed');
}

async function pay(page: Page, card: string) {
  await page.locator(`[data-card="${card}"]`).click();
  await page.locator('#pay').click();
}

async function shoot(context: BrowserContext, url: string, name: string) {
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(url);
  await page.getByRole('combobox', { name: 'Find a nonprofit' }).waitFor();
  await page.locator('[data-almoner-donate]').screenshot({ path: path.join(SHOTS, `${name}.png`) });
  await page.screenshot({ path: path.join(SHOTS, `${name}-page.png`), fullPage: true });
  assert.ok(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'), `${name}: no sideways scrolling`);
  assert.deepEqual(problems, [], `${name}: no script error and no CSP violation`);
  await page.close();
}

test('screenshots of the demo page widget at desktop (1280 px) and phone (375 px) widths', { timeout: 60_000 }, async () => {
  const desktop = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  const phone = await browser!.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  try {
    await shoot(desktop, `${base}/`, 'widget-desktop');
    await shoot(phone, `${base}/`, 'widget-phone');
  } finally {
    await desktop.close();
    await phone.close();
  }
});

test('demo page: search, $25 + 10 % tip, the success card -> COMPLETED with the tokens; balance and webhooks agree', { timeout: 120_000 }, async () => {
  assert.equal(await balance('demo_donor'), null, 'the demo donor has nothing yet');
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${base}/`);
    await fillAndDonate(page, { first: 'Ada', last: 'Lovelace', email: 'ada@example.com' });
    await pay(page, '4242 4242 4242 4242');

    await page.waitForURL(new RegExp(`^${base}/\\?partnerDonationId=don_`));
    const donationId = new URL(page.url()).searchParams.get('partnerDonationId')!;
    const badge = page.locator('[data-ref=badge]');
    await page.getByText(`You earned ${EXPECTED_TOKENS} tokens.`).waitFor({ timeout: 25_000 });
    assert.equal(await badge.getAttribute('data-status'), 'COMPLETED');
    assert.equal(await badge.innerText(), 'COMPLETED');
    assert.equal(await page.getByRole('heading', { name: 'Thank you!' }).isVisible(), true);
    assert.equal(await page.locator('[data-ref=stm]').textContent(), `Your donation of $25.00 to ${ORG.name} is complete.`);
    await page.locator('[data-almoner-donate]').screenshot({ path: path.join(SHOTS, 'widget-completed.png') });
    assert.deepEqual(problems, [], 'no script error and no CSP violation');

    const status = await ctx.app.inject({ method: 'GET', url: `/v1/partner/donations/status/${donationId}`, headers: { 'x-partner-key': sandbox.publishableKey } });
    assert.equal(status.statusCode, 200, status.body);
    assert.deepEqual(
      (({ status: s, amount, tip, tokensAwarded }) => ({ s, amount, tip, tokensAwarded }))(status.json()),
      { s: 'COMPLETED', amount: DONATION_CENTS, tip: TIP_CENTS, tokensAwarded: EXPECTED_TOKENS },
    );
    assert.equal(await balance('demo_donor'), EXPECTED_TOKENS, 'the donor\'s balance rose by what the campaign gives');

    const events = await eventsAbout(donationId, ['donation.completed', 'action.completed']);
    const types = events.map((e) => e.type).sort();
    assert.ok(types.includes('donation.completed'), `events: ${types.join(', ')}`);
    assert.ok(types.includes('action.completed'), `events: ${types.join(', ')}`);
    assert.equal(events.find((e) => e.type === 'donation.completed')!.data.tokensAwarded, EXPECTED_TOKENS);

    // "Make another donation" goes back to the form and takes the donation id out of the address.
    await page.getByRole('button', { name: 'Make another donation' }).click();
    await page.getByRole('button', { name: /^Donate \$/ }).waitFor();
    assert.equal(new URL(page.url()).search, '');
  } finally {
    await context.close();
  }
});

test('partner page on another origin: the decline card -> FAILED with the reason, no tokens; try again restores the form', { timeout: 120_000 }, async () => {
  // The narrowest common phone: the form must fit without sideways scrolling.
  const context = await browser!.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  try {
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${partnerBase}/shop`);
    await page.getByRole('button', { name: /^Donate \$/ }).waitFor();
    assert.ok(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'), 'fits a 360 px screen');
    await fillAndDonate(page, { first: 'Grace', last: 'Hopper', email: 'grace@example.com' });
    await pay(page, '4000 0000 0000 0002');
    const message = page.locator('#message');
    await message.waitFor({ state: 'visible' });
    const reason = (await message.textContent())!;
    // Declined: the donor gives up and follows the page's cancel link back to the shop.
    await page.locator('#cancel').click();
    await page.waitForURL(new RegExp(`^${partnerBase}/shop\\?almonerReturn=cancel&partnerDonationId=don_`));
    const donationId = new URL(page.url()).searchParams.get('partnerDonationId')!;

    const badge = page.locator('[data-ref=badge]');
    await page.getByRole('heading', { name: 'Your payment did not go through' }).waitFor({ timeout: 25_000 });
    assert.equal(await badge.getAttribute('data-status'), 'FAILED');
    assert.equal(await badge.innerText(), 'FAILED');
    assert.equal(await page.locator('[data-ref=stm]').textContent(), `${reason} No money was taken.`);
    assert.equal(await page.locator('[data-ref=tok]').isVisible(), false);
    await page.locator('[data-almoner-donate]').screenshot({ path: path.join(SHOTS, 'widget-failed-phone.png') });

    const status = await ctx.app.inject({ method: 'GET', url: `/v1/partner/donations/status/${donationId}`, headers: { 'x-partner-key': sandbox.publishableKey } });
    assert.equal(status.json().status, 'FAILED', status.body);
    assert.equal(status.json().failureReason, reason);
    assert.ok([null, 0].includes(await balance('site_user_1')), 'no tokens for a declined donation');
    const events = await eventsAbout(donationId, ['donation.failed']);
    assert.deepEqual(events.map((e) => e.type), ['donation.failed']);

    // Try again: the form comes back as the donor left it, and the address is clean again.
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { name: `Donate to ${ORG.name}` }).waitFor();
    assert.ok(await page.getByRole('radio', { name: '$25', exact: true }).isChecked());
    assert.equal(await page.getByLabel('Email').inputValue(), 'grace@example.com');
    assert.equal(new URL(page.url()).search, '');
    assert.deepEqual(problems, [], 'no script error');
  } finally {
    await context.close();
  }
});

test('a fixed nonprofit with data-target=_blank: checkout in a new tab, the page follows it to COMPLETED; a wrong key says so', { timeout: 90_000 }, async () => {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${partnerBase}/fixed`);
    await page.getByRole('heading', { name: `Donate to ${ORG.name}` }).waitFor();
    assert.equal(await page.getByRole('combobox').count(), 0, 'the partner chose the nonprofit');
    assert.equal(await page.getByRole('button', { name: /^Change/ }).count(), 0);
    assert.ok(await page.getByRole('radio', { name: '$20', exact: true }).isChecked(), 'data-amounts sets the presets');

    // Another amount, typed; no tip.
    await page.getByRole('radio', { name: 'Other' }).first().check();
    await page.getByLabel('Other amount (USD)').fill('12.34');
    await page.getByRole('radio', { name: 'None', exact: true }).check();
    const [tab] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Donate $12.34' }).click()]);
    await tab.waitForURL(/\/checkout\/cs_/);
    assert.equal(await tab.locator('#total').textContent(), '$12.34');
    await page.getByRole('heading', { name: 'Complete your donation in the new tab' }).waitFor();
    await pay(tab, '4242 4242 4242 4242');
    await tab.waitForURL(new RegExp(`^${partnerBase}/fixed\\?partnerDonationId=don_`));
    // The page that opened the tab polls and sees the payment; nobody signed in, so no tokens to wait for.
    await page.getByRole('heading', { name: 'Thank you!' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('[data-ref=stm]').textContent(), `Your donation of $12.34 to ${ORG.name} is complete.`);
    assert.equal(await page.locator('[data-ref=tok]').isVisible(), false);
    assert.deepEqual(problems, [], 'no script error');

    await page.goto(`${partnerBase}/badkey`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /^The donation form could not load: /);
  } finally {
    await context.close();
  }
});
