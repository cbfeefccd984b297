import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { StoredSubscriptionItem, SubscriptionsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { catalogRepo } from './catalog.repo.js';
import { currencyOrThrow } from './catalog.service.js';
import type { HostedItem, HostedSubscription } from './processor.hosted.js';
import type { SubscriptionItemType } from './subscriptions.schemas.js';

/** Stripe subscriptions in our columns and our items in Stripe's terms: pure mappings and the item check. */

type Db = Kysely<Database> | Transaction<Database>;
export const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });

/** Our columns for Stripe's view of a subscription: its state, pause, cancellation and period. */
export function mirrorOf(h: HostedSubscription, now: Date) {
  return {
    status: h.status as Selectable<SubscriptionsTable>['status'],
    paused: h.paused,
    resumes_at: h.resumesAt,
    cancel_at_period_end: h.cancelAtPeriodEnd,
    cancel_at: h.cancelAt,
    current_period_start: h.currentPeriodStart,
    current_period_end: h.currentPeriodEnd,
    ended_at: h.status === 'canceled' ? (h.endedAt ?? now) : null,
    updated_at: now,
  };
}

/** Our items with the prices Stripe made for those priced inline, matched in order (the tip's item aside). */
export function withStripePrices(items: StoredSubscriptionItem[], h: HostedSubscription): StoredSubscriptionItem[] {
  const theirs = h.items.filter((i) => !i.tip);
  return items.map((item, n) => ({ ...item, priceId: item.priceId || theirs[n]?.priceId || '', productId: item.productId || theirs[n]?.productId || '' }));
}

/**
 * The items as Stripe takes them (a catalogue price, which on a Stripe account is Stripe's, or an
 * amount priced inline) and as we keep them; a price Stripe makes inline is filled in once known.
 */
export async function stripeItems(db: Db, auth: PaymentsAuth, items: SubscriptionItemType[]): Promise<{ stored: StoredSubscriptionItem; hosted: HostedItem }[]> {
  const out: { stored: StoredSubscriptionItem; hosted: HostedItem }[] = [];
  for (const [i, item] of items.entries()) {
    const quantity = item.quantity ?? 1;
    if (item.priceId) {
      const price = await catalogRepo.findPrice(db, auth.accountId, item.priceId);
      if (!price) throw notFound(`Price "${item.priceId}" (items/${i}/priceId)`);
      if (price.type !== 'recurring') throw invalid(`/items/${i}/priceId`, `Price ${item.priceId} is one-time; a subscription needs recurring prices`);
      out.push({
        stored: { priceId: price.id, productId: price.product_id, unitAmount: Number(price.unit_amount), quantity, currency: price.currency, interval: price.recurring_interval!, isCustom: price.is_custom_amount },
        hosted: { priceId: price.id, quantity },
      });
      continue;
    }
    if (item.unitAmount === undefined || !item.currency || !item.interval) {
      throw invalid(`/items/${i}`, 'Each item needs a priceId, or unitAmount + currency + interval for a custom price');
    }
    const currency = currencyOrThrow(item.currency, `/items/${i}/currency`);
    if (item.productId && !(await catalogRepo.findProduct(db, auth.accountId, item.productId))) throw notFound(`Product "${item.productId}" (items/${i}/productId)`);
    out.push({
      stored: { priceId: '', productId: item.productId ?? '', unitAmount: item.unitAmount, quantity, currency, interval: item.interval, isCustom: true },
      hosted: { priceId: null, unitAmount: item.unitAmount, productId: item.productId ?? null, productName: item.productName ?? 'Recurring donation', quantity },
    });
  }
  const intervals = new Set(out.map((i) => i.stored.interval));
  if (intervals.size > 1) throw invalid('/items', `All items must share one interval; got ${[...intervals].join(', ')}`);
  const currencies = new Set(out.map((i) => i.stored.currency));
  if (currencies.size > 1) throw invalid('/items', `All items must share one currency; got ${[...currencies].join(', ')}`);
  return out;
}
