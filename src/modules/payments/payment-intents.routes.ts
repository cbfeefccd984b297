import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { CustomerParams } from './customers.schemas.js';
import { SANDBOX_PAYMENT_CONFIRM_PATH, type PaymentIntentsService } from './payment-intents.js';
import { ClientSecretResult, ConfirmPaymentBody, PaymentIntentBody, PaymentIntentView } from './payment-intents.schemas.js';

const TAG = ['Payment intents'];
const SANDBOX = ['Sandbox'];
const DESCRIPTION =
  'Creates a payment intent for `amount` (+ `tip`) and returns its client secret for the payment page. With `paymentMethodId` the page only confirms; ' +
  'without it the page collects a card, saved to the customer when `persistPaymentMethod` is true.';

export const paymentIntentsRoutes: FastifyPluginAsyncTypebox<{ intents: PaymentIntentsService }> = async (app, { intents }) => {
  app.post(
    '/api/customers/:customerId/payment-intents',
    authed('payments', {
      summary: 'Donate or fund with a payment intent',
      description: DESCRIPTION,
      tags: TAG,
      params: CustomerParams,
      body: PaymentIntentBody,
      response: { 200: ClientSecretResult, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request) => intents.create(request.paymentsAuth!, request.params.customerId, request.body),
  );

  app.post(
    '/api/customers/payment-intents',
    authed('payments', {
      summary: 'Guest payment intent (no customer)',
      description: DESCRIPTION,
      tags: TAG,
      body: PaymentIntentBody,
      response: { 200: ClientSecretResult, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request) => intents.create(request.paymentsAuth!, null, request.body),
  );

  // Stripe.js stand-ins for sandbox accounts: the client secret is the credential.
  app.post(
    SANDBOX_PAYMENT_CONFIRM_PATH,
    authed('none', {
      summary: 'Sandbox: confirm a payment intent (what stripe.confirmCardPayment does)',
      description:
        'Send clientSecret and a test card, a pm_card_* id, nothing (to pay with the intent\'s own paymentMethodId), or authenticate after a 3-D Secure challenge. ' +
        'A decline answers 200 with status requires_payment_method and lastError, as Stripe.js reports it; another card may then be tried.',
      tags: SANDBOX,
      body: ConfirmPaymentBody,
      response: { 200: PaymentIntentView, ...errorResponses(404, 409) },
    }),
    async (request) => intents.confirm(request.body),
  );

  app.post(
    '/sandbox/payment-intents/retrieve',
    authed('none', {
      summary: 'Sandbox: read a payment intent by its client secret (what stripe.retrievePaymentIntent does)',
      tags: SANDBOX,
      body: Type.Object({ clientSecret: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: { 200: PaymentIntentView, ...errorResponses(404) },
    }),
    async (request) => intents.retrieve(request.body.clientSecret),
  );
};
