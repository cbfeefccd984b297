import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { Config } from './config.js';
import { requestId } from './platform/crypto/ids.js';
import { migrationsCurrent } from './platform/db/migrate.js';
import { installAuth } from './platform/http/auth.js';
import { ErrorBody, ErrorWithResult } from './platform/http/common.schemas.js';
import { installErrorHandler, sendError } from './platform/http/error-handler.js';
import { MemoryRateLimiter, type RateLimiter } from './platform/http/rate-limit.js';
import { installBodyParsers, MAX_BODY_BYTES } from './platform/http/raw-body.js';
import { authed } from './platform/http/route.js';
import { installUsageRecording, UsageRecorder } from './platform/http/usage.js';
import { installValidators } from './platform/http/validation.js';
import { adminPartnersRoutes } from './modules/partners/admin.routes.js';
import { partnersRoutes } from './modules/partners/partners.routes.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { actionsRoutes } from './modules/rewards/actions.routes.js';
import { poolsRoutes, rewardsAdminRoutes } from './modules/rewards/pools.routes.js';
import { campaignsRoutes } from './modules/rewards/campaigns.routes.js';
import { runCampaignSchedule } from './modules/rewards/campaigns.scheduler.js';
import { stakeholderTypesRoutes } from './modules/rewards/stakeholder-types.routes.js';
import { webhooksRoutes } from './modules/webhooks/webhooks.routes.js';
import { deliveriesRoutes } from './modules/webhooks/deliveries.routes.js';
import { dashboardRoutes } from './modules/dashboard/dashboard.routes.js';
import { eventsRoutes } from './modules/webhooks/events.routes.js';
import { paymentsRoutes } from './modules/payments/payments.routes.js';
import { paymentMethodsRoutes } from './modules/payments/payment-methods.routes.js';
import { paymentsAdminRoutes } from './modules/payments/payments.admin.routes.js';
import { catalogAdminRoutes, catalogRoutes } from './modules/payments/catalog.routes.js';
import { chargesRoutes } from './modules/payments/charges.routes.js';
import { paymentIntentsRoutes } from './modules/payments/payment-intents.routes.js';
import { subscriptionsRoutes } from './modules/payments/subscriptions.routes.js';
import { refundsAdminRoutes } from './modules/payments/refunds.routes.js';
import { checkoutRoutes } from './modules/payments/checkout.routes.js';
import { destinationsAdminRoutes } from './modules/payments/destinations.routes.js';
import { matchRequestsAdminRoutes } from './modules/payments/match-requests.routes.js';
import { stripeWebhooksRoutes } from './modules/payments/stripe-webhooks.routes.js';
import { organizationsRoutes } from './modules/organizations/organizations.routes.js';
import { donationsRoutes } from './modules/donations/donations.routes.js';
import { charityReportRoutes } from './modules/payments/charity-report.routes.js';
import { widgetRoutes } from './modules/widget/widget.routes.js';
import { onlyPaths, PARTNER_API_LINK, PAYMENTS_API_INFO } from './platform/http/openapi-split.js';
import { eventComponents } from './modules/webhooks/event-catalogue.js';
import type { Services } from './services.js';

export interface AppOptions {
  config: Config;
  services: Services;
  rateLimiter?: RateLimiter;
  /** Tests pass false; the server passes pino options. */
  logger?: FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers["x-signature"]',
  'req.headers["x-partner-key"]',
  'req.headers["stripe-signature"]',
  'req.headers["webhook-signature"]',
  'req.headers["x-sir-signature"]',
];

/** Builds the HTTP app without listening, so tests drive it with inject() or a real socket. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, services } = options;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: MAX_BODY_BYTES,
    // External user ids may be 255 characters, and percent-encoding can triple that.
    // The Payments API's documented base ends in "/api/" and clients append "/partners/…", so
    // "/api//customers" must route like "/api/customers" (contract B2).
    routerOptions: { maxParamLength: 1024, ignoreDuplicateSlashes: true },
    // The router rejects some requests before any hook runs; they still get the one error body.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH' || reply.statusCode === 414;
      return sendError(
        request,
        reply,
        400,
        'INVALID_REQUEST',
        tooLong ? 'A path segment of the URL is too long' : 'The URL is not valid: check its percent-encoding',
      );
    },
    trustProxy: config.trustProxy,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : requestId();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  installValidators(app);
  installBodyParsers(app);
  installErrorHandler(app);
  app.addSchema(ErrorBody);
  app.addSchema(ErrorWithResult);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });

  // Browsers call the widget routes from partners' pages. Auth is by header, never by cookie, so
  // allowing any origin exposes nothing a caller without the key could use.
  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-Partner-Key', 'X-Timestamp', 'X-Signature', 'Authorization', 'X-Request-Id'],
    exposedHeaders: ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After', 'X-Request-Id'],
    maxAge: 600,
    hideOptionsRoute: true,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'almoner Partner API',
        version: '1.0.0',
        description:
          'Reward users with tokens, accept donations and receive signed webhooks. Signed routes need ' +
          'X-Partner-Key, X-Timestamp (Unix seconds) and X-Signature = hex(HMAC-SHA256(hmacSecret, ' +
          'timestamp + METHOD + path?query + hex(SHA-256(body)))).',
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          PartnerKey: { type: 'apiKey', in: 'header', name: 'X-Partner-Key' },
          Timestamp: { type: 'apiKey', in: 'header', name: 'X-Timestamp' },
          Signature: { type: 'apiKey', in: 'header', name: 'X-Signature' },
          PortalToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          OperatorToken: { type: 'http', scheme: 'bearer' },
          PaymentsToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
        schemas: eventComponents() as never,
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  // One generated document, served as two: the Partner API and the Payments API (/api) are
  // separate products with separate auth, so each gets its own page. Each UI lives in its own
  // encapsulated context because the UI plugin decorates the instance it is registered on.
  const partnerDoc = (doc: unknown) => onlyPaths(doc, (p) => !p.startsWith('/api/'), PARTNER_API_LINK);
  const paymentsDoc = (doc: unknown) => onlyPaths(doc, (p) => p.startsWith('/api/'), PAYMENTS_API_INFO);
  await app.register(async (scope) => {
    await scope.register(swaggerUi, { routePrefix: '/partner-api', staticCSP: true, transformSpecification: partnerDoc });
  });
  await app.register(async (scope) => {
    await scope.register(swaggerUi, { routePrefix: '/payments-api', staticCSP: true, transformSpecification: paymentsDoc });
  });
  app.get('/partner-api/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => partnerDoc(app.swagger()));
  app.get('/payments-api/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => paymentsDoc(app.swagger()));

  const rateLimiter = options.rateLimiter ?? new MemoryRateLimiter(config.rateLimitWindowSeconds);
  // Routes registered from here on must say how they authenticate.
  installAuth(app, {
    clock: services.clock,
    rateLimiter,
    resolveKey: (value) => services.keys.resolve(value),
    verifyPortalToken: (token) => services.partners.verifyAccessToken(token),
    verifyPaymentsToken: (token) => services.paymentsAccounts.resolveToken(token),
    operatorToken: config.operatorToken,
    onKeyUsed: (keyId) => services.keys.markUsed(keyId),
    keyEnvironments: config.keyEnvironments,
  });

  const usage = new UsageRecorder(
    (rows) => services.usage.record(rows),
    (err) => app.log.warn({ err }, 'could not record API usage'),
  );
  installUsageRecording(app, usage);
  const keyUseTimer = setInterval(() => {
    services.keys.flushUsage().catch((err: unknown) => app.log.warn({ err }, 'could not record key use'));
  }, 5000);
  keyUseTimer.unref();
  usage.start();
  app.addHook('onClose', async () => {
    clearInterval(keyUseTimer);
    await usage.stop();
    await services.keys.flushUsage().catch(() => {});
    await rateLimiter.close();
  });

  let migrationsOk = false;
  app.get(
    '/healthz',
    authed('none', { summary: 'The process is up', tags: ['Health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } }),
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    authed('none', {
      summary: 'The database is reachable and migrations are current',
      tags: ['Health'],
      response: {
        200: Type.Object({ status: Type.Literal('ready') }),
        503: Type.Object({ status: Type.Literal('unavailable'), reason: Type.String() }),
      },
    }),
    async (_request, reply) => {
      try {
        await sql`SELECT 1`.execute(services.db);
        migrationsOk ||= await migrationsCurrent(services.db);
        if (!migrationsOk) return reply.status(503).send({ status: 'unavailable', reason: 'migrations pending' });
        return { status: 'ready' as const };
      } catch {
        return reply.status(503).send({ status: 'unavailable', reason: 'database unreachable' });
      }
    },
  );

  await app.register(partnersRoutes, { partners: services.partners, keys: services.keys });
  await app.register(usersRoutes, { users: services.users });
  await app.register(adminPartnersRoutes, { partners: services.partners });
  await app.register(actionsRoutes, { actions: services.actions, reversals: services.reversals, wallets: services.wallets });
  await app.register(poolsRoutes, { pools: services.pools });
  await app.register(campaignsRoutes, { campaigns: services.campaigns });
  await app.register(stakeholderTypesRoutes, { stakeholderTypes: services.stakeholderTypes });
  await app.register(webhooksRoutes, { webhooks: services.webhooks });
  await app.register(deliveriesRoutes, { deliveries: services.deliveries });
  await app.register(dashboardRoutes, { dashboard: services.dashboard, rateLimitWindowSeconds: config.rateLimitWindowSeconds });
  await app.register(paymentsRoutes, { accounts: services.paymentsAccounts, customers: services.customers });
  await app.register(paymentMethodsRoutes, { paymentMethods: services.paymentMethods });
  await app.register(paymentsAdminRoutes, { accounts: services.paymentsAccounts });
  await app.register(catalogRoutes, { catalog: services.catalog });
  await app.register(catalogAdminRoutes, { catalog: services.catalog });
  await app.register(chargesRoutes, { charges: services.charges });
  await app.register(paymentIntentsRoutes, { intents: services.paymentIntents });
  await app.register(subscriptionsRoutes, { subscriptions: services.subscriptions });
  await app.register(refundsAdminRoutes, { refunds: services.refunds });
  await app.register(checkoutRoutes, { checkout: services.checkout, publicUrl: config.publicUrl });
  await app.register(destinationsAdminRoutes, { destinations: services.destinations, accounts: services.paymentsAccounts });
  await app.register(matchRequestsAdminRoutes, { matches: services.matchRequests, accounts: services.paymentsAccounts });
  await app.register(eventsRoutes, { events: services.events });
  await app.register(stripeWebhooksRoutes, { hooks: services.stripeWebhooks });
  await app.register(donationsRoutes, { donations: services.donations });
  await app.register(charityReportRoutes, { report: services.charityReport });
  await app.register(organizationsRoutes, { organizations: services.organizations });
  await app.register(widgetRoutes, { publicUrl: config.publicUrl, dataDir: config.dataDir, seedSandbox: config.seedSandbox });
  await app.register(rewardsAdminRoutes, {
    pools: services.pools,
    clock: services.partnerClock,
    db: services.db,
    onClockAdvanced: async (partnerId) => {
      await runCampaignSchedule(services.db, services.partnerClock, { partnerId, environment: 'sandbox' });
      await services.wallets.sweepPartner({ partnerId, environment: 'sandbox' });
    },
  });
  app.addHook('onClose', async () => {
    await services.actions.close();
    await services.organizations.close();
  });

  return app;
}
