import { Type, type Static } from '@sinclair/typebox';
import { EnvironmentSchema, IsoDate, NullableIsoDate } from '../../platform/http/common.schemas.js';

export const PartnerStatus = Type.Union([
  Type.Literal('PENDING_APPROVAL'),
  Type.Literal('ACTIVE'),
  Type.Literal('SUSPENDED'),
]);
export const PartnerTier = Type.Union([Type.Literal('STANDARD'), Type.Literal('PROFESSIONAL'), Type.Literal('ENTERPRISE')]);
export type PartnerTierType = Static<typeof PartnerTier>;

export const FEATURES = ['ACTIONS', 'DONATIONS', 'PAYMENTS'] as const;
export const Feature = Type.Union(FEATURES.map((f) => Type.Literal(f)));

export const TipConfig = Type.Object(
  {
    enabled: Type.Boolean(),
    defaultPercent: Type.Number({ minimum: 0, maximum: 100 }),
  },
  { additionalProperties: false },
);

export const Partner = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    slug: Type.String(),
    status: PartnerStatus,
    tier: PartnerTier,
    enabledFeatures: Type.Array(Type.String()),
    rateLimit: Type.Integer({ description: 'Requests per rate-limit window (60 s by default)' }),
    webhookUrl: Type.Union([Type.String(), Type.Null()]),
    tipConfig: TipConfig,
    contactEmail: Type.Union([Type.String(), Type.Null()]),
    ipAllowlist: Type.Array(Type.String()),
    createdAt: IsoDate,
  },
  { title: 'Partner' },
);
export type PartnerType = Static<typeof Partner>;

export const PortalUser = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
});

const Email = Type.String({ format: 'email', maxLength: 254 });
const Password = Type.String({ minLength: 10, maxLength: 200, description: 'At least 10 characters' });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Password,
    partnerName: Type.String({ minLength: 2, maxLength: 100 }),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    contactEmail: Type.Optional(Email),
  },
  { additionalProperties: false },
);
export type RegisterBodyType = Static<typeof RegisterBody>;

export const LoginBody = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export type LoginBodyType = Static<typeof LoginBody>;

export const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1 }) }, { additionalProperties: false });

export const Session = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Access token lifetime in seconds' }),
  user: PortalUser,
  partner: Partner,
  publishableKey: Type.Union([Type.String(), Type.Null()]),
});
export type SessionType = Static<typeof Session>;

export const Me = Type.Object({
  user: PortalUser,
  partner: Partner,
  publishableKey: Type.Union([Type.String(), Type.Null()]),
});

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    partnerId: Type.String(),
    name: Type.String(),
    environment: EnvironmentSchema,
    publicKey: Type.String(),
    secretKeyLast4: Type.String(),
    isActive: Type.Boolean(),
    expiresAt: NullableIsoDate,
    lastUsedAt: NullableIsoDate,
    createdAt: IsoDate,
  },
  { title: 'ApiKey' },
);
export type ApiKeyType = Static<typeof ApiKey>;

export const CreatedApiKey = Type.Object({
  id: Type.String(),
  partnerId: Type.String(),
  name: Type.String(),
  environment: EnvironmentSchema,
  publicKey: Type.String(),
  secretKey: Type.String({ description: 'Shown only in this response' }),
  hmacSecret: Type.String({ description: 'Shown only in this response' }),
  isActive: Type.Boolean(),
  expiresAt: NullableIsoDate,
  createdAt: IsoDate,
});
export type CreatedApiKeyType = Static<typeof CreatedApiKey>;

export const CreateKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    environment: EnvironmentSchema,
    keyType: Type.Optional(Type.Union([Type.Literal('secret'), Type.Literal('publishable')], {
      description: 'Either value issues the full pair (publishable + secret + HMAC secret)',
    })),
    expiresAt: Type.Optional(IsoDate),
  },
  { additionalProperties: false },
);
export type CreateKeyBodyType = Static<typeof CreateKeyBody>;

export const UpdateKeyBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    isActive: Type.Optional(Type.Boolean()),
    expiresAt: Type.Optional(NullableIsoDate),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateKeyBodyType = Static<typeof UpdateKeyBody>;

export const KeyIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const WidgetConfig = Type.Object({
  id: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  environment: EnvironmentSchema,
  enabledFeatures: Type.Array(Type.String()),
  rateLimit: Type.Integer(),
  isActive: Type.Boolean(),
  webhookUrl: Type.Union([Type.String(), Type.Null()]),
  tipConfig: TipConfig,
});

export const AdminPartnerPatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 2, maxLength: 100 })),
    tier: Type.Optional(PartnerTier),
    rateLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    enabledFeatures: Type.Optional(Type.Array(Feature, { uniqueItems: true })),
    tipConfig: Type.Optional(TipConfig),
    ipAllowlist: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
    webhookUrl: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2048 }), Type.Null()])),
    contactEmail: Type.Optional(Type.Union([Email, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type AdminPartnerPatchType = Static<typeof AdminPartnerPatch>;

export const AdminPartnerList = Type.Object(
  {
    page: Type.Integer({ minimum: 1, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    status: Type.Optional(PartnerStatus),
  },
  { additionalProperties: false },
);
export type AdminPartnerListType = Static<typeof AdminPartnerList>;

export const PartnerIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
