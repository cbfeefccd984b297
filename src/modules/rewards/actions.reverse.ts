import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newEvent, writeEvents, type OutboxEvent } from '../../platform/outbox/outbox.js';
import { accountIds, postTransactions, TOKEN_ASSET } from '../ledger/index.js';
import { exactTokens } from './actions.input.js';
import type { ActionRow, Scope } from './actions.repo.js';
import type { ReverseBodyType } from './actions.schemas.js';
import { toAction } from './actions.service.js';
import { formatTokens, splitLargestRemainder } from './distribution.js';
import type { PartnerClock } from './partner-clock.js';
import { poolsRepo } from './pools.repo.js';
import { afterPoolBalanceChange } from './pools.balance.js';
import { sweepExpired } from './wallets.service.js';
import { walletsRepo } from './wallets.repo.js';

/**
 * Reversing (part of) an action, e.g. after a refund: tokens go back from the users' wallets to the
 * pool as a new ledger transaction. A user who has already spent or lost part of the reward blocks
 * the reversal with 409 INSUFFICIENT_USER_BALANCE, unless `force` takes what is there and records
 * the shortfall.
 */
export class ReversalsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: PartnerClock,
  ) {}

  async reverse(scope: Scope, actionId: string, body: ReverseBodyType, rawBody: Buffer | undefined) {
    const requested = body.amount === undefined ? null : exactTokens(rawBody, ['amount'], 'amount');
    if (requested !== null && requested <= 0n) throw new AppError('VALIDATION_ERROR', 'amount must be greater than 0');
    const hash = createHash('sha256')
      .update(JSON.stringify([requested?.toString() ?? 'all', body.force ?? false, body.reason ?? null]))
      .digest('hex');
    const now = await this.clock.now(scope.partnerId, scope.environment);

    const outcome = await this.db.transaction().execute(async (trx) => {
      const lockedRows = await sql<ActionRow>`
        SELECT * FROM actions WHERE id = ${actionId} AND partner_id = ${scope.partnerId} AND environment = ${scope.environment} FOR UPDATE`.execute(trx);
      const action = lockedRows.rows[0];
      if (!action) throw notFound(`Action ${actionId}`);

      if (body.idempotencyKey) {
        const prior = await trx.selectFrom('action_reversals').selectAll().where('action_id', '=', actionId).where('idempotency_key', '=', body.idempotencyKey).executeTakeFirst();
        if (prior) {
          if (prior.request_hash !== hash) {
            throw new AppError('IDEMPOTENCY_KEY_REUSED', `idempotencyKey "${body.idempotencyKey}" was already used for a different reversal of this action`);
          }
          return { replay: prior.id };
        }
      }
      if (action.status === 'FAILED') throw new AppError('ACTION_NOT_REVERSIBLE', 'A failed action distributed nothing and cannot be reversed');
      if (action.status === 'REVERSED') throw new AppError('ACTION_NOT_REVERSIBLE', 'This action is already fully reversed');
      const distributed = BigInt(action.tokens_distributed);
      const reversible = distributed - BigInt(action.tokens_reversed);
      if (reversible <= 0n) throw new AppError('ACTION_NOT_REVERSIBLE', 'This action has nothing left to reverse');
      const units = requested ?? reversible;
      if (units > reversible) {
        throw new AppError('VALIDATION_ERROR', `amount ${formatTokens(units)} is more than the ${formatTokens(reversible)} tokens left to reverse on this action`, {
          details: [{ path: 'body.amount', message: `at most ${formatTokens(reversible)}` }],
        });
      }

      // Each stakeholder gives back in proportion to what they received.
      const holders = (action.stakeholders as StoredStakeholder[]).filter((s) => BigInt(s.units) > 0n && s.userId);
      const shares = splitLargestRemainder(units, holders.map((h) => BigInt(h.units)));
      const events: OutboxEvent[] = [];
      const userIds = [...new Set(holders.map((h) => h.userId!))];
      // Same lock order as submission (campaign, pool, then wallets), so the two cannot deadlock.
      if (action.campaign_id) await sql`SELECT id FROM campaigns WHERE id = ${action.campaign_id} FOR UPDATE`.execute(trx);
      const pool = action.token_pool_id ? await poolsRepo.lockForUpdate(trx, action.token_pool_id) : undefined;
      const live = await sweepExpired(trx, scope, userIds, now, events);

      const updates: { id: string; remaining: bigint; reversed?: boolean }[] = [];
      const taken: { holder: StoredStakeholder; units: bigint }[] = [];
      let shortfall = 0n;
      holders.forEach((h, i) => {
        const need = shares[i]!;
        if (need === 0n) return;
        // This action's own grant first, then the user's newest grants.
        const grants = live
          .filter((g) => g.user_id === h.userId)
          .sort((a, b) => (a.id === h.transactionId ? -1 : b.id === h.transactionId ? 1 : b.created_at.getTime() - a.created_at.getTime()));
        const held = grants.reduce((s, g) => s + g.remaining, 0n);
        if (held < need && !body.force) {
          throw new AppError(
            'INSUFFICIENT_USER_BALANCE',
            `User "${h.partnerUserId}" holds ${formatTokens(held)} tokens but ${formatTokens(need)} would be reversed; send "force": true to take what is there and record the shortfall`,
          );
        }
        let left = need < held ? need : held;
        shortfall += need - left;
        taken.push({ holder: h, units: left });
        for (const g of grants) {
          if (left === 0n) break;
          const take = g.remaining < left ? g.remaining : left;
          g.remaining -= take;
          left -= take;
          updates.push({ id: g.id, remaining: g.remaining });
        }
      });

      const recovered = taken.reduce((s, t) => s + t.units, 0n);
      const ledgerTxId = recovered > 0n ? objectId(now) : null;
      const movements = taken.filter((t) => t.units > 0n).map((t) => ({
        id: objectId(now),
        user_id: t.holder.userId!,
        external_user_id: t.holder.partnerUserId,
        action_id: action.id,
        stakeholder_type_code: t.holder.stakeholderTypeCode,
        type: 'REVERSAL' as const,
        amount: t.units,
        token_pool_id: action.token_pool_id,
        campaign_id: action.campaign_id,
        ledger_transaction_id: ledgerTxId!,
        idempotency_key: null,
        reason: body.reason ?? null,
        created_at: now,
      }));
      if (ledgerTxId && pool) {
        const balances = await postTransactions(trx, [{
          id: ledgerTxId, partnerId: scope.partnerId, environment: scope.environment, kind: 'REVERSAL', reference: action.id, createdAt: now,
          postings: [
            { accountId: pool.account_id, asset: TOKEN_ASSET, amount: recovered },
            ...movements.map((m) => ({ accountId: accountIds.wallet(m.user_id), asset: TOKEN_ASSET, amount: -m.amount })),
          ],
        }]);
        await afterPoolBalanceChange(trx, pool, balances.get(pool.account_id)!, now, events);
      }
      const fully = units === reversible;
      const creditIds = new Set(holders.map((h) => h.transactionId).filter((x): x is string => !!x));
      await walletsRepo.setRemaining(trx, updates.map((u) => ({ ...u, reversed: fully && creditIds.has(u.id) })));
      if (fully) {
        await trx.updateTable('token_transactions').set({ status: 'REVERSED' }).where('id', 'in', [...creditIds].length ? [...creditIds] : ['']).execute();
      }
      await walletsRepo.insertMovements(trx, scope, movements);
      if (action.campaign_id && recovered > 0n) {
        // Tokens back in the pool are budget the campaign can spend again.
        await sql`UPDATE campaigns SET budget_spent = greatest(0, budget_spent - ${recovered.toString()}::bigint) WHERE id = ${action.campaign_id}`.execute(trx);
        for (const t of taken.filter((x) => x.units > 0n)) {
          await sql`UPDATE campaign_user_spend SET spent = greatest(0, spent - ${t.units.toString()}::bigint)
                     WHERE campaign_id = ${action.campaign_id} AND user_id = ${t.holder.userId}`.execute(trx);
        }
      }
      const reversalId = objectId(now);
      await trx.insertInto('action_reversals').values({
        id: reversalId,
        action_id: action.id,
        partner_id: scope.partnerId,
        environment: scope.environment,
        idempotency_key: body.idempotencyKey ?? null,
        request_hash: hash,
        requested_units: units,
        reversed_units: recovered,
        shortfall_units: shortfall,
        forced: body.force ?? false,
        reason: body.reason ?? null,
        ledger_transaction_id: ledgerTxId,
        created_at: now,
      }).execute();
      await trx
        .updateTable('actions')
        .set({
          tokens_reversed: (BigInt(action.tokens_reversed) + units).toString(),
          status: fully ? 'REVERSED' : 'PARTIALLY_REVERSED',
          reversed_at: now,
        })
        .where('id', '=', action.id)
        .execute();
      events.push(newEvent(scope.partnerId, scope.environment, 'action.reversed', {
        actionId: action.id,
        reversedTokens: formatTokens(recovered),
        shortfallTokens: formatTokens(shortfall),
        reversalTransactionIds: movements.map((m) => m.id),
        reason: body.reason ?? null,
      }, now));
      await writeEvents(trx, events);
      return { replay: null as string | null, reversalId };
    });

    const reversalId = outcome.replay ?? outcome.reversalId!;
    const view = await this.view(scope, actionId, reversalId);
    if (outcome.replay) {
      throw new AppError('IDEMPOTENT', 'This reversal was already processed; the original result is returned', { extra: view });
    }
    return view;
  }

  private async view(scope: Scope, actionId: string, reversalId: string) {
    const action = await this.db.selectFrom('actions').selectAll().where('id', '=', actionId).executeTakeFirstOrThrow();
    const r = await this.db.selectFrom('action_reversals').selectAll().where('id', '=', reversalId).executeTakeFirstOrThrow();
    // Reached through the action (token_transactions_action_idx): token_transactions has no index on
    // ledger_transaction_id, and one per reversal is not worth the cost to every reward's insert.
    const ids = r.ledger_transaction_id
      ? (
          await this.db
            .selectFrom('token_transactions')
            .select('id')
            .where('action_id', '=', actionId)
            .where('ledger_transaction_id', '=', r.ledger_transaction_id)
            .where('partner_id', '=', scope.partnerId)
            .orderBy('id')
            .execute()
        ).map((x) => x.id)
      : [];
    return {
      ...toAction(action),
      reversal: {
        id: r.id,
        reversedTokens: formatTokens(BigInt(r.reversed_units)),
        shortfallTokens: formatTokens(BigInt(r.shortfall_units)),
        reversalTransactionIds: ids,
        reason: r.reason,
      },
    };
  }
}
