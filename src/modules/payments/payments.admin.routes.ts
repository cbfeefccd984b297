import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EnvironmentSchema, errorResponses, IsoDate } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { PaymentsAccountsService } from './accounts.service.js';

const TAG = ['Operator'];
const Processor = Type.Union([Type.Literal('sandbox'), Type.Literal('stripe')]);
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const CreateBody = Type.Object(
  {
    environment: EnvironmentSchema,
    processor: Type.Optional(Processor),
    description: Type.Optional(Type.String({ maxLength: 200 })),
    stripeSecretKey: Type.Optional(Type.String({ pattern: '^(sk|rk)_(test|live)_[A-Za-z0-9]+$', description: 'stripe processor only' })),
    stripePublishableKey: Type.Optional(Type.String({ pattern: '^pk_(test|live)_[A-Za-z0-9]+$', description: 'stripe processor only' })),
  },
  { additionalProperties: false },
);

const Created = Type.Object(
  {
    accountId: Type.String(),
    secretKey: Type.String({ description: 'The HMAC key of authenticate; shown only in this response' }),
    publicKey: Type.String(),
    partnerNumber: Type.Integer(),
    environment: EnvironmentSchema,
    processor: Processor,
  },
  { title: 'CreatedPaymentsAccount' },
);

const Account = Type.Object(
  {
    accountId: Type.String(),
    environment: EnvironmentSchema,
    processor: Processor,
    description: Type.Union([Type.String(), Type.Null()]),
    publicKey: Type.String(),
    isActive: Type.Boolean(),
    createdAt: IsoDate,
  },
  { title: 'PaymentsAccount' },
);

export const paymentsAdminRoutes: FastifyPluginAsyncTypebox<{ accounts: PaymentsAccountsService }> = async (app, { accounts }) => {
  app.post(
    '/v1/admin/partners/:id/payments-accounts',
    authed('operator', {
      summary: 'Create a Payments API account (acct_...) for a partner',
      description: 'The answer carries the secret key once; the partner signs authenticate with it.',
      tags: TAG,
      params: Params,
      body: CreateBody,
      response: { 201: Created, ...errorResponses(404) },
    }),
    async (request, reply) => reply.status(201).send(await accounts.create(request.params.id, request.body)),
  );

  app.patch(
    '/v1/admin/payments-accounts/:accountId',
    authed('operator', {
      summary: 'Turn donation rewards on or off for a payments account',
      description:
        "With donationRewards on, every succeeded charge of a customer whose externalId names a partner user submits a DONATION action for that user (keyed by the charge); a full refund reverses it.",
      tags: TAG,
      params: Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) }),
      body: Type.Object({ donationRewards: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: Type.Object({ accountId: Type.String(), donationRewards: Type.Boolean() }), ...errorResponses(404) },
    }),
    async (request) => accounts.setDonationRewards(request.params.accountId, request.body.donationRewards),
  );

  app.get(
    '/v1/admin/partners/:id/payments-accounts',
    authed('operator', {
      summary: "A partner's Payments API accounts",
      tags: TAG,
      params: Params,
      response: { 200: Type.Array(Account), ...errorResponses(404) },
    }),
    async (request) => accounts.listForPartner(request.params.id),
  );
};
