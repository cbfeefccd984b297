import { Type, type Static } from '@sinclair/typebox';

export const IntervalSchema = Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month'), Type.Literal('year')]);

/** Stripe's largest charge is 99,999,999 minor units; a larger price could never be paid. */
export const MAX_AMOUNT = 99_999_999;
export const AmountSchema = Type.Integer({ minimum: 1, maximum: MAX_AMOUNT, description: "Smallest currency unit (cents; whole yen for JPY)" });
export const CurrencySchema = Type.String({ minLength: 3, maxLength: 3, description: 'ISO 4217 code, any letter case' });

export const Product = Type.Object({ productId: Type.String(), name: Type.String() }, { title: 'PaymentsProduct' });
export type ProductType = Static<typeof Product>;

export const CreateProductBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 250 }) }, { additionalProperties: false });

export const Price = Type.Object(
  {
    priceId: Type.String(),
    isCustomAmount: Type.Boolean(),
    currency: Type.String({ description: 'Upper-case ISO code' }),
    unitAmount: Type.Integer(),
    recurringInterval: Type.Union([IntervalSchema, Type.Null()], { description: 'Only for recurring prices' }),
    productId: Type.String(),
    type: Type.Union([Type.Literal('one_time'), Type.Literal('recurring')]),
  },
  { title: 'PaymentsPrice' },
);
export type PriceType = Static<typeof Price>;

export const CreatePriceBody = Type.Object(
  {
    unitAmount: AmountSchema,
    currency: CurrencySchema,
    interval: Type.Optional(IntervalSchema),
  },
  { additionalProperties: false, description: 'With interval a recurring price, without a one-time price' },
);
export type CreatePriceBodyType = Static<typeof CreatePriceBody>;

export const ProductParams = Type.Object({ productId: Type.String({ minLength: 1, maxLength: 255 }) });

export const ConnectedAccount = Type.Object(
  {
    paymentProcessorAccountId: Type.String(),
    percentageCut: Type.Number({ description: "Percent of each donation paid to the partner's account" }),
    description: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'PaymentsConnectedAccount' },
);
export type ConnectedAccountType = Static<typeof ConnectedAccount>;
export const ConnectedAccountParams = Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 255 }) });

export const CreateConnectedAccountBody = Type.Object(
  {
    paymentProcessorAccountId: Type.Optional(Type.String({ pattern: '^acct_[A-Za-z0-9]+$', description: 'Stripe Connect account id; generated in the sandbox' })),
    percentageCut: Type.Number({ minimum: 0, maximum: 100, description: 'Percent, at most 2 decimals' }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    isDefault: Type.Optional(Type.Boolean({ description: "The account charges pay the partner's cut to (the first one is the default)" })),
  },
  { additionalProperties: false },
);
export type CreateConnectedAccountBodyType = Static<typeof CreateConnectedAccountBody>;
