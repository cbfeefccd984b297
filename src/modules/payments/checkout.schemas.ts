import { Type, type Static } from '@sinclair/typebox';
import { AmountSchema, CurrencySchema, IntervalSchema } from './catalog.schemas.js';
import { DonationFields } from './donation.schemas.js';

const Quantity = Type.Integer({ minimum: 1, maximum: 10_000 });
// Checked in the service (absolute, http or https) so the 400 can say what is wrong with it.
const RedirectUrl = (what: string) => Type.String({ minLength: 1, maxLength: 2048, description: what });

/** Contract B4.1 SubscriptionItem: an existing price of the account, or a custom one. */
export const CheckoutItem = Type.Object(
  {
    priceId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'A price of this account (POST /products/{productId}/prices)' })),
    quantity: Type.Optional({ ...Quantity, description: 'Default 1' }),
    unitAmount: Type.Optional({ ...AmountSchema, description: 'Custom price instead of priceId, smallest currency unit' }),
    currency: Type.Optional({ ...CurrencySchema, description: "Custom price: must be the checkout's currency (the default)" }),
    interval: Type.Optional(IntervalSchema),
    productId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Custom price: the product it is for (names the line)' })),
    productName: Type.Optional(Type.String({ minLength: 1, maxLength: 250, description: 'Custom price: the line description' })),
  },
  { additionalProperties: false, title: 'PaymentsSubscriptionItem' },
);
export type CheckoutItemType = Static<typeof CheckoutItem>;

export const CheckoutMode = Type.Union([Type.Literal('payment'), Type.Literal('subscription')]);

export const CheckoutBody = Type.Object(
  {
    ...DonationFields,
    currency: CurrencySchema,
    successURL: RedirectUrl('Absolute http(s) URL the donor returns to after paying; gets ?session_id=cs_... (or replaces {CHECKOUT_SESSION_ID})'),
    cancelURL: RedirectUrl('Absolute http(s) URL of the Cancel link'),
    amount: Type.Optional({ ...AmountSchema, description: 'Unit price of one line (with productName and quantity) when there are no items' }),
    productName: Type.Optional(Type.String({ minLength: 1, maxLength: 250, description: 'With amount: the line description' })),
    quantity: Type.Optional({ ...Quantity, description: 'With amount: how many units' }),
    items: Type.Optional(Type.Array(CheckoutItem, { minItems: 1, maxItems: 20, description: 'Instead of amount: existing or custom prices, one line each' })),
    mode: Type.Optional({ ...CheckoutMode, description: 'payment (default): one-time items only; subscription: recurring items sharing one interval' }),
    tipInterval: Type.Optional({ ...IntervalSchema, description: "Subscription mode: a recurring tip, on the items' interval; without it the tip is charged once" }),
    paymentMethodId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'A saved method the page offers to pay with' })),
  },
  { additionalProperties: false },
);
export type CheckoutBodyType = Static<typeof CheckoutBody>;

export const CheckoutResult = Type.Object(
  {
    id: Type.String({ description: 'cs_test_... (cs_live_... on production accounts)' }),
    url: Type.String({ description: 'The hosted checkout page (sandbox accounts): send the donor here. Not in the Givinga document, which uses stripe.redirectToCheckout.' }),
  },
  { title: 'PaymentsCheckoutSession' },
);
export type CheckoutResultType = Static<typeof CheckoutResult>;

export const SessionParams = Type.Object({ sessionId: Type.String({ minLength: 1, maxLength: 100 }) });

export const PayBody = Type.Object(
  {
    card: Type.Optional(
      Type.Object(
        {
          number: Type.String({ minLength: 1, maxLength: 30 }),
          expMonth: Type.Integer({ minimum: 1, maximum: 12 }),
          expYear: Type.Integer({ minimum: 0, maximum: 9999 }),
          cvc: Type.Optional(Type.String({ maxLength: 10 })),
          name: Type.Optional(Type.String({ maxLength: 200 })),
        },
        { additionalProperties: false },
      ),
    ),
    authenticate: Type.Optional(Type.Boolean({ description: 'Answers a 3-D Secure challenge (requires_action)' })),
  },
  { additionalProperties: false, description: "A test card, the answer to a 3-D Secure challenge, or nothing to pay with the session's paymentMethodId" },
);
export type PayBodyType = Static<typeof PayBody>;

export const PayResult = Type.Object(
  {
    status: Type.Union(['succeeded', 'processing', 'requires_action', 'requires_payment_method'].map((s) => Type.Literal(s))),
    redirectUrl: Type.Union([Type.String(), Type.Null()], { description: 'Paid: the successURL with session_id' }),
    error: Type.Union([Type.Object({ code: Type.String(), declineCode: Type.Optional(Type.String()), message: Type.String() }), Type.Null()]),
  },
  { title: 'SandboxCheckoutPayment' },
);
export type PayResultType = Static<typeof PayResult>;
