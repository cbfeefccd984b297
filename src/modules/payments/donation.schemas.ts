import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { AmountSchema, CurrencySchema } from './catalog.schemas.js';

/** Contract B4: who receives the money, flags, free text and metadata, shared by every way to pay. */
export const KeyVal = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 40 }), value: Type.String({ maxLength: 500 }) },
  { additionalProperties: false, title: 'PaymentsKeyVal' },
);

// The document's samples fill free fields with the placeholder "string"; it is read as "not given"
// so a pasted sample works, while any other value outside the three labels is still refused.
export const Anonymity = Type.Union(
  [Type.Literal('Full Transparency'), Type.Literal('Partial Transparency'), Type.Literal('Anonymous'), Type.Literal('string')],
  { description: 'Full Transparency, Partial Transparency or Anonymous (the default)' },
);

const Digits = Type.String({ pattern: '^[0-9]{1,32}$' });

export const DestinationFields = {
  charityId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Charity (organization) id: a direct donation' })),
  givingaAccountNumber: Type.Optional(Type.Union([Digits, Type.Integer({ minimum: 0 })], { description: "Donor's giving account" })),
  subaccountNumber: Type.Optional(Type.Union([Digits, Type.Integer({ minimum: 0 })], { description: "Fund an employee's balance" })),
  masterAccountUsername: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Fund the corporate balance' })),
  // The samples send `"campaignId": true` as a placeholder; a boolean is read as "no campaign".
  campaignId: Type.Optional(Type.Union([Digits, Type.Integer({ minimum: 0 }), Type.Boolean()], { description: 'Campaign number (string or number)' })),
  carbonOffset: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')], { description: 'Buy carbon-offset credits' })),
} satisfies TProperties;

export const DonationFields = {
  ...DestinationFields,
  tip: Type.Optional(Type.Integer({ minimum: 0, maximum: 99_999_999, description: 'Added on top of amount, smallest currency unit' })),
  currency: Type.Optional(CurrencySchema),
  matchRequested: Type.Optional(Type.Boolean()),
  customerCoveringFee: Type.Optional(Type.Boolean()),
  customerCoveringPartnerCut: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  statementDescriptor: Type.Optional(Type.String({ maxLength: 200, description: '5-22 characters, at least one letter, none of < > \\ \' "' })),
  notes: Type.Optional(Type.String({ maxLength: 2000 })),
  activityId: Type.Optional(Type.String({ maxLength: 255 })),
  activityId2: Type.Optional(Type.String({ maxLength: 255 })),
  activityId3: Type.Optional(Type.String({ maxLength: 255 })),
  anonymity: Type.Optional(Anonymity),
  metadata: Type.Optional(Type.Array(KeyVal, { maxItems: 50 })),
} satisfies TProperties;

export const ChargeBody = Type.Object(
  { amount: AmountSchema, paymentMethodId: Type.String({ minLength: 1, maxLength: 255 }), ...DonationFields },
  { additionalProperties: false },
);
export type ChargeBodyType = Static<typeof ChargeBody>;

export const ChargeResult = Type.Object(
  { status: Type.Literal('Success'), chargeId: Type.String() },
  { title: 'PaymentsChargeResult' },
);
