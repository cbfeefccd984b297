import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { DestinationsService } from './destinations.js';

const TAG = ['Operator'];
const Params = Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) });
const Kind = Type.Union([Type.Literal('giving_account'), Type.Literal('subaccount'), Type.Literal('master_account'), Type.Literal('campaign')]);
const GivingAccount = Type.Object(
  { kind: Kind, ref: Type.String(), name: Type.Union([Type.String(), Type.Null()]), masterRef: Type.Union([Type.String(), Type.Null()]) },
  { title: 'GivingAccount' },
);
const Balance = Type.Object(
  { ledgerAccountId: Type.String(), kind: Type.String(), currency: Type.String(), balance: Type.Integer({ description: 'Smallest currency unit' }) },
  { title: 'PaymentsBalance' },
);

/** Operator routes: the giving accounts donations may go to, and every money balance of an account. */
export const destinationsAdminRoutes: FastifyPluginAsyncTypebox<{ destinations: DestinationsService; accounts: PaymentsAccountsService }> = async (
  app,
  { destinations, accounts },
) => {
  app.post(
    '/v1/admin/payments-accounts/:accountId/giving-accounts',
    authed('operator', {
      summary: "Register a donor account, employee subaccount, corporate master account or campaign",
      tags: TAG,
      params: Params,
      body: Type.Object(
        {
          kind: Kind,
          ref: Type.String({ minLength: 1, maxLength: 100, description: 'Account number, subaccount number, master username or campaign number' }),
          name: Type.Optional(Type.String({ maxLength: 200 })),
          masterRef: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "A subaccount's master account" })),
        },
        { additionalProperties: false },
      ),
      response: { 201: GivingAccount, ...errorResponses(404) },
    }),
    async (request, reply) => {
      await accounts.get(request.params.accountId);
      return reply.status(201).send(await destinations.addGivingAccount(request.params.accountId, request.body));
    },
  );

  app.get(
    '/v1/admin/payments-accounts/:accountId/balances',
    authed('operator', {
      summary: "A payments account's money balances",
      description: 'Destinations (charities, giving accounts, subaccounts, master accounts, campaigns, carbon offset), processing fees, tips, partner cuts and the clearing account, per currency.',
      tags: TAG,
      params: Params,
      response: { 200: Type.Array(Balance), ...errorResponses(404) },
    }),
    async (request) => {
      await accounts.get(request.params.accountId);
      return destinations.balances(request.params.accountId);
    },
  );
};
