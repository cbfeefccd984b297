import { Type, type Static } from '@sinclair/typebox';
import { IsoDate, NullableIsoDate } from '../../platform/http/common.schemas.js';
import { ExternalUserId } from '../users/users.schemas.js';

const Code = Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,39}$', description: 'Upper-case code, e.g. PURCHASE' });

export const StakeholderInput = Type.Object(
  {
    stakeholderTypeCode: Code,
    partnerUserId: ExternalUserId,
    userEmail: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    userFirstName: Type.Optional(Type.String({ maxLength: 100 })),
    userLastName: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const SubmitActionBody = Type.Object(
  {
    idempotencyKey: Type.String({ minLength: 1, maxLength: 255, description: 'One real-world event; reuse it on retry' }),
    actionType: Code,
    amount: Type.Number({
      minimum: 0,
      description: 'Decimal amount in major units (49.99), at most the currency\'s decimals; read exactly from the JSON text',
    }),
    currency: Type.String({ minLength: 3, maxLength: 3 }),
    stakeholders: Type.Array(StakeholderInput, { minItems: 1, maxItems: 20 }),
    autoCreateUsers: Type.Optional(Type.Boolean()),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: 40 }), Type.String({ maxLength: 500 }), { maxProperties: 50 })),
    campaignId: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type SubmitActionBodyType = Static<typeof SubmitActionBody>;

export const SubmitResult = Type.Object({
  actionId: Type.String(),
  idempotencyKey: Type.String(),
  status: Type.String(),
  tokensDistributed: Type.Number(),
  transactionIds: Type.Array(Type.String()),
});
export type SubmitResultType = Static<typeof SubmitResult>;

export const ActionStakeholder = Type.Object({
  stakeholderTypeCode: Type.String(),
  partnerUserId: Type.String(),
  tokens: Type.Number(),
  transactionId: Type.Union([Type.String(), Type.Null()]),
});

export const Action = Type.Object(
  {
    id: Type.String(),
    idempotencyKey: Type.String(),
    actionType: Type.String(),
    amount: Type.Number(),
    currency: Type.String(),
    status: Type.String(),
    campaignId: Type.Union([Type.String(), Type.Null()]),
    tokenPoolId: Type.Union([Type.String(), Type.Null()]),
    tokensDistributed: Type.Number(),
    tokensReversed: Type.Number(),
    stakeholders: Type.Array(ActionStakeholder),
    transactionIds: Type.Array(Type.String()),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    failureReason: Type.Union([Type.String(), Type.Null()]),
    failureCode: Type.Union([Type.String(), Type.Null()]),
    reversedAt: NullableIsoDate,
    createdAt: IsoDate,
  },
  { title: 'Action' },
);

export const ListActionsQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    status: Type.Optional(Type.Union(['COMPLETED', 'FAILED', 'PARTIALLY_REVERSED', 'REVERSED'].map((s) => Type.Literal(s)))),
    actionType: Type.Optional(Code),
    from: Type.Optional(IsoDate),
    to: Type.Optional(IsoDate),
  },
  { additionalProperties: false },
);
export type ListActionsQueryType = Static<typeof ListActionsQuery>;

export const ActionIdParams = Type.Object({ actionId: Type.String({ maxLength: 64 }) });

export const QuoteResult = Type.Object({
  status: Type.String({ description: 'COMPLETED if a submit now would succeed, else FAILED' }),
  failureCode: Type.Union([Type.String(), Type.Null()]),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  campaignId: Type.Union([Type.String(), Type.Null()]),
  tier: Type.Union([Type.Object({ minAmount: Type.Number(), maxAmount: Type.Union([Type.Number(), Type.Null()]), multiplier: Type.Number() }), Type.Null()]),
  multiplier: Type.Number(),
  tokenPoolId: Type.Union([Type.String(), Type.Null()]),
  tokensDistributed: Type.Number(),
  tokensUndistributed: Type.Number(),
  stakeholders: Type.Array(Type.Object({ stakeholderTypeCode: Type.String(), partnerUserId: Type.String(), tokens: Type.Number() })),
  poolBalanceBefore: Type.Union([Type.Number(), Type.Null()]),
  poolBalanceAfter: Type.Union([Type.Number(), Type.Null()]),
});

export const ReverseBody = Type.Object(
  {
    amount: Type.Optional(Type.Number({ minimum: 0, description: 'Tokens to reverse; omit for everything left' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    force: Type.Optional(Type.Boolean({ description: 'Take what the users still hold and record the shortfall' })),
  },
  { additionalProperties: false },
);
export type ReverseBodyType = Static<typeof ReverseBody>;

export const ReverseResult = Type.Object({
  ...Action.properties,
  reversal: Type.Object({
    id: Type.String(),
    reversedTokens: Type.Number(),
    shortfallTokens: Type.Number(),
    reversalTransactionIds: Type.Array(Type.String()),
    reason: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const TokenTransaction = Type.Object(
  {
    id: Type.String(),
    actionId: Type.Union([Type.String(), Type.Null()]),
    externalUserId: Type.String(),
    stakeholderTypeCode: Type.Union([Type.String(), Type.Null()]),
    type: Type.String(),
    amount: Type.Number(),
    status: Type.String(),
    tokenPoolId: Type.Union([Type.String(), Type.Null()]),
    campaignId: Type.Union([Type.String(), Type.Null()]),
    availableAt: NullableIsoDate,
    expiresAt: NullableIsoDate,
    createdAt: IsoDate,
  },
  { title: 'TokenTransaction' },
);

export const ListTransactionsQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    externalUserId: Type.Optional(ExternalUserId),
    actionId: Type.Optional(Type.String({ maxLength: 64 })),
    from: Type.Optional(IsoDate),
    to: Type.Optional(IsoDate),
  },
  { additionalProperties: false },
);
export type ListTransactionsQueryType = Static<typeof ListTransactionsQuery>;

export const UserBalance = Type.Object({
  externalUserId: Type.String(),
  balance: Type.Number({ description: 'Available now: vested, unexpired' }),
  pendingBalance: Type.Number({ description: 'Still vesting' }),
  lifetimeEarned: Type.Number(),
  expiringSoon: Type.Number({ description: 'Available tokens that expire within 30 days' }),
  currency: Type.Literal('SIR'),
});

export const RedeemBody = Type.Object(
  {
    amount: Type.Number({ minimum: 0 }),
    idempotencyKey: Type.String({ minLength: 1, maxLength: 255 }),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type RedeemBodyType = Static<typeof RedeemBody>;
