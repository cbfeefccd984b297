import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import {
  CreateCustomerBody,
  Customer,
  CustomerParams,
  ExternalIdParams,
  ListCustomersQuery,
  UpdateCustomerBody,
} from './customers.schemas.js';
import type { CustomersService } from './customers.service.js';

const AUTH_TAG = ['Authentication'];
const CUSTOMERS_TAG = ['Customers'];

const AuthenticateBody = Type.Object(
  {
    hashEpoch: Type.Integer({ minimum: 0, maximum: 99_999_999_999, description: 'Current Unix time in seconds' }),
    hmac: Type.String({ maxLength: 128, description: 'hex(HMAC-SHA256(key = your secret key, message = String(hashEpoch)))' }),
  },
  { additionalProperties: false },
);
const AuthenticateResult = Type.Object(
  {
    token: Type.String({ description: 'HS256 JWT for Authorization: Bearer; valid 7800 s' }),
    publicKey: Type.String({ description: 'Publishable key for the payment page (Stripe.js or the sandbox checkout)' }),
  },
  { title: 'PaymentsAuthenticateResult' },
);
const AccountParams = Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) });

export const paymentsRoutes: FastifyPluginAsyncTypebox<{ accounts: PaymentsAccountsService; customers: CustomersService }> = async (
  app,
  { accounts, customers },
) => {
  app.post(
    '/api/partners/:accountId/authenticate',
    authed('none', {
      summary: 'Exchange an HMAC of the current time for a token',
      description: 'hmac = lowercase hex of HMAC-SHA256 with your secret key over String(hashEpoch); hashEpoch must be under 60 s old.',
      tags: AUTH_TAG,
      params: AccountParams,
      body: AuthenticateBody,
      response: { 200: AuthenticateResult, ...errorResponses(401, 403) },
    }),
    async (request) => accounts.authenticate(request.params.accountId, request.body.hashEpoch, request.body.hmac),
  );

  app.get(
    '/api/customers',
    authed('payments', {
      summary: "List the account's customers",
      tags: CUSTOMERS_TAG,
      querystring: ListCustomersQuery,
      response: { 200: Type.Array(Customer), ...errorResponses(404) },
    }),
    async (request) => customers.list(request.paymentsAuth!, request.query),
  );

  app.post(
    '/api/customers',
    authed('payments', {
      summary: 'Create a customer',
      tags: CUSTOMERS_TAG,
      body: CreateCustomerBody,
      response: { 201: Customer, ...errorResponses(409, 502, 503) },
    }),
    async (request, reply) => reply.status(201).send(await customers.create(request.paymentsAuth!, request.body)),
  );

  app.get(
    '/api/customers/external/:customerExternalId',
    authed('payments', {
      summary: 'Get a customer by your external id',
      tags: CUSTOMERS_TAG,
      params: ExternalIdParams,
      response: { 200: Customer, ...errorResponses(404) },
    }),
    async (request) => customers.getByExternalId(request.paymentsAuth!, request.params.customerExternalId),
  );

  app.get(
    '/api/customers/:customerId',
    authed('payments', {
      summary: 'Get a customer',
      tags: CUSTOMERS_TAG,
      params: CustomerParams,
      response: { 200: Customer, ...errorResponses(404) },
    }),
    async (request) => customers.get(request.paymentsAuth!, request.params.customerId),
  );

  for (const method of ['put', 'patch'] as const) {
    app[method](
      '/api/customers/:customerId',
      authed('payments', {
        summary: method === 'put' ? 'Update a customer' : 'Update a customer (PATCH alias of PUT)',
        description: 'firstName, lastName and email; externalId cannot change.',
        tags: CUSTOMERS_TAG,
        params: CustomerParams,
        body: UpdateCustomerBody,
        response: { 200: Customer, ...errorResponses(404, 502, 503) },
      }),
      async (request) => customers.update(request.paymentsAuth!, request.params.customerId, request.body),
    );
  }
};
