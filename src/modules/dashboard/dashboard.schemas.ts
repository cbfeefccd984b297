import { Type, type Static } from '@sinclair/typebox';
import { IsoDate } from '../../platform/http/common.schemas.js';

const From = Type.Optional(Type.String({ format: 'date-time', description: 'Start of the period, inclusive. Default: 30 days before `to`' }));
const To = Type.Optional(
  Type.String({ format: 'date-time', description: 'End of the period, exclusive. Default: now. At most 366 days after `from`' }),
);
const period = { from: From, to: To };

export const PeriodQuery = Type.Object(period, { additionalProperties: false });
export type PeriodQueryType = Static<typeof PeriodQuery>;

export const TopEarnersQuery = Type.Object(
  { ...period, limit: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'How many users, 1-100' }) },
  { additionalProperties: false },
);
export type TopEarnersQueryType = Static<typeof TopEarnersQuery>;

export const TrendsQuery = Type.Object(
  {
    ...period,
    interval: Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
      default: 'day',
      description: 'Bucket size, in UTC; weeks start on Monday',
    }),
  },
  { additionalProperties: false },
);
export type TrendsQueryType = Static<typeof TrendsQuery>;

// Every answer names the period it covers, so a caller relying on the defaults sees which ones applied.
const periodBounds = {
  periodStart: Type.String({ format: 'date-time', description: 'The period counted, inclusive' }),
  periodEnd: Type.String({ format: 'date-time', description: 'The period counted, exclusive' }),
};

const Tokens = (description: string) => Type.Number({ description: `${description}, in tokens (at most two decimals)` });
const Count = (description: string) => Type.Integer({ description });

export const DashboardSummary = Type.Object(
  {
    totalUsers: Count('Users that existed at the end of the period'),
    activeUsers: Count('Users who were a stakeholder of at least one action in the period that completed (a later reversal does not undo that)'),
    totalActions: Count('Actions submitted in the period, failed ones included, as GET /v1/partner/actions?from&to counts them'),
    // Not in the contract's proposal: without it a pool running dry only shows as fewer tokens.
    failedActions: Count('Of those, the ones that failed (e.g. INSUFFICIENT_POOL)'),
    tokensDistributed: Tokens("What the period's actions distributed: the sum of their tokensDistributed"),
    // Not in the contract's proposal: reversals move tokens back, and without them the tokens earned
    // by the top earners would not add up to anything shown here.
    tokensReversed: Tokens('What reversals in the period took back from users'),
    poolBalance: Tokens("What this environment's token pools held at the end of the period"),
    ...periodBounds,
  },
  { title: 'DashboardSummary' },
);
export type DashboardSummaryType = Static<typeof DashboardSummary>;

export const TopEarner = Type.Object(
  {
    externalUserId: Type.String(),
    tokensEarned: Tokens("Credited in the period less what reversals in the period took back (the rule of the balance route's lifetimeEarned)"),
    actionCount: Count('Actions in the period that credited the user'),
  },
  { title: 'TopEarner' },
);

// An object with `data`, not the bare array the contract sketches: every list the API answers is an
// object with `data`, and an object can carry the period and grow fields without breaking clients.
export const TopEarners = Type.Object(
  {
    data: Type.Array(TopEarner, { description: 'Users who earned something in the period, most tokens first (ties by externalUserId)' }),
    limit: Type.Integer(),
    ...periodBounds,
  },
  { title: 'DashboardTopEarners' },
);
export type TopEarnersType = Static<typeof TopEarners>;

export const TrendPoint = Type.Object(
  {
    date: Type.String({ format: 'date', description: 'First day of the bucket (UTC); the first bucket may start before the period' }),
    actions: Count('Actions submitted in the bucket, failed ones included'),
    tokensDistributed: Tokens('What those actions distributed'),
    newUsers: Count('Users created in the bucket'),
  },
  { title: 'DashboardTrendPoint' },
);

export const Trends = Type.Object(
  {
    interval: Type.String(),
    data: Type.Array(TrendPoint, { description: 'One point per bucket the period touches, oldest first, zeros where nothing happened' }),
    ...periodBounds,
  },
  { title: 'DashboardTrends' },
);
export type TrendsType = Static<typeof Trends>;

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const SuccessRate = Type.Union([Type.Number(), Type.Null()], { description: '(deliveries - failures) / deliveries; null without deliveries' });
const deliveryFigures = {
  deliveries: Count('Delivery attempts in the period, retries and test sends included'),
  failures: Count('Attempts that failed (an error or a non-2xx answer)'),
  successRate: SuccessRate,
  lastFailureAt: Type.Union([IsoDate, Type.Null()], { description: 'The latest failed attempt in the period' }),
  pending: Count('Deliveries waiting to be sent or retried now'),
};

export const WebhookHealthRow = Type.Object(
  {
    webhookId: Type.String(),
    url: Type.String(),
    isActive: Type.Boolean(),
    ...deliveryFigures,
    consecutiveFailures: Count('Failed attempts since the last success, now'),
    latencyMs: Type.Object({ p50: NullableInt, p95: NullableInt, p99: NullableInt }),
  },
  { title: 'DashboardWebhookHealthRow' },
);

export const WebhookHealthSummary = Type.Object(
  {
    ...deliveryFigures,
    byWebhook: Type.Array(WebhookHealthRow, { description: "Each of the environment's endpoints, oldest first" }),
    ...periodBounds,
  },
  { title: 'DashboardWebhookHealth' },
);
export type WebhookHealthSummaryType = Static<typeof WebhookHealthSummary>;

const errorCounts = {
  errors4xx: Count('Answered 400-499, 429 included'),
  errors5xx: Count('Answered 500-599'),
};

export const EndpointUsage = Type.Object(
  {
    method: Type.String(),
    path: Type.String({ description: 'The route as registered, e.g. /v1/partner/users/:externalId' }),
    count: Count('Requests'),
    ...errorCounts,
  },
  { title: 'DashboardEndpointUsage' },
);

export const ApiUsage = Type.Object(
  {
    requests: Count('Authenticated requests in the period, with any answer'),
    ...errorCounts,
    // An object rather than the contract's bare number: a limit means little without its window, and
    // the requests it refused are what a partner wants to see beside it.
    rateLimit: Type.Object({
      limit: Count("Requests allowed per window, for all of the partner's keys together"),
      windowSeconds: Count('Window length'),
      limitedRequests: Count('Requests in the period refused with 429 RATE_LIMITED'),
    }),
    byEndpoint: Type.Array(EndpointUsage, { description: 'Busiest first' }),
    firstDay: Type.String({ format: 'date', description: 'Usage is counted per UTC day: the first day counted' }),
    lastDay: Type.String({ format: 'date', description: 'The last day counted, whole' }),
    ...periodBounds,
  },
  { title: 'DashboardApiUsage' },
);
export type ApiUsageType = Static<typeof ApiUsage>;
