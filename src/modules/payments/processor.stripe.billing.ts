import type Stripe from 'stripe';
import { isStripeError } from './processor.stripe.sdk.js';
import { AppError } from '../../platform/errors.js';
import type {
  HostedCheckoutInput,
  HostedOps,
  HostedPayment,
  HostedPaymentMethod,
  HostedItem,
  HostedPaymentIntentInput,
  HostedSubscriptionChange,
  HostedSubscriptionInput,
} from './processor.hosted.js';
import { ITEM_ROLE_KEY, toHostedPaymentMethod, toHostedSubscription } from './processor.stripe.billing.map.js';
import { ChargeNotSent } from './processor.charges.js';
import { processorError, stripeCall, stripeDate as date } from './processor.stripe.map.js';
import type { Interval } from '../../platform/db/schema.payments.js';

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** A decline of a subscription's payment: nothing was created or changed (error_if_incomplete). */
function declinedSubscription(err: Stripe.errors.StripeCardError): AppError {
  return new AppError('CARD_DECLINED', err.message || 'Your card was declined.', { extra: { declineCode: err.decline_code || err.code || 'card_declined', chargeId: null } });
}

const methodDefault = (paymentMethodId: string) =>
  paymentMethodId.startsWith('pm_') ? { default_payment_method: paymentMethodId } : { default_source: paymentMethodId };

/**
 * Stripe's catalogue, PaymentIntents for Stripe.js, Checkout, Billing and refunds through the SDK.
 * Partner cuts ride on Connect: a payment's application fee is the cut in minor units, a
 * subscription's is the cut as a percentage of every invoice.
 */
export class StripeHosted implements HostedOps {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async retrievePayment(paymentRef: string): Promise<HostedPayment> {
    const s = await stripeCall(this.stripe);
    const pi = await stripeCall(() => s.paymentIntents.retrieve(paymentRef, { expand: ['payment_method'] }));
    const method = pi.payment_method && typeof pi.payment_method !== 'string' ? toHostedPaymentMethod(pi.payment_method) : null;
    const status = pi.status === 'succeeded' ? 'succeeded' : pi.status === 'processing' ? 'processing' : pi.status === 'canceled' ? 'failed' : 'open';
    return { status, amount: BigInt(pi.amount_received || pi.amount), paymentMethod: method };
  }

  async retrievePaymentMethod(id: string): Promise<HostedPaymentMethod> {
    const s = await stripeCall(this.stripe);
    return toHostedPaymentMethod(await stripeCall(() => s.paymentMethods.retrieve(id)));
  }

  async retrieveSubscription(id: string) {
    const s = await stripeCall(this.stripe);
    const sub = await stripeCall(() => s.subscriptions.retrieve(id));
    const pm = sub.default_payment_method ?? sub.default_source;
    return { ...toHostedSubscription(sub), paymentMethodId: pm ? (typeof pm === 'string' ? pm : pm.id) : null };
  }

  async createProduct(input: { name: string }) {
    const s = await stripeCall(this.stripe);
    const product = await stripeCall(() => s.products.create({ name: input.name }));
    return { id: product.id };
  }

  async createPrice(input: { productId: string | null; productName?: string; currency: string; unitAmount: bigint; interval: Interval | null }) {
    const s = await stripeCall(this.stripe);
    const price = await stripeCall(() =>
      s.prices.create({
        currency: input.currency.toLowerCase(),
        unit_amount: Number(input.unitAmount),
        ...(input.productId ? { product: input.productId } : { product_data: { name: input.productName ?? 'Donation' } }),
        ...(input.interval ? { recurring: { interval: input.interval } } : {}),
      }),
    );
    return { id: price.id, productId: typeof price.product === 'string' ? price.product : price.product.id };
  }

  /** Created unconfirmed: the donor confirms it in the browser with Stripe.js and the client secret. */
  async createPaymentIntent(input: HostedPaymentIntentInput) {
    const s = await stripeCall(this.stripe);
    const pi = await stripeCall(() =>
      s.paymentIntents.create(
        {
          amount: Number(input.amount),
          currency: input.currency.toLowerCase(),
          automatic_payment_methods: { enabled: true },
          ...(input.customerId ? { customer: input.customerId } : {}),
          ...(input.paymentMethodId ? { payment_method: input.paymentMethodId } : {}),
          ...(input.persist && input.customerId ? { setup_future_usage: 'off_session' as const } : {}),
          ...(input.description ? { description: input.description } : {}),
          ...(input.statementDescriptor ? { statement_descriptor_suffix: input.statementDescriptor } : {}),
          ...(Object.keys(input.metadata).length > 0 ? { metadata: input.metadata } : {}),
          ...(input.connectedAccountId ? { transfer_data: { destination: input.connectedAccountId }, application_fee_amount: Number(input.partnerCut) } : {}),
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    if (!pi.client_secret) throw new AppError('PROCESSOR_ERROR', 'Stripe returned a payment intent without a client secret');
    return { id: pi.id, clientSecret: pi.client_secret };
  }

  async createCheckoutSession(input: HostedCheckoutInput) {
    const s = await stripeCall(this.stripe);
    const currency = input.currency.toLowerCase();
    const connected = input.connectedAccountId;
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: input.mode,
      line_items: input.lines.map((l) =>
        l.priceId
          ? { price: l.priceId, quantity: l.quantity }
          : {
              price_data: { currency, unit_amount: l.unitAmount, product_data: { name: l.name }, ...(l.interval ? { recurring: { interval: l.interval } } : {}) },
              quantity: l.quantity,
            },
      ),
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
      ...(input.customerId ? { customer: input.customerId } : {}),
      ...(Object.keys(input.metadata).length > 0 ? { metadata: input.metadata } : {}),
      ...(input.mode === 'payment'
        ? {
            payment_intent_data: {
              ...(input.description ? { description: input.description } : {}),
              ...(input.statementDescriptor ? { statement_descriptor_suffix: input.statementDescriptor } : {}),
              ...(Object.keys(input.metadata).length > 0 ? { metadata: input.metadata } : {}),
              ...(connected ? { transfer_data: { destination: connected }, application_fee_amount: Number(input.partnerCut) } : {}),
            },
          }
        : {
            subscription_data: {
              ...(input.description ? { description: input.description } : {}),
              ...(Object.keys(input.subscriptionMetadata ?? input.metadata).length > 0 ? { metadata: input.subscriptionMetadata ?? input.metadata } : {}),
              ...(connected ? { transfer_data: { destination: connected }, application_fee_percent: input.cutBps / 100 } : {}),
            },
          }),
    };
    const session = await stripeCall(() => s.checkout.sessions.create(params, { idempotencyKey: input.idempotencyKey }));
    if (!session.url) throw new AppError('PROCESSOR_ERROR', 'Stripe returned a checkout session without its page URL');
    return { id: session.id, url: session.url, expiresAt: date(session.expires_at) };
  }

  /**
   * Bills the first period at once with the saved method; a decline fails the call
   * (error_if_incomplete) so nothing is created. Tips need a product of their own at Stripe, and
   * an amount priced inline a product too: each is created under a key derived from the
   * subscription's, so a retry of the whole creation finds the same products and sends the very
   * same parameters.
   */
  async createSubscription(input: HostedSubscriptionInput) {
    const s = await stripeCall(this.stripe).catch((err: Error) => {
      throw new ChargeNotSent(err);
    });
    const currency = input.currency.toLowerCase();
    const key = input.idempotencyKey;
    try {
      const tipProduct = input.recurringTip > 0 || input.oneTimeTip > 0 ? await this.product(s, 'Tip', `${key}:product:tip`) : null;
      const params: Stripe.SubscriptionCreateParams = {
        customer: input.customerId,
        items: [
          ...(await this.items(s, input.items, currency, input.interval, key)),
          ...(input.recurringTip > 0 ? [this.tipItem(currency, tipProduct!, input.recurringTip, input.interval)] : []),
        ],
        ...(input.oneTimeTip > 0 ? { add_invoice_items: [{ price_data: { currency, product: tipProduct!, unit_amount: input.oneTimeTip }, quantity: 1 }] } : {}),
        ...methodDefault(input.paymentMethodId),
        off_session: true,
        payment_behavior: 'error_if_incomplete',
        proration_behavior: 'none',
        ...(input.connectedAccountId ? { transfer_data: { destination: input.connectedAccountId }, application_fee_percent: input.cutBps / 100 } : {}),
        ...(input.description ? { description: input.description } : {}),
        ...(Object.keys(input.metadata).length > 0 ? { metadata: input.metadata } : {}),
      };
      return toHostedSubscription(await s.subscriptions.create(params, { idempotencyKey: key }));
    } catch (err) {
      if (isStripeError(err, 'StripeCardError')) throw new ChargeNotSent(declinedSubscription(err));
      if (isStripeError(err, 'StripeInvalidRequestError') || isStripeError(err, 'StripeAuthenticationError') || isStripeError(err, 'StripePermissionError')) {
        throw new ChargeNotSent(processorError(err));
      }
      throw processorError(err);
    }
  }

  async findSubscription(metadataKey: string, value: string) {
    const s = await stripeCall(this.stripe);
    const found = await stripeCall(() => s.subscriptions.search({ query: `metadata['${metadataKey}']:'${value}'`, limit: 1 }));
    return found.data[0] ? toHostedSubscription(found.data[0]) : null;
  }

  async updateSubscription(id: string, change: HostedSubscriptionChange, idempotencyKey: string) {
    const s = await stripeCall(this.stripe);
    const currency = change.currency?.toLowerCase() ?? 'usd';
    const interval = change.interval ?? 'month';
    const tipProduct = change.tip?.amount || change.oneTimeTip ? await stripeCall(() => this.product(s, 'Tip', `${idempotencyKey}:product:tip`)) : null;
    const items: Stripe.SubscriptionUpdateParams.Item[] = [
      ...(change.items ? change.items.replacing.map((itemId) => ({ id: itemId, deleted: true })) : []),
      ...(change.items ? await stripeCall(() => this.items(s, change.items!.set, currency, interval, idempotencyKey)) : []),
      ...(change.tip?.replacing ? [{ id: change.tip.replacing, deleted: true }] : []),
      ...(change.tip?.amount ? [this.tipItem(currency, tipProduct!, change.tip.amount, interval)] : []),
    ];
    // A change that is paid for now must be paid, or not be made.
    const charges = items.length > 0 || change.billingCycleAnchorNow || change.oneTimeTip;
    const params: Stripe.SubscriptionUpdateParams = {
      ...(items.length > 0 ? { items } : {}),
      ...(change.oneTimeTip ? { add_invoice_items: [{ price_data: { currency, product: tipProduct!, unit_amount: change.oneTimeTip }, quantity: 1 }] } : {}),
      ...(change.prorationBehavior ? { proration_behavior: change.prorationBehavior } : {}),
      ...(charges ? { payment_behavior: 'error_if_incomplete' as const } : {}),
      ...(change.billingCycleAnchorNow ? { billing_cycle_anchor: { type: 'now' } } : {}),
      ...(change.cancelAtPeriodEnd !== undefined ? { cancel_at_period_end: change.cancelAtPeriodEnd } : {}),
      // Stripe clears a setting given as an empty string.
      ...(change.cancelAt !== undefined ? { cancel_at: change.cancelAt ? seconds(change.cancelAt) : '' } : {}),
      ...(change.pause !== undefined
        ? { pause_collection: change.pause ? { behavior: 'void' as const, ...(change.pause.resumesAt ? { resumes_at: seconds(change.pause.resumesAt) } : {}) } : '' }
        : {}),
      ...(change.paymentMethodId ? methodDefault(change.paymentMethodId) : {}),
      ...(change.description !== undefined ? { description: change.description ?? '' } : {}),
      ...(change.metadata ? { metadata: change.metadata } : {}),
    };
    try {
      return toHostedSubscription(await s.subscriptions.update(id, params, { idempotencyKey }));
    } catch (err) {
      if (isStripeError(err, 'StripeCardError')) throw declinedSubscription(err);
      throw processorError(err);
    }
  }

  /** Subscription items as Stripe takes them: a price, or an amount priced inline for a product. */
  private async items(s: Stripe, items: HostedItem[], currency: string, interval: Interval, key: string) {
    const out: Stripe.SubscriptionCreateParams.Item[] = [];
    for (const [n, item] of items.entries()) {
      if (item.priceId !== null) {
        out.push({ price: item.priceId, quantity: item.quantity });
        continue;
      }
      const product = item.productId ?? (await this.product(s, item.productName, `${key}:product:${n}`));
      out.push({ price_data: { currency, product, unit_amount: item.unitAmount, recurring: { interval } }, quantity: item.quantity });
    }
    return out;
  }

  private tipItem(currency: string, product: string, amount: number, interval: Interval) {
    return { price_data: { currency, product, unit_amount: amount, recurring: { interval } }, quantity: 1, metadata: { [ITEM_ROLE_KEY]: 'tip' } };
  }

  private async product(s: Stripe, name: string, idempotencyKey: string): Promise<string> {
    return (await s.products.create({ name }, { idempotencyKey })).id;
  }

  async cancelSubscription(id: string) {
    const s = await stripeCall(this.stripe);
    return toHostedSubscription(await stripeCall(() => s.subscriptions.cancel(id)));
  }

  async refund(paymentRef: string, amount: bigint, idempotencyKey: string) {
    const s = await stripeCall(this.stripe);
    const refund = await stripeCall(() => s.refunds.create({ payment_intent: paymentRef, amount: Number(amount) }, { idempotencyKey }));
    return { id: refund.id };
  }
}
