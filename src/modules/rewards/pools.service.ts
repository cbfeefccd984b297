import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, Environment, TokenPoolRequestsTable } from '../../platform/db/schema.js';
import { objectId, prefixedId } from '../../platform/crypto/ids.js';
import { AppError, notFound } from '../../platform/errors.js';
import { writeEvents, type OutboxEvent } from '../../platform/outbox/outbox.js';
import { accountIds, ledgerRepo, postTransactions, TOKEN_ASSET } from '../ledger/index.js';
import { formatTokens } from './distribution.js';
import type { PartnerClock } from './partner-clock.js';
import { afterPoolBalanceChange, ensurePartnerAccounts, fundingTx } from './pools.balance.js';
import { poolsRepo, type PoolWithBalance } from './pools.repo.js';

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export interface CreatePoolInput {
  name: string;
  initialUnits?: bigint;
  vestingDays?: number | null;
  grantExpiryDays?: number | null;
  expiresAt?: Date | null;
  redemptionRules?: unknown;
  autoRefill?: { enabled: boolean; thresholdUnits: bigint; amountUnits: bigint };
  lowBalanceThresholdUnits?: bigint;
}

export function toPool(p: PoolWithBalance) {
  return {
    id: p.id,
    environment: p.environment,
    name: p.name,
    balance: formatTokens(BigInt(p.balance)),
    allocated: formatTokens(BigInt(p.credits_total)),
    distributed: formatTokens(BigInt(p.debits_total)),
    status: p.status,
    restrictions: {
      vestingDays: p.vesting_days,
      grantExpiryDays: p.grant_expiry_days,
      expiresAt: p.expires_at?.toISOString() ?? null,
      redemptionRules: (p.redemption_rules as Record<string, unknown> | null) ?? null,
    },
    autoRefill: {
      enabled: p.auto_refill_enabled,
      threshold: formatTokens(BigInt(p.auto_refill_threshold)),
      amount: formatTokens(BigInt(p.auto_refill_amount)),
    },
    lowBalanceThreshold: formatTokens(BigInt(p.low_balance_threshold)),
    createdAt: p.created_at.toISOString(),
  };
}
export type PoolJson = ReturnType<typeof toPool>;

type Trx = Transaction<Database>;

function toRequestView(r: Selectable<TokenPoolRequestsTable>) {
  return {
    requestId: r.id,
    partnerId: r.partner_id,
    environment: r.environment,
    tokenPoolId: r.token_pool_id,
    amount: formatTokens(BigInt(r.amount)),
    reason: r.reason,
    status: r.status,
    decidedAt: r.decided_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

export class PoolsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: PartnerClock,
  ) {}

  /** An unknown partner id is a 404, not a foreign-key violation (500) when its accounts are written. */
  private async assertPartner(partnerId: string) {
    const row = await this.db.selectFrom('partners').select('id').where('id', '=', partnerId).executeTakeFirst();
    if (!row) throw notFound('Partner');
  }

  async create(scope: Scope, input: CreatePoolInput) {
    await this.assertPartner(scope.partnerId);
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const id = objectId(now);
    const accountId = accountIds.pool(id);
    return this.db.transaction().execute(async (trx) => {
      await ensurePartnerAccounts(trx, scope);
      await ledgerRepo.ensureAccounts(trx, [
        { id: accountId, partnerId: scope.partnerId, environment: scope.environment, kind: 'POOL', asset: TOKEN_ASSET },
      ]);
      await poolsRepo.insert(trx, {
        id,
        partner_id: scope.partnerId,
        environment: scope.environment,
        name: input.name,
        // Sandbox pools are usable at once; production pools wait for an operator's approval.
        status: scope.environment === 'sandbox' ? 'ACTIVE' : 'PENDING_APPROVAL',
        account_id: accountId,
        vesting_days: input.vestingDays ?? null,
        grant_expiry_days: input.grantExpiryDays ?? null,
        expires_at: input.expiresAt ?? null,
        redemption_rules: (input.redemptionRules ?? null) as never,
        auto_refill_enabled: input.autoRefill?.enabled ?? false,
        auto_refill_threshold: input.autoRefill?.thresholdUnits ?? 0n,
        auto_refill_amount: input.autoRefill?.amountUnits ?? 0n,
        low_balance_threshold: input.lowBalanceThresholdUnits ?? 0n,
        created_at: now,
        updated_at: now,
      });
      if (input.initialUnits && input.initialUnits > 0n) await this.fundIn(trx, id, input.initialUnits, 'issuance', now);
      return toPool((await poolsRepo.find(trx, id))!);
    });
  }

  private async fundIn(trx: Trx, poolId: string, units: bigint, source: 'issuance' | 'allocation', now: Date) {
    const pool = await poolsRepo.lockForUpdate(trx, poolId);
    if (!pool) throw notFound('Token pool');
    const scope = { partnerId: pool.partner_id, environment: pool.environment };
    const from =
      source === 'issuance'
        ? accountIds.issuance(pool.partner_id, pool.environment, TOKEN_ASSET)
        : accountIds.allocation(pool.partner_id, pool.environment, TOKEN_ASSET);
    const balances = await postTransactions(trx, [fundingTx(scope, 'FUNDING', from, pool.account_id, units, pool.id, now)]);
    const events: OutboxEvent[] = [];
    await afterPoolBalanceChange(trx, pool, balances.get(pool.account_id)!, now, events);
    await writeEvents(trx, events);
  }

  async fund(poolId: string, units: bigint) {
    // A zero posting is refused by the ledger as an internal error; say so as a 400 instead.
    if (units <= 0n) throw new AppError('VALIDATION_ERROR', 'amount must be greater than 0');
    const found = await poolsRepo.find(this.db, poolId);
    if (!found) throw notFound('Token pool');
    const now = await this.clock.now(found.partner_id, found.environment);
    await this.db.transaction().execute((trx) => this.fundIn(trx, poolId, units, 'issuance', now));
    return toPool((await poolsRepo.find(this.db, poolId))!);
  }

  async approve(poolId: string) {
    const found = await poolsRepo.find(this.db, poolId);
    if (!found) throw notFound('Token pool');
    if (found.status !== 'PENDING_APPROVAL') throw new AppError('INVALID_STATE', `Pool is ${found.status}, not awaiting approval`);
    await poolsRepo.update(this.db, poolId, { status: BigInt(found.balance) > 0n ? 'ACTIVE' : 'DEPLETED', updated_at: new Date() });
    return toPool((await poolsRepo.find(this.db, poolId))!);
  }

  async allocate(scope: Scope, units: bigint) {
    if (units <= 0n) throw new AppError('VALIDATION_ERROR', 'amount must be greater than 0');
    await this.assertPartner(scope.partnerId);
    const now = await this.clock.now(scope.partnerId, scope.environment);
    await this.db.transaction().execute(async (trx) => {
      await ensurePartnerAccounts(trx, scope);
      await postTransactions(trx, [
        fundingTx(scope, 'ALLOCATION', accountIds.issuance(scope.partnerId, scope.environment, TOKEN_ASSET),
          accountIds.allocation(scope.partnerId, scope.environment, TOKEN_ASSET), units, scope.partnerId, now),
      ]);
    });
    const [acc] = await ledgerRepo.accounts(this.db, [accountIds.allocation(scope.partnerId, scope.environment, TOKEN_ASSET)]);
    return { environment: scope.environment, allocation: formatTokens(BigInt(acc?.balance ?? 0)) };
  }

  async list(scope: Scope, page: number, limit: number) {
    const rows = await poolsRepo.list(this.db, scope, (page - 1) * limit, limit);
    const total = rows.length > 0 ? Number(rows[0]!.total_count) : await poolsRepo.count(this.db, scope);
    return { data: rows.map(toPool), page, limit, total };
  }

  async get(scope: Scope, id: string) {
    const row = await poolsRepo.find(this.db, id, scope);
    if (!row) throw notFound('Token pool');
    return toPool(row);
  }

  async request(scope: Scope, body: { units: bigint; tokenPoolId?: string | undefined; reason?: string | undefined }) {
    if (body.tokenPoolId && !(await poolsRepo.find(this.db, body.tokenPoolId, scope))) throw notFound('Token pool');
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const row = await poolsRepo.insertRequest(this.db, {
      id: prefixedId('tpr'),
      partner_id: scope.partnerId,
      environment: scope.environment,
      token_pool_id: body.tokenPoolId ?? null,
      amount: body.units,
      reason: body.reason ?? null,
      created_at: now,
    });
    return { requestId: row.id, status: row.status, amount: formatTokens(BigInt(row.amount)), tokenPoolId: row.token_pool_id, environment: row.environment };
  }

  async listRequests(status?: 'PENDING' | 'APPROVED' | 'DECLINED') {
    return (await poolsRepo.listRequests(this.db, status)).map(toRequestView);
  }

  /** Approving funds the named pool, or else adds to the partner's allocation (which auto-refill draws on). */
  async decideRequest(id: string, approve: boolean, note: string | null) {
    const req = await poolsRepo.findRequest(this.db, id);
    if (!req) throw notFound('Allocation request');
    const scope = { partnerId: req.partner_id, environment: req.environment };
    const now = await this.clock.now(scope.partnerId, scope.environment);
    await this.db.transaction().execute(async (trx) => {
      const decided = await poolsRepo.decideRequest(trx, id, approve ? 'APPROVED' : 'DECLINED', now, note);
      if (!decided) throw new AppError('INVALID_STATE', `Request ${id} was already ${req.status.toLowerCase()}`);
      if (!approve) return;
      const units = BigInt(req.amount);
      if (req.token_pool_id) {
        await ensurePartnerAccounts(trx, scope);
        await this.fundIn(trx, req.token_pool_id, units, 'issuance', now);
      } else {
        await ensurePartnerAccounts(trx, scope);
        await postTransactions(trx, [
          fundingTx(scope, 'ALLOCATION', accountIds.issuance(scope.partnerId, scope.environment, TOKEN_ASSET),
            accountIds.allocation(scope.partnerId, scope.environment, TOKEN_ASSET), units, id, now),
        ]);
      }
    });
    // Read back by id: finding it in listRequests() (the oldest 500 of all partners) answered 200 with an
    // empty body once a request was not among them.
    return toRequestView((await poolsRepo.findRequest(this.db, id))!);
  }
}
