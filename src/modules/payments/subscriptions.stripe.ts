import type { Updateable } from 'kysely';
import type { StoredSubscriptionItem, SubscriptionsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { toDonation, type Donation, type DonationInput } from './donation.js';
import { requestHash } from './idempotency.js';
import type { HostedSubscriptionChange } from './processor.hosted.js';
import { subscriptionsRepo } from './subscriptions.repo.js';
import { millisOrSeconds } from './subscriptions.rules.js';
import type { ManageSubscriptionBodyType, SubscriptionType } from './subscriptions.schemas.js';
import { subscriptionTip } from './subscriptions.service.js';
import { toSubscription } from './subscriptions.view.js';
import { StripeSubscriptionCreation } from './subscriptions.stripe.create.js';
import { invalid, mirrorOf, stripeItems, withStripePrices } from './subscriptions.stripe.items.js';

export { SUBSCRIPTION_ID_KEY } from './subscriptions.stripe.create.js';

const DONATION_FIELDS = ['charityId', 'givingaAccountNumber', 'subaccountNumber', 'masterAccountUsername', 'campaignId', 'carbonOffset', 'matchRequested', 'description', 'notes', 'activityId', 'activityId2', 'activityId3', 'anonymity', 'metadata'] as const;

/**
 * Subscriptions of Stripe accounts (contract B6.9): Stripe Billing bills them, so nothing here ever
 * charges a period; invoice.paid records each one (stripe-webhooks.billing.ts), and our clock-driven
 * billing skips these accounts.
 *
 * Creation, which cannot be lost either way round, is the layer beneath (subscriptions.stripe.create.ts);
 * this class adds the changes and the cancellation.
 */
export class StripeSubscriptions extends StripeSubscriptionCreation {
  /** PUT/PATCH on a Stripe subscription: the change is Stripe's first, then our row mirrors Stripe's answer. */
  async manage(auth: PaymentsAuth, customerId: string, subscriptionId: string, body: ManageSubscriptionBodyType): Promise<SubscriptionType> {
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const sub = await this.visible(auth, subscriptionId, customerId);
    if (sub.status === 'canceled') throw new AppError('INVALID_STATE', `Subscription ${subscriptionId} is canceled; create a new one`);
    const change: HostedSubscriptionChange = {};
    const patch: Updateable<SubscriptionsTable> = {};
    const proration = body.prorationBehaviour ?? body.prorationBehavior ?? sub.proration_behaviour;
    patch.proration_behaviour = proration;
    if (body.cancelAtPeriodEnd !== undefined) change.cancelAtPeriodEnd = body.cancelAtPeriodEnd;
    if (body.cancelAt !== undefined) {
      const at = body.cancelAt === null ? null : millisOrSeconds(body.cancelAt);
      if (at && at <= now) throw invalid('/cancelAt', 'cancelAt must be in the future (Unix time in milliseconds); to cancel now use DELETE');
      change.cancelAt = at;
    }
    const pausedAfter = body.pause ?? sub.paused;
    let resumesAt = sub.resumes_at;
    if (body.resumesAt !== undefined) {
      resumesAt = body.resumesAt === null ? null : millisOrSeconds(body.resumesAt);
      if (resumesAt && resumesAt <= now) throw invalid('/resumesAt', 'resumesAt must be in the future (Unix time in milliseconds)');
      if (resumesAt && !pausedAfter) throw invalid('/resumesAt', 'resumesAt only applies to a paused subscription: send pause: true with it');
    }
    if (body.pause === false) change.pause = null;
    else if (body.pause === true || (body.resumesAt !== undefined && pausedAfter)) change.pause = { resumesAt };
    if (body.paymentMethodId !== undefined) {
      const method = await this.charges.paymentMethod(this.db, auth, customerId, body.paymentMethodId, now);
      change.paymentMethodId = method.id;
      patch.payment_method_id = method.id;
    }
    if (DONATION_FIELDS.some((f) => body[f] !== undefined)) {
      const merged = { ...(sub.donation as unknown as Donation), ...Object.fromEntries(DONATION_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]])) };
      const donation = toDonation(merged as DonationInput);
      await this.destinations.assertExists(auth, donation);
      patch.donation = JSON.stringify(donation);
      if (body.description !== undefined) change.description = donation.description;
    }

    const hosted = this.processors.hosted(auth);
    const current = body.items || body.tip !== undefined || body.tipInterval !== undefined ? await hosted.retrieveSubscription(sub.processor_ref!) : null;
    let items: StoredSubscriptionItem[] | null = null;
    let interval = sub.interval;
    if (body.items) {
      const resolved = await stripeItems(this.db, auth, body.items);
      if (resolved[0]!.stored.currency !== sub.currency) throw invalid('/items', `Items must stay in ${sub.currency}`);
      interval = resolved[0]!.stored.interval;
      items = resolved.map((i) => i.stored);
      change.items = { set: resolved.map((i) => i.hosted), replacing: current!.items.filter((i) => !i.tip).map((i) => i.id) };
      Object.assign(patch, { interval, amount: items.reduce((sum, i) => sum + BigInt(i.unitAmount) * BigInt(i.quantity), 0n) });
    }
    const tipChanged = body.tip !== undefined || body.tipInterval !== undefined;
    // A recurring tip follows the items to a new interval.
    if (tipChanged || (items && interval !== sub.interval && sub.tip_interval)) {
      const tip = subscriptionTip(
        { tip: body.tip ?? Number(sub.tip), tipInterval: body.tipInterval === undefined ? (sub.tip_interval ? interval : null) : body.tipInterval, tipCurrency: body.tipCurrency },
        sub.currency,
        interval,
      );
      change.tip = { amount: Number(tip.recurring), replacing: current!.items.find((i) => i.tip)?.id ?? null };
      if (tip.once > 0n) change.oneTimeTip = Number(tip.once);
      Object.assign(patch, { tip: tip.recurring, tip_interval: tip.recurring > 0n ? interval : null });
    }
    if (body.billingCycleAnchor === 'now') change.billingCycleAnchorNow = true;
    if (change.items || change.tip || change.billingCycleAnchorNow) {
      Object.assign(change, { prorationBehavior: proration, currency: sub.currency, interval });
    }

    // Keyed by the row's state and the change: a retry of this change after a lost answer is one change at Stripe.
    const key = `subscription-update:${sub.id}:${sub.updated_at.getTime()}:${requestHash('manage', body).slice(0, 32)}`;
    const answer = Object.keys(change).length > 0 ? await hosted.updateSubscription(sub.processor_ref!, change, key) : null;
    const updated = await subscriptionsRepo.update(this.db, sub.id, {
      ...patch,
      ...(answer ? mirrorOf(answer, now) : {}),
      ...(items ? { items: JSON.stringify(answer ? withStripePrices(items, answer) : items) } : {}),
      updated_at: now,
    });
    return toSubscription(updated);
  }

  /** DELETE: canceled at Stripe now; our row mirrors Stripe's answer. */
  async cancel(auth: PaymentsAuth, customerId: string, subscriptionId: string): Promise<SubscriptionType> {
    const sub = await this.visible(auth, subscriptionId, customerId);
    if (sub.status === 'canceled') return toSubscription(sub);
    const answer = await this.processors.hosted(auth).cancelSubscription(sub.processor_ref!);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    return toSubscription(await subscriptionsRepo.update(this.db, sub.id, mirrorOf(answer, now)));
  }

  private async visible(auth: PaymentsAuth, id: string, customerId: string) {
    await this.customers.row(auth, customerId);
    const row = await subscriptionsRepo.visible(this.db, auth.accountId, id, customerId);
    if (!row) throw notFound(`Subscription "${id}"`);
    return row;
  }
}
