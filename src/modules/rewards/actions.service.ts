import type { Kysely } from 'kysely';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { GroupCommit } from '../../platform/db/group-commit.js';
import { minorToJsonNumber } from '../../platform/money/decimal.js';
import { currencyDigits } from '../../platform/money/currencies.js';
import { formatMultiplier, formatTokens } from './distribution.js';
import { SubmitBatches, type SubmitOutcome } from './actions.batch.js';
import { keyTaken } from './actions.batch.repo.js';
import { applyPerUserCap, campaignRule, judge, planReward, TIER_DIGITS } from './actions.engine.js';
import { normalizeSubmit, type NormalizedAction } from './actions.input.js';
import { actionsRepo, type ActionRow, type Scope } from './actions.repo.js';
import type { ListActionsQueryType, SubmitActionBodyType, SubmitResultType } from './actions.schemas.js';
import { campaignForAction } from './campaign-pick.js';
import { campaignsRepo } from './campaigns.repo.js';
import { usersRepo } from '../users/users.repo.js';
import type { PartnerClock } from './partner-clock.js';
import { poolsRepo } from './pools.repo.js';

const RETRYABLE_PG = new Set(['40001', '40P01']);

interface ResultSource {
  id: string;
  idempotency_key: string;
  status: string;
  tokens_distributed: bigint | string | number;
  stakeholders: unknown;
}

function stakeholdersOf(row: { stakeholders: unknown }): StoredStakeholder[] {
  return row.stakeholders as StoredStakeholder[];
}

export function submitResult(row: ResultSource): SubmitResultType {
  return {
    actionId: row.id,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    tokensDistributed: formatTokens(BigInt(row.tokens_distributed)),
    transactionIds: stakeholdersOf(row).flatMap((s) => (s.transactionId ? [s.transactionId] : [])),
  };
}

export function toAction(row: ActionRow) {
  const digits = currencyDigits(row.currency) ?? 2;
  const stakeholders = stakeholdersOf(row);
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    actionType: row.action_type,
    amount: minorToJsonNumber(BigInt(row.amount_minor), digits),
    currency: row.currency,
    status: row.status,
    campaignId: row.campaign_id,
    tokenPoolId: row.token_pool_id,
    tokensDistributed: formatTokens(BigInt(row.tokens_distributed)),
    tokensReversed: formatTokens(BigInt(row.tokens_reversed)),
    stakeholders: stakeholders.map((s) => ({
      stakeholderTypeCode: s.stakeholderTypeCode,
      partnerUserId: s.partnerUserId,
      tokens: formatTokens(BigInt(s.units)),
      transactionId: s.transactionId,
    })),
    transactionIds: stakeholders.flatMap((s) => (s.transactionId ? [s.transactionId] : [])),
    metadata: row.metadata,
    failureReason: row.failure_message,
    failureCode: row.failure_code,
    reversedAt: row.reversed_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Reward actions: submission through group commit, quotes, reads. Submission is synchronous for the
 * caller: the response comes after the batch holding its action has committed.
 */
export class ActionsService {
  private readonly batches: GroupCommit<NormalizedAction, SubmitOutcome>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: PartnerClock,
    private readonly assertStakeholderTypes: (partnerId: string, codes: string[]) => Promise<void>,
    options: { maxBatch?: number; batchesInFlight?: number } = {},
  ) {
    const submitBatches = new SubmitBatches(db);
    this.batches = new GroupCommit(
      async (key, items) => {
        const [partnerId, environment] = key.split('|') as [string, 'sandbox' | 'production'];
        const now = await this.clock.now(partnerId, environment);
        return submitBatches.run({ partnerId, environment }, items, now);
      },
      {
        maxBatch: options.maxBatch ?? 200,
        maxInFlight: options.batchesInFlight ?? 1,
        // A second batch of a partner starts only once this many requests wait for it: a batch costs
        // PostgreSQL about a millisecond whatever its size, and two small overlapping batches spent
        // more than they saved (bench:actions with two in flight, own SQL path, 10 s runs: 4,815
        // actions/s starting at 16 waiting, 4,931 at 24).
        overlapAt: 24,
        maxAttempts: 5,
        // A key recorded by another process between the locked read and the write: run it again.
        retryable: (err) => RETRYABLE_PG.has((err as { code?: string }).code ?? '') || keyTaken(err),
      },
    );
  }

  private async validate(scope: Scope, body: SubmitActionBodyType, rawBody: Buffer | undefined) {
    const action = normalizeSubmit(body, rawBody);
    await this.assertStakeholderTypes(scope.partnerId, action.stakeholders.map((s) => s.stakeholderTypeCode));
    return action;
  }

  async submit(scope: Scope, body: SubmitActionBodyType, rawBody: Buffer | undefined): Promise<SubmitResultType> {
    const action = await this.validate(scope, body, rawBody);
    const outcome = await this.batches.submit(`${scope.partnerId}|${scope.environment}`, action);
    switch (outcome.kind) {
      case 'rejected':
        throw outcome.error;
      case 'duplicate': {
        if (!outcome.sameRequest) {
          throw new AppError(
            'IDEMPOTENCY_KEY_REUSED',
            `idempotencyKey "${action.idempotencyKey}" was already used for a different request; use a new key for a new event`,
          );
        }
        const original = submitResult(outcome.original);
        throw new AppError('IDEMPOTENT', 'This idempotencyKey was already processed; the original result is returned', { extra: original });
      }
      case 'recorded': {
        const result = submitResult(outcome.row);
        if (outcome.row.status === 'FAILED') {
          throw new AppError(outcome.row.failure_code!, outcome.row.failure_message!, {
            extra: { actionId: result.actionId, idempotencyKey: result.idempotencyKey, status: 'FAILED' },
          });
        }
        return result;
      }
    }
  }

  /** What a submit would do now, from a snapshot, writing nothing. */
  async quote(scope: Scope, body: SubmitActionBodyType, rawBody: Buffer | undefined) {
    const action = await this.validate(scope, body, rawBody);
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const users = new Map((await usersRepo.findMany(this.db, scope, action.stakeholders.map((s) => s.partnerUserId))).map((u) => [u.external_user_id, u.id]));
    const missing = action.stakeholders.filter((s) => !users.has(s.partnerUserId));
    if (missing.length > 0 && !action.autoCreateUsers) {
      throw new AppError('USER_NOT_FOUND', `Unknown user(s) ${missing.map((m) => `"${m.partnerUserId}"`).join(', ')}; create them first or send "autoCreateUsers": true`);
    }
    const candidates = await campaignsRepo.applicable(this.db, scope, action.campaignId ? [action.campaignId] : []);
    const pick = campaignForAction(action, new Map(candidates.map((c) => [c.id, c])), candidates, now);
    if (!pick.ok) throw pick.error;
    const rule = pick.campaign ? campaignRule(pick.campaign) : null;
    const poolId = pick.campaign?.token_pool_id ?? (await poolsRepo.defaultPoolId(this.db, scope.partnerId, scope.environment, now)) ?? null;
    const pool = poolId ? await poolsRepo.find(this.db, poolId) : undefined;
    const spent = new Map<string, bigint>();
    if (rule?.perUserCap !== null && rule) {
      for (const r of await actionsRepo.userSpend(this.db, [rule.id], [...users.values()])) spent.set(r.user_id, BigInt(r.spent));
    }
    const plan = applyPerUserCap(planReward(action, rule), rule, (ext) => users.get(ext), spent);
    const poolState = pool ? { id: pool.id, accountId: pool.account_id, status: pool.status, expiresAt: pool.expires_at, balance: BigInt(pool.balance) } : null;
    const verdict = judge(plan, rule, poolState, now);
    const tier = plan.tier;
    return {
      status: verdict.ok ? 'COMPLETED' : 'FAILED',
      failureCode: verdict.ok ? null : verdict.code,
      failureReason: verdict.ok ? null : verdict.message,
      campaignId: rule?.id ?? null,
      tier: tier
        ? {
            minAmount: minorToJsonNumber(tier.minAmountMinor, TIER_DIGITS),
            maxAmount: tier.maxAmountMinor === null ? null : minorToJsonNumber(tier.maxAmountMinor, TIER_DIGITS),
            multiplier: formatMultiplier(tier.multiplierBp),
          }
        : null,
      multiplier: formatMultiplier(plan.multiplierBp),
      tokenPoolId: poolState?.id ?? null,
      tokensDistributed: verdict.ok ? formatTokens(plan.distributedUnits) : 0,
      tokensUndistributed: formatTokens(plan.undistributedUnits),
      stakeholders: plan.allocations.map((a) => ({ stakeholderTypeCode: a.stakeholderTypeCode, partnerUserId: a.partnerUserId, tokens: formatTokens(a.units) })),
      poolBalanceBefore: poolState ? formatTokens(poolState.balance) : null,
      poolBalanceAfter: poolState ? formatTokens(verdict.ok ? poolState.balance - plan.distributedUnits : poolState.balance) : null,
    };
  }

  async get(scope: Scope, id: string) {
    const row = await actionsRepo.find(this.db, scope, id);
    if (!row) throw notFound(`Action ${id}`);
    return toAction(row);
  }

  async list(scope: Scope, q: ListActionsQueryType) {
    const { rows, total } = await actionsRepo.list(this.db, scope, q, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map(toAction), page: q.page, limit: q.limit, total };
  }

  /** The most submission batches of one partner this process had in flight at once. */
  get peakBatchesInFlight(): number {
    return this.batches.peakInFlight;
  }

  close() {
    return this.batches.close();
  }
}
