import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { CustomerParams } from './customers.schemas.js';
import {
  AttachBankTokenBody,
  BankAccount,
  ConfirmSetupBody,
  DefaultResult,
  DeletedResult,
  PaymentMethod,
  PaymentMethodParams,
  PlaidAttachBody,
  PlaidLinkToken,
  SandboxBankTokenBody,
  SetupIntent,
  VerifyBody,
  VerifyResult,
} from './payment-methods.schemas.js';
import type { PaymentMethodsService } from './payment-methods.service.js';
import { SANDBOX_CONFIRM_PATH } from './payment-methods.setup.js';

// 503: processor calls answer SERVICE_UNAVAILABLE while an account's processor cannot be reached.
const METHODS = ['Payment methods'];
const BANKS = ['Bank accounts (ACH)'];
const SANDBOX = ['Sandbox payment page'];

/** Fastify sends a returned string as-is (text/plain); the contract wants a JSON string literal. */
const sendJsonString = (reply: FastifyReply, value: string) => reply.type('application/json; charset=utf-8').send(JSON.stringify(value));

const ClientSecret = Type.String({ description: 'The setup intent client secret, seti_..._secret_..., for stripe.confirmCardSetup (or the sandbox confirm)' });

// Contract B5 recommends registering the low-confidence ACH paths with aliases until a real client
// proves the spelling; each alias is the same operation.
const PLAID_LINK_TOKEN_PATHS = ['/api/customers/:customerId/plaid/link-token', '/api/customers/:customerId/plaid-link-token'];
const PLAID_ATTACH_PATHS = ['/api/customers/:customerId/plaid', '/api/customers/:customerId/ach/plaid'];
const BANK_TOKEN_PATHS = ['/api/customers/:customerId/bank-accounts', '/api/customers/:customerId/ach/stripe'];
const alias = (path: string, all: string[]) => (path === all[0] ? '' : ` (alias of ${all[0]!.replace(/:(\w+)/g, '{$1}')})`);

export const paymentMethodsRoutes: FastifyPluginAsyncTypebox<{ paymentMethods: PaymentMethodsService }> = async (app, { paymentMethods }) => {
  app.post(
    '/api/customers/:customerId/setup-intents',
    authed('payments', {
      summary: "Create a setup intent to save a customer's card",
      description: 'No body. Returns the client secret as a bare JSON string.',
      tags: METHODS,
      params: CustomerParams,
      response: { 200: ClientSecret, ...errorResponses(404, 502, 503) },
    }),
    async (request, reply) => sendJsonString(reply, await paymentMethods.setup.create(request.paymentsAuth!, request.params.customerId)),
  );

  app.post(
    '/api/customers/setup-intents',
    authed('payments', {
      summary: 'Create a guest setup intent (no customer)',
      description: 'No body. Returns the client secret as a bare JSON string.',
      tags: METHODS,
      response: { 200: ClientSecret, ...errorResponses(502, 503) },
    }),
    async (request, reply) => sendJsonString(reply, await paymentMethods.setup.create(request.paymentsAuth!, null)),
  );

  app.get(
    '/api/customers/:customerId/payment-methods',
    authed('payments', {
      summary: "List a customer's payment methods, newest first",
      tags: METHODS,
      params: CustomerParams,
      response: { 200: Type.Array(PaymentMethod), ...errorResponses(404) },
    }),
    async (request) => paymentMethods.list(request.paymentsAuth!, request.params.customerId),
  );

  for (const method of ['post', 'put'] as const) {
    app[method](
      '/api/customers/:customerId/payment-methods/:paymentMethodId/default',
      authed('payments', {
        summary: method === 'post' ? "Make a payment method the customer's default" : 'Set the default payment method (PUT alias of POST)',
        description: 'No body. A bank account must be verified first.',
        tags: METHODS,
        params: PaymentMethodParams,
        response: { 200: DefaultResult, ...errorResponses(404, 409, 502, 503) },
      }),
      async (request) => paymentMethods.setDefault(request.paymentsAuth!, request.params.customerId, request.params.paymentMethodId),
    );
  }

  app.delete(
    '/api/customers/:customerId/payment-methods/:paymentMethodId',
    authed('payments', {
      summary: 'Remove (detach) a payment method',
      description: 'Clears the default if it was this one. Past charges keep their reference.',
      tags: METHODS,
      params: PaymentMethodParams,
      response: { 200: DeletedResult, ...errorResponses(404, 502, 503) },
    }),
    async (request) => paymentMethods.detach(request.paymentsAuth!, request.params.customerId, request.params.paymentMethodId),
  );

  for (const path of PLAID_LINK_TOKEN_PATHS) {
    app.get(
      path,
      authed('payments', {
        summary: `Get a Plaid Link token${alias(path, PLAID_LINK_TOKEN_PATHS)}`,
        tags: BANKS,
        params: CustomerParams,
        response: { 200: PlaidLinkToken, ...errorResponses(404, 502, 503) },
      }),
      async (request) => paymentMethods.plaidLinkToken(request.paymentsAuth!, request.params.customerId),
    );
  }

  for (const path of PLAID_ATTACH_PATHS) {
    app.post(
      path,
      authed('payments', {
        summary: `Attach a bank account linked with Plaid${alias(path, PLAID_ATTACH_PATHS)}`,
        description: 'The account is verified at once: Plaid has proven the donor owns it.',
        tags: BANKS,
        params: CustomerParams,
        body: PlaidAttachBody,
        response: { 200: BankAccount, ...errorResponses(404, 502, 503) },
      }),
      async (request) => paymentMethods.plaidAttach(request.paymentsAuth!, request.params.customerId, request.body.values, request.body.accountId),
    );
  }

  for (const path of BANK_TOKEN_PATHS) {
    app.post(
      path,
      authed('payments', {
        summary: `Attach a bank account from a bank token${alias(path, BANK_TOKEN_PATHS)}`,
        description: 'The account starts as status "new" and must be verified with the two micro-deposit amounts.',
        tags: BANKS,
        params: CustomerParams,
        body: AttachBankTokenBody,
        response: { 200: BankAccount, ...errorResponses(404, 502, 503) },
      }),
      async (request) => paymentMethods.attachBankToken(request.paymentsAuth!, request.params.customerId, request.body.token),
    );
  }

  app.post(
    '/api/customers/:customerId/payment-methods/:paymentMethodId/verify',
    authed('payments', {
      summary: 'Verify a bank account with its two micro-deposit amounts',
      description: 'Wrong amounts answer 400 with the attempts left (details[0].attemptsLeft); the third wrong try locks the account (409 afterwards).',
      tags: BANKS,
      params: PaymentMethodParams,
      body: VerifyBody,
      response: { 200: VerifyResult, ...errorResponses(404, 409, 502, 503) },
    }),
    async (request) => paymentMethods.verify(request.paymentsAuth!, request.params.customerId, request.params.paymentMethodId, request.body.values),
  );

  // What Stripe.js does in the browser, for sandbox accounts: the client secret (or nothing, for a
  // bank token) is the credential, so these are public like Stripe.js calls with a publishable key.
  app.post(
    SANDBOX_CONFIRM_PATH,
    authed('none', {
      summary: 'Sandbox: confirm a setup intent with a test card (what stripe.confirmCardSetup does)',
      description:
        'Send clientSecret and one of: card {number, expMonth, expYear, cvc}, paymentMethod (pm_card_visa ...), or authenticate. ' +
        'A 3-D Secure test card (4000 0025 0000 3155) answers requires_action; send {clientSecret, authenticate: true} to pass the challenge or false to fail it.',
      tags: SANDBOX,
      body: ConfirmSetupBody,
      response: { 200: SetupIntent, ...errorResponses(404, 409) },
    }),
    async (request) => paymentMethods.setup.confirm(request.body),
  );

  app.post(
    '/sandbox/bank-tokens',
    authed('none', {
      summary: 'Sandbox: create a bank account token (what stripe.createToken does)',
      description: 'Routing 110000000 and one of the ACH test account numbers (000123456789 settles; 000111111116, 000111111113, 000222222227 fail).',
      tags: SANDBOX,
      body: SandboxBankTokenBody,
      response: { 200: Type.Object({ id: Type.String({ description: 'btok_...' }) }) },
    }),
    async (request) => paymentMethods.sandboxBankToken(request.body),
  );
};
