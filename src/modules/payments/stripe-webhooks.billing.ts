import type { Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import { chargeCurrency, toDonation, type Donation, type DonationInput } from './donation.js';
import type { ProcessorEvent } from './processor.stripe.events.js';
import { STRIPE_ACH_DAYS } from './processor.stripe.map.js';
import type { Effect, StripeWebhooksService } from './stripe-webhooks.service.js';

type Trx = Transaction<Database>;
type Of<K extends ProcessorEvent['kind']> = Extract<ProcessorEvent, { kind: K }>;
const unmatched: Effect = { outcome: 'unmatched', accountId: null };
const applied = (accountId: string): Effect => ({ outcome: 'applied', accountId });

/**
 * The Stripe events of what Stripe runs for us: Checkout sessions it hosts and subscriptions it
 * bills. Each paid invoice and each Checkout payment becomes a charge with the same split and
 * ledger transaction as any other.
 */
export class StripeBillingEvents {
  constructor(private readonly hooks: StripeWebhooksService) {}

  /** Payment mode: the payment made on Stripe's page becomes the session's charge. */
  async checkoutCompleted(trx: Trx, e: Of<'checkout_completed'>, livemode: boolean): Promise<Effect> {
    const session = await trx.selectFrom('checkout_sessions').selectAll().where('id', '=', e.sessionId).forUpdate().executeTakeFirst();
    if (!session) return unmatched;
    const who = await this.hooks.authFor(trx, session.account_id, livemode);
    if (!who) return unmatched;
    if (session.status === 'complete') return applied(session.account_id);
    const { auth, now } = who;
    if (session.mode === 'payment' && e.paymentRef) {
      const known = await trx.selectFrom('charges').select('id').where('processor_ref', '=', e.paymentRef).executeTakeFirst();
      if (!known) {
        const payment = await this.hooks.processors.hosted(auth, trx).retrievePayment(e.paymentRef);
        if (payment.paymentMethod && (payment.status === 'succeeded' || payment.status === 'processing')) {
          const method = await this.hooks.method(trx, auth, payment.paymentMethod.id, null, now, payment.paymentMethod);
          const donation = toDonation(session.donation as DonationInput);
          const { split, connectedAccountId } = await this.hooks.charges.split(auth, method.type, session.amount, session.tip, chargeCurrency(session.currency).digits, donation, trx);
          await this.hooks.charges.record(
            trx,
            auth,
            { customerId: session.customer_id, method, currency: session.currency, split, connectedAccountId, donation, paymentIntentId: null, now },
            payment.status === 'succeeded'
              ? { status: 'succeeded', processorRef: e.paymentRef }
              : { status: 'pending', settlesInDays: STRIPE_ACH_DAYS, processorRef: e.paymentRef },
          );
        }
      }
    }
    await trx
      .updateTable('checkout_sessions')
      .set({ status: 'complete', completed_at: now, ...(e.paymentRef ? { payment_intent_id: e.paymentRef } : {}) })
      .where('id', '=', session.id)
      .execute();
    return applied(session.account_id);
  }

  /** One paid period: a charge of what Stripe collected, recorded once per invoice. */
  async invoicePaid(trx: Trx, e: Of<'invoice_paid'>, livemode: boolean): Promise<Effect> {
    const sub = await trx.selectFrom('subscriptions').selectAll().where('id', '=', e.subscriptionId).forUpdate().executeTakeFirst();
    if (!sub) return unmatched;
    const who = await this.hooks.authFor(trx, sub.account_id, livemode);
    if (!who) return unmatched;
    const seen = await trx.selectFrom('subscription_invoices').select('id').where('processor_ref', '=', e.invoiceId).executeTakeFirst();
    if (seen) return applied(sub.account_id);
    const { auth, now } = who;
    let chargeId: string | null = null;
    if (e.amountPaid > 0n) {
      const method = await this.hooks.method(trx, auth, sub.payment_method_id, sub.customer_id, now);
      const first = (await trx.selectFrom('subscription_invoices').select('id').where('subscription_id', '=', sub.id).where('status', '=', 'paid').executeTakeFirst()) === undefined;
      const wantedTip = (sub.tip_interval ? sub.tip : 0n) + (first ? sub.one_time_tip : 0n);
      const tip = wantedTip < e.amountPaid ? wantedTip : 0n;
      // Stripe charged a fixed price: covers cannot gross it up, so the split is of what was paid.
      const donation = { ...(sub.donation as unknown as Donation), customerCoveringFee: false, customerCoveringPartnerCut: false };
      const { split, connectedAccountId } = await this.hooks.charges.split(auth, method.type, e.amountPaid - tip, tip, chargeCurrency(sub.currency).digits, donation, trx);
      const outcome = await this.hooks.charges.record(
        trx,
        auth,
        { customerId: sub.customer_id, method, currency: sub.currency, split, connectedAccountId, donation, paymentIntentId: null, now },
        { status: 'succeeded', processorRef: e.paymentRef ?? e.invoiceId },
      );
      chargeId = (outcome.body as { chargeId: string }).chargeId;
    }
    await trx
      .insertInto('subscription_invoices')
      .values({ id: prefixedId('in', 20), subscription_id: sub.id, period_start: e.periodStart, period_end: e.periodEnd, amount: e.amountPaid, tip: 0n, proration: 0n, status: 'paid', charge_id: chargeId, created_at: now, processor_ref: e.invoiceId })
      .execute();
    if (sub.status === 'past_due') await trx.updateTable('subscriptions').set({ status: 'active', updated_at: now }).where('id', '=', sub.id).execute();
    return applied(sub.account_id);
  }

  async invoiceFailed(trx: Trx, e: Of<'invoice_failed'>, livemode: boolean): Promise<Effect> {
    const sub = await trx.selectFrom('subscriptions').selectAll().where('id', '=', e.subscriptionId).forUpdate().executeTakeFirst();
    if (!sub) return unmatched;
    const who = await this.hooks.authFor(trx, sub.account_id, livemode);
    if (!who) return unmatched;
    // Stripe retries a failed invoice; only the paid one carries the invoice id, so a later success is still recorded.
    await trx
      .insertInto('subscription_invoices')
      .values({ id: prefixedId('in', 20), subscription_id: sub.id, period_start: e.periodStart, period_end: e.periodEnd, amount: e.amountDue, tip: 0n, proration: 0n, status: 'failed', charge_id: null, created_at: who.now })
      .onConflict((oc) => oc.doNothing())
      .execute();
    if (sub.status === 'active') await trx.updateTable('subscriptions').set({ status: 'past_due', updated_at: who.now }).where('id', '=', sub.id).execute();
    return applied(sub.account_id);
  }

  /** Stripe's view of a subscription (its period, pause, cancellation) replaces ours. */
  async subscriptionChanged(trx: Trx, e: Of<'subscription_changed'>, livemode: boolean): Promise<Effect> {
    const sub = await trx.selectFrom('subscriptions').selectAll().where('id', '=', e.subscription.id).forUpdate().executeTakeFirst();
    if (!sub) return unmatched;
    const who = await this.hooks.authFor(trx, sub.account_id, livemode);
    if (!who) return unmatched;
    const s = e.subscription;
    await trx
      .updateTable('subscriptions')
      .set({
        status: s.status,
        paused: s.paused,
        resumes_at: s.resumesAt,
        cancel_at_period_end: s.cancelAtPeriodEnd,
        cancel_at: s.cancelAt,
        current_period_start: s.currentPeriodStart,
        current_period_end: s.currentPeriodEnd,
        ended_at: s.status === 'canceled' ? (s.endedAt ?? who.now) : null,
        updated_at: who.now,
      })
      .where('id', '=', sub.id)
      .execute();
    return applied(sub.account_id);
  }
}
