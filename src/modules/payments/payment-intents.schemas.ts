import { Type, type Static } from '@sinclair/typebox';
import { AmountSchema } from './catalog.schemas.js';
import { DonationFields } from './donation.schemas.js';

export const PaymentIntentBody = Type.Object(
  {
    amount: AmountSchema,
    paymentMethodId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'A saved method to pay with; without it the payment page collects one' })),
    persistPaymentMethod: Type.Optional(Type.Boolean({ description: 'Without paymentMethodId: save the method the donor enters to the customer' })),
    ...DonationFields,
  },
  { additionalProperties: false },
);
export type PaymentIntentBodyType = Static<typeof PaymentIntentBody>;

export const ClientSecretResult = Type.Object(
  { clientSecret: Type.String({ description: 'pi_..._secret_...: confirm it on the payment page (stripe.confirmCardPayment, or the sandbox confirm route)' }) },
  { title: 'PaymentsClientSecret' },
);

const Status = Type.Union(
  ['requires_payment_method', 'requires_action', 'processing', 'succeeded', 'canceled'].map((s) => Type.Literal(s)),
);

export const PaymentIntentView = Type.Object(
  {
    id: Type.String(),
    status: Status,
    amount: Type.Integer({ description: 'The donation, smallest currency unit' }),
    tip: Type.Integer(),
    currency: Type.String(),
    chargeId: Type.Union([Type.String(), Type.Null()]),
    paymentMethod: Type.Union([Type.String(), Type.Null()]),
    nextAction: Type.Union([
      Type.Object({ type: Type.Literal('authenticate'), method: Type.Literal('POST'), url: Type.String(), body: Type.Record(Type.String(), Type.Unknown()) }),
      Type.Null(),
    ]),
    lastError: Type.Union([Type.Object({ code: Type.String(), declineCode: Type.Optional(Type.String()), message: Type.String() }), Type.Null()]),
  },
  { title: 'SandboxPaymentIntent' },
);
export type PaymentIntentViewType = Static<typeof PaymentIntentView>;

export const ConfirmPaymentBody = Type.Object(
  {
    clientSecret: Type.String({ minLength: 1, maxLength: 200 }),
    card: Type.Optional(
      Type.Object(
        {
          number: Type.String({ minLength: 1, maxLength: 30 }),
          expMonth: Type.Integer({ minimum: 1, maximum: 12 }),
          expYear: Type.Integer({ minimum: 0, maximum: 9999 }),
          cvc: Type.Optional(Type.String({ maxLength: 10 })),
        },
        { additionalProperties: false },
      ),
    ),
    paymentMethod: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'pm_card_* test id' })),
    authenticate: Type.Optional(Type.Boolean({ description: 'Completes 3-D Secure on an intent that requires_action' })),
  },
  { additionalProperties: false, description: 'At most one of card, paymentMethod or authenticate; none uses the intent\'s own paymentMethodId' },
);
export type ConfirmPaymentBodyType = Static<typeof ConfirmPaymentBody>;
