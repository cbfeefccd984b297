import { Type, type Static } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const PaymentMethodParams = Type.Object({
  customerId: Type.String({ minLength: 1, maxLength: 255 }),
  paymentMethodId: Type.String({ minLength: 1, maxLength: 255, description: 'pm_... (card) or ba_... (bank account)' }),
});

export const BillingDetails = Type.Object(
  { name: Nullable(Type.String()), email: Nullable(Type.String()), phone: Nullable(Type.String()) },
  { title: 'PaymentsBillingDetails' },
);
export type BillingDetailsType = Static<typeof BillingDetails>;

export const BankAccountStatus = Type.Union([Type.Literal('new'), Type.Literal('verified'), Type.Literal('verification_failed')], {
  description: 'new: waiting for micro-deposit verification; verification_failed: locked after 3 wrong tries',
});

/** Contract B6.7: Stripe's PaymentMethod fields the demo and partners read, plus whether it is the default. */
export const PaymentMethod = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('card'), Type.Literal('us_bank_account')]),
    card: Type.Union([
      Type.Object({ brand: Type.String(), last4: Type.String(), exp_month: Type.Integer(), exp_year: Type.Integer() }),
      Type.Null(),
    ]),
    us_bank_account: Type.Union([
      Type.Object({ bank_name: Type.String(), last4: Type.String(), routing_number: Type.String(), status: BankAccountStatus }),
      Type.Null(),
    ]),
    billing_details: BillingDetails,
    created: Type.Integer({ description: 'Unix seconds' }),
    isDefault: Type.Boolean(),
  },
  { title: 'PaymentsPaymentMethod' },
);
export type PaymentMethodType = Static<typeof PaymentMethod>;

/** Contract B6.10: the bank account a token or Plaid produced (Stripe's bank_account fields). */
export const BankAccount = Type.Object(
  {
    id: Type.String({ description: 'ba_...' }),
    object: Type.Literal('bank_account'),
    status: BankAccountStatus,
    bank_name: Type.String(),
    last4: Type.String(),
    routing_number: Type.String(),
    account_holder_name: Nullable(Type.String()),
  },
  { title: 'PaymentsBankAccount' },
);
export type BankAccountType = Static<typeof BankAccount>;

export const AttachBankTokenBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 500, description: 'A bank account token (btok_...) from Stripe.js, or from POST /sandbox/bank-tokens in the sandbox' }) },
  { additionalProperties: false },
);

export const PlaidAttachBody = Type.Object(
  {
    values: Type.String({ minLength: 1, maxLength: 500, description: 'The Plaid public_token from Plaid Link (public-sandbox-... in the sandbox)' }),
    accountId: Type.String({ minLength: 1, maxLength: 255, description: 'The Plaid account id (metadata.accounts[0].id)' }),
  },
  { additionalProperties: false },
);

export const PlaidLinkToken = Type.Object(
  { environment: Type.String(), clientName: Type.String(), linkToken: Type.String() },
  { title: 'PaymentsPlaidLinkToken' },
);

export const VerifyBody = Type.Object(
  {
    values: Type.Array(Type.Integer({ minimum: 1, maximum: 99 }), {
      minItems: 2,
      maxItems: 2,
      description: 'The two micro-deposit amounts in cents, in either order (sandbox: [32, 45])',
    }),
  },
  { additionalProperties: false },
);

export const VerifyResult = Type.Object({ id: Type.String(), status: Type.Literal('verified') }, { title: 'PaymentsVerifyResult' });
export const DefaultResult = Type.Object({ defaultPaymentMethod: Type.String() }, { title: 'PaymentsDefaultPaymentMethod' });
export const DeletedResult = Type.Object({ id: Type.String(), deleted: Type.Literal(true) }, { title: 'PaymentsDeletedPaymentMethod' });

// --- the sandbox's stand-ins for Stripe.js -------------------------------------------------------

export const SandboxBankTokenBody = Type.Object(
  {
    routingNumber: Type.String({ pattern: '^[0-9]{9}$', description: '110000000 (the test bank)' }),
    accountNumber: Type.String({ pattern: '^[0-9]{4,17}$', description: '000123456789 succeeds; see the README for the failing ones' }),
    accountHolderName: Type.String({ minLength: 1, maxLength: 100 }),
  },
  { additionalProperties: false },
);

const SetupIntentStatus = Type.Union([
  Type.Literal('requires_payment_method'),
  Type.Literal('requires_action'),
  Type.Literal('succeeded'),
  Type.Literal('canceled'),
]);

export const ConfirmSetupBody = Type.Object(
  {
    clientSecret: Type.String({ minLength: 1, maxLength: 200, description: 'seti_..._secret_... as returned by POST /api/customers/{customerId}/setup-intents' }),
    card: Type.Optional(
      Type.Object(
        {
          number: Type.String({ minLength: 1, maxLength: 30, description: 'A test card number; spaces and dashes are ignored' }),
          expMonth: Type.Integer({ minimum: 1, maximum: 12 }),
          expYear: Type.Integer({ minimum: 0, maximum: 9999, description: 'Four digits, or two (25 = 2025)' }),
          // Optional here so a missing cvc gets a message that says what it is.
          cvc: Type.Optional(Type.String({ maxLength: 10, description: 'Required: 3 or 4 digits' })),
        },
        { additionalProperties: false },
      ),
    ),
    paymentMethod: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A test payment method id such as pm_card_visa, instead of card' })),
    billingDetails: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(Type.String({ maxLength: 100 })),
          email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
          phone: Type.Optional(Type.String({ maxLength: 30 })),
        },
        { additionalProperties: false },
      ),
    ),
    authenticate: Type.Optional(
      Type.Boolean({ description: 'Completes 3-D Secure on a setup intent that requires_action: true passes it, false fails it' }),
    ),
  },
  { additionalProperties: false, description: 'Exactly one of card, paymentMethod or authenticate' },
);
export type ConfirmSetupBodyType = Static<typeof ConfirmSetupBody>;

export const SetupIntent = Type.Object(
  {
    id: Type.String(),
    status: SetupIntentStatus,
    customerId: Nullable(Type.String()),
    paymentMethod: Nullable(Type.String({ description: 'The saved pm_... once the intent has succeeded (or awaits authentication)' })),
    nextAction: Type.Union([
      Type.Object({
        type: Type.Literal('authenticate'),
        method: Type.Literal('POST'),
        url: Type.String(),
        body: Type.Object({ clientSecret: Type.String(), authenticate: Type.Literal(true) }),
      }),
      Type.Null(),
    ]),
    lastError: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  },
  { title: 'PaymentsSetupIntent' },
);
export type SetupIntentType = Static<typeof SetupIntent>;
