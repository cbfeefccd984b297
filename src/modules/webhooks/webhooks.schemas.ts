import { Type, type Static } from '@sinclair/typebox';
import { IsoDate, NullableIsoDate, PageQuery } from '../../platform/http/common.schemas.js';
import { MAX_URL_LENGTH, WEBHOOK_EVENT_TYPES } from './webhooks.validation.js';

// Event names, header names and URL safety are checked by the service (webhooks.validation.ts), so
// the 400 can name the problem and list the valid choices; the schemas only bound sizes and types.
const Url = Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: 'https:// URL that receives deliveries (http:// and private hosts only for sandbox)' });
const Description = Type.String({ maxLength: 500 });
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 50,
  description: `Event types to receive: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
});
const Headers = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 2048 }), {
  description: 'Extra headers sent with every delivery (at most 20; reserved and signature headers are refused)',
});

export const WebhookEndpoint = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    eventTypes: Type.Array(Type.String()),
    receiveAllEvents: Type.Boolean(),
    headers: Type.Record(Type.String(), Type.String()),
    isActive: Type.Boolean(),
    disabledReason: Type.Union([Type.String(), Type.Null()]),
    createdAt: IsoDate,
    updatedAt: IsoDate,
  },
  { title: 'WebhookEndpoint' },
);
export type WebhookEndpointType = Static<typeof WebhookEndpoint>;

const Secret = Type.String({ pattern: '^whsec_[0-9a-f]{64}$', description: 'Signing secret, shown only in this response' });

export const CreatedWebhookEndpoint = Type.Composite([WebhookEndpoint, Type.Object({ secret: Secret })], { title: 'CreatedWebhookEndpoint' });
export type CreatedWebhookEndpointType = Static<typeof CreatedWebhookEndpoint>;

export const RotatedSecret = Type.Object(
  {
    id: Type.String(),
    secret: Secret,
    previousSecretExpiresAt: NullableIsoDate,
  },
  { title: 'RotatedWebhookSecret' },
);
export type RotatedSecretType = Static<typeof RotatedSecret>;

export const DeletedWebhookEndpoint = Type.Object({ id: Type.String(), deleted: Type.Literal(true) });

export const CreateWebhookBody = Type.Object(
  {
    url: Url,
    description: Type.Optional(Description),
    eventTypes: Type.Optional(EventTypes),
    receiveAllEvents: Type.Optional(Type.Boolean({ default: false })),
    headers: Type.Optional(Headers),
  },
  { additionalProperties: false },
);
export type CreateWebhookBodyType = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    eventTypes: Type.Optional(EventTypes),
    receiveAllEvents: Type.Optional(Type.Boolean()),
    headers: Type.Optional(Headers),
    isActive: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookBodyType = Static<typeof UpdateWebhookBody>;

export const WebhookParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ListWebhooksQuery = PageQuery;
