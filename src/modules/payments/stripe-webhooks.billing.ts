import type { Selectable, Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { CheckoutSessionsTable } from '../../platform/db/schema.payments.js';
import { AppError } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { CHECKOUT_REFERENCE_KEY } from './checkout.stripe.js';
import type { HostedSubscription } from './processor.hosted.js';
import { subscriptionsRepo } from './subscriptions.repo.js';
import { SUBSCRIPTION_ID_KEY } from './subscriptions.stripe.js';
import { mirrorOf, withStripePrices } from './subscriptions.stripe.items.js';
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

  /**
   * Payment mode: the payment made on Stripe's page becomes the session's charge. Subscription mode:
   * the subscription Stripe created becomes ours (its invoices record the payments).
   */
  async checkoutCompleted(trx: Trx, e: Of<'checkout_completed'>, livemode: boolean): Promise<Effect> {
    const session = await trx.selectFrom('checkout_sessions').selectAll().where('id', '=', e.sessionId).forUpdate().executeTakeFirst();
    if (!session) return unmatched;
    const who = await this.hooks.authFor(trx, session.account_id, livemode);
    if (!who) return unmatched;
    if (session.status === 'complete') return applied(session.account_id);
    const { auth, now } = who;
    if (session.mode === 'subscription' && e.subscriptionId) await this.fromCheckout(trx, auth, session, e.subscriptionId, now);
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

  /**
   * Our subscription for a Stripe subscription, locked: by Stripe's id, or (for events that arrive
   * before our row knows that id) by the metadata Stripe carries: our subscription id for one created
   * through the API, our checkout reference for one created by a Checkout Session.
   */
  private async subscription(trx: Trx, stripeId: string, metadata: Record<string, string>, livemode: boolean, known?: HostedSubscription) {
    let sub = await subscriptionsRepo.byProcessorRef(trx, stripeId);
    if (!sub && metadata[SUBSCRIPTION_ID_KEY]) {
      const ours = await subscriptionsRepo.lockForUpdate(trx, metadata[SUBSCRIPTION_ID_KEY]);
      const who = ours && ours.processor_ref === null ? await this.hooks.authFor(trx, ours.account_id, livemode) : null;
      if (ours && who) {
        const h = known ?? (await this.hooks.processors.hosted(who.auth, trx).retrieveSubscription(stripeId));
        sub = await this.hooks.subscriptions.link(trx, ours.id, h, false);
      }
    }
    if (!sub && metadata[CHECKOUT_REFERENCE_KEY]) {
      const session = await trx.selectFrom('checkout_sessions').selectAll().where('processor_key', '=', metadata[CHECKOUT_REFERENCE_KEY]).forUpdate().executeTakeFirst();
      const who = session?.mode === 'subscription' ? await this.hooks.authFor(trx, session.account_id, livemode) : null;
      if (session && who) sub = await this.fromCheckout(trx, who.auth, session, stripeId, who.now);
    }
    if (!sub) return null;
    const who = await this.hooks.authFor(trx, sub.account_id, livemode);
    return who ? { sub, ...who } : null;
  }

  /**
   * Subscription mode: the subscription Stripe Checkout created becomes ours, with what the session
   * sold (lines, tip, donation) and the method the donor paid with, saved to the customer.
   */
  private async fromCheckout(trx: Trx, auth: PaymentsAuth, session: Selectable<CheckoutSessionsTable>, stripeId: string, now: Date) {
    const existing = await subscriptionsRepo.byProcessorRef(trx, stripeId);
    if (existing) return existing;
    const h = await this.hooks.processors.hosted(auth, trx).retrieveSubscription(stripeId);
    const customer = session.customer_id ? await trx.selectFrom('payment_customers').select('default_payment_method_id').where('id', '=', session.customer_id).executeTakeFirst() : undefined;
    const pmId = h.paymentMethodId ?? customer?.default_payment_method_id ?? null;
    if (!pmId || !session.customer_id) throw new AppError('INVALID_STATE', `Stripe subscription ${stripeId} has no default payment method or customer to record it with`);
    const method = await this.hooks.method(trx, auth, pmId, session.customer_id, now);
    const lines = session.line_items;
    const interval = lines[0]!.interval!;
    const items = withStripePrices(
      lines.map((l) => ({ priceId: l.priceId ?? '', productId: '', unitAmount: l.unitAmount, quantity: l.quantity, currency: session.currency, interval, isCustom: l.priceId === null })),
      h,
    );
    const recurringTip = session.tip_interval ? session.tip : 0n;
    return subscriptionsRepo.insert(trx, {
      id: prefixedId('sub', 24),
      account_id: session.account_id,
      customer_id: session.customer_id,
      currency: session.currency,
      interval,
      items: JSON.stringify(items),
      amount: session.amount,
      tip: recurringTip,
      tip_interval: recurringTip > 0n ? interval : null,
      one_time_tip: session.tip_interval ? 0n : session.tip,
      payment_method_id: method.id,
      donation: JSON.stringify(toDonation(session.donation as DonationInput)),
      start_date: now,
      created_at: now,
      ...mirrorOf(h, now),
      processor_ref: h.id,
    });
  }

  /**
   * One paid period, recorded once per invoice exactly as a sandbox period is billed: a charge of
   * what Stripe collected with the same split (fee, cut, tip, destination) and its ledger
   * transaction, an invoice row, and the subscription moved to the period the invoice pays for.
   */
  async invoicePaid(trx: Trx, e: Of<'invoice_paid'>, livemode: boolean): Promise<Effect> {
    const found = await this.subscription(trx, e.subscriptionId, e.metadata, livemode);
    if (!found) return unmatched;
    const { sub, auth, now } = found;
    if (await subscriptionsRepo.invoiceByProcessorRef(trx, e.invoiceId)) return applied(sub.account_id);
    let chargeId: string | null = null;
    const first = !(await subscriptionsRepo.hasPaidInvoice(trx, sub.id));
    const wantedTip = (sub.tip_interval ? sub.tip : 0n) + (first ? sub.one_time_tip : 0n);
    const tip = wantedTip < e.amountPaid ? wantedTip : 0n;
    if (e.amountPaid > 0n) {
      const method = await this.hooks.method(trx, auth, sub.payment_method_id, sub.customer_id, now);
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
    const period = e.servicePeriod ?? { start: e.periodStart, end: e.periodEnd };
    await trx
      .insertInto('subscription_invoices')
      .values({ id: prefixedId('in', 20), subscription_id: sub.id, period_start: period.start, period_end: period.end, amount: e.amountPaid - tip, tip, proration: 0n, status: 'paid', charge_id: chargeId, created_at: now, processor_ref: e.invoiceId })
      .execute();
    const moves = e.servicePeriod !== null && e.servicePeriod.end > sub.current_period_end;
    await subscriptionsRepo.update(trx, sub.id, {
      ...(sub.status === 'past_due' || sub.status === 'incomplete' ? { status: 'active' } : {}),
      ...(moves ? { current_period_start: e.servicePeriod!.start, current_period_end: e.servicePeriod!.end } : {}),
      updated_at: now,
    });
    return applied(sub.account_id);
  }

  async invoiceFailed(trx: Trx, e: Of<'invoice_failed'>, livemode: boolean): Promise<Effect> {
    const found = await this.subscription(trx, e.subscriptionId, e.metadata, livemode);
    if (!found) return unmatched;
    const { sub, now } = found;
    // Stripe retries a failed invoice; only the paid one carries the invoice id, so a later success is still recorded.
    await trx
      .insertInto('subscription_invoices')
      .values({ id: prefixedId('in', 20), subscription_id: sub.id, period_start: e.periodStart, period_end: e.periodEnd, amount: e.amountDue, tip: 0n, proration: 0n, status: 'failed', charge_id: null, created_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute();
    if (sub.status === 'active') await subscriptionsRepo.update(trx, sub.id, { status: 'past_due', updated_at: now });
    return applied(sub.account_id);
  }

  /** Stripe's view of a subscription (its period, pause, cancellation) replaces ours. */
  async subscriptionChanged(trx: Trx, e: Of<'subscription_changed'>, livemode: boolean): Promise<Effect> {
    const found = await this.subscription(trx, e.subscription.id, e.subscription.metadata, livemode, e.subscription);
    if (!found) return unmatched;
    await subscriptionsRepo.update(trx, found.sub.id, mirrorOf(e.subscription, found.now));
    return applied(found.sub.account_id);
  }
}
