import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { SubscriptionsTable } from '../../platform/db/schema.payments.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { ChargesService } from './charges.service.js';
import { chargesRepo } from './charges.repo.js';
import { chargeCurrency, type Donation } from './donation.js';
import { addInterval } from './subscriptions.rules.js';

export type SubscriptionRow = Selectable<SubscriptionsTable>;

export interface BillOutcome {
  status: 'paid' | 'failed';
  chargeId: string | null;
  declineCode?: string;
  message?: string;
}

/**
 * Bills subscriptions: one invoice per period, charged through the same path as any donation (same
 * split, same ledger). Runs in the worker by the accounts' clocks, so moving a partner's sandbox
 * clock two months ahead bills two periods.
 */
export class SubscriptionBilling {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly charges: ChargesService,
    private readonly accounts: PaymentsAccountsService,
    private readonly baseClock: Clock,
  ) {}

  /**
   * Charges one period now: the per-period amount plus any pending proration, the recurring tip, and
   * (first period only) the one-time tip. Returns what happened; the caller moves the period.
   */
  async billPeriod(trx: Transaction<Database>, auth: PaymentsAuth, sub: SubscriptionRow, periodStart: Date, periodEnd: Date, now: Date, first: boolean, extra = 0n): Promise<BillOutcome> {
    const amount = sub.amount + sub.pending_proration + extra;
    const tip = (sub.tip_interval ? sub.tip : 0n) + (first ? sub.one_time_tip : 0n);
    const invoiceId = prefixedId('in', 20);
    if (amount <= 0n && tip === 0n) {
      // A credit covers the whole period: nothing to charge; what is left of it carries on.
      await this.invoice(trx, invoiceId, sub, periodStart, periodEnd, 0n, 0n, sub.pending_proration, 'paid', null, now);
      await trx.updateTable('subscriptions').set({ pending_proration: amount }).where('id', '=', sub.id).execute();
      return { status: 'paid', chargeId: null };
    }
    const method = (await chargesRepo.findMethod(trx, sub.account_id, sub.payment_method_id))!;
    const donation = sub.donation as unknown as Donation;
    const { digits } = chargeCurrency(sub.currency);
    const charged = amount > 0n ? amount : 1n;
    const { split, connectedAccountId } = await this.charges.split(auth, method.type, charged, tip, digits, donation, trx);
    const outcome = await this.charges.take(trx, auth, {
      customerId: sub.customer_id,
      method,
      currency: sub.currency,
      split,
      connectedAccountId,
      donation,
      paymentIntentId: null,
      now,
    });
    if (outcome.status === 402) {
      const b = outcome.body as { declineCode: string; chargeId: string; message: string };
      await this.invoice(trx, invoiceId, sub, periodStart, periodEnd, amount, tip, sub.pending_proration, 'failed', b.chargeId, now);
      return { status: 'failed', chargeId: b.chargeId, declineCode: b.declineCode, message: b.message };
    }
    const chargeId = (outcome.body as { chargeId: string }).chargeId;
    await this.invoice(trx, invoiceId, sub, periodStart, periodEnd, amount, tip, sub.pending_proration, 'paid', chargeId, now);
    await trx.updateTable('subscriptions').set({ pending_proration: 0n }).where('id', '=', sub.id).execute();
    return { status: 'paid', chargeId };
  }

  /** Everything due by each account's clock: periods to bill, pauses that end, cancellations. */
  async billDue(limit = 50): Promise<number> {
    let handled = 0;
    for (;;) {
      const n = await this.db.transaction().execute(async (trx) => {
        const due = await sql<{ id: string; account_id: string; now: Date }>`
          SELECT s.id, s.account_id,
                 ${this.baseClock.now()}::timestamptz + CASE WHEN a.environment = 'sandbox'
                   THEN p.sandbox_clock_offset_ms * interval '1 millisecond' ELSE interval '0' END AS now
          FROM subscriptions s
          JOIN payments_accounts a ON a.id = s.account_id
          JOIN partners p ON p.id = a.partner_id
          WHERE s.status <> 'canceled'
            -- Stripe bills its subscriptions itself and reports each invoice by webhook.
            AND a.processor = 'sandbox'
            AND (s.current_period_end <= ${this.baseClock.now()}::timestamptz + CASE WHEN a.environment = 'sandbox'
                   THEN p.sandbox_clock_offset_ms * interval '1 millisecond' ELSE interval '0' END
              OR s.cancel_at <= ${this.baseClock.now()}::timestamptz + CASE WHEN a.environment = 'sandbox'
                   THEN p.sandbox_clock_offset_ms * interval '1 millisecond' ELSE interval '0' END)
          ORDER BY s.current_period_end
          LIMIT ${limit}
          FOR UPDATE OF s SKIP LOCKED`.execute(trx);
        for (const row of due.rows) await this.advance(trx, row.id, row.account_id, new Date(row.now));
        return due.rows.length;
      });
      handled += n;
      if (n < limit) return handled;
    }
  }

  /** Moves one subscription through every period boundary that has passed by `now`. */
  private async advance(trx: Transaction<Database>, id: string, accountId: string, now: Date) {
    const auth = await this.accounts.authFor(accountId, trx);
    let sub = (await trx.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst())!;
    for (let guard = 0; guard < 1000 && sub.status !== 'canceled'; guard++) {
      const end = sub.current_period_end;
      if (sub.cancel_at && sub.cancel_at <= now && sub.cancel_at <= end) {
        sub = await this.update(trx, id, { status: 'canceled', ended_at: sub.cancel_at, updated_at: now });
        break;
      }
      if (end > now) break;
      if (sub.cancel_at_period_end) {
        sub = await this.update(trx, id, { status: 'canceled', ended_at: end, updated_at: now });
        break;
      }
      const next = addInterval(end, sub.interval);
      const resuming = sub.paused && sub.resumes_at !== null && sub.resumes_at <= end;
      if (sub.paused && !resuming) {
        // Paused: the period's invoice is voided, nothing is charged.
        await this.invoice(trx, prefixedId('in', 20), sub, end, next, sub.amount, 0n, 0n, 'void', null, now);
        sub = await this.update(trx, id, { current_period_start: end, current_period_end: next, updated_at: now });
        continue;
      }
      if (resuming) sub = await this.update(trx, id, { paused: false, resumes_at: null, updated_at: now });
      const billed = await this.billPeriod(trx, auth, sub, end, next, now, false);
      sub = await this.update(trx, id, {
        status: billed.status === 'paid' ? 'active' : 'past_due',
        current_period_start: end,
        current_period_end: next,
        updated_at: now,
      });
    }
  }

  private update(trx: Transaction<Database>, id: string, patch: Partial<Omit<SubscriptionRow, 'id' | 'items' | 'donation' | 'processor_request'>>) {
    return trx.updateTable('subscriptions').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  private async invoice(
    trx: Transaction<Database>,
    id: string,
    sub: SubscriptionRow,
    start: Date,
    end: Date,
    amount: bigint,
    tip: bigint,
    proration: bigint,
    status: 'paid' | 'failed' | 'void',
    chargeId: string | null,
    now: Date,
  ) {
    await trx
      .insertInto('subscription_invoices')
      .values({ id, subscription_id: sub.id, period_start: start, period_end: end, amount, tip, proration, status, charge_id: chargeId, created_at: now })
      .execute();
  }
}
