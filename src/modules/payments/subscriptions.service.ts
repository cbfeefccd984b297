import type { Kysely, Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { Interval, StoredSubscriptionItem } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import { catalogRepo } from './catalog.repo.js';
import { currencyOrThrow } from './catalog.service.js';
import type { ChargesService } from './charges.service.js';
import { declined } from './charges.service.js';
import type { CustomersService } from './customers.service.js';
import type { DestinationsService } from './destinations.js';
import { toDonation, type Donation, type DonationInput } from './donation.js';
import type { SubscriptionBilling, SubscriptionRow } from './subscriptions.billing.js';
import type { StripeSubscriptions } from './subscriptions.stripe.js';
import { addInterval, millisOrSeconds, prorate } from './subscriptions.rules.js';
import type { CreateSubscriptionBodyType, ManageSubscriptionBodyType, SubscriptionItemType, SubscriptionType } from './subscriptions.schemas.js';
import { toSubscription } from './subscriptions.view.js';

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });
/** A tip with tipInterval recurs (it must match the items' interval); without it it is charged once at the start. */
export function subscriptionTip(body: { tip?: number | undefined; tipInterval?: Interval | null | undefined; tipCurrency?: string | undefined }, currency: string, interval: Interval) {
  const tip = BigInt(body.tip ?? 0);
  if (body.tipCurrency !== undefined && currencyOrThrow(body.tipCurrency, '/tipCurrency') !== currency) {
    throw invalid('/tipCurrency', `tipCurrency must be the subscription's currency, ${currency}`);
  }
  if (body.tipInterval && body.tipInterval !== interval) {
    throw invalid('/tipInterval', `tipInterval must be the items' interval (${interval}), or absent for a one-time tip`);
  }
  return body.tipInterval ? { recurring: tip, once: 0n } : { recurring: 0n, once: tip };
}

/**
 * Contract B6.9: subscribe, read, manage (pause, resume, cancel, change items, proration) and cancel.
 * Sandbox subscriptions are billed here by the account's clock; Stripe accounts' subscriptions are
 * Stripe's, which bills them (subscriptions.stripe.ts).
 */
export class SubscriptionsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly customers: CustomersService,
    private readonly destinations: DestinationsService,
    private readonly charges: ChargesService,
    private readonly billing: SubscriptionBilling,
    private readonly clock: PartnerClock,
    private readonly stripe: StripeSubscriptions | null = null,
  ) {}

  /** Stripe accounts' subscriptions, or a 503 on a server without Stripe. */
  private stripeSubscriptions(): StripeSubscriptions {
    if (!this.stripe) throw new AppError('SERVICE_UNAVAILABLE', 'The Stripe processor is not configured on this server; use a sandbox account');
    return this.stripe;
  }

  /** Subscribes and bills the first period at once; a decline creates nothing (402). */
  async create(auth: PaymentsAuth, customerId: string, body: CreateSubscriptionBodyType): Promise<SubscriptionType> {
    if (auth.processor === 'stripe') return this.stripeSubscriptions().create(auth, customerId, body);
    const customer = await this.customers.row(auth, customerId);
    const donation = toDonation(body as DonationInput);
    await this.destinations.assertExists(auth, donation);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const pmId = body.paymentMethodId ?? customer.default_payment_method_id;
    if (!pmId) throw invalid('/paymentMethodId', 'Send paymentMethodId, or set a default payment method for the customer first');
    let failure: { chargeId: string; declineCode: string; message: string } | undefined;
    const row = await this.db
      .transaction()
      .execute(async (trx) => {
        const items = await this.resolveItems(trx, auth, body.items, now);
        const { currency, interval } = items[0]!;
        const tip = this.tipFor(body, currency, interval);
        const method = await this.charges.paymentMethod(trx, auth, customerId, pmId, now);
        const end = addInterval(now, interval);
        const sub = await trx
          .insertInto('subscriptions')
          .values({
            id: prefixedId('sub', 24),
            account_id: auth.accountId,
            customer_id: customerId,
            currency,
            interval,
            items: JSON.stringify(items),
            amount: items.reduce((sum, i) => sum + BigInt(i.unitAmount) * BigInt(i.quantity), 0n),
            tip: tip.recurring,
            tip_interval: tip.recurring > 0n ? interval : null,
            one_time_tip: tip.once,
            payment_method_id: method.id,
            donation: JSON.stringify(donation),
            status: 'active',
            start_date: now,
            current_period_start: now,
            current_period_end: end,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const billed = await this.billing.billPeriod(trx, auth, sub, now, end, now, true);
        if (billed.status === 'failed') {
          failure = { chargeId: billed.chargeId!, declineCode: billed.declineCode!, message: billed.message! };
          throw new RollbackForDecline();
        }
        return sub;
      })
      .catch((err: unknown) => {
        if (err instanceof RollbackForDecline && failure) throw declined(failure.chargeId, failure.declineCode, failure.message);
        throw err;
      });
    return toSubscription(row);
  }

  async get(auth: PaymentsAuth, subscriptionId: string) {
    return toSubscription(await this.row(this.db, auth, subscriptionId));
  }

  async list(auth: PaymentsAuth, customerId?: string) {
    if (customerId) await this.customers.row(auth, customerId);
    let q = this.db.selectFrom('subscriptions').selectAll().where('account_id', '=', auth.accountId).where('status', '<>', 'incomplete');
    if (customerId) q = q.where('customer_id', '=', customerId);
    return (await q.orderBy('created_at').orderBy('id').limit(1000).execute()).map(toSubscription);
  }

  /** DELETE: cancels now; nothing more is billed. */
  async cancel(auth: PaymentsAuth, customerId: string, subscriptionId: string) {
    if (auth.processor === 'stripe') return this.stripeSubscriptions().cancel(auth, customerId, subscriptionId);
    return this.db.transaction().execute(async (trx) => {
      const sub = await this.row(trx, auth, subscriptionId, customerId, true);
      if (sub.status === 'canceled') return toSubscription(sub);
      const now = await this.clock.now(auth.partnerId, auth.environment, trx);
      return toSubscription(
        await trx.updateTable('subscriptions').set({ status: 'canceled', ended_at: now, updated_at: now }).where('id', '=', sub.id).returningAll().executeTakeFirstOrThrow(),
      );
    });
  }

  /** PUT/PATCH: the catch-all manage route. */
  async manage(auth: PaymentsAuth, customerId: string, subscriptionId: string, body: ManageSubscriptionBodyType) {
    if (auth.processor === 'stripe') return this.stripeSubscriptions().manage(auth, customerId, subscriptionId, body);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    return this.db.transaction().execute(async (trx) => {
      const sub = await this.row(trx, auth, subscriptionId, customerId, true);
      if (sub.status === 'canceled') throw new AppError('INVALID_STATE', `Subscription ${subscriptionId} is canceled; create a new one`);
      const patch: Record<string, unknown> = { updated_at: now };
      const proration = body.prorationBehaviour ?? body.prorationBehavior ?? sub.proration_behaviour;
      patch.proration_behaviour = proration;
      if (body.cancelAtPeriodEnd !== undefined) patch.cancel_at_period_end = body.cancelAtPeriodEnd;
      if (body.cancelAt !== undefined) {
        const at = body.cancelAt === null ? null : millisOrSeconds(body.cancelAt);
        if (at && at <= now) throw invalid('/cancelAt', 'cancelAt must be in the future (Unix time in milliseconds); to cancel now use DELETE');
        patch.cancel_at = at;
      }
      if (body.pause !== undefined) {
        patch.paused = body.pause;
        if (!body.pause) patch.resumes_at = null;
      }
      if (body.resumesAt !== undefined) {
        const at = body.resumesAt === null ? null : millisOrSeconds(body.resumesAt);
        if (at && at <= now) throw invalid('/resumesAt', 'resumesAt must be in the future (Unix time in milliseconds)');
        if (at && !(body.pause ?? sub.paused)) throw invalid('/resumesAt', 'resumesAt only applies to a paused subscription: send pause: true with it');
        patch.resumes_at = at;
      }
      if (body.paymentMethodId !== undefined) patch.payment_method_id = (await this.charges.paymentMethod(trx, auth, customerId, body.paymentMethodId, now)).id;
      const donationFields = ['charityId', 'givingaAccountNumber', 'subaccountNumber', 'masterAccountUsername', 'campaignId', 'carbonOffset', 'matchRequested', 'description', 'notes', 'activityId', 'activityId2', 'activityId3', 'anonymity', 'metadata'] as const;
      if (donationFields.some((f) => body[f] !== undefined)) {
        const current = sub.donation as unknown as Donation;
        const merged = { ...current, ...Object.fromEntries(donationFields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]])) };
        const donation = toDonation(merged as DonationInput);
        await this.destinations.assertExists(auth, donation);
        patch.donation = JSON.stringify(donation);
      }
      let items = sub.items;
      let interval = sub.interval;
      let amount = sub.amount;
      if (body.items) {
        items = await this.resolveItems(trx, auth, body.items, now);
        if (items[0]!.currency !== sub.currency) throw invalid('/items', `Items must stay in ${sub.currency}`);
        interval = items[0]!.interval;
        amount = items.reduce((sum, i) => sum + BigInt(i.unitAmount) * BigInt(i.quantity), 0n);
        Object.assign(patch, { items: JSON.stringify(items), interval, amount });
      }
      if (body.tip !== undefined || body.tipInterval !== undefined) {
        const tip = this.tipFor({ tip: body.tip ?? Number(sub.tip), tipInterval: body.tipInterval === undefined ? sub.tip_interval : body.tipInterval, tipCurrency: body.tipCurrency }, sub.currency, interval);
        Object.assign(patch, { tip: tip.recurring, tip_interval: tip.recurring > 0n ? interval : null });
        if (tip.once > 0n) patch.pending_proration = sub.pending_proration + tip.once;
      }
      let updated = await trx.updateTable('subscriptions').set(patch).where('id', '=', sub.id).returningAll().executeTakeFirstOrThrow();
      const anchorNow = body.billingCycleAnchor === 'now';
      if (anchorNow || amount !== sub.amount) {
        // Unused time of the old amount is credited (or the new amount's difference charged) unless proration is off.
        const credit = anchorNow ? prorate(sub.amount, 0n, sub.current_period_start, sub.current_period_end, now) : prorate(sub.amount, amount, sub.current_period_start, sub.current_period_end, now);
        const delta = proration === 'none' ? 0n : credit;
        if (anchorNow) {
          const end = addInterval(now, interval);
          updated = await trx.updateTable('subscriptions').set({ pending_proration: updated.pending_proration + delta, current_period_start: now, current_period_end: end }).where('id', '=', sub.id).returningAll().executeTakeFirstOrThrow();
          const billed = await this.billing.billPeriod(trx, auth, updated, now, end, now, false);
          if (billed.status === 'failed') throw declined(billed.chargeId!, billed.declineCode!, billed.message!);
        } else if (proration === 'always_invoice' && delta > 0n) {
          const billed = await this.billing.billPeriod(trx, auth, { ...updated, amount: 0n, tip: 0n, tip_interval: null, pending_proration: 0n }, now, sub.current_period_end, now, false, delta);
          if (billed.status === 'failed') throw declined(billed.chargeId!, billed.declineCode!, billed.message!);
        } else if (delta !== 0n) {
          updated = await trx.updateTable('subscriptions').set({ pending_proration: updated.pending_proration + delta }).where('id', '=', sub.id).returningAll().executeTakeFirstOrThrow();
        }
        updated = (await trx.selectFrom('subscriptions').selectAll().where('id', '=', sub.id).executeTakeFirst())!;
      }
      return toSubscription(updated);
    });
  }

  /** The items as stored: existing recurring prices, or custom prices created for them (isCustomAmount). */
  private async resolveItems(trx: Transaction<Database>, auth: PaymentsAuth, items: SubscriptionItemType[], now: Date): Promise<StoredSubscriptionItem[]> {
    const out: StoredSubscriptionItem[] = [];
    for (const [i, item] of items.entries()) {
      const quantity = item.quantity ?? 1;
      if (item.priceId) {
        const price = await catalogRepo.findPrice(trx, auth.accountId, item.priceId);
        if (!price) throw notFound(`Price "${item.priceId}" (items/${i}/priceId)`);
        if (price.type !== 'recurring') throw invalid(`/items/${i}/priceId`, `Price ${item.priceId} is one-time; a subscription needs recurring prices`);
        out.push({ priceId: price.id, productId: price.product_id, unitAmount: Number(price.unit_amount), quantity, currency: price.currency, interval: price.recurring_interval!, isCustom: price.is_custom_amount });
        continue;
      }
      if (item.unitAmount === undefined || !item.currency || !item.interval) {
        throw invalid(`/items/${i}`, 'Each item needs a priceId, or unitAmount + currency + interval for a custom price');
      }
      const currency = currencyOrThrow(item.currency, `/items/${i}/currency`);
      let productId = item.productId;
      if (productId) {
        if (!(await catalogRepo.findProduct(trx, auth.accountId, productId))) throw notFound(`Product "${productId}" (items/${i}/productId)`);
      } else {
        productId = (await catalogRepo.insertProduct(trx, { id: prefixedId('prod', 14), account_id: auth.accountId, name: item.productName ?? 'Recurring donation', created_at: now })).id;
      }
      const price = await catalogRepo.insertPrice(trx, {
        id: prefixedId('price', 14),
        account_id: auth.accountId,
        product_id: productId,
        currency,
        unit_amount: BigInt(item.unitAmount),
        type: 'recurring',
        recurring_interval: item.interval,
        is_custom_amount: true,
        created_at: now,
      });
      out.push({ priceId: price.id, productId, unitAmount: item.unitAmount, quantity, currency, interval: item.interval, isCustom: true });
    }
    const intervals = new Set(out.map((i) => i.interval));
    if (intervals.size > 1) throw invalid('/items', `All items must share one interval; got ${[...intervals].join(', ')}`);
    const currencies = new Set(out.map((i) => i.currency));
    if (currencies.size > 1) throw invalid('/items', `All items must share one currency; got ${[...currencies].join(', ')}`);
    return out;
  }

  private tipFor(body: { tip?: number | undefined; tipInterval?: Interval | null | undefined; tipCurrency?: string | undefined }, currency: string, interval: Interval) {
    return subscriptionTip(body, currency, interval);
  }

  private async row(db: Kysely<Database> | Transaction<Database>, auth: PaymentsAuth, id: string, customerId?: string, forUpdate = false) {
    if (customerId) await this.customers.row(auth, customerId, db);
    let q = db.selectFrom('subscriptions').selectAll().where('account_id', '=', auth.accountId).where('id', '=', id).where('status', '<>', 'incomplete');
    if (customerId) q = q.where('customer_id', '=', customerId);
    if (forUpdate) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw notFound(`Subscription "${id}"`);
    return row;
  }
}

/** Rolls the creating transaction back after a declined first charge. */
class RollbackForDecline extends Error {}
