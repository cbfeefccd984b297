import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import { authed } from '../../platform/http/route.js';
import {
  ApiUsage,
  DashboardSummary,
  PeriodQuery,
  TopEarners,
  TopEarnersQuery,
  Trends,
  TrendsQuery,
  WebhookHealthSummary,
} from './dashboard.schemas.js';
import type { DashboardService } from './dashboard.service.js';

const TAG = ['Dashboard'];
const PERIOD_NOTE =
  'The period is [from, to): `to` defaults to now and `from` to 30 days before `to`; at most 366 days. ' +
  'A reversed, empty or longer period, or an unknown parameter, is a 400 VALIDATION_ERROR.';

export interface DashboardRoutesDeps {
  dashboard: DashboardService;
  /** The rate limiter's window, which api-usage reports beside the partner's limit. */
  rateLimitWindowSeconds: number;
}

/**
 * A dashboard read's route options: plain HMAC like every other signed read, so a signed pk_ may
 * read them (contract A4.5); a period query; one answer besides the errors authed() declares.
 */
function read<Q extends TSchema, R extends TSchema>(summary: string, querystring: Q, response: R, more?: string) {
  return authed('hmac', {
    summary,
    description: more ? `${PERIOD_NOTE} ${more}` : PERIOD_NOTE,
    tags: TAG,
    querystring,
    response: { 200: response },
  });
}

export const dashboardRoutes: FastifyPluginAsyncTypebox<DashboardRoutesDeps> = async (app, { dashboard, rateLimitWindowSeconds }) => {
  app.get(
    '/v1/partner/dashboard/summary',
    read('Users, actions, tokens and pool balance over a period', PeriodQuery, DashboardSummary,
      "Rewards figures follow the partner's clock, so a sandbox moved ahead sees its own now."),
    async (request) => dashboard.summary(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/dashboard/top-earners',
    read('The users who earned the most tokens over a period', TopEarnersQuery, TopEarners),
    async (request) => dashboard.topEarners(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/dashboard/trends',
    read('Actions, tokens and new users per day, week or month', TrendsQuery, Trends,
      'Buckets are UTC calendar units; every bucket the period touches is listed, with zeros where nothing happened.'),
    async (request) => dashboard.trends(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/dashboard/webhook-health',
    read('Webhook delivery attempts, failures and success rate over a period, per endpoint', PeriodQuery, WebhookHealthSummary,
      'The figures per endpoint are those of GET /v1/partner/webhooks/{id}/health.'),
    async (request) => dashboard.webhookHealth(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/dashboard/api-usage',
    read('Requests per route, errors and rate limiting over a period', PeriodQuery, ApiUsage,
      'Usage is kept per UTC day, so every day the period touches counts whole (firstDay..lastDay); it is recorded a few seconds after each request.'),
    async (request) => dashboard.apiUsage(request.partnerAuth!, request.query, rateLimitWindowSeconds),
  );
};
