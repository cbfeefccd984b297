import { Type, type Static } from '@sinclair/typebox';
import { IsoDate, NullableIsoDate, PageQuery } from '../../platform/http/common.schemas.js';

const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const DeliveryStatus = Type.Union([Type.Literal('PENDING'), Type.Literal('DELIVERING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED')], {
  description: 'PENDING waits for nextAttemptAt; DELIVERING is being sent; SUCCEEDED got a 2xx; FAILED gave up (retry or recover it)',
});

export const WebhookDelivery = Type.Object(
  {
    id: Type.String(),
    webhookId: Type.String(),
    eventId: Type.String({ description: 'The envelope id: the same on every attempt' }),
    eventType: Type.String(),
    status: DeliveryStatus,
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    lastStatusCode: NullableInt,
    lastLatencyMs: NullableInt,
    lastError: NullableString,
    lastAttemptAt: NullableIsoDate,
    nextAttemptAt: Type.Union([IsoDate, Type.Null()], { description: 'When the next attempt is due (PENDING only)' }),
    deliveredAt: NullableIsoDate,
    createdAt: IsoDate,
  },
  { title: 'WebhookDelivery' },
);
export type WebhookDeliveryType = Static<typeof WebhookDelivery>;

export const WebhookAttempt = Type.Object(
  { attemptedAt: IsoDate, succeeded: Type.Boolean(), statusCode: NullableInt, latencyMs: Type.Integer(), error: NullableString },
  { title: 'WebhookAttempt' },
);

export const WebhookDeliveryWithAttempts = Type.Composite([WebhookDelivery, Type.Object({ attemptLog: Type.Array(WebhookAttempt) })], {
  title: 'WebhookDeliveryWithAttempts',
});

export const ListDeliveriesQuery = Type.Composite([PageQuery, Type.Object({ status: Type.Optional(DeliveryStatus) })], {
  additionalProperties: false,
});
export type ListDeliveriesQueryType = Static<typeof ListDeliveriesQuery>;

export const DeliveryParams = Type.Object({ deliveryId: Type.String({ minLength: 1, maxLength: 64 }) });

export const TestResult = Type.Object(
  {
    delivered: Type.Boolean(),
    statusCode: NullableInt,
    durationMs: Type.Integer(),
    eventId: Type.String(),
    deliveryId: Type.String(),
    error: NullableString,
  },
  { title: 'WebhookTestResult' },
);

export const RecoverBody = Type.Object(
  { since: Type.String({ format: 'date-time', description: 'Redeliver every delivery that failed and was created at or after this time' }) },
  { additionalProperties: false },
);
export const RecoverResult = Type.Object({ recovered: Type.Integer(), since: IsoDate }, { title: 'WebhookRecoverResult' });

const Percentiles = Type.Object({ p50: NullableInt, p95: NullableInt, p99: NullableInt });

export const WebhookHealth = Type.Object(
  {
    webhookId: Type.String(),
    url: Type.String(),
    isActive: Type.Boolean(),
    disabledReason: NullableString,
    windowStart: IsoDate,
    windowEnd: IsoDate,
    attempts: Type.Integer({ description: 'Attempts in the window' }),
    succeeded: Type.Integer(),
    failed: Type.Integer(),
    successRate: Type.Union([Type.Number(), Type.Null()], { description: 'succeeded / attempts, null without attempts' }),
    latencyMs: Percentiles,
    consecutiveFailures: Type.Integer(),
    failingSince: NullableIsoDate,
    lastSuccessAt: NullableIsoDate,
    lastFailureAt: NullableIsoDate,
    pending: Type.Integer({ description: 'Deliveries waiting to be sent or retried' }),
  },
  { title: 'WebhookHealth' },
);
export type WebhookHealthType = Static<typeof WebhookHealth>;

export const HealthQuery = Type.Object(
  { hours: Type.Integer({ minimum: 1, maximum: 720, default: 24, description: 'Window length, ending now' }) },
  { additionalProperties: false },
);
