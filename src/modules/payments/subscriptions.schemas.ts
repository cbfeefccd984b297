import { Type, type Static } from '@sinclair/typebox';
import { AmountSchema, CurrencySchema, IntervalSchema } from './catalog.schemas.js';
import { Anonymity, DestinationFields, KeyVal } from './donation.schemas.js';

export const SubscriptionItem = Type.Object(
  {
    priceId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'An existing recurring price' })),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
    unitAmount: Type.Optional(AmountSchema),
    currency: Type.Optional(CurrencySchema),
    interval: Type.Optional(IntervalSchema),
    productId: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    productName: Type.Optional(Type.String({ minLength: 1, maxLength: 250 })),
  },
  { additionalProperties: false, title: 'SubscriptionItem', description: 'An existing priceId, or a custom price: unitAmount + currency + interval' },
);
export type SubscriptionItemType = Static<typeof SubscriptionItem>;

// The seed's samples put a currency in tipInterval (B9 #4); it must be an interval.
const TipInterval = Type.Union([IntervalSchema, Type.Null()], { description: 'day, week, month or year: the tip recurs; absent: charged once at the start' });

const Common = {
  ...DestinationFields,
  paymentMethodId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Defaults to the customer's default payment method" })),
  tip: Type.Optional(Type.Integer({ minimum: 0, maximum: 99_999_999 })),
  tipCurrency: Type.Optional(CurrencySchema),
  tipInterval: Type.Optional(TipInterval),
  matchRequested: Type.Optional(Type.Boolean()),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  notes: Type.Optional(Type.String({ maxLength: 2000 })),
  activityId: Type.Optional(Type.String({ maxLength: 255 })),
  activityId2: Type.Optional(Type.String({ maxLength: 255 })),
  activityId3: Type.Optional(Type.String({ maxLength: 255 })),
  anonymity: Type.Optional(Anonymity),
  metadata: Type.Optional(Type.Array(KeyVal, { maxItems: 50 })),
};

export const CreateSubscriptionBody = Type.Object(
  { items: Type.Array(SubscriptionItem, { minItems: 1, maxItems: 20 }), ...Common },
  { additionalProperties: false },
);
export type CreateSubscriptionBodyType = Static<typeof CreateSubscriptionBody>;

const Proration = Type.Union([Type.Literal('none'), Type.Literal('always_invoice'), Type.Literal('create_proration')]);

export const ManageSubscriptionBody = Type.Object(
  {
    ...Common,
    items: Type.Optional(Type.Array(SubscriptionItem, { minItems: 1, maxItems: 20 })),
    cancelAtPeriodEnd: Type.Optional(Type.Boolean()),
    billingCycleAnchor: Type.Optional(Type.Union([Type.Literal('now'), Type.Literal('unchanged')])),
    prorationBehaviour: Type.Optional(Proration),
    prorationBehavior: Type.Optional(Proration),
    cancelAt: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Unix time in milliseconds (values under 10^11 are read as seconds)' })),
    pause: Type.Optional(Type.Boolean()),
    resumesAt: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Unix time in milliseconds' })),
  },
  { additionalProperties: false },
);
export type ManageSubscriptionBodyType = Static<typeof ManageSubscriptionBody>;

const NullableString = Type.Union([Type.String(), Type.Null()]);
export const Subscription = Type.Object(
  {
    subscriptionId: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('past_due'), Type.Literal('canceled')]),
    startDate: Type.String({ format: 'date-time' }),
    endDate: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    currentPeriodEnd: Type.String({ format: 'date-time' }),
    cancelAtPeriodEnd: Type.Boolean(),
    cancelAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    customerId: Type.String(),
    paused: Type.Boolean(),
    resumes: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    amount: Type.Integer({ description: 'Per interval, before tip' }),
    currency: Type.String(),
    interval: IntervalSchema,
    tip: Type.Integer(),
    tipInterval: Type.Union([IntervalSchema, Type.Null()]),
    tipCurrency: NullableString,
    oneTimeTip: Type.Integer(),
    oneTimeTipCurrency: NullableString,
    charityId: Type.Union([Type.Integer(), Type.Null()]),
    subaccountNumber: NullableString,
    givingaAccountNumber: NullableString,
    masterAccountUsername: NullableString,
    subscriptionItems: Type.Array(
      Type.Object({ priceId: Type.String(), productId: Type.String(), unitAmount: Type.Integer(), quantity: Type.Integer(), currency: Type.String(), interval: IntervalSchema }),
    ),
    paymentMethodId: Type.String(),
    notes: NullableString,
    activityId: NullableString,
    activityId2: NullableString,
    activityId3: NullableString,
    anonymity: Type.String(),
  },
  { title: 'PaymentsSubscription' },
);
export type SubscriptionType = Static<typeof Subscription>;

export const SubscriptionParams = Type.Object({ subscriptionId: Type.String({ minLength: 1, maxLength: 255 }) });
export const CustomerSubscriptionParams = Type.Object({
  customerId: Type.String({ minLength: 1, maxLength: 255 }),
  subscriptionId: Type.String({ minLength: 1, maxLength: 255 }),
});
