import type Stripe from 'stripe';
import type { HostedPaymentMethod, HostedSubscription, HostedSubscriptionStatus } from './processor.hosted.js';
import { idOf, stripeDate as date } from './processor.stripe.map.js';

// Stripe's subscriptions and payment methods in our terms, for the Billing calls and Stripe's events alike.

/** Stripe's subscription statuses in ours: unpaid and incomplete ones are past due, expired ones over. */
function subscriptionStatus(status: Stripe.Subscription.Status): HostedSubscriptionStatus {
  if (status === 'canceled' || status === 'incomplete_expired') return 'canceled';
  if (status === 'past_due' || status === 'unpaid' || status === 'incomplete') return 'past_due';
  return 'active';
}

/** The metadata key that marks the recurring tip's own subscription item. */
export const ITEM_ROLE_KEY = 'almoner_item';

/** A Stripe subscription in our terms. Billing periods live on the items in current API versions. */
export function toHostedSubscription(sub: Stripe.Subscription): HostedSubscription {
  const items = sub.items?.data ?? [];
  const legacy = sub as unknown as { current_period_start?: number; current_period_end?: number };
  const start = items[0]?.current_period_start ?? legacy.current_period_start ?? sub.start_date;
  const end = items[0]?.current_period_end ?? legacy.current_period_end ?? sub.start_date;
  return {
    id: sub.id,
    status: subscriptionStatus(sub.status),
    currentPeriodStart: date(start),
    currentPeriodEnd: date(end),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    cancelAt: sub.cancel_at ? date(sub.cancel_at) : null,
    paused: sub.pause_collection !== null && sub.pause_collection !== undefined,
    resumesAt: sub.pause_collection?.resumes_at ? date(sub.pause_collection.resumes_at) : null,
    endedAt: sub.ended_at ? date(sub.ended_at) : null,
    items: items.map((i) => {
      const price = typeof i.price === 'string' ? null : i.price;
      return {
        id: i.id,
        priceId: typeof i.price === 'string' ? i.price : i.price.id,
        productId: price ? idOf(price.product as string | { id: string } | null) : null,
        unitAmount: price?.unit_amount ?? null,
        quantity: i.quantity ?? 1,
        tip: i.metadata?.[ITEM_ROLE_KEY] === 'tip',
      };
    }),
    metadata: { ...(sub.metadata ?? {}) },
  };
}

/** A Stripe PaymentMethod, or a bank account source (ba_), in our terms; other kinds are not ours to save. */
export function toHostedPaymentMethod(pm: Stripe.PaymentMethod | Stripe.BankAccount): HostedPaymentMethod {
  if (pm.object === 'bank_account') {
    return { id: pm.id, type: 'us_bank_account', card: null, bank: { bankName: pm.bank_name ?? '', last4: pm.last4, routingNumber: pm.routing_number ?? '' }, holderName: pm.account_holder_name ?? null, email: null };
  }
  const billing = { holderName: pm.billing_details?.name ?? null, email: pm.billing_details?.email ?? null };
  if (pm.type === 'us_bank_account' && pm.us_bank_account) {
    const b = pm.us_bank_account;
    return { id: pm.id, type: 'us_bank_account', card: null, bank: { bankName: b.bank_name ?? '', last4: b.last4 ?? '', routingNumber: b.routing_number ?? '' }, ...billing };
  }
  const c = pm.card;
  return { id: pm.id, type: 'card', card: { brand: c?.brand ?? 'unknown', last4: c?.last4 ?? '', expMonth: c?.exp_month ?? 0, expYear: c?.exp_year ?? 0 }, bank: null, ...billing };
}
