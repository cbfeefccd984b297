import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newEvent, writeEvents, type OutboxEvent } from '../../platform/outbox/outbox.js';
import { accountIds, postTransactions, TOKEN_ASSET } from '../ledger/index.js';
import { usersRepo } from '../users/users.repo.js';
import type { Scope } from './actions.repo.js';
import type { ListTransactionsQueryType, RedeemBodyType } from './actions.schemas.js';
import { exactTokens } from './actions.input.js';
import { formatTokens } from './distribution.js';
import type { PartnerClock } from './partner-clock.js';
import { ensurePartnerAccounts } from './pools.balance.js';
import { walletsRepo, type Grant, type TokenTxRow } from './wallets.repo.js';

type Trx = Transaction<Database>;

export function toTokenTransaction(row: TokenTxRow, now: Date) {
  const vesting = row.type === 'CREDIT' && row.status === 'COMPLETED' && row.available_at !== null && row.available_at.getTime() > now.getTime();
  return {
    id: row.id,
    actionId: row.action_id,
    externalUserId: row.external_user_id,
    stakeholderTypeCode: row.stakeholder_type_code,
    type: row.type,
    amount: formatTokens(BigInt(row.amount)),
    status: vesting ? 'PENDING' : row.status,
    tokenPoolId: row.token_pool_id,
    campaignId: row.campaign_id,
    availableAt: row.available_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

const isLive = (g: Grant, now: Date) => g.expires_at === null || g.expires_at.getTime() > now.getTime();

/**
 * Moves every expired, unspent grant of these users out of their wallets into the partner's
 * EXPIRED account, one ledger transaction per user, inside the caller's transaction. Everything
 * that reads or spends a wallet calls this first, so an expired token is never spent.
 */
export async function sweepExpired(trx: Trx, scope: Scope, userIds: string[], now: Date, events: OutboxEvent[]): Promise<Grant[]> {
  const grants = await walletsRepo.lockGrants(trx, userIds);
  const expired = grants.filter((g) => !isLive(g, now));
  if (expired.length === 0) return grants;
  await ensurePartnerAccounts(trx, scope);
  const byUser = new Map<string, bigint>();
  for (const g of expired) byUser.set(g.user_id, (byUser.get(g.user_id) ?? 0n) + g.remaining);
  const externalIds = new Map<string, string>();
  for (const uid of byUser.keys()) {
    const u = await trx.selectFrom('partner_users').select('external_user_id').where('id', '=', uid).executeTakeFirstOrThrow();
    externalIds.set(uid, u.external_user_id);
  }
  const txs = [...byUser].map(([uid, units]) => ({
    id: objectId(now),
    partnerId: scope.partnerId,
    environment: scope.environment,
    kind: 'EXPIRY',
    reference: uid,
    createdAt: now,
    postings: [
      { accountId: accountIds.wallet(uid), asset: TOKEN_ASSET, amount: -units },
      { accountId: accountIds.expired(scope.partnerId, scope.environment, TOKEN_ASSET), asset: TOKEN_ASSET, amount: units },
    ],
  }));
  await postTransactions(trx, txs);
  await walletsRepo.setRemaining(trx, expired.map((g) => ({ id: g.id, remaining: 0n })));
  const rows = txs.map((tx) => ({
    id: objectId(now),
    user_id: tx.reference,
    external_user_id: externalIds.get(tx.reference)!,
    action_id: null,
    stakeholder_type_code: null,
    type: 'EXPIRY' as const,
    amount: byUser.get(tx.reference)!,
    token_pool_id: null,
    campaign_id: null,
    ledger_transaction_id: tx.id,
    idempotency_key: null,
    reason: 'expired',
    created_at: now,
  }));
  await walletsRepo.insertMovements(trx, scope, rows);
  for (const r of rows) {
    events.push(newEvent(scope.partnerId, scope.environment, 'transaction.completed', {
      transactionId: r.id, actionId: null, externalUserId: r.external_user_id, amount: formatTokens(r.amount), type: 'EXPIRY',
    }, now));
  }
  return grants.filter((g) => isLive(g, now));
}

export class WalletsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: PartnerClock,
  ) {}

  private async user(scope: Scope, externalId: string) {
    const u = await usersRepo.find(this.db, scope, externalId);
    if (!u) throw notFound(`User "${externalId}"`);
    return u;
  }

  async balance(scope: Scope, externalId: string) {
    const u = await this.user(scope, externalId);
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const b = await walletsRepo.balances(this.db, u.id, now);
    return {
      externalUserId: externalId,
      balance: formatTokens(b.available),
      pendingBalance: formatTokens(b.pending),
      lifetimeEarned: formatTokens(b.earned),
      expiringSoon: formatTokens(b.expiring),
      currency: 'SIR' as const,
    };
  }

  async transactions(scope: Scope, q: ListTransactionsQueryType & { externalId?: string }) {
    const externalId = q.externalId ?? q.externalUserId;
    let userId: string | undefined;
    if (externalId) {
      const u = await usersRepo.find(this.db, scope, externalId);
      if (!u) {
        if (q.externalId) throw notFound(`User "${externalId}"`);
        return { data: [], page: q.page, limit: q.limit, total: 0 };
      }
      userId = u.id;
    }
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const { rows, total } = await walletsRepo.list(this.db, scope, { ...(userId ? { userId } : {}), actionId: q.actionId, from: q.from, to: q.to }, (q.page - 1) * q.limit, q.limit);
    return { data: rows.map((r) => toTokenTransaction(r, now)), page: q.page, limit: q.limit, total };
  }

  async transaction(scope: Scope, id: string) {
    const row = await walletsRepo.find(this.db, scope, id);
    if (!row) throw notFound(`Transaction ${id}`);
    return toTokenTransaction(row, await this.clock.now(scope.partnerId, scope.environment));
  }

  /** Spends available (vested, unexpired) tokens, oldest grant first. */
  async redeem(scope: Scope, externalId: string, body: RedeemBodyType, rawBody: Buffer | undefined) {
    const units = exactTokens(rawBody, ['amount'], 'amount');
    if (units <= 0n) throw new AppError('VALIDATION_ERROR', 'amount must be greater than 0');
    const u = await this.user(scope, externalId);
    const hash = createHash('sha256').update(JSON.stringify([u.id, units.toString()])).digest('hex');
    const now = await this.clock.now(scope.partnerId, scope.environment);
    const previous = await walletsRepo.findRedemption(this.db, scope, body.idempotencyKey);
    const replay = (row: TokenTxRow) => {
      if (row.request_hash !== hash) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', `idempotencyKey "${body.idempotencyKey}" was already used for a different redemption`);
      }
      throw new AppError('IDEMPOTENT', 'This redemption was already processed; the original result is returned', {
        extra: { transactionId: row.id, externalUserId: externalId, amount: formatTokens(BigInt(row.amount)) },
      });
    };
    if (previous) replay(previous);
    const result = await this.db.transaction().execute(async (trx) => {
      const events: OutboxEvent[] = [];
      const live = await sweepExpired(trx, scope, [u.id], now, events);
      // Look again under the grant locks: a concurrent copy of this request may have committed while
      // we waited for them. Without this, that copy's spending makes this one answer
      // INSUFFICIENT_USER_BALANCE, telling a retrying client its redemption failed when it succeeded.
      const raced = await walletsRepo.findRedemption(trx, scope, body.idempotencyKey);
      if (raced) replay(raced);
      const spendable = live.filter((g) => g.available_at === null || g.available_at.getTime() <= now.getTime()).sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
      const available = spendable.reduce((s, g) => s + g.remaining, 0n);
      if (available < units) {
        throw new AppError('INSUFFICIENT_USER_BALANCE', `User "${externalId}" has ${formatTokens(available)} tokens available, less than ${formatTokens(units)}`);
      }
      let left = units;
      const updates: { id: string; remaining: bigint }[] = [];
      for (const g of spendable) {
        if (left === 0n) break;
        const take = g.remaining < left ? g.remaining : left;
        updates.push({ id: g.id, remaining: g.remaining - take });
        left -= take;
      }
      await ensurePartnerAccounts(trx, scope);
      const txId = objectId(now);
      await postTransactions(trx, [{
        id: txId, partnerId: scope.partnerId, environment: scope.environment, kind: 'REDEMPTION', reference: u.id, createdAt: now,
        postings: [
          { accountId: accountIds.wallet(u.id), asset: TOKEN_ASSET, amount: -units },
          { accountId: accountIds.redemption(scope.partnerId, scope.environment, TOKEN_ASSET), asset: TOKEN_ASSET, amount: units },
        ],
      }]);
      await walletsRepo.setRemaining(trx, updates);
      const id = objectId(now);
      await walletsRepo.insertMovements(trx, scope, [{
        id, user_id: u.id, external_user_id: externalId, action_id: null, stakeholder_type_code: null, type: 'REDEMPTION', amount: units,
        token_pool_id: null, campaign_id: null, ledger_transaction_id: txId, idempotency_key: body.idempotencyKey,
        request_hash: hash, reason: body.reason ?? null, created_at: now,
      }]);
      events.push(newEvent(scope.partnerId, scope.environment, 'transaction.completed', {
        transactionId: id, actionId: null, externalUserId: externalId, amount: formatTokens(units), type: 'REDEMPTION',
      }, now));
      await writeEvents(trx, events);
      return { transactionId: id, externalUserId: externalId, amount: formatTokens(units) };
    }).catch(async (err: unknown) => {
      // Two redemptions racing with one key: the unique index picks the winner; the loser replays it.
      if ((err as { code?: string }).code === '23505') {
        const row = await walletsRepo.findRedemption(this.db, scope, body.idempotencyKey);
        if (row) replay(row);
      }
      throw err;
    });
    return { ...result, balance: (await this.balance(scope, externalId)).balance };
  }

  /** Background work: expire what is due for one partner environment, in small transactions. */
  async sweepPartner(scope: Scope, batch = 100): Promise<number> {
    const now = await this.clock.now(scope.partnerId, scope.environment);
    let total = 0;
    for (;;) {
      const users = await walletsRepo.usersWithExpired(this.db, scope, now, batch);
      if (users.length === 0) return total;
      await this.db.transaction().execute(async (trx) => {
        const events: OutboxEvent[] = [];
        await sweepExpired(trx, scope, users, now, events);
        await writeEvents(trx, events);
      });
      total += users.length;
    }
  }
}

