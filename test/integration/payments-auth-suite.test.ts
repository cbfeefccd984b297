/**
 * The Payments API's auth suite: every bearer-token route of the payments document gets the same
 * checks, discovered from the document so a route added tomorrow is covered the day it exists.
 * Routes whose path names an account-owned resource need an entry in FIXTURES (how to create one),
 * which drives "another account's id -> 404"; the suite fails and names a route without one.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { SignJWT, decodeJwt } from 'jose';
import { createPartner } from '../factories/partners.js';
import { createPaymentsAccount, paymentsCall, paymentsToken, seedDestinations, type PaymentsFixture } from '../factories/payments.js';
import { createTestContext, OPERATOR_TOKEN, type TestContext } from '../harness/context.js';

const ctx: TestContext = await createTestContext();
after(async () => {
  await ctx.close();
});

interface Op {
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
}
const doc = (await ctx.app.inject({ method: 'GET', url: '/payments-api/openapi.json' })).json() as { paths: Record<string, Record<string, Op>> };

interface Route {
  method: string;
  template: string;
  params: string[];
  declared: string[];
}
const ROUTES: Route[] = [];
const PUBLIC: string[] = [];
for (const [template, ops] of Object.entries(doc.paths)) {
  for (const [lower, op] of Object.entries(ops)) {
    if (!['get', 'post', 'put', 'patch', 'delete'].includes(lower)) continue;
    const method = lower.toUpperCase();
    const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
    if (schemes.length === 0) {
      PUBLIC.push(`${method} ${template}`);
      continue;
    }
    assert.deepEqual(schemes, ['PaymentsToken'], `${method} ${template} uses ${schemes.join('+')}`);
    ROUTES.push({ method, template, params: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!), declared: Object.keys(op.responses ?? {}) });
  }
}

interface World {
  account: PaymentsFixture;
  token: string;
}
async function world(): Promise<World> {
  const p = await createPartner(ctx.services);
  const account = await createPaymentsAccount(ctx.services, p.partnerId);
  await seedDestinations(ctx.services, account.accountId, [1]);
  return { account, token: await paymentsToken(ctx, account) };
}

/** How to create an account-owned resource for a path parameter, through the API. */
const FIXTURES: Record<string, (w: World) => Promise<string>> = {
  customerId: async (w) => {
    const res = await paymentsCall(ctx, w.token, 'POST', '/api/customers', { email: 'fixture@example.com' });
    assert.equal(res.statusCode, 201, res.body);
    return (res.json() as { customerId: string }).customerId;
  },
  productId: async (w) => {
    const res = await paymentsCall(ctx, w.token, 'POST', '/api/products', { name: 'Fixture product' });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { productId: string }).productId;
  },
  // The connected account's id (a Stripe Connect account), registered by the operator.
  accountId: async (w) => (await ctx.services.catalog.createConnected(w.account.accountId, { percentageCut: 10 })).paymentProcessorAccountId,
  subscriptionId: async (w) => {
    const customer = await paymentsCall(ctx, w.token, 'POST', '/api/customers', { email: 'sub-fixture@example.com' });
    const product = await paymentsCall(ctx, w.token, 'POST', '/api/products', { name: 'Fixture plan' });
    const price = await paymentsCall(ctx, w.token, 'POST', `/api/products/${(product.json() as { productId: string }).productId}/prices`, { interval: 'month', currency: 'usd', unitAmount: 500 });
    const res = await paymentsCall(ctx, w.token, 'POST', `/api/customers/${(customer.json() as { customerId: string }).customerId}/subscriptions`, {
      items: [{ priceId: (price.json() as { priceId: string }).priceId }],
      paymentMethodId: 'pm_card_visa',
      charityId: 1,
    });
    assert.equal(res.statusCode, 201, res.body);
    return (res.json() as { subscriptionId: string }).subscriptionId;
  },
  customerExternalId: async (w) => {
    const externalId = `ext-${Math.random().toString(36).slice(2)}`;
    const res = await paymentsCall(ctx, w.token, 'POST', '/api/customers', { externalId });
    assert.equal(res.statusCode, 201, res.body);
    return externalId;
  },
  // A saved card: a setup intent confirmed on the sandbox payment page, as a donor would.
  paymentMethodId: async (w) => {
    const customerId = await FIXTURES.customerId!(w);
    const secret = await paymentsCall(ctx, w.token, 'POST', `/api/customers/${customerId}/setup-intents`);
    assert.equal(secret.statusCode, 200, secret.body);
    const res = await ctx.app.inject({ method: 'POST', url: '/sandbox/setup-intents/confirm', payload: { clientSecret: secret.json(), paymentMethod: 'pm_card_visa' } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { paymentMethod: string }).paymentMethod;
  },
};

async function fill(r: Route, w: World): Promise<string | undefined> {
  let url = r.template;
  for (const p of r.params) {
    const make = FIXTURES[p];
    if (!make) return undefined;
    url = url.replace(`{${p}}`, encodeURIComponent(await make(w)));
  }
  return url;
}

/** A valid body where `{}` is not one, so a foreign id is judged by ownership and not by validation. */
const sandboxBankToken = (
  await ctx.app.inject({ method: 'POST', url: '/sandbox/bank-tokens', payload: { routingNumber: '110000000', accountNumber: '000123456789', accountHolderName: 'Fixture' } })
).json() as { id: string };
const plaidBody = { values: 'public-sandbox-fixture', accountId: 'fixture-account' };
const checkoutBody = { currency: 'usd', amount: 1000, productName: 'Fixture', quantity: 1, charityId: 1, successURL: 'https://example.org/ok', cancelURL: 'https://example.org/no' };
const BODIES: Record<string, unknown> = {
  'POST /api/customers/{customerId}/payment-methods/{paymentMethodId}/verify': { values: [32, 45] },
  'POST /api/customers/{customerId}/bank-accounts': { token: sandboxBankToken.id },
  'POST /api/customers/{customerId}/ach/stripe': { token: sandboxBankToken.id },
  'POST /api/customers/{customerId}/plaid': plaidBody,
  'POST /api/customers/{customerId}/ach/plaid': plaidBody,
  'POST /api/products/{productId}/prices': { currency: 'usd', unitAmount: 500 },
  'POST /api/customers/{customerId}/charges': { amount: 1000, paymentMethodId: 'pm_card_visa', charityId: 1 },
  'POST /api/customers/{customerId}/payment-intents': { amount: 1000, charityId: 1 },
  'POST /api/customers/{customerId}/subscriptions': { items: [{ priceId: 'price_fixture' }], paymentMethodId: 'pm_card_visa', charityId: 1 },
  'POST /api/customers/{customerId}/checkout': checkoutBody,
  'POST /api/customers/checkout': checkoutBody,
};

function request(r: Route, url: string, authorization?: string): InjectOptions {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const withBody = r.method !== 'GET' && r.method !== 'DELETE';
  if (withBody) headers['content-type'] = 'application/json';
  const body = JSON.stringify(BODIES[`${r.method} ${r.template}`] ?? {});
  return { method: r.method as InjectOptions['method'], url, headers, ...(withBody ? { payload: body } : {}) };
}

async function send(r: Route, opts: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await ctx.app.inject(opts);
  assert.ok(r.declared.includes(String(res.statusCode)), `${r.method} ${r.template} answered ${res.statusCode}, not declared (${r.declared.join(', ')}): ${res.body}`);
  return res;
}

function assertError(res: LightMyRequestResponse, status: number, code: string, what: string) {
  assert.equal(res.statusCode, status, `${what}: ${res.body}`);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.code, code, what);
  assert.equal(body.statusCode, status);
  assert.equal(typeof body.message, 'string');
  assert.equal(typeof body.requestId, 'string');
}

describe('discovery', () => {
  test('the payments document lists the routes this suite must cover, and only authenticate and the Stripe webhook are public', () => {
    // The Stripe webhook's credential is its Stripe-Signature over the raw body (payments-stripe-webhooks tests it).
    assert.deepEqual(PUBLIC.sort(), ['POST /api/partners/{accountId}/authenticate', 'POST /api/stripe/webhook']);
    const have = new Set(ROUTES.map((r) => `${r.method} ${r.template}`));
    for (const expected of ['GET /api/customers', 'POST /api/customers', 'GET /api/customers/{customerId}', 'PUT /api/customers/{customerId}']) {
      assert.ok(have.has(expected), `lost ${expected}`);
    }
  });

  test('every path parameter has a fixture', () => {
    const missing = ROUTES.flatMap((r) => r.params.filter((p) => !FIXTURES[p]).map((p) => `${r.method} ${r.template}: ${p}`));
    assert.deepEqual(missing, [], 'add a FIXTURES entry');
  });
});

for (const r of ROUTES) {
  describe(`${r.method} ${r.template}`, () => {
    test('no token, wrong scheme, garbage, Partner API credentials, forged or expired tokens -> 401', async () => {
      const a = await world();
      const url = (await fill(r, a))!;
      const p = await createPartner(ctx.services);
      const claims = decodeJwt(a.token);
      const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode('guess'));
      const [h, , s] = a.token.split('.');
      const edited = `${h}.${Buffer.from(JSON.stringify({ ...claims, accountId: 'acct_other' })).toString('base64url')}.${s}`;
      for (const [what, auth] of [
        ['no header', undefined],
        ['basic', `Basic ${Buffer.from('user:pw').toString('base64')}`],
        ['no scheme', a.token],
        ['garbage', 'Bearer not-a-jwt'],
        ['portal token', `Bearer ${p.accessToken}`],
        ['operator token', `Bearer ${OPERATOR_TOKEN}`],
        ['partner secret key', `Bearer ${p.sandbox.secretKey}`],
        ['forged signature', `Bearer ${forged}`],
        ['edited claims', `Bearer ${edited}`],
      ] as [string, string | undefined][]) {
        assertError(await send(r, request(r, url, auth)), 401, 'UNAUTHORIZED', what);
      }
      ctx.clock.advance(7801_000);
      try {
        assertError(await send(r, request(r, url, `Bearer ${a.token}`)), 401, 'TOKEN_EXPIRED', 'expired');
      } finally {
        ctx.clock.advance(-7801_000);
      }
    });

    test('a suspended partner -> 403; a valid token is accepted', async () => {
      const a = await world();
      const url = (await fill(r, a))!;
      const ok = await send(r, request(r, url, `Bearer ${a.token}`));
      assert.ok(ok.statusCode !== 401 && ok.statusCode !== 403, `valid token refused: ${ok.body}`);
      await ctx.services.partners.setStatus(a.account.partnerId, 'SUSPENDED');
      assertError(await send(r, request(r, url, `Bearer ${a.token}`)), 403, 'PARTNER_NOT_ACTIVE', 'suspended');
    });

    if (r.params.length > 0) {
      test("another account's resource -> 404", async () => {
        const a = await world();
        const b = await world();
        const theirs = (await fill(r, b))!;
        assertError(await send(r, request(r, theirs, `Bearer ${a.token}`)), 404, 'NOT_FOUND', 'foreign id');
      });
    }
  });
}
