import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorWithResultRef, Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { UserParams } from '../users/users.schemas.js';
import {
  Action,
  ActionIdParams,
  ListActionsQuery,
  ListTransactionsQuery,
  QuoteResult,
  RedeemBody,
  ReverseBody,
  ReverseResult,
  SubmitActionBody,
  SubmitResult,
  TokenTransaction,
  UserBalance,
} from './actions.schemas.js';
import { absentBodyIsEmpty } from './actions.input.js';
import type { ActionsService } from './actions.service.js';
import type { ReversalsService } from './actions.reverse.js';
import type { WalletsService } from './wallets.service.js';

const Err = Type.Ref('Error');

export interface ActionsRoutesDeps {
  actions: ActionsService;
  reversals: ReversalsService;
  wallets: WalletsService;
}

export const actionsRoutes: FastifyPluginAsyncTypebox<ActionsRoutesDeps> = async (app, { actions, reversals, wallets }) => {
  app.post(
    '/v1/partner/actions/submit',
    authed('hmacSecret', {
      summary: 'Submit a reward action (distributed synchronously)',
      description:
        'Debits the pool, credits each stakeholder and records the action and its events in one transaction. ' +
        'The same idempotencyKey with the same body returns 409 IDEMPOTENT with the original result; with another body 422.',
      tags: ['Actions'],
      body: SubmitActionBody,
      response: { 200: SubmitResult, 402: ErrorWithResultRef, 404: Err, 409: ErrorWithResultRef, 422: Err },
    }),
    async (request) => actions.submit(request.partnerAuth!, request.body, request.rawBody),
  );

  app.post(
    '/v1/partner/actions/quote',
    // A POST, so like every non-GET signed route it takes the secret key (contract A7).
    authed('hmacSecret', {
      summary: 'What a submit would do now, without writing anything',
      tags: ['Actions'],
      body: SubmitActionBody,
      // 409: a named campaign that is not running (INVALID_STATE), refused exactly as submit refuses it.
      response: { 200: QuoteResult, 404: Err, 409: Err },
    }),
    async (request) => actions.quote(request.partnerAuth!, request.body, request.rawBody),
  );

  app.get(
    '/v1/partner/actions',
    authed('hmac', { summary: 'List actions', tags: ['Actions'], querystring: ListActionsQuery, response: { 200: Paginated(Action) } }),
    async (request) => actions.list(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/actions/:actionId',
    authed('hmac', { summary: 'Get an action', tags: ['Actions'], params: ActionIdParams, response: { 200: Action, 404: Err } }),
    async (request) => actions.get(request.partnerAuth!, request.params.actionId),
  );

  app.post(
    '/v1/partner/actions/:actionId/reverse',
    {
      preValidation: absentBodyIsEmpty,
      ...authed('hmacSecret', {
        summary: 'Reverse an action in full or in part (e.g. after a refund)',
        tags: ['Actions'],
        params: ActionIdParams,
        body: ReverseBody,
        response: { 200: ReverseResult, 404: Err, 409: ErrorWithResultRef, 422: Err },
      }),
    },
    async (request) => reversals.reverse(request.partnerAuth!, request.params.actionId, request.body ?? {}, request.rawBody),
  );

  app.get(
    '/v1/partner/transactions',
    authed('hmac', { summary: 'List token transactions', tags: ['Transactions'], querystring: ListTransactionsQuery, response: { 200: Paginated(TokenTransaction) } }),
    async (request) => wallets.transactions(request.partnerAuth!, request.query),
  );

  app.get(
    '/v1/partner/transactions/:id',
    authed('hmac', {
      summary: 'Get a token transaction',
      tags: ['Transactions'],
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      response: { 200: TokenTransaction, 404: Err },
    }),
    async (request) => wallets.transaction(request.partnerAuth!, request.params.id),
  );

  app.get(
    '/v1/partner/users/:externalId/balance',
    authed('hmac', { summary: "A user's token balance", tags: ['Users'], params: UserParams, response: { 200: UserBalance, 404: Err } }),
    async (request) => wallets.balance(request.partnerAuth!, request.params.externalId),
  );

  app.get(
    '/v1/partner/users/:externalId/transactions',
    authed('hmac', {
      summary: "A user's token transactions",
      tags: ['Users'],
      params: UserParams,
      querystring: Type.Omit(ListTransactionsQuery, ['externalUserId']),
      response: { 200: Paginated(TokenTransaction), 404: Err },
    }),
    async (request) => wallets.transactions(request.partnerAuth!, { ...request.query, externalId: request.params.externalId }),
  );

  app.post(
    '/v1/partner/users/:externalId/redeem',
    authed('hmacSecret', {
      summary: "Spend a user's available tokens (oldest first)",
      tags: ['Users'],
      params: UserParams,
      body: RedeemBody,
      response: {
        200: Type.Object({ transactionId: Type.String(), externalUserId: Type.String(), amount: Type.Number(), balance: Type.Number() }),
        404: Err,
        409: ErrorWithResultRef,
        422: Err,
      },
    }),
    async (request) => wallets.redeem(request.partnerAuth!, request.params.externalId, request.body, request.rawBody),
  );
};
