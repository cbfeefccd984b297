import type { Kysely, Selectable, Transaction } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable } from '../../platform/db/schema.payments.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { AppError, notFound } from '../../platform/errors.js';
import { postTransactions } from '../ledger/index.js';
import type { PartnerClock } from '../rewards/index.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { Donation } from './donation.js';
import { moneyAccounts } from './money-ledger.js';
import type { DonationRewards } from './donation-rewards.js';
import type { Processors } from './processor.js';

/**
 * Splits a refund of `amount` over the parts of a charge in proportion to each part, by largest
 * remainder, so the parts of the refund add up to it exactly and no part goes below zero.
 */
export function refundParts(parts: bigint[], amount: bigint): bigint[] {
  const total = parts.reduce((a, b) => a + b, 0n);
  if (total === 0n) return parts.map(() => 0n);
  const exact = parts.map((p) => p * amount);
  const floors = exact.map((e) => e / total);
  let left = amount - floors.reduce((a, b) => a + b, 0n);
  const order = exact.map((e, i) => ({ i, rem: e % total })).sort((a, b) => (b.rem > a.rem ? 1 : b.rem < a.rem ? -1 : a.i - b.i));
  for (const { i } of order) {
    if (left === 0n) break;
    floors[i]! += 1n;
    left -= 1n;
  }
  return floors;
}

/** Operator refunds of succeeded charges, full or partial, as ledger transactions that reverse the split. */
export class RefundsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accounts: PaymentsAccountsService,
    private readonly clock: PartnerClock,
    private readonly rewards: DonationRewards,
    private readonly processors: Processors,
  ) {}

  private readonly fullRefundListeners: { inTransaction(trx: Transaction<Database>, chargeId: string, at: Date): Promise<void>; afterCommit(chargeId: string): Promise<void> }[] = [];

  /** What a charge paid for (a donation link) learns of its full refund, in the refund's transaction and after it. */
  onFullRefund(listener: RefundsService['fullRefundListeners'][number]): void {
    this.fullRefundListeners.push(listener);
  }

  async refund(chargeId: string, amount: number | undefined) {
    const row = await this.refundInTransaction(chargeId, amount);
    if (row.status === 'refunded') {
      // The owed work is already recorded; doing it now only saves waiting for the worker.
      for (const l of this.fullRefundListeners) await l.afterCommit(chargeId).catch(() => undefined);
    }
    return row;
  }

  private async refundInTransaction(chargeId: string, amount: number | undefined) {
    return this.db.transaction().execute(async (trx) => {
      const charge = await trx.selectFrom('charges').selectAll().where('id', '=', chargeId).forUpdate().executeTakeFirst();
      if (!charge) throw notFound(`Charge "${chargeId}"`);
      if (charge.status !== 'succeeded') throw new AppError('INVALID_STATE', `Charge ${chargeId} is ${charge.status}; only a succeeded charge can be refunded`);
      const left = charge.gross - charge.refunded_amount;
      const wanted = amount === undefined ? left : BigInt(amount);
      if (wanted <= 0n || wanted > left) {
        throw new AppError('VALIDATION_ERROR', `amount must be between 1 and ${left} (what is left to refund, smallest currency unit)`, { details: [{ path: '/amount', message: 'out of range' }] });
      }
      const auth = await this.accounts.authFor(charge.account_id, trx);
      const at = await this.clock.now(auth.partnerId, auth.environment, trx);
      const row = await this.record(trx, auth, charge, wanted, at);
      if (auth.processor === 'stripe' && charge.processor_ref) {
        // Last, so a refund the ledger refuses never reaches Stripe; keyed by what was refunded
        // before, so a retry of this refund is one refund at Stripe.
        await this.processors.hosted(auth, trx).refund(charge.processor_ref, wanted, `refund:${charge.id}:${charge.refunded_amount}:${wanted}`);
      }
      return { chargeId: row.id, status: row.status, amount: Number(wanted), refundedAmount: Number(row.refunded_amount), gross: Number(row.gross) };
    });
  }

  /**
   * Moves `wanted` back out of the charge's parts in the ledger and counts it refunded; the charge
   * row must be locked by the caller. Also how a refund made at the processor (a Stripe dashboard
   * refund, reported by webhook) is recorded.
   */
  async record(trx: Transaction<Database>, auth: PaymentsAuth, charge: Selectable<ChargesTable>, wanted: bigint, at: Date) {
    // Shares are taken from what is left of each part, so no part is ever refunded beyond what it
    // received and the last refund takes exactly the rest.
    const already = charge.refunded_amount === 0n ? [0n, 0n, 0n, 0n] : await this.refundedSoFar(trx, charge.id);
    const remaining = [charge.destination_amount, charge.fee, charge.partner_cut, charge.tip].map((w, i) => w - already[i]!);
    const [dest, fee, cut, tip] = refundParts(remaining, wanted);
    const donation = charge.donation as unknown as Donation;
    const cur = charge.currency;
    const postings = [
      { accountId: moneyAccounts.clearing(charge.account_id, cur), asset: cur, amount: wanted },
      { accountId: moneyAccounts.destination(charge.account_id, donation.destination, cur), asset: cur, amount: -dest! },
      { accountId: moneyAccounts.fees(charge.account_id, cur), asset: cur, amount: -fee! },
      { accountId: moneyAccounts.tips(charge.account_id, cur), asset: cur, amount: -tip! },
      ...(charge.connected_account_id ? [{ accountId: moneyAccounts.cut(charge.connected_account_id, cur), asset: cur, amount: -cut! }] : []),
    ].filter((p) => p.amount !== 0n);
    await postTransactions(trx, [
      { id: objectId(at), partnerId: auth.partnerId, environment: auth.environment, kind: 'REFUND', reference: charge.id, createdAt: at, postings },
    ]).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'INSUFFICIENT_FUNDS') {
        throw new AppError('INSUFFICIENT_FUNDS', 'The destination no longer holds this donation (it was paid on); the refund cannot be taken from it');
      }
      throw err;
    });
    const refunded = charge.refunded_amount + wanted;
    const row = await trx
      .updateTable('charges')
      .set({ refunded_amount: refunded, status: refunded === charge.gross ? 'refunded' : 'succeeded', updated_at: at })
      .where('id', '=', charge.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (row.status === 'refunded') {
      await this.rewards.enqueue(trx, row.id, row.account_id, 'reverse', at);
      for (const l of this.fullRefundListeners) await l.inTransaction(trx, row.id, at);
    }
    return row;
  }

  /** What earlier refunds took from each part: destination, fee, cut, tip. */
  private async refundedSoFar(trx: Transaction<Database>, chargeId: string): Promise<bigint[]> {
    const rows = await trx
      .selectFrom('ledger_postings as p')
      .innerJoin('ledger_transactions as t', 't.id', 'p.transaction_id')
      .select(['p.account_id', 'p.amount'])
      .where('t.kind', '=', 'REFUND')
      .where('t.reference', '=', chargeId)
      .execute();
    const sum = (prefix: string) => -rows.filter((r) => r.account_id.startsWith(prefix)).reduce((a, r) => a + BigInt(r.amount), 0n);
    return [sum('pay:dest:'), sum('pay:fees:'), sum('pay:cut:'), sum('pay:tips:')];
  }
}
