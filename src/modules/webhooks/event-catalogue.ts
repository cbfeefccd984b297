import { Type, type TSchema } from '@sinclair/typebox';
import type { WebhookEventType } from './webhooks.validation.js';

/**
 * The `data` of each event type (contract A9.3), published in the OpenAPI document so a receiver
 * can generate types or validate payloads. Token amounts are JSON numbers with at most 2 decimals.
 */
const Tokens = Type.Number({ description: 'Tokens, at most 2 decimals' });
const Str = Type.String();
const NullableStr = Type.Union([Type.String(), Type.Null()]);
const Environment = Type.Union([Type.Literal('sandbox'), Type.Literal('production')]);
const CampaignStatus = Type.Union(['DRAFT', 'ACTIVE', 'PAUSED', 'ENDED'].map((s) => Type.Literal(s)));

/** An employer match request of a donation made through the Payments API, at each step of its life. */
const MatchRequestData = Type.Object({
  matchRequestId: Str,
  chargeId: Str,
  amount: Type.Number({ description: 'Major currency units' }),
  currency: Str,
  employer: NullableStr,
  status: Type.Union(['requested', 'approved', 'declined', 'paid'].map((s) => Type.Literal(s))),
  reason: Type.Optional(Str),
});

export const EVENT_DATA_SCHEMAS: Record<WebhookEventType, TSchema> = {
  'action.completed': Type.Object({
    actionId: Str,
    idempotencyKey: Str,
    actionType: Str,
    status: Type.Literal('COMPLETED'),
    tokensDistributed: Tokens,
    transactionIds: Type.Array(Str),
    stakeholders: Type.Array(Type.Object({ stakeholderTypeCode: Str, partnerUserId: Str, tokens: Tokens })),
  }),
  'action.failed': Type.Object({
    actionId: Str,
    idempotencyKey: Str,
    actionType: Str,
    status: Type.Literal('FAILED'),
    errorCode: Type.String({ description: 'INSUFFICIENT_POOL, CAMPAIGN_BUDGET_EXHAUSTED, ...' }),
    errorMessage: Str,
  }),
  'action.reversed': Type.Object({
    actionId: Str,
    reversedTokens: Tokens,
    shortfallTokens: Type.Number({ description: 'Tokens the users no longer had (only with force: true)' }),
    reversalTransactionIds: Type.Array(Str),
    reason: NullableStr,
  }),
  'transaction.completed': Type.Object({
    transactionId: Str,
    actionId: NullableStr,
    externalUserId: Str,
    amount: Tokens,
    type: Type.Union(['CREDIT', 'REDEMPTION', 'EXPIRY'].map((s) => Type.Literal(s))),
  }),
  'token_pool.low_balance': Type.Object({ tokenPoolId: Str, balance: Tokens, threshold: Tokens, environment: Environment }),
  'token_pool.depleted': Type.Object({ tokenPoolId: Str, environment: Environment }),
  'campaign.status_changed': Type.Object({
    campaignId: Str,
    previousStatus: CampaignStatus,
    status: CampaignStatus,
    reason: Type.Union([Type.Literal('manual'), Type.Literal('schedule')]),
  }),
  'donation.completed': Type.Object({
    partnerDonationId: Str,
    amount: Type.Integer({ description: 'Smallest currency unit (cents), as in create-link' }),
    currency: Str,
    provider: Str,
    tokensAwarded: Tokens,
  }),
  'donation.failed': Type.Object({ partnerDonationId: Str, amount: Type.Integer({ description: 'Smallest currency unit (cents)' }), currency: Str, provider: Str, reason: NullableStr }),
  'webhook.test': Type.Object({ test: Type.Literal(true) }),
  'webhook.disabled': Type.Object({ webhookId: Str, url: Str, reason: Str, disabledAt: Type.String({ format: 'date-time' }) }),
  'match_request.created': MatchRequestData,
  'match_request.approved': MatchRequestData,
  'match_request.declined': MatchRequestData,
  'match_request.paid': MatchRequestData,
};

/** OpenAPI 3.0 has no `const`; TypeBox literals become one-value enums. */
function toOpenApi30(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOpenApi30);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'const') {
      out.enum = [v];
      if (!('type' in schema)) out.type = typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? 'number' : 'string';
    } else out[k] = toOpenApi30(v);
  }
  return out;
}

/** `components.schemas` entries: one envelope per event type, and WebhookEvent, any of them by `type`. */
export function eventComponents(): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  for (const [type, data] of Object.entries(EVENT_DATA_SCHEMAS)) {
    const name = `WebhookEvent.${type}`;
    names[type] = `#/components/schemas/${name}`;
    components[name] = toOpenApi30(
      Type.Object(
        {
          id: Type.String({ description: 'evt_ id; the same on every retry of this event' }),
          type: Type.Literal(type),
          createdAt: Type.String({ format: 'date-time' }),
          data,
        },
        { description: `The body of a \`${type}\` delivery` },
      ),
    );
  }
  components.WebhookEvent = {
    description:
      'Every webhook delivery POSTs one of these. Verify X-SIR-Signature = "sha256=" + hex(HMAC-SHA256(secret, X-SIR-Timestamp + "." + rawBody)) or the Standard Webhooks headers before trusting it.',
    oneOf: Object.values(names).map(($ref) => ({ $ref })),
    discriminator: { propertyName: 'type', mapping: names },
  };
  return components;
}
