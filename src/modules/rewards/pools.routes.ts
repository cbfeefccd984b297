import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EnvironmentSchema, IsoDate, PageQuery, Paginated } from '../../platform/http/common.schemas.js';
import { authed } from '../../platform/http/route.js';
import { AppError } from '../../platform/errors.js';
import { checkLedger } from '../ledger/index.js';
import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { absentBodyIsEmpty, exactTokens } from './actions.input.js';
import type { PartnerClock } from './partner-clock.js';
import type { PoolsService } from './pools.service.js';

const Err = Type.Ref('Error');
const Tokens = Type.Number({ description: 'Tokens, up to 2 decimals' });

export const TokenPool = Type.Object(
  {
    id: Type.String(),
    environment: EnvironmentSchema,
    name: Type.String(),
    balance: Tokens,
    allocated: Type.Number({ description: 'Everything that ever came into the pool (funding, refills, reversals)' }),
    distributed: Type.Number({ description: 'Everything that ever left the pool as rewards' }),
    status: Type.String(),
    restrictions: Type.Object({
      vestingDays: Type.Union([Type.Integer(), Type.Null()]),
      grantExpiryDays: Type.Union([Type.Integer(), Type.Null()]),
      expiresAt: Type.Union([IsoDate, Type.Null()]),
      redemptionRules: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    }),
    autoRefill: Type.Object({ enabled: Type.Boolean(), threshold: Tokens, amount: Tokens }),
    lowBalanceThreshold: Tokens,
    createdAt: IsoDate,
  },
  { title: 'TokenPool' },
);

const PoolParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

const CreatePoolBody = Type.Object(
  {
    environment: EnvironmentSchema,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    initialAmount: Type.Optional(Type.Number({ minimum: 0 })),
    vestingDays: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 3650 }), Type.Null()])),
    grantExpiryDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 36500 }), Type.Null()])),
    expiresAt: Type.Optional(Type.Union([IsoDate, Type.Null()])),
    redemptionRules: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    autoRefill: Type.Optional(
      Type.Object({ enabled: Type.Boolean(), threshold: Type.Number({ minimum: 0 }), amount: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
    ),
    lowBalanceThreshold: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const AmountBody = Type.Object({ amount: Type.Number({ minimum: 0 }) }, { additionalProperties: false });

export interface PoolsRoutesDeps {
  pools: PoolsService;
}

export const poolsRoutes: FastifyPluginAsyncTypebox<PoolsRoutesDeps> = async (app, { pools }) => {
  app.get(
    '/v1/partner/token-pools',
    authed('hmac', { summary: 'List token pools of this environment', tags: ['Token pools'], querystring: PageQuery, response: { 200: Paginated(TokenPool) } }),
    async (request) => pools.list(request.partnerAuth!, request.query.page, request.query.limit),
  );

  app.get(
    '/v1/partner/token-pools/:id',
    authed('hmac', { summary: 'Get a token pool', tags: ['Token pools'], params: PoolParams, response: { 200: TokenPool, 404: Err } }),
    async (request) => pools.get(request.partnerAuth!, request.params.id),
  );

  app.post(
    '/v1/partner/token-pools/request',
    authed('hmacSecret', {
      summary: 'Ask for more token allocation (granted by an operator)',
      tags: ['Token pools'],
      body: Type.Object(
        {
          amount: Type.Number({ minimum: 0 }),
          tokenPoolId: Type.Optional(Type.String({ maxLength: 64 })),
          reason: Type.Optional(Type.String({ maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: {
        202: Type.Object({ requestId: Type.String(), status: Type.String(), amount: Tokens, tokenPoolId: Type.Union([Type.String(), Type.Null()]), environment: EnvironmentSchema }),
        404: Err,
      },
    }),
    async (request, reply) => {
      const units = exactTokens(request.rawBody, ['amount'], 'amount');
      if (units <= 0n) throw new AppError('VALIDATION_ERROR', 'amount must be greater than 0');
      return reply.status(202).send(await pools.request(request.partnerAuth!, { units, tokenPoolId: request.body.tokenPoolId, reason: request.body.reason }));
    },
  );
};

export interface RewardsAdminDeps {
  pools: PoolsService;
  clock: PartnerClock;
  db: Kysely<Database>;
  /** Runs time-based work (expiry, campaign schedules) for one partner after its clock moved. */
  onClockAdvanced: (partnerId: string) => Promise<void>;
}

const PartnerParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const RequestView = Type.Object({
  requestId: Type.String(),
  partnerId: Type.String(),
  environment: EnvironmentSchema,
  tokenPoolId: Type.Union([Type.String(), Type.Null()]),
  amount: Tokens,
  reason: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  decidedAt: Type.Union([IsoDate, Type.Null()]),
  createdAt: IsoDate,
});

export const rewardsAdminRoutes: FastifyPluginAsyncTypebox<RewardsAdminDeps> = async (app, deps) => {
  const TAG = ['Operator'];
  app.post(
    '/v1/admin/partners/:id/token-pools',
    authed('operator', { summary: 'Create (and optionally fund) a token pool', tags: TAG, params: PartnerParams, body: CreatePoolBody, response: { 201: TokenPool, 404: Err } }),
    async (request, reply) => {
      const b = request.body;
      const raw = request.rawBody;
      const pool = await deps.pools.create(
        { partnerId: request.params.id, environment: b.environment },
        {
          name: b.name,
          ...(b.initialAmount !== undefined ? { initialUnits: exactTokens(raw, ['initialAmount'], 'initialAmount') } : {}),
          vestingDays: b.vestingDays ?? null,
          grantExpiryDays: b.grantExpiryDays ?? null,
          expiresAt: b.expiresAt ? new Date(b.expiresAt) : null,
          redemptionRules: b.redemptionRules ?? null,
          ...(b.autoRefill
            ? { autoRefill: { enabled: b.autoRefill.enabled, thresholdUnits: exactTokens(raw, ['autoRefill', 'threshold'], 'autoRefill.threshold'), amountUnits: exactTokens(raw, ['autoRefill', 'amount'], 'autoRefill.amount') } }
            : {}),
          ...(b.lowBalanceThreshold !== undefined ? { lowBalanceThresholdUnits: exactTokens(raw, ['lowBalanceThreshold'], 'lowBalanceThreshold') } : {}),
        },
      );
      return reply.status(201).send(pool);
    },
  );

  app.post(
    '/v1/admin/token-pools/:id/fund',
    authed('operator', { summary: 'Add tokens to a pool', tags: TAG, params: PoolParams, body: AmountBody, response: { 200: TokenPool, 404: Err } }),
    async (request) => deps.pools.fund(request.params.id, exactTokens(request.rawBody, ['amount'], 'amount')),
  );

  app.post(
    '/v1/admin/token-pools/:id/approve',
    authed('operator', { summary: 'Approve a production pool', tags: TAG, params: PoolParams, response: { 200: TokenPool, 404: Err, 409: Err } }),
    async (request) => deps.pools.approve(request.params.id),
  );

  app.post(
    '/v1/admin/partners/:id/allocation',
    authed('operator', {
      summary: "Add to a partner's token allocation (what auto-refill draws on)",
      tags: TAG,
      params: PartnerParams,
      body: Type.Object({ environment: EnvironmentSchema, amount: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ environment: EnvironmentSchema, allocation: Tokens }), 404: Err },
    }),
    async (request) => deps.pools.allocate({ partnerId: request.params.id, environment: request.body.environment }, exactTokens(request.rawBody, ['amount'], 'amount')),
  );

  app.get(
    '/v1/admin/token-pool-requests',
    authed('operator', {
      summary: 'Allocation requests',
      tags: TAG,
      querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('PENDING'), Type.Literal('APPROVED'), Type.Literal('DECLINED')])) }, { additionalProperties: false }),
      response: { 200: Type.Array(RequestView) },
    }),
    async (request) => deps.pools.listRequests(request.query.status),
  );

  for (const decision of ['approve', 'decline'] as const) {
    app.post(
      `/v1/admin/token-pool-requests/:id/${decision}`,
      {
        // The note is optional, and so is the whole body.
        preValidation: absentBodyIsEmpty,
        ...authed('operator', {
          summary: `${decision === 'approve' ? 'Approve' : 'Decline'} an allocation request`,
          tags: TAG,
          params: PoolParams,
          body: Type.Optional(Type.Object({ note: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false })),
          response: { 200: RequestView, 404: Err, 409: Err },
        }),
      },
      async (request) => deps.pools.decideRequest(request.params.id, decision === 'approve', request.body?.note ?? null),
    );
  }

  app.post(
    '/v1/admin/partners/:id/sandbox-clock/advance',
    authed('operator', {
      summary: "Move a partner's sandbox clock forward (vesting, expiry, schedules); production is never affected",
      tags: TAG,
      params: PartnerParams,
      body: Type.Object({ seconds: Type.Integer({ minimum: 1, maximum: 10 * 365 * 86400 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ sandboxNow: IsoDate }), 404: Err },
    }),
    async (request) => {
      const sandboxNow = await deps.clock.advance(request.params.id, request.body.seconds * 1000);
      await deps.onClockAdvanced(request.params.id);
      return { sandboxNow: sandboxNow.toISOString() };
    },
  );

  app.get(
    '/v1/admin/ledger/check',
    authed('operator', {
      summary: 'Recompute every balance from postings and report drift',
      tags: TAG,
      response: {
        200: Type.Object({
          ok: Type.Boolean(),
          accounts: Type.Integer(),
          transactions: Type.Integer(),
          postings: Type.Integer(),
          drift: Type.Array(Type.Object({ accountId: Type.String(), stored: Type.String(), computed: Type.String() })),
          unbalanced: Type.Array(Type.Object({ transactionId: Type.String(), asset: Type.String(), off: Type.String() })),
          orphans: Type.Array(Type.Object({ postingId: Type.String(), transactionId: Type.String(), accountId: Type.String() })),
        }),
      },
    }),
    async () => checkLedger(deps.db),
  );
};
