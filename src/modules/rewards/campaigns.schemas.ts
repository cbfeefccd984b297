import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { IsoDate, NullableIsoDate } from '../../platform/http/common.schemas.js';
import { StakeholderTypeCode } from './stakeholder-types.js';

const ActionTypeCode = Type.String({ pattern: '^[A-Z][A-Z0-9_]{0,39}$', description: 'Upper-case action type, e.g. PURCHASE' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const CampaignStatusSchema = Type.Union([
  Type.Literal('DRAFT'),
  Type.Literal('ACTIVE'),
  Type.Literal('PAUSED'),
  Type.Literal('ENDED'),
]);

// ------------------------------------------------------------------ response (contract A8.7)

export const Campaign = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Nullable(Type.String()),
    status: CampaignStatusSchema,
    actionTypes: Type.Array(Type.String()),
    multiplier: Type.Number(),
    splits: Type.Array(Type.Object({ stakeholderTypeCode: Type.String(), percent: Type.Number() })),
    tiers: Type.Array(Type.Object({ minAmount: Type.Number(), maxAmount: Nullable(Type.Number()), multiplier: Type.Number() })),
    schedule: Type.Object({
      startsAt: NullableIsoDate,
      endsAt: NullableIsoDate,
      timezone: Type.String(),
      autoStart: Type.Boolean({ description: 'Set while a campaign switched to ACTIVE waits (as DRAFT) for startsAt' }),
    }),
    budget: Type.Object({
      totalTokens: Nullable(Type.Number()),
      spentTokens: Type.Number(),
      perUserCap: Nullable(Type.Number()),
    }),
    tokenPoolId: Nullable(Type.String()),
    priority: Type.Integer(),
    createdAt: IsoDate,
    updatedAt: IsoDate,
  },
  { title: 'Campaign' },
);
export type CampaignType = Static<typeof Campaign>;

// ------------------------------------------------------------------ requests
// Decimal fields are declared as numbers for validation and documentation, and then read exactly from the
// JSON text (campaigns.rules.ts), so 0.1 is 0.1 and exponent notation is refused.

const Multiplier = Type.Number({
  minimum: 0,
  maximum: 1000,
  description: 'Greater than 0, at most 1000, up to 4 decimals (plain decimal, no exponent)',
});
const Tokens = Type.Number({ minimum: 0, description: 'Tokens, greater than 0, up to 2 decimals' });

export const SplitInput = Type.Object(
  {
    stakeholderTypeCode: StakeholderTypeCode,
    percent: Type.Number({ minimum: 0, maximum: 100, description: 'Up to 2 decimals; all percents add up to 100' }),
  },
  { additionalProperties: false },
);

export const TierInput = Type.Object(
  {
    minAmount: Type.Number({ minimum: 0, description: 'Inclusive lower bound in major currency units, up to 4 decimals' }),
    maxAmount: Type.Optional(Nullable(Type.Number({ description: 'Exclusive upper bound; omit or null for none' }))),
    multiplier: Multiplier,
  },
  { additionalProperties: false },
);

export const ScheduleInput = Type.Object(
  {
    startsAt: Type.Optional(Nullable(IsoDate)),
    endsAt: Type.Optional(Nullable(IsoDate)),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone name, default UTC' })),
  },
  { additionalProperties: false },
);

export const BudgetInput = Type.Object(
  {
    totalTokens: Type.Optional(Nullable(Tokens)),
    perUserCap: Type.Optional(Nullable(Tokens)),
  },
  { additionalProperties: false },
);

const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Description = Nullable(Type.String({ maxLength: 1000 }));
const ActionTypes = Type.Array(ActionTypeCode, { minItems: 1, maxItems: 20, uniqueItems: true });
const Splits = Type.Array(SplitInput, { maxItems: 20, description: 'Empty or absent: stakeholders share equally' });
const Tiers = Type.Array(TierInput, { maxItems: 20, description: 'Non-overlapping [minAmount, maxAmount) ranges' });
const Priority = Type.Integer({ minimum: -1000, maximum: 1000, description: 'Higher wins when several campaigns apply' });
const TokenPoolId = Nullable(Type.String({ minLength: 1, maxLength: 64 }));

export const CreateCampaignBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    status: Type.Optional(Type.Union([Type.Literal('DRAFT'), Type.Literal('ACTIVE')], { description: 'DRAFT (default) or ACTIVE' })),
    actionTypes: ActionTypes,
    multiplier: Type.Optional(Multiplier),
    splits: Type.Optional(Splits),
    tiers: Type.Optional(Tiers),
    schedule: Type.Optional(ScheduleInput),
    budget: Type.Optional(BudgetInput),
    tokenPoolId: Type.Optional(TokenPoolId),
    priority: Type.Optional(Priority),
  },
  { additionalProperties: false },
);
export type CreateCampaignBodyType = Static<typeof CreateCampaignBody>;

export const UpdateCampaignBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    status: Type.Optional(CampaignStatusSchema),
    actionTypes: Type.Optional(ActionTypes),
    multiplier: Type.Optional(Multiplier),
    splits: Type.Optional(Splits),
    tiers: Type.Optional(Tiers),
    schedule: Type.Optional(ScheduleInput),
    budget: Type.Optional(BudgetInput),
    tokenPoolId: Type.Optional(TokenPoolId),
    priority: Type.Optional(Priority),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateCampaignBodyType = Static<typeof UpdateCampaignBody>;

export const ListCampaignsQuery = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    status: Type.Optional(CampaignStatusSchema),
    includeArchived: Type.Boolean({ default: false, description: 'Also list campaigns archived with DELETE' }),
  },
  { additionalProperties: false },
);
export type ListCampaignsQueryType = Static<typeof ListCampaignsQuery>;

export const CampaignParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
