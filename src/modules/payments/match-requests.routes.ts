import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses, IsoDate, NullableIsoDate } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { MatchRequestsService } from './match-requests.js';

const TAG = ['Operator'];
const Status = Type.Union([Type.Literal('requested'), Type.Literal('approved'), Type.Literal('declined'), Type.Literal('paid')]);
const MatchRequest = Type.Object(
  {
    id: Type.String(),
    chargeId: Type.String(),
    customerId: Type.Union([Type.String(), Type.Null()], { description: 'null for an anonymous donor' }),
    anonymity: Type.String(),
    donor: Type.Union([Type.Object({ name: Type.Union([Type.String(), Type.Null()]), email: Type.Union([Type.String(), Type.Null()]) }), Type.Null()], {
      description: 'Full Transparency: name and email; Partial Transparency: name; Anonymous: null',
    }),
    amount: Type.Integer({ description: 'Smallest currency unit' }),
    currency: Type.String(),
    destination: Type.Object({ kind: Type.String(), ref: Type.String() }),
    employer: Type.Union([Type.String(), Type.Null()], { description: "The employer's master account" }),
    status: Status,
    declineReason: Type.Union([Type.String(), Type.Null()]),
    createdAt: IsoDate,
    decidedAt: NullableIsoDate,
    paidAt: NullableIsoDate,
  },
  { title: 'MatchRequest' },
);
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const matchRequestsAdminRoutes: FastifyPluginAsyncTypebox<{ matches: MatchRequestsService; accounts: PaymentsAccountsService }> = async (
  app,
  { matches, accounts },
) => {
  app.get(
    '/v1/admin/payments-accounts/:accountId/match-requests',
    authed('operator', {
      summary: 'Employer match requests of a payments account',
      tags: TAG,
      params: Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) }),
      querystring: Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false }),
      response: { 200: Type.Array(MatchRequest), ...errorResponses(404) },
    }),
    async (request) => {
      await accounts.get(request.params.accountId);
      return matches.list(request.params.accountId, request.query.status);
    },
  );

  app.post(
    '/v1/admin/match-requests/:id/approve',
    authed('operator', { summary: 'Approve a match request', tags: TAG, params: IdParams, response: { 200: MatchRequest, ...errorResponses(404, 409) } }),
    async (request) => matches.approve(request.params.id),
  );

  app.post(
    '/v1/admin/match-requests/:id/decline',
    authed('operator', {
      summary: 'Decline a match request',
      tags: TAG,
      params: IdParams,
      body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
      response: { 200: MatchRequest, ...errorResponses(404, 409) },
    }),
    async (request) => matches.decline(request.params.id, request.body?.reason ?? null),
  );

  app.post(
    '/v1/admin/match-requests/:id/pay',
    authed('operator', {
      summary: "Pay an approved match from the employer's master account to the donation's destination",
      tags: TAG,
      params: IdParams,
      response: { 200: MatchRequest, ...errorResponses(404, 409) },
    }),
    async (request) => matches.pay(request.params.id),
  );
};
