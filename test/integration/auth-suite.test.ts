/**
 * The shared auth suite (STYLE.md, Tests): every authenticated route the app serves gets the same
 * checks, so a route added tomorrow is covered the day it is registered.
 *
 * Routes are discovered, not listed: the OpenAPI document (`app.swagger()`) gives each operation and
 * its `security` entry, from which the auth mode follows (contract A4.1):
 *   PartnerKey + Timestamp + Signature -> HMAC; every non-GET HMAC route is a secret-key route (A7)
 *   PartnerKey only                     -> widget
 *   PortalToken                         -> portal
 *   OperatorToken                       -> operator
 *   none                                -> public (must be on PUBLIC_ROUTES below)
 * The router's own table (`app.printRoutes()`) is compared with the document, so a route hidden from
 * the document cannot slip past the suite.
 *
 * Path parameters are filled with plausible ids. Routes whose parameter names a partner-owned
 * resource need an entry in RESOURCE_FIXTURES (how to create one through the API), which drives the
 * "another partner's id -> 404" and "other environment -> 404" checks; the suite fails and names any
 * partner-scoped route that has none, so nobody can forget it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { organizationsRepo } from '../../src/modules/organizations/index.js';
import { signPartnerRequest } from '../../src/platform/crypto/signing.js';
import { createPartner, type PartnerFixture } from '../factories/partners.js';
import { createPool } from '../factories/rewards.js';
import { createTestContext, OPERATOR_TOKEN, signed, type SigningKey, type TestContext } from '../harness/context.js';
import { Receiver } from '../harness/receiver.js';

// Payments API routes (bearer token from /api/partners/{accountId}/authenticate) have their own
// suite, payments-auth-suite.test.ts; here they only need to be recognised.
type Mode = 'hmac' | 'hmacSecret' | 'widget' | 'portal' | 'operator' | 'payments' | 'none';
type Env = 'sandbox' | 'production';

interface RouteInfo {
  method: string;
  /** OpenAPI path template, e.g. /v1/partner/users/{externalId} */
  template: string;
  mode: Mode;
  params: string[];
  requiredQuery: string[];
  hasBody: boolean;
}

interface OpenApiOperation {
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: unknown;
}
interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

const ctx: TestContext = await createTestContext();
// Sandbox webhook endpoints point here, so the suite's test sends stay on 127.0.0.1.
const hookReceiver = await new Receiver().start();
after(async () => {
  await hookReceiver.close();
  ctx.services.dispatcher.close();
  await ctx.close();
});

/**
 * Every request of the suite goes through here, and every answer's status must be one the route
 * declares in the OpenAPI document (STYLE.md: "every route declares every status it can return").
 */
async function inject(opts: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await ctx.app.inject(opts);
  const method = String(opts.method ?? 'GET').toUpperCase();
  const route = routeFor(method, String(opts.url ?? ''));
  if (route) {
    const declared = Object.keys(doc.paths[route.template]![method.toLowerCase()]!.responses ?? {});
    assert.ok(
      declared.includes(String(res.statusCode)) || declared.includes('default'),
      `${method} ${route.template} answered ${res.statusCode}, which its schema does not declare (${declared.join(', ')}): ${res.body}`,
    );
  }
  return res;
}
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const nowSec = () => Math.floor(ctx.clock.now().getTime() / 1000);
const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

/** Maps an operation's `security` to an auth mode; null when the suite does not know the scheme. */
function modeOf(method: string, security: Record<string, string[]>[] | undefined): Mode | null {
  if (!security || security.length === 0) return 'none';
  if (security.length !== 1) return null;
  const schemes = Object.keys(security[0]!).sort().join('+');
  switch (schemes) {
    case 'PartnerKey+Signature+Timestamp':
      // Contract A7: every state-changing HMAC route needs the secret key.
      return method === 'GET' ? 'hmac' : 'hmacSecret';
    case 'PartnerKey':
      return 'widget';
    case 'PortalToken':
      return 'portal';
    case 'OperatorToken':
      return 'operator';
    case 'PaymentsToken':
      return 'payments';
    default:
      return null;
  }
}

const doc = ctx.app.swagger() as unknown as OpenApiDoc;
const ROUTES: RouteInfo[] = [];
const UNKNOWN_SECURITY: string[] = [];
for (const [template, ops] of Object.entries(doc.paths)) {
  for (const [lower, op] of Object.entries(ops)) {
    if (!HTTP_METHODS.has(lower)) continue;
    const method = lower.toUpperCase();
    const mode = modeOf(method, op.security);
    if (mode === null) {
      UNKNOWN_SECURITY.push(`${method} ${template} ${JSON.stringify(op.security)}`);
      continue;
    }
    ROUTES.push({
      method,
      template,
      mode,
      params: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
      requiredQuery: (op.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => p.name),
      hasBody: op.requestBody !== undefined,
    });
  }
}

/** Every (method, url) the router serves, read from its printed tree (the only public route listing). */
function routerTable(): { method: string; template: string }[] {
  const out: { method: string; template: string }[] = [];
  const stack: string[] = [];
  for (const line of ctx.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const withMethods = /^(.*) \(([A-Z, ]+)\)$/.exec(m[2]!);
    stack.length = depth;
    stack.push(withMethods ? withMethods[1]! : m[2]!);
    if (!withMethods) continue;
    for (const method of withMethods[2]!.split(', ')) {
      out.push({ method, template: stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}') });
    }
  }
  return out;
}

/** Routes that are public on purpose. Adding one here is a decision: say why. */
const PUBLIC_ROUTES = new Set([
  'GET /healthz', // liveness probe
  'GET /readyz', // readiness probe
  'POST /v1/partner/auth/register', // creates the login
  'POST /v1/partner/auth/login', // email + password in the body (A4.1)
  'POST /v1/partner/auth/refresh', // the refresh token is in the body
  'POST /api/partners/{accountId}/authenticate', // the HMAC of the epoch is in the body (contract B3.1)
  'POST /sandbox/setup-intents/confirm', // Stripe.js stand-in: the setup intent's client secret is the credential
  'POST /sandbox/bank-tokens', // Stripe.js createToken stand-in: makes a test-bank token, touches no account
  'POST /sandbox/payment-intents/confirm', // Stripe.js confirmCardPayment stand-in: the client secret is the credential
  'POST /sandbox/payment-intents/retrieve', // Stripe.js retrievePaymentIntent stand-in: the client secret is the credential
  'GET /checkout/{sessionId}', // the hosted checkout page (Stripe Checkout stand-in): the unguessable session id is the credential
  'POST /checkout/{sessionId}/pay', // what the hosted checkout page calls: the session id is the credential, as for the page
  'GET /', // the demo page: shows only the sandbox publishable key, which is made for browsers
  'GET /widget.js', // the embeddable widget script, loaded by partners' pages
  'POST /v1/integrations/every-org/donations', // Every.org's notification: the intake token in the URL is the credential
  'POST /api/stripe/webhook', // Stripe's events: the Stripe-Signature header over the raw body is the credential
]);

/** The documented route a request URL hits; a static segment wins over a parameter, as in the router. */
function routeFor(method: string, url: string): RouteInfo | undefined {
  const path = url.split('?')[0]!;
  return ROUTES.filter(
    (r) => r.method === method && new RegExp(`^${r.template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  ).sort((x, y) => x.params.length - y.params.length)[0];
}

const byMode = (...modes: Mode[]) => ROUTES.filter((r) => modes.includes(r.mode));
const label = (r: RouteInfo) => `${r.method} ${r.template} [${r.mode}]`;

// ---------------------------------------------------------------------------------------------
// Worlds: partners and keys
// ---------------------------------------------------------------------------------------------

interface KeyPair {
  keyId: string;
  publishableKey: string;
  secretKey: string;
  hmacSecret: string;
}

const sk = (pair: KeyPair): SigningKey => ({ key: pair.secretKey, hmacSecret: pair.hmacSecret });
const pk = (pair: KeyPair): SigningKey => ({ key: pair.publishableKey, hmacSecret: pair.hmacSecret });
const pairOf = (p: PartnerFixture, env: Env): KeyPair => (env === 'sandbox' ? p.sandbox : p.production!);

async function issue(partnerId: string, env: Env, expiresAt: Date | null = null): Promise<KeyPair> {
  const k = await ctx.services.keys.issuePair(partnerId, env, `suite ${env}`, expiresAt, null);
  return { keyId: k.id, publishableKey: k.publicKey, secretKey: k.secretKey, hmacSecret: k.hmacSecret };
}

/** A partner without a portal login (no password hashing), for scenarios that only need keys. */
async function keyOnlyPartner(
  setup: { rateLimit?: number; ipAllowlist?: string[]; status?: 'PENDING_APPROVAL' | 'SUSPENDED' } = {},
) {
  const row = await ctx.services.partners.createPartner({ name: `Scenario ${hex(3)}`, status: 'ACTIVE' });
  await ctx.services.partners.updatePartner(row.id, { enabledFeatures: ['ACTIONS', 'DONATIONS', 'PAYMENTS'] });
  const sandbox = await issue(row.id, 'sandbox');
  const production = await issue(row.id, 'production');
  if (setup.rateLimit !== undefined) await ctx.services.partners.updatePartner(row.id, { rateLimit: setup.rateLimit });
  if (setup.ipAllowlist) await ctx.services.partners.updatePartner(row.id, { ipAllowlist: setup.ipAllowlist });
  if (setup.status) await ctx.services.partners.setStatus(row.id, setup.status);
  return { partnerId: row.id, sandbox, production };
}

/**
 * A full partner (portal login, sandbox and production pairs, every feature on, a funded token pool
 * in each environment so reward actions can complete).
 */
async function fullPartner(): Promise<PartnerFixture> {
  const p = await createPartner(ctx.services, { status: 'ACTIVE', withProduction: true });
  await ctx.services.partners.updatePartner(p.partnerId, { enabledFeatures: ['ACTIONS', 'DONATIONS', 'PAYMENTS'] });
  await createPool(ctx.services, p.partnerId, { tokens: 1_000_000n });
  await createPool(ctx.services, p.partnerId, { tokens: 1_000_000n, environment: 'production' });
  await organizationsRepo.ensure(ctx.services.db, { slug: 'suite-donation-org', name: 'Suite donation organization' });
  return p;
}

// ---------------------------------------------------------------------------------------------
// Partner-owned resources
// ---------------------------------------------------------------------------------------------

interface Owner {
  partner: PartnerFixture;
  env: Env;
}

interface ResourceFixture {
  name: string;
  /** The item routes this fixture supplies path parameters for. */
  pattern: RegExp;
  /** The list route that shows these resources, if any. */
  collection?: string;
  /** Who may see it: one partner in one environment, one partner, or anyone (operator routes). */
  scope: 'environment' | 'partner' | 'global';
  /** Creates a fresh resource for the owner through the API and returns the path parameters. */
  create(owner: Owner): Promise<Record<string, string>>;
  /** A valid body for a write route on this resource, keyed by method. */
  bodies?: Record<string, () => unknown>;
}

function created(res: LightMyRequestResponse, what: string) {
  assert.ok(res.statusCode === 200 || res.statusCode === 201, `creating ${what} failed: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** A reward action for a new user, through the API; needs a pool in that environment (fullPartner has one). */
async function rewardAction(partner: PartnerFixture, env: Env) {
  const res = await inject(signed(ctx.clock, sk(pairOf(partner, env)), 'POST', '/v1/partner/actions/submit', actionBody()));
  return created(res, 'a reward action') as { actionId: string; transactionIds: string[] };
}

/** Creates a resource with the owner's signed secret key and returns its id as the path parameter. */
async function createdThrough({ partner, env }: Owner, collection: string, body: unknown, what: string) {
  const res = await inject(signed(ctx.clock, sk(pairOf(partner, env)), 'POST', collection, body));
  return { id: String(created(res, what).id) };
}

function campaignBody() {
  return { name: `Suite ${hex(3)}`, actionTypes: ['PURCHASE'] };
}

/** A public https URL: valid in production as well as sandbox. */
function webhookBody() {
  return { url: `https://hooks.example.com/suite/${hex(4)}`, eventTypes: ['action.completed'] };
}

/**
 * An endpoint whose test sends go nowhere outside this machine in sandbox (the local receiver). A
 * production endpoint must be a public https host; hooks.example.com (a reserved domain, RFC 2606)
 * has no address, so its test sends fail at the lookup, before any connection.
 */
function webhookBodyFor(env: Env) {
  return env === 'sandbox' ? { url: `${hookReceiver.url}/suite/${hex(4)}`, eventTypes: ['action.completed'] } : webhookBody();
}

function actionBody() {
  return {
    idempotencyKey: `suite_${hex(6)}`,
    actionType: 'PURCHASE',
    amount: 10,
    currency: 'USD',
    stakeholders: [{ stakeholderTypeCode: 'CUSTOMER', partnerUserId: `suite_${hex(6)}` }],
    autoCreateUsers: true,
  };
}

const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };

const RESOURCE_FIXTURES: ResourceFixture[] = [
  {
    name: 'reward action',
    pattern: /^\/v1\/partner\/actions\/\{actionId\}(\/|$)/,
    collection: '/v1/partner/actions',
    scope: 'environment',
    async create(owner) {
      return { actionId: (await rewardAction(owner.partner, owner.env)).actionId };
    },
    // POST .../reverse: a full reversal.
    bodies: { POST: () => ({ reason: 'auth suite refund' }) },
  },
  {
    name: 'token transaction',
    pattern: /^\/v1\/partner\/transactions\/\{id\}(\/|$)/,
    collection: '/v1/partner/transactions',
    scope: 'environment',
    async create(owner) {
      return { id: (await rewardAction(owner.partner, owner.env)).transactionIds[0]! };
    },
  },
  {
    name: 'token pool',
    pattern: /^\/v1\/partner\/token-pools\/\{id\}(\/|$)/,
    collection: '/v1/partner/token-pools',
    scope: 'environment',
    async create({ partner, env }) {
      const res = await inject({
        method: 'POST',
        url: `/v1/admin/partners/${partner.partnerId}/token-pools`,
        headers: { ...operator, 'content-type': 'application/json' },
        payload: JSON.stringify({ environment: env, name: `Suite pool ${hex(3)}`, initialAmount: 10 }),
      });
      return { id: String(created(res, 'a token pool').id) };
    },
  },
  {
    // Before 'partner user': a redemption needs a user who holds tokens.
    name: 'user with tokens',
    pattern: /^\/v1\/partner\/users\/\{externalId\}\/redeem$/,
    scope: 'environment',
    async create({ partner, env }) {
      const externalId = `u_${hex(6)}`;
      const body = { ...actionBody(), stakeholders: [{ stakeholderTypeCode: 'CUSTOMER', partnerUserId: externalId }] };
      // Earned ten minutes ago: a grant becomes spendable at the moment it was earned, and the skew
      // check below sends the redemption with the clock 300 s behind the moment the fixture was made.
      const res = await withClockMoved(-600_000, async () =>
        inject(signed(ctx.clock, sk(pairOf(partner, env)), 'POST', '/v1/partner/actions/submit', body)),
      );
      created(res, 'a rewarded user');
      return { externalId };
    },
    bodies: { POST: () => ({ amount: 1, idempotencyKey: `suite_${hex(6)}` }) },
  },
  {
    name: 'partner user',
    pattern: /^\/v1\/partner\/users\/\{externalId\}(\/|$)/,
    collection: '/v1/partner/users',
    scope: 'environment',
    async create({ partner, env }) {
      const externalId = `u_${hex(6)}`;
      const body = { externalUserId: externalId, firstName: 'Original' };
      created(await inject(signed(ctx.clock, sk(pairOf(partner, env)), 'POST', '/v1/partner/users', body)), 'a user');
      return { externalId };
    },
    bodies: { PATCH: () => ({ firstName: 'Changed' }) },
  },
  {
    name: 'webhook endpoint',
    pattern: /^\/v1\/partner\/webhooks\/\{id\}(\/|$)/,
    collection: '/v1/partner/webhooks',
    scope: 'environment',
    create: (owner) => createdThrough(owner, '/v1/partner/webhooks', webhookBodyFor(owner.env), 'a webhook endpoint'),
    // POST .../recover is the only item POST with a body (test and rotate-secret take none).
    bodies: { PATCH: () => ({ description: 'Changed by the suite' }), POST: () => ({ since: '2026-01-01T00:00:00.000Z' }) },
  },
  {
    // A webhook.test delivery: the test send is the one way the API creates a delivery at once.
    name: 'webhook delivery',
    pattern: /^\/v1\/partner\/webhooks\/deliveries\/\{deliveryId\}(\/|$)/,
    scope: 'environment',
    async create(owner) {
      const { id } = await createdThrough(owner, '/v1/partner/webhooks', webhookBodyFor(owner.env), 'a webhook endpoint');
      const res = await inject(signed(ctx.clock, sk(pairOf(owner.partner, owner.env)), 'POST', `/v1/partner/webhooks/${id}/test`));
      return { deliveryId: String(created(res, 'a test delivery').deliveryId) };
    },
  },
  {
    name: 'API key',
    pattern: /^\/v1\/partner\/keys\/\{id\}(\/|$)/,
    collection: '/v1/partner/keys',
    scope: 'partner',
    async create({ partner }) {
      const res = await inject({
        method: 'POST',
        url: '/v1/partner/keys',
        headers: { authorization: `Bearer ${partner.accessToken}` },
        payload: { name: 'fixture key', environment: 'sandbox' },
      });
      return { id: String(created(res, 'an API key').id) };
    },
    bodies: { PATCH: () => ({ name: 'renamed by the suite' }) },
  },
  // Operator write routes under a partner, each with its own body (bodies are keyed by method only).
  ...(
    [
      ['token pools', 'token-pools', () => ({ environment: 'sandbox', name: 'Suite pool', initialAmount: 5 })],
      ['allocation', 'allocation', () => ({ environment: 'sandbox', amount: 5 })],
      ['sandbox clock', 'sandbox-clock/advance', () => ({ seconds: 1 })],
    ] as const
  ).map(
    ([name, suffix, body]): ResourceFixture => ({
      name: `partner ${name} (operator)`,
      pattern: new RegExp(`^/v1/admin/partners/\\{id\\}/${suffix}$`),
      scope: 'global',
      async create() {
        return { id: (await keyOnlyPartner()).partnerId };
      },
      bodies: { POST: body },
    }),
  ),
  {
    // fund and approve: a production pool, which waits for approval.
    name: 'token pool (operator view)',
    pattern: /^\/v1\/admin\/token-pools\/\{id\}\//,
    scope: 'global',
    async create({ partner }) {
      const res = await inject({
        method: 'POST',
        url: `/v1/admin/partners/${partner.partnerId}/token-pools`,
        headers: { ...operator, 'content-type': 'application/json' },
        payload: JSON.stringify({ environment: 'production', name: 'Suite pool', initialAmount: 10 }),
      });
      return { id: String(created(res, 'a production token pool').id) };
    },
    bodies: { POST: () => ({ amount: 5 }) },
  },
  {
    name: 'allocation request (operator view)',
    pattern: /^\/v1\/admin\/token-pool-requests\/\{id\}\//,
    scope: 'global',
    async create({ partner }) {
      const res = await inject(signed(ctx.clock, sk(partner.sandbox), 'POST', '/v1/partner/token-pools/request', { amount: 5, reason: 'auth suite' }));
      assert.equal(res.statusCode, 202, `requesting tokens failed: ${res.body}`);
      return { id: String((res.json() as { requestId: string }).requestId) };
    },
    bodies: { POST: () => ({ note: 'auth suite' }) },
  },
  {
    name: 'campaign',
    pattern: /^\/v1\/partner\/campaigns\/\{id\}(\/|$)/,
    collection: '/v1/partner/campaigns',
    scope: 'environment',
    create: (owner) => createdThrough(owner, '/v1/partner/campaigns', campaignBody(), 'a campaign'),
    bodies: { PATCH: () => ({ name: 'Renamed by the suite' }) },
  },
  {
    name: 'stakeholder type (operator view)',
    pattern: /^\/v1\/admin\/partners\/\{id\}\/stakeholder-types\/\{code\}$/,
    scope: 'global',
    async create() {
      const id = (await keyOnlyPartner()).partnerId;
      const code = `T${hex(4).toUpperCase()}`;
      const res = await inject({
        method: 'POST',
        url: `/v1/admin/partners/${id}/stakeholder-types`,
        headers: { ...operator, 'content-type': 'application/json' },
        payload: JSON.stringify({ code, name: 'Suite type' }),
      });
      created(res, 'a stakeholder type');
      return { id, code };
    },
  },
  {
    name: 'partner (operator view)',
    pattern: /^\/v1\/admin\/partners\/\{id\}(\/|$)/,
    scope: 'global',
    async create() {
      return { id: (await keyOnlyPartner()).partnerId };
    },
    bodies: { PATCH: () => ({ name: 'Renamed Partner' }) },
  },
  {
    // The nonprofit directory is shared by every partner: any key reads any entry, so 'global'.
    name: 'directory organization',
    pattern: /^\/v1\/partner\/organizations\/\{slug\}$/,
    scope: 'global',
    async create() {
      const slug = `suite-org-${hex(4)}`;
      await organizationsRepo.ensure(ctx.services.db, { slug, name: `Suite organization ${slug}` });
      return { slug };
    },
  },
  {
    name: 'donation',
    pattern: /^\/v1\/partner\/donations\/status\/\{partnerDonationId\}$/,
    scope: 'environment',
    async create({ partner, env }) {
      const res = await inject({
        method: 'POST',
        url: '/v1/partner/donations/create-link',
        headers: { 'x-partner-key': pairOf(partner, env).publishableKey, 'content-type': 'application/json' },
        payload: JSON.stringify({ nonprofitSlug: 'suite-donation-org', amount: 1000, currency: 'USD' }),
      });
      return { partnerDonationId: String(created(res, 'a donation link').partnerDonationId) };
    },
  },
];

/** Valid bodies for create routes without path parameters, so their positive control can demand 2xx. */
const CREATE_BODIES: Record<string, () => unknown> = {
  'POST /v1/partner/users': () => ({ externalUserId: `u_${hex(6)}` }),
  'POST /v1/partner/donations/create-link': () => ({ nonprofitSlug: 'suite-donation-org', amount: 1000, currency: 'USD' }),
  'POST /v1/partner/keys': () => ({ name: 'suite key', environment: 'sandbox' }),
  'POST /v1/partner/actions/submit': actionBody,
  'POST /v1/partner/actions/quote': actionBody,
  'POST /v1/partner/token-pools/request': () => ({ amount: 5, reason: 'auth suite' }),
  'POST /v1/partner/campaigns': campaignBody,
  'POST /v1/partner/webhooks': webhookBody,
};

/** Path parameters that name no partner-owned resource (public directory entries and the like). */
const UNSCOPED_PARAMS = new Set<string>([]);

const fixtureFor = (r: RouteInfo) => RESOURCE_FIXTURES.find((f) => f.pattern.test(r.template));

function placeholder(name: string): string {
  if (/slug/i.test(name)) return 'placeholder-organization';
  if (/external/i.test(name)) return 'user_placeholder';
  return '65f1a2b3c4d5e6f7a8b9c0d1';
}

function fill(template: string, params: Record<string, string> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? placeholder(name)));
}

/** A body that passes validation when the suite knows one, otherwise an empty object (auth comes first). */
function bodyFor(r: RouteInfo): { body: unknown; known: boolean } {
  if (!r.hasBody) return { body: undefined, known: true };
  const create = CREATE_BODIES[`${r.method} ${r.template}`];
  if (create) return { body: create(), known: true };
  const fromFixture = fixtureFor(r)?.bodies?.[r.method];
  if (fromFixture) return { body: fromFixture(), known: true };
  return { body: {}, known: false };
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
};

/** Codes that mean "authentication or authorisation refused the call". */
const AUTH_CODES = new Set([
  'MISSING_API_KEY',
  'INVALID_API_KEY',
  'KEY_EXPIRED',
  'KEY_INACTIVE',
  'KEY_REVOKED',
  'KEY_ENVIRONMENT_MISMATCH',
  'MISSING_TIMESTAMP',
  'INVALID_TIMESTAMP',
  'TIMESTAMP_OUT_OF_RANGE',
  'MISSING_SIGNATURE',
  'INVALID_SIGNATURE',
  'UNAUTHORIZED',
  'INVALID_TOKEN',
  'TOKEN_EXPIRED',
  'SECRET_KEY_REQUIRED',
  'PARTNER_NOT_ACTIVE',
  'IP_NOT_ALLOWED',
  'RATE_LIMITED',
]);

/** The one error body (STYLE.md, contract A6): exactly these fields, a stable code, no internals. */
function assertErrorBody(res: LightMyRequestResponse, status: number, code: string, context = '') {
  const where = `${context}${context ? ': ' : ''}${res.statusCode} ${res.body}`;
  assert.equal(res.statusCode, status, where);
  assert.match(String(res.headers['content-type']), /^application\/json/, where);
  const body = res.json() as Record<string, unknown>;
  const keys = Object.keys(body).filter((k) => k !== 'details').sort();
  assert.deepEqual(keys, ['code', 'error', 'message', 'requestId', 'statusCode'], where);
  assert.equal(body.statusCode, status, where);
  assert.equal(body.error, REASONS[status] ?? body.error, where);
  assert.equal(body.code, code, where);
  assert.equal(typeof body.message, 'string', where);
  assert.ok((body.message as string).length > 0, where);
  assert.equal(body.requestId, res.headers['x-request-id'], where);
  if ('details' in body) {
    assert.ok(Array.isArray(body.details) && body.details.length > 0, where);
    for (const d of body.details as unknown[]) {
      assert.equal(typeof (d as { message?: unknown }).message, 'string', where);
    }
  }
  // No stack frames, file paths or internal error names leak into a client's view.
  assert.doesNotMatch(res.body, /\n\s+at |\.ts:\d+|\.js:\d+|node_modules|"stack"/, where);
}

function assertRateLimitHeaders(res: LightMyRequestResponse, where: string) {
  for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
    assert.match(String(res.headers[h] ?? ''), /^\d+$/, `${where}: ${h} missing or not an integer`);
  }
}

/** The caller got past authentication: any answer except an auth refusal or a server error. */
function assertAuthenticated(res: LightMyRequestResponse, where: string, { expectSuccess }: { expectSuccess: boolean }) {
  const detail = `${where}: ${res.statusCode} ${res.body}`;
  assert.ok(res.statusCode < 500, detail);
  if (expectSuccess) assert.ok(res.statusCode >= 200 && res.statusCode < 300, detail);
  if (res.statusCode >= 400) {
    const code = (res.json() as { code?: string }).code ?? '';
    assert.ok(!AUTH_CODES.has(code), `${detail} (an authenticated call was refused)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Request builders
// ---------------------------------------------------------------------------------------------

/** A signed HMAC request exactly as a partner's backend would send it, with optional tampering. */
function hmacRequest(
  r: RouteInfo,
  creds: SigningKey,
  url: string,
  body: unknown,
  overrides: Parameters<typeof signed>[5] = {},
): InjectOptions {
  const withBody = r.method !== 'GET' && body !== undefined ? body : undefined;
  return signed(ctx.clock, creds, r.method, url, withBody, overrides);
}

function without(opts: InjectOptions, header: string): InjectOptions {
  const headers = { ...(opts.headers as Record<string, string>) };
  delete headers[header];
  return { ...opts, headers };
}

function widgetRequest(r: RouteInfo, key: string | undefined, url: string, body: unknown, extra: Partial<InjectOptions> = {}): InjectOptions {
  const headers: Record<string, string> = key === undefined ? {} : { 'x-partner-key': key };
  const withBody = r.method !== 'GET' && body !== undefined;
  if (withBody) headers['content-type'] = 'application/json';
  return {
    method: r.method as InjectOptions['method'],
    url,
    ...(withBody ? { payload: JSON.stringify(body) } : {}),
    ...extra,
    // A test's own headers (a key, an origin) come on top of the body's content type, not instead of it.
    headers: { ...headers, ...(extra.headers as Record<string, string> | undefined) },
  };
}

function bearerRequest(r: RouteInfo, authorization: string | undefined, url: string, body: unknown): InjectOptions {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const withBody = r.method !== 'GET' && body !== undefined;
  if (withBody) headers['content-type'] = 'application/json';
  return { method: r.method as InjectOptions['method'], url, headers, ...(withBody ? { payload: JSON.stringify(body) } : {}) };
}

/** Changes one byte of a JSON text without breaking it: the last letter swaps case. */
function flipOneByte(raw: string): string {
  for (let i = raw.length - 1; i >= 0; i--) {
    const c = raw[i]!;
    if (/[a-z]/.test(c)) return raw.slice(0, i) + c.toUpperCase() + raw.slice(i + 1);
    if (/[A-Z]/.test(c)) return raw.slice(0, i) + c.toLowerCase() + raw.slice(i + 1);
  }
  return `${raw} `;
}

/** Runs `fn` with the clock moved by `ms`, then puts it back so later tests see the original time. */
async function withClockMoved<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  ctx.clock.advance(ms);
  try {
    return await fn();
  } finally {
    ctx.clock.advance(-ms);
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery checks: the suite itself must not pass by covering nothing
// ---------------------------------------------------------------------------------------------

describe('route discovery', () => {
  test('the document lists the partner routes this suite must cover', () => {
    const have = new Set(ROUTES.map((r) => `${r.method} ${r.template} ${r.mode}`));
    for (const expected of [
      'GET /v1/partner/users hmac',
      'POST /v1/partner/users hmacSecret',
      'GET /v1/partner/users/{externalId} hmac',
      'PATCH /v1/partner/users/{externalId} hmacSecret',
      'GET /v1/partner/config widget',
      'GET /v1/partner/auth/me portal',
      'GET /v1/partner/keys portal',
      'GET /v1/admin/partners operator',
      'POST /v1/partner/actions/submit hmacSecret',
      'POST /v1/partner/actions/{actionId}/reverse hmacSecret',
      'GET /v1/partner/transactions/{id} hmac',
      'POST /v1/partner/users/{externalId}/redeem hmacSecret',
      'GET /v1/partner/token-pools/{id} hmac',
      'POST /v1/admin/token-pools/{id}/approve operator',
    ]) {
      assert.ok(have.has(expected), `discovery lost ${expected}; found:\n${[...have].join('\n')}`);
    }
  });

  test('every documented operation has an auth mode this suite knows', () => {
    assert.deepEqual(UNKNOWN_SECURITY, [], 'teach modeOf() the new security scheme and add its checks');
  });

  test('public routes are exactly the ones meant to be public', () => {
    const pub = byMode('none').map((r) => `${r.method} ${r.template}`);
    assert.deepEqual(pub.filter((r) => !PUBLIC_ROUTES.has(r)), [], 'routes without auth that are not on PUBLIC_ROUTES');
  });

  test('every API route the router serves is in the document (none hides from this suite)', async () => {
    const documented = new Set(ROUTES.map((r) => `${r.method} ${r.template}`));
    const served = routerTable().filter(
      (r) => (r.template.startsWith('/v1/') || r.template.startsWith('/api/')) && r.method !== 'HEAD' && r.method !== 'OPTIONS',
    );
    const missing = served.filter((r) => !documented.has(`${r.method} ${r.template}`));
    // A hidden route may exist, but never as a public one: with no credentials it must refuse.
    for (const r of missing) {
      const res = await inject({ method: r.method as InjectOptions['method'], url: fill(r.template) });
      assert.ok(res.statusCode === 401 || res.statusCode === 403, `hidden route ${r.method} ${r.template} answered ${res.statusCode} without credentials`);
    }
    assert.ok(served.length >= ROUTES.filter((r) => r.template.startsWith('/v1/')).length, 'the router table could not be read');
  });

  test('every partner-scoped route with a path parameter has an ownership fixture', () => {
    const missing = byMode('hmac', 'hmacSecret', 'widget', 'portal')
      .filter((r) => r.params.some((p) => !UNSCOPED_PARAMS.has(p)) && !fixtureFor(r))
      .map(label);
    assert.deepEqual(missing, [], 'add a RESOURCE_FIXTURES entry (or list the parameter in UNSCOPED_PARAMS with a reason)');
  });
});

describe('error bodies outside any route', () => {
  test('an unknown route or method -> 404 with the one error body', async () => {
    assertErrorBody(await inject({ method: 'GET', url: '/v1/partner/no-such-thing' }), 404, 'ROUTE_NOT_FOUND');
    assertErrorBody(await inject({ method: 'PUT', url: '/v1/partner/users' }), 404, 'ROUTE_NOT_FOUND');
  });

  // Fastify's router answers these itself, before any hook or the error handler runs; the
  // frameworkErrors option of buildApp routes them through the one error body.
  test('a malformed URL answers with the one error body', async () => {
    assertErrorBody(await inject({ method: 'GET', url: '/v1/partner/users/%E0%A4%A' }), 400, 'INVALID_REQUEST');
    assertErrorBody(await inject({ method: 'GET', url: `/v1/partner/users/${'a'.repeat(2000)}` }), 400, 'INVALID_REQUEST');
  });
});

// ---------------------------------------------------------------------------------------------
// HMAC routes
// ---------------------------------------------------------------------------------------------

for (const r of byMode('hmac', 'hmacSecret')) {
  describe(label(r), () => {
    let a: PartnerFixture;
    let b: PartnerFixture;
    let url: string;
    const fixture = fixtureFor(r);
    const { body: goodBody, known } = bodyFor(r);
    /** A signed request with a valid sandbox sk_ of partner A: the baseline every check tampers with. */
    const baseline = (overrides: Parameters<typeof signed>[5] = {}, creds?: SigningKey, target = url) =>
      hmacRequest(r, creds ?? sk(a.sandbox), target, goodBody, overrides);
    const expectSuccess = known && (fixture !== undefined || r.params.length === 0) && r.requiredQuery.length === 0;

    before(async () => {
      a = await fullPartner();
      b = await fullPartner();
      url = fill(r.template, fixture ? await fixture.create({ partner: a, env: 'sandbox' }) : {});
    });

    test('a valid sk_ request is accepted and carries X-RateLimit-*', async () => {
      // Item routes get a fresh resource: a DELETE or state change must not eat the one the others use.
      const target = fixture ? fill(r.template, await fixture.create({ partner: a, env: 'sandbox' })) : url;
      const res = await inject(baseline({}, undefined, target));
      assertAuthenticated(res, label(r), { expectSuccess });
      assertRateLimitHeaders(res, label(r));
    });

    test('missing X-Partner-Key -> 401', async () => {
      assertErrorBody(await inject(without(baseline(), 'x-partner-key')), 401, 'MISSING_API_KEY');
      assertErrorBody(await inject(baseline({ headers: { 'x-partner-key': '' } })), 401, 'MISSING_API_KEY');
    });

    test('unknown well-formed key -> 401', async () => {
      for (const key of [`sk_test_${hex(32)}`, `pk_test_${hex(32)}`, `sk_live_${hex(32)}`, a.sandbox.publishableKey.replace(/^pk_/, 'sk_')]) {
        assertErrorBody(await inject(baseline({}, { key, hmacSecret: a.sandbox.hmacSecret })), 401, 'INVALID_API_KEY', key);
      }
    });

    test('malformed key -> 401', async () => {
      const good = a.sandbox.secretKey;
      for (const key of [
        'sk_test_123',
        good.toUpperCase(),
        good.slice(0, -1),
        `${good}0`,
        good.replace('_test_', '_prod_'),
        good.replace(/^sk_/, 'xk_'),
        good.slice('sk_test_'.length),
        `Bearer ${good}`,
        'sk_test_' + 'g'.repeat(64),
      ]) {
        assertErrorBody(await inject(baseline({ headers: { 'x-partner-key': key } })), 401, 'INVALID_API_KEY', key);
      }
    });

    test('missing or non-digit X-Timestamp -> 401', async () => {
      assertErrorBody(await inject(without(baseline(), 'x-timestamp')), 401, 'MISSING_TIMESTAMP');
      assertErrorBody(await inject(baseline({ timestamp: '' })), 401, 'MISSING_TIMESTAMP');
      const now = nowSec();
      // Each one is signed with the very string it sends, so only the timestamp's form is wrong.
      for (const ts of ['abc', `${now}.0`, `-${now}`, `+${now}`, `${now}s`, `0x${now.toString(16)}`, `${now * 1000}`, '1e9', ' ']) {
        assertErrorBody(await inject(baseline({ timestamp: ts })), 401, 'INVALID_TIMESTAMP', ts);
      }
    });

    test('timestamp 301 s in the past or the future -> 401; 300 s is still accepted', async () => {
      // Signed now, sent 301 s later: the server sees a stale request.
      let opts = baseline();
      await withClockMoved(301_000, async () => assertErrorBody(await inject(opts), 401, 'TIMESTAMP_OUT_OF_RANGE', 'past'));
      opts = baseline();
      await withClockMoved(-301_000, async () => assertErrorBody(await inject(opts), 401, 'TIMESTAMP_OUT_OF_RANGE', 'future'));
      for (const skew of [300_000, -300_000]) {
        const target = fixture ? fill(r.template, await fixture.create({ partner: a, env: 'sandbox' })) : url;
        opts = hmacRequest(r, sk(a.sandbox), target, bodyFor(r).body);
        await withClockMoved(skew, async () => assertAuthenticated(await inject(opts), `skew ${skew}`, { expectSuccess }));
      }
    });

    test('wrong, odd-length, non-hex, oversized or empty signature -> 401, never 500', async () => {
      const right = (baseline().headers as Record<string, string>)['x-signature']!;
      const wrongSecret = signPartnerRequest({
        secret: b.sandbox.hmacSecret,
        timestamp: String(nowSec()),
        method: r.method,
        pathWithQuery: url,
        body: r.method === 'GET' || goodBody === undefined ? undefined : JSON.stringify(goodBody),
      });
      const cases: [string, string, string][] = [
        ['another secret', wrongSecret, 'INVALID_SIGNATURE'],
        ['one digit changed', right.slice(0, -1) + (right.endsWith('0') ? '1' : '0'), 'INVALID_SIGNATURE'],
        ['odd length', right.slice(0, -1), 'INVALID_SIGNATURE'],
        ['one char too many', `${right}0`, 'INVALID_SIGNATURE'],
        ['non-hex', 'z'.repeat(64), 'INVALID_SIGNATURE'],
        ['non-hex odd length', 'xyz', 'INVALID_SIGNATURE'],
        ['base64 of the digest', Buffer.from(right, 'hex').toString('base64'), 'INVALID_SIGNATURE'],
        ['oversized', 'a'.repeat(8192), 'INVALID_SIGNATURE'],
        ['the sk_ itself', a.sandbox.secretKey, 'INVALID_SIGNATURE'],
        ['empty', '', 'MISSING_SIGNATURE'],
      ];
      for (const [name, signature, code] of cases) {
        assertErrorBody(await inject(baseline({ signature })), 401, code, name);
      }
      assertErrorBody(await inject(without(baseline(), 'x-signature')), 401, 'MISSING_SIGNATURE', 'missing');
    });

    test('query string changed, reordered or dropped after signing -> 401', async () => {
      const signedOpts = baseline({}, undefined, `${url}?page=1&limit=20`);
      for (const sent of [`${url}?page=2&limit=20`, `${url}?limit=20&page=1`, `${url}?page=1&limit=20&x=1`, url]) {
        assertErrorBody(await inject({ ...signedOpts, url: sent }), 401, 'INVALID_SIGNATURE', sent);
      }
      // And the reverse: signed without a query, sent with one.
      assertErrorBody(await inject({ ...baseline(), url: `${url}?page=1` }), 401, 'INVALID_SIGNATURE', 'query added');
    });

    // Same path, other verb: only where the path serves another signed method too.
    const sibling = ROUTES.find((o) => o.template === r.template && o.method !== r.method && (o.mode === 'hmac' || o.mode === 'hmacSecret'));
    if (sibling) {
      test(`signed for ${r.method}, sent as ${sibling.method} -> 401`, async () => {
        const opts = baseline();
        const sent = { ...opts, method: sibling.method as InjectOptions['method'], ...(sibling.method === 'GET' ? { payload: undefined } : {}) };
        assertErrorBody(await inject(sent), 401, 'INVALID_SIGNATURE');
      });
    }

    if (r.method !== 'GET') {
      test('body changed by one byte after signing -> 401', async () => {
        const raw = JSON.stringify(goodBody ?? { probe: 'value' });
        const signature = (hmacRequest(r, sk(a.sandbox), url, undefined, { rawBody: raw }).headers as Record<string, string>)['x-signature']!;
        const tampered = flipOneByte(raw);
        assert.notEqual(tampered, raw);
        assert.equal(Buffer.byteLength(tampered), Buffer.byteLength(raw));
        assertErrorBody(await inject(hmacRequest(r, sk(a.sandbox), url, undefined, { rawBody: tampered, signature })), 401, 'INVALID_SIGNATURE');
        // A body signed as empty but sent with content is tampering too.
        const emptySig = (hmacRequest(r, sk(a.sandbox), url, undefined).headers as Record<string, string>)['x-signature']!;
        assertErrorBody(await inject(hmacRequest(r, sk(a.sandbox), url, undefined, { rawBody: raw, signature: emptySig })), 401, 'INVALID_SIGNATURE', 'body added');
      });

      test('a correctly signed non-JSON body -> 415, after authentication', async () => {
        const raw = 'externalUserId=u_form';
        const opts = hmacRequest(r, sk(a.sandbox), url, undefined, { rawBody: raw, headers: { 'content-type': 'text/plain' } });
        assertErrorBody(await inject(opts), 415, 'UNSUPPORTED_MEDIA_TYPE');
        const unsigned = hmacRequest(r, sk(a.sandbox), url, undefined, { rawBody: raw, signature: '0'.repeat(64), headers: { 'content-type': 'text/plain' } });
        assertErrorBody(await inject(unsigned), 401, 'INVALID_SIGNATURE');
      });

      test('a signed pk_ request -> 403 SECRET_KEY_REQUIRED, and nothing changes', async () => {
        const readBack = await readBackFor(r, a, url);
        const before = readBack ? await readBack() : undefined;
        const res = await inject(baseline({}, pk(a.sandbox)));
        assertErrorBody(res, 403, 'SECRET_KEY_REQUIRED');
        if (readBack) assert.deepEqual(await readBack(), before, 'the pk_ request changed the resource');
        // The production pk_ is refused the same way.
        assertErrorBody(await inject(baseline({}, pk(a.production!))), 403, 'SECRET_KEY_REQUIRED', 'production pk_');
      });
    } else {
      test('a signed pk_ request is accepted (A4.5)', async () => {
        const res = await inject(baseline({}, pk(a.sandbox)));
        assertAuthenticated(res, 'pk_', { expectSuccess });
        assertRateLimitHeaders(res, 'pk_');
      });

      test('HEAD without credentials -> 401', async () => {
        const res = await inject({ method: 'HEAD', url });
        assert.equal(res.statusCode, 401, res.body);
      });
    }

    test('revoked, deactivated and expired keys -> 401', async () => {
      const revoked = await issue(a.partnerId, 'sandbox');
      const inactive = await issue(a.partnerId, 'sandbox');
      const expiring = await issue(a.partnerId, 'sandbox', new Date(ctx.clock.now().getTime() + 60_000));
      // Each key works first, so the refusal below is caused by the state change and nothing else.
      for (const pair of [revoked, inactive, expiring]) {
        const target = fixture ? fill(r.template, await fixture.create({ partner: a, env: 'sandbox' })) : url;
        assertAuthenticated(await inject(hmacRequest(r, sk(pair), target, bodyFor(r).body)), 'before the change', { expectSuccess });
      }
      await ctx.services.keys.revokeKey(a.partnerId, revoked.keyId);
      await ctx.services.keys.updateKey(a.partnerId, inactive.keyId, { isActive: false });
      assertErrorBody(await inject(baseline({}, sk(revoked))), 401, 'KEY_REVOKED', 'revoked sk_');
      assertErrorBody(await inject(baseline({}, pk(revoked))), 401, 'KEY_REVOKED', 'revoked pk_');
      assertErrorBody(await inject(baseline({}, sk(inactive))), 401, 'KEY_INACTIVE', 'deactivated');
      await withClockMoved(60_000, async () => {
        assertErrorBody(await inject(baseline({}, sk(expiring))), 401, 'KEY_EXPIRED', 'expired');
      });
    });

    test('suspended partner -> 403; pending partner keeps the sandbox but not production', async () => {
      const suspended = await keyOnlyPartner({ status: 'SUSPENDED' });
      for (const pair of [suspended.sandbox, suspended.production]) {
        assertErrorBody(await inject(baseline({}, sk(pair))), 403, 'PARTNER_NOT_ACTIVE', pair.secretKey.slice(0, 8));
      }
      const pending = await keyOnlyPartner({ status: 'PENDING_APPROVAL' });
      assertErrorBody(await inject(baseline({}, sk(pending.production))), 403, 'PARTNER_NOT_ACTIVE', 'pending production');
      assertAuthenticated(await inject(baseline({}, sk(pending.sandbox))), 'pending sandbox', { expectSuccess: false });
    });

    test('IP allowlist: a listed address passes, any other -> 403 IP_NOT_ALLOWED', async () => {
      const p = await keyOnlyPartner({ ipAllowlist: ['203.0.113.0/24', '2001:db8::1'] });
      for (const ip of ['203.0.113.9', '2001:db8::1', '::ffff:203.0.113.10']) {
        assertAuthenticated(await inject({ ...baseline({}, sk(p.sandbox)), remoteAddress: ip }), ip, { expectSuccess: false });
      }
      for (const ip of ['198.51.100.7', '127.0.0.1', '2001:db8::2', '203.0.114.1']) {
        assertErrorBody(await inject({ ...baseline({}, sk(p.sandbox)), remoteAddress: ip }), 403, 'IP_NOT_ALLOWED', ip);
      }
    });

    test('over the rate limit -> 429 with Retry-After and X-RateLimit-*', async () => {
      const p = await keyOnlyPartner({ rateLimit: 2 });
      const window = ctx.config.rateLimitWindowSeconds;
      const first = await inject(baseline({}, sk(p.sandbox)));
      if (r.method !== 'GET') {
        // Refused before the limiter (contract A4.3): a pk_ on a write route uses up no quota.
        assertErrorBody(await inject(baseline({}, pk(p.sandbox))), 403, 'SECRET_KEY_REQUIRED');
      }
      // The limit is per partner, not per key: on reads the pk_ shares the sk_'s window.
      const second = await inject(baseline({}, r.method === 'GET' ? pk(p.sandbox) : sk(p.sandbox)));
      assert.equal(first.headers['x-ratelimit-limit'], '2');
      assert.equal(first.headers['x-ratelimit-remaining'], '1');
      assert.equal(second.headers['x-ratelimit-remaining'], '0');
      assert.notEqual(second.statusCode, 429);
      const third = await inject(baseline({}, sk(p.sandbox)));
      assertErrorBody(third, 429, 'RATE_LIMITED');
      assertRateLimitHeaders(third, '429');
      assert.equal(third.headers['x-ratelimit-remaining'], '0');
      const retryAfter = Number(third.headers['retry-after']);
      const reset = Number(third.headers['x-ratelimit-reset']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= window, `Retry-After ${third.headers['retry-after']}`);
      assert.ok(reset > nowSec() && reset <= nowSec() + window, `X-RateLimit-Reset ${reset}`);
      // Once the window has passed the partner is served again.
      await withClockMoved(retryAfter * 1000, async () => {
        const again = await inject(baseline({}, sk(p.sandbox)));
        assert.notEqual(again.statusCode, 429, again.body);
      });
    });

    if (fixture && fixture.scope !== 'global') {
      test("another partner's id -> 404, and their resource is unchanged", async () => {
        const theirs = fill(r.template, await fixture.create({ partner: b, env: 'sandbox' }));
        const readBack = await readBackFor(r, b, theirs);
        const before = readBack ? await readBack() : undefined;
        assertErrorBody(await inject(baseline({}, undefined, theirs)), 404, 'NOT_FOUND');
        if (readBack) assert.deepEqual(await readBack(), before, "the request changed another partner's resource");
      });
    }

    if (fixture?.scope === 'environment') {
      test('a resource of the other environment -> 404 (sandbox and production never mix)', async () => {
        const prod = fill(r.template, await fixture.create({ partner: a, env: 'production' }));
        assertErrorBody(await inject(baseline({}, undefined, prod)), 404, 'NOT_FOUND', 'production resource, sandbox key');
        const sandbox = fill(r.template, await fixture.create({ partner: a, env: 'sandbox' }));
        assertErrorBody(await inject(baseline({}, sk(a.production!), sandbox)), 404, 'NOT_FOUND', 'sandbox resource, production key');
        // Control: the owner's own environment sees it.
        assertAuthenticated(await inject(baseline({}, sk(a.production!), prod)), 'production key on production resource', { expectSuccess });
      });
    }

    const listed = RESOURCE_FIXTURES.filter((f) => f.collection === r.template && r.method === 'GET');
    for (const f of listed) {
      test(`the list shows only this partner's ${f.name}s of this environment`, async () => {
        const mine = Object.values(await f.create({ partner: a, env: 'sandbox' }))[0]!;
        const theirs = Object.values(await f.create({ partner: b, env: 'sandbox' }))[0]!;
        const otherEnv = f.scope === 'environment' ? Object.values(await f.create({ partner: a, env: 'production' }))[0]! : undefined;
        const list = async (creds: SigningKey) => {
          const res = await inject(hmacRequest(r, creds, `${r.template}?page=1&limit=100`, undefined));
          assert.equal(res.statusCode, 200, res.body);
          return res.body;
        };
        const sandboxList = await list(sk(a.sandbox));
        assert.ok(sandboxList.includes(mine), 'control: the own resource is listed');
        assert.ok(!sandboxList.includes(theirs), "another partner's resource is listed");
        if (otherEnv) {
          assert.ok(!sandboxList.includes(otherEnv), 'a production resource is listed with the sandbox key');
          const prodList = await list(sk(a.production!));
          assert.ok(prodList.includes(otherEnv), 'control: production lists its own resource');
          assert.ok(!prodList.includes(mine), 'a sandbox resource is listed with the production key');
        }
      });
    }
  });
}

/** For a write route: reads the resource back through the GET on the same path, to prove nothing changed. */
async function readBackFor(r: RouteInfo, owner: PartnerFixture, target: string): Promise<(() => Promise<unknown>) | undefined> {
  const getter = ROUTES.find((o) => o.template === r.template && o.method === 'GET');
  if (!getter || r.method === 'GET' || !fixtureFor(r)) return undefined;
  return async () => {
    let res: LightMyRequestResponse;
    if (getter.mode === 'portal') {
      res = await inject({ method: 'GET', url: target, headers: { authorization: `Bearer ${owner.accessToken}` } });
    } else if (getter.mode === 'operator') {
      res = await inject({ method: 'GET', url: target, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    } else {
      res = await inject(signed(ctx.clock, sk(owner.sandbox), 'GET', target));
    }
    assert.equal(res.statusCode, 200, `reading ${target} back: ${res.body}`);
    return res.json();
  };
}

// ---------------------------------------------------------------------------------------------
// Widget routes
// ---------------------------------------------------------------------------------------------

for (const r of byMode('widget')) {
  describe(label(r), () => {
    let a: PartnerFixture;
    let b: PartnerFixture;
    let url: string;
    const fixture = fixtureFor(r);
    const { body: goodBody, known } = bodyFor(r);
    const expectSuccess = known && (fixture !== undefined || r.params.length === 0) && r.requiredQuery.length === 0;
    const call = (key: string | undefined, target = url, extra: Partial<InjectOptions> = {}) =>
      inject(widgetRequest(r, key, target, goodBody, extra));

    before(async () => {
      a = await fullPartner();
      b = await fullPartner();
      url = fill(r.template, fixture ? await fixture.create({ partner: a, env: 'sandbox' }) : {});
    });

    test('pk_ without a signature is accepted and carries X-RateLimit-* and CORS headers', async () => {
      const res = await call(a.sandbox.publishableKey, url, { headers: { 'x-partner-key': a.sandbox.publishableKey, origin: 'https://shop.example' } });
      assertAuthenticated(res, 'pk_', { expectSuccess });
      assertRateLimitHeaders(res, 'pk_');
      assert.ok(res.headers['access-control-allow-origin'], 'no Access-Control-Allow-Origin on the widget response');
      const exposed = String(res.headers['access-control-expose-headers'] ?? '').toLowerCase();
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after']) {
        assert.ok(exposed.includes(h), `${h} is not exposed to browsers (${exposed})`);
      }
    });

    test('sk_ and the production pk_ are accepted too', async () => {
      assertAuthenticated(await call(a.sandbox.secretKey), 'sk_', { expectSuccess: false });
      assertAuthenticated(await call(a.production!.publishableKey), 'production pk_', { expectSuccess: false });
    });

    test('timestamp and signature headers are ignored', async () => {
      const res = await call(a.sandbox.publishableKey, url, {
        headers: { 'x-partner-key': a.sandbox.publishableKey, 'x-timestamp': 'garbage', 'x-signature': 'nothex' },
      });
      assertAuthenticated(res, 'with junk signing headers', { expectSuccess });
    });

    test('missing, unknown or malformed key -> 401', async () => {
      assertErrorBody(await call(undefined), 401, 'MISSING_API_KEY');
      assertErrorBody(await call(''), 401, 'MISSING_API_KEY', 'empty');
      assertErrorBody(await call(`pk_test_${hex(32)}`), 401, 'INVALID_API_KEY', 'unknown');
      assertErrorBody(await call('pk_test_123'), 401, 'INVALID_API_KEY', 'malformed');
      assertErrorBody(await call(a.sandbox.publishableKey.toUpperCase()), 401, 'INVALID_API_KEY', 'upper case');
    });

    test('revoked key -> 401; suspended partner -> 403; foreign IP -> 403', async () => {
      const revoked = await issue(a.partnerId, 'sandbox');
      assertAuthenticated(await call(revoked.publishableKey), 'before revoking', { expectSuccess: false });
      await ctx.services.keys.revokeKey(a.partnerId, revoked.keyId);
      assertErrorBody(await call(revoked.publishableKey), 401, 'KEY_REVOKED');
      const suspended = await keyOnlyPartner({ status: 'SUSPENDED' });
      assertErrorBody(await call(suspended.sandbox.publishableKey), 403, 'PARTNER_NOT_ACTIVE');
      const fenced = await keyOnlyPartner({ ipAllowlist: ['203.0.113.0/24'] });
      assertErrorBody(await call(fenced.sandbox.publishableKey, url, { remoteAddress: '198.51.100.7' }), 403, 'IP_NOT_ALLOWED');
      assertAuthenticated(await call(fenced.sandbox.publishableKey, url, { remoteAddress: '203.0.113.5' }), 'allowed IP', { expectSuccess: false });
    });

    test('over the rate limit -> 429 with Retry-After', async () => {
      const p = await keyOnlyPartner({ rateLimit: 1 });
      assert.notEqual((await call(p.sandbox.publishableKey)).statusCode, 429);
      const res = await call(p.sandbox.publishableKey);
      assertErrorBody(res, 429, 'RATE_LIMITED');
      assertRateLimitHeaders(res, '429');
      assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
    });

    test('CORS preflight answers with the allow headers', async () => {
      const res = await inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: 'https://shop.example',
          'access-control-request-method': r.method,
          'access-control-request-headers': 'X-Partner-Key, Content-Type',
        },
      });
      assert.ok(res.statusCode === 204 || res.statusCode === 200, `${res.statusCode} ${res.body}`);
      const origin = String(res.headers['access-control-allow-origin'] ?? '');
      assert.ok(origin === '*' || origin === 'https://shop.example', `Access-Control-Allow-Origin: ${origin}`);
      const allowHeaders = String(res.headers['access-control-allow-headers'] ?? '').toLowerCase();
      assert.ok(allowHeaders.includes('x-partner-key'), `Access-Control-Allow-Headers: ${allowHeaders}`);
      assert.ok(allowHeaders.includes('content-type'), `Access-Control-Allow-Headers: ${allowHeaders}`);
      const allowMethods = String(res.headers['access-control-allow-methods'] ?? '').toUpperCase();
      assert.ok(allowMethods.includes(r.method), `Access-Control-Allow-Methods: ${allowMethods}`);
    });

    if (fixture && fixture.scope !== 'global') {
      test("another partner's id -> 404", async () => {
        const theirs = fill(r.template, await fixture.create({ partner: b, env: 'sandbox' }));
        assertErrorBody(await call(a.sandbox.publishableKey, theirs), 404, 'NOT_FOUND');
      });
    }
    if (fixture?.scope === 'environment') {
      test('a resource of the other environment -> 404', async () => {
        const prod = fill(r.template, await fixture.create({ partner: a, env: 'production' }));
        assertErrorBody(await call(a.sandbox.publishableKey, prod), 404, 'NOT_FOUND');
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Portal routes
// ---------------------------------------------------------------------------------------------

function forgeJwt(token: string, edit: (header: Record<string, unknown>, payload: Record<string, unknown>) => void, signature?: string) {
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  edit(header, payload);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${signature ?? s}`;
}

for (const r of byMode('portal')) {
  describe(label(r), () => {
    let a: PartnerFixture;
    let b: PartnerFixture;
    let url: string;
    const fixture = fixtureFor(r);
    const { body: goodBody, known } = bodyFor(r);
    const expectSuccess = known && (fixture !== undefined || r.params.length === 0) && r.requiredQuery.length === 0;
    const call = (authorization: string | undefined, target = url) => inject(bearerRequest(r, authorization, target, goodBody));

    before(async () => {
      a = await fullPartner();
      b = await fullPartner();
      url = fill(r.template, fixture ? await fixture.create({ partner: a, env: 'sandbox' }) : {});
    });

    test('a valid access token is accepted', async () => {
      const target = fixture ? fill(r.template, await fixture.create({ partner: a, env: 'sandbox' })) : url;
      assertAuthenticated(await call(`Bearer ${a.accessToken}`, target), label(r), { expectSuccess });
    });

    test('no token, garbage, wrong scheme or an API key -> 401', async () => {
      assertErrorBody(await call(undefined), 401, 'UNAUTHORIZED', 'no header');
      assertErrorBody(await call('Bearer'), 401, 'UNAUTHORIZED', 'empty bearer');
      assertErrorBody(await call(`Basic ${Buffer.from(`${a.email}:${a.password}`).toString('base64')}`), 401, 'UNAUTHORIZED', 'basic');
      assertErrorBody(await call(a.accessToken), 401, 'UNAUTHORIZED', 'no scheme');
      assertErrorBody(await call('Bearer not-a-jwt'), 401, 'INVALID_TOKEN', 'garbage');
      assertErrorBody(await call('Bearer a.b.c'), 401, 'INVALID_TOKEN', 'three garbage parts');
      assertErrorBody(await call(`Bearer ${a.sandbox.secretKey}`), 401, 'INVALID_TOKEN', 'sk_ as bearer');
      assertErrorBody(await call(`Bearer ${OPERATOR_TOKEN}`), 401, 'INVALID_TOKEN', 'operator token');
      const keyOnly = await inject({ ...bearerRequest(r, undefined, url, goodBody), headers: { 'x-partner-key': a.sandbox.secretKey } });
      assertErrorBody(keyOnly, 401, 'UNAUTHORIZED', 'X-Partner-Key instead of a token');
    });

    test('a refresh token used as an access token -> 401', async () => {
      const session = await ctx.services.partners.login({ email: a.email, password: a.password }, '127.0.0.1');
      assertErrorBody(await call(`Bearer ${session.refreshToken}`), 401, 'INVALID_TOKEN');
      // Control: the access token of that same session works.
      assertAuthenticated(await call(`Bearer ${session.accessToken}`, url), 'fresh access token', { expectSuccess: false });
    });

    if (r.method !== 'GET') {
      test('a non-JSON body -> 415 with the token, 401 without', async () => {
        const send = (authorization?: string) =>
          inject({
            method: r.method as InjectOptions['method'],
            url,
            headers: { 'content-type': 'text/plain', ...(authorization ? { authorization } : {}) },
            payload: 'name=x',
          });
        assertErrorBody(await send(`Bearer ${a.accessToken}`), 415, 'UNSUPPORTED_MEDIA_TYPE');
        assertErrorBody(await send(), 401, 'UNAUTHORIZED');
      });
    }

    test('an expired access token (16 min later) -> 401', async () => {
      await withClockMoved(16 * 60_000, async () => {
        assertErrorBody(await call(`Bearer ${a.accessToken}`), 401, 'TOKEN_EXPIRED');
      });
    });

    test('forged tokens -> 401 (alg none, edited partner id, stripped signature)', async () => {
      const none = forgeJwt(a.accessToken, (h) => void (h.alg = 'none'), '');
      assertErrorBody(await call(`Bearer ${none}`), 401, 'INVALID_TOKEN', 'alg none');
      const otherPartner = forgeJwt(a.accessToken, (_h, p) => void (p.pid = b.partnerId));
      assertErrorBody(await call(`Bearer ${otherPartner}`), 401, 'INVALID_TOKEN', 'pid edited');
      const stripped = a.accessToken.split('.').slice(0, 2).join('.') + '.';
      assertErrorBody(await call(`Bearer ${stripped}`), 401, 'INVALID_TOKEN', 'no signature');
    });

    if (fixture && fixture.scope !== 'global') {
      test("another partner's id -> 404, and their resource is unchanged", async () => {
        const theirs = fill(r.template, await fixture.create({ partner: b, env: 'sandbox' }));
        const readBack = await readBackFor(r, b, theirs);
        const before = readBack ? await readBack() : undefined;
        assertErrorBody(await call(`Bearer ${a.accessToken}`, theirs), 404, 'NOT_FOUND');
        if (readBack) assert.deepEqual(await readBack(), before, "the request changed another partner's resource");
      });
    }

    const listed = RESOURCE_FIXTURES.filter((f) => f.collection === r.template && r.method === 'GET');
    for (const f of listed) {
      test(`the list shows only this partner's ${f.name}s`, async () => {
        const mine = Object.values(await f.create({ partner: a, env: 'sandbox' }))[0]!;
        const theirs = Object.values(await f.create({ partner: b, env: 'sandbox' }))[0]!;
        const res = await call(`Bearer ${a.accessToken}`, r.template);
        assert.equal(res.statusCode, 200, res.body);
        assert.ok(res.body.includes(mine), 'control: the own resource is listed');
        assert.ok(!res.body.includes(theirs), "another partner's resource is listed");
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Operator routes
// ---------------------------------------------------------------------------------------------

for (const r of byMode('operator')) {
  describe(label(r), () => {
    let a: PartnerFixture;
    const fixture = fixtureFor(r);
    const { body: goodBody, known } = bodyFor(r);
    const expectSuccess = known && (fixture !== undefined || r.params.length === 0) && r.requiredQuery.length === 0;
    const target = async () => fill(r.template, fixture ? await fixture.create({ partner: a, env: 'sandbox' }) : {});
    const call = async (authorization: string | undefined) => inject(bearerRequest(r, authorization, await target(), goodBody));

    before(async () => {
      a = await fullPartner();
    });

    test('the operator token is accepted', async () => {
      assertAuthenticated(await call(`Bearer ${OPERATOR_TOKEN}`), label(r), { expectSuccess });
    });

    test('missing or wrong operator token -> 401', async () => {
      const wrongSameLength = OPERATOR_TOKEN.slice(0, -1) + (OPERATOR_TOKEN.endsWith('0') ? '1' : '0');
      for (const [name, authorization] of [
        ['missing', undefined],
        ['empty bearer', 'Bearer '],
        ['wrong, same length', `Bearer ${wrongSameLength}`],
        ['prefix', `Bearer ${OPERATOR_TOKEN.slice(0, 10)}`],
        ['one char more', `Bearer ${OPERATOR_TOKEN}x`],
        ['wrong scheme', `Basic ${OPERATOR_TOKEN}`],
        ['no scheme', OPERATOR_TOKEN],
        ['portal access token', `Bearer ${a.accessToken}`],
        ['partner secret key', `Bearer ${a.sandbox.secretKey}`],
      ] as const) {
        assertErrorBody(await call(authorization), 401, 'UNAUTHORIZED', name);
      }
      const keyHeader = await inject({ ...bearerRequest(r, undefined, await target(), goodBody), headers: { 'x-partner-key': a.sandbox.secretKey } });
      assertErrorBody(keyHeader, 401, 'UNAUTHORIZED', 'X-Partner-Key');
    });

    if (r.method !== 'GET') {
      test('a non-JSON body -> 415 with the token, 401 without', async () => {
        const url = await target();
        const send = (authorization?: string) =>
          inject({
            method: r.method as InjectOptions['method'],
            url,
            headers: { 'content-type': 'text/plain', ...(authorization ? { authorization } : {}) },
            payload: 'name=x',
          });
        assertErrorBody(await send(`Bearer ${OPERATOR_TOKEN}`), 415, 'UNSUPPORTED_MEDIA_TYPE');
        assertErrorBody(await send(), 401, 'UNAUTHORIZED');
      });
    }
  });
}
