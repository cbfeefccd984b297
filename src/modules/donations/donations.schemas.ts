import { Type, type Static } from '@sinclair/typebox';
import { ExternalUserId } from '../users/users.schemas.js';
import { MAX_AMOUNT } from './donations.rules.js';

const Url = Type.String({ minLength: 1, maxLength: 2000, description: 'Absolute http(s) URL; partnerDonationId is added to its query' });

export const CreateLinkBody = Type.Object(
  {
    nonprofitSlug: Type.String({ minLength: 1, maxLength: 200, description: 'A nonprofit of the directory, e.g. american-red-cross' }),
    amount: Type.Integer({ description: `Smallest currency unit (cents): 100 to ${MAX_AMOUNT}` }),
    currency: Type.String({ minLength: 1, maxLength: 10, description: 'ISO 4217 code; every.org takes USD only' }),
    frequency: Type.Optional(Type.Union([Type.Literal('once'), Type.Literal('monthly')], { description: 'Default once; monthly becomes a subscription' })),
    provider: Type.Optional(Type.Union([Type.Literal('every.org'), Type.Literal('stripe')], { description: 'Default every.org' })),
    donorEmail: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
    firstName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    lastName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    tipAmount: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_AMOUNT, description: 'Stripe only: a tip to the platform, smallest currency unit' })),
    tipPercent: Type.Optional(Type.Number({ description: "Stripe only: a tip as a percentage of amount, 0 to 100, at most 2 decimals" })),
    referralCode: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'The externalUserId of the partner user who referred the donor: credited as REFERRER' })),
    externalUserId: Type.Optional({ ...ExternalUserId, description: "The donor as a partner user: rewarded as DONOR (created if new)" }),
    successUrl: Type.Optional(Url),
    cancelUrl: Type.Optional(Url),
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 40 }), Type.String({ maxLength: 500 }), { maxProperties: 20, description: 'Up to 20 string values, kept with the donation' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateLinkBodyType = Static<typeof CreateLinkBody>;

export const CreateLinkResult = Type.Object({
  donationLink: Type.String(),
  partnerDonationId: Type.String(),
  provider: Type.String(),
  status: Type.Literal('PENDING'),
});

export const DonationStatusView = Type.Object({
  partnerDonationId: Type.String(),
  status: Type.Union([Type.Literal('PENDING'), Type.Literal('COMPLETED'), Type.Literal('FAILED'), Type.Literal('CANCELLED')]),
  amount: Type.Integer({ description: 'Smallest currency unit' }),
  tip: Type.Integer({ description: 'Smallest currency unit' }),
  currency: Type.String(),
  provider: Type.String(),
  frequency: Type.String(),
  nonprofitSlug: Type.String(),
  tokensAwarded: Type.Union([Type.Number(), Type.Null()], { description: 'Tokens the donation earned (donor and referrer); null until given' }),
  failureReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type DonationStatusViewType = Static<typeof DonationStatusView>;

export const DonationIdParams = Type.Object({ partnerDonationId: Type.String({ minLength: 1, maxLength: 100 }) });

/** Every.org's partner notification. Unknown fields are kept out of the way, not refused: the sender is not ours. */
export const EveryOrgNotification = Type.Object(
  {
    partnerDonationId: Type.String({ minLength: 1, maxLength: 100 }),
    chargeId: Type.String({ minLength: 1, maxLength: 255 }),
    amount: Type.Union([Type.String({ maxLength: 30 }), Type.Number()]),
    currency: Type.Optional(Type.String({ maxLength: 10 })),
    frequency: Type.Optional(Type.String({ maxLength: 20 })),
    partnerMetadata: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
export type EveryOrgNotificationType = Static<typeof EveryOrgNotification>;

export const EveryOrgQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) });
