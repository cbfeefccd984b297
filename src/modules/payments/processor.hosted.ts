import type { Interval } from '../../platform/db/schema.payments.js';

/**
 * What a processor that keeps its own catalogue, payment pages and billing (Stripe) does for us:
 * products and prices, payment intents confirmed in the browser, hosted checkout, subscriptions it
 * bills itself, and refunds. The sandbox does these things in our own tables instead, so only Stripe
 * accounts reach this interface. Everything here is in our terms; no Stripe type crosses it.
 */

export interface HostedPaymentIntentInput {
  amount: bigint;
  currency: string;
  customerId: string | null;
  paymentMethodId: string | null;
  /** Save the method the donor enters to the customer (Stripe's setup_future_usage). */
  persist: boolean;
  description: string | null;
  statementDescriptor: string | null;
  metadata: Record<string, string>;
  connectedAccountId: string | null;
  partnerCut: bigint;
  idempotencyKey: string;
}

export interface HostedLine {
  name: string;
  /** A price of the catalogue (the processor's own id), or null for a line priced here. */
  priceId: string | null;
  unitAmount: number;
  quantity: number;
  interval: Interval | null;
}

export interface HostedCheckoutInput {
  mode: 'payment' | 'subscription';
  currency: string;
  lines: HostedLine[];
  successUrl: string;
  cancelUrl: string;
  customerId: string | null;
  connectedAccountId: string | null;
  /** Payment mode: the application fee in minor units. */
  partnerCut: bigint;
  /** Subscription mode: the application fee as a share of every invoice, in basis points. */
  cutBps: number;
  description: string | null;
  statementDescriptor: string | null;
  metadata: Record<string, string>;
  /** Subscription mode: the metadata the subscription (and so each of its invoices) carries. */
  subscriptionMetadata?: Record<string, string>;
  idempotencyKey: string;
}

export type HostedSubscriptionStatus = 'active' | 'past_due' | 'canceled';

/**
 * An item to subscribe to: a catalogue price (the processor's id), or an amount priced inline for a
 * product (a new one named `productName` when productId is null). Amounts here are plain numbers in
 * minor units (at most 99,999,999) because the request is stored as JSON and sent again as is.
 */
export type HostedItem =
  | { priceId: string; quantity: number }
  | { priceId: null; unitAmount: number; productId: string | null; productName: string; quantity: number };

/** One item of a subscription at the processor; `tip` marks the recurring tip's own item. */
export interface HostedSubscriptionItem {
  id: string;
  priceId: string;
  productId: string | null;
  unitAmount: number | null;
  quantity: number;
  tip: boolean;
}

export interface HostedSubscription {
  id: string;
  status: HostedSubscriptionStatus;
  currentPeriodStart: Date;
  currentPeriodEnd: Date;
  cancelAtPeriodEnd: boolean;
  cancelAt: Date | null;
  paused: boolean;
  resumesAt: Date | null;
  endedAt: Date | null;
  items: HostedSubscriptionItem[];
  metadata: Record<string, string>;
}

export interface HostedSubscriptionInput {
  customerId: string;
  items: HostedItem[];
  paymentMethodId: string;
  currency: string;
  interval: Interval;
  /** Every period, as an item of its own. */
  recurringTip: number;
  /** On the first invoice only. */
  oneTimeTip: number;
  connectedAccountId: string | null;
  cutBps: number;
  description: string | null;
  metadata: Record<string, string>;
  idempotencyKey: string;
}

export interface HostedSubscriptionChange {
  /** Replaces the donation items; `replacing` are the processor's ids of the current ones. */
  items?: { set: HostedItem[]; replacing: string[] };
  /** Replaces the recurring tip's item (amount 0: no tip item any more). */
  tip?: { amount: number; replacing: string | null };
  /** Added to the next invoice once. */
  oneTimeTip?: number;
  /** Needed with items or a tip priced inline. */
  currency?: string;
  interval?: Interval;
  prorationBehavior?: 'none' | 'always_invoice' | 'create_proration';
  billingCycleAnchorNow?: boolean;
  cancelAtPeriodEnd?: boolean;
  cancelAt?: Date | null;
  /** A pause (with an optional end), or null to resume now. */
  pause?: { resumesAt: Date | null } | null;
  paymentMethodId?: string;
  description?: string | null;
  metadata?: Record<string, string>;
}

/** A saved payment method as the processor describes it. */
export interface HostedPaymentMethod {
  id: string;
  type: 'card' | 'us_bank_account';
  card: { brand: string; last4: string; expMonth: number; expYear: number } | null;
  bank: { bankName: string; last4: string; routingNumber: string } | null;
  holderName: string | null;
  email: string | null;
}

export interface HostedPayment {
  status: 'succeeded' | 'processing' | 'failed' | 'open';
  amount: bigint;
  paymentMethod: HostedPaymentMethod | null;
}

export interface HostedOps {
  /** A payment made on the processor's own page, with the method it was made with. */
  retrievePayment(paymentRef: string): Promise<HostedPayment>;
  retrievePaymentMethod(id: string): Promise<HostedPaymentMethod>;
  retrieveSubscription(id: string): Promise<HostedSubscription & { paymentMethodId: string | null }>;
  createProduct(input: { name: string }): Promise<{ id: string }>;
  /** A price of an existing product, or of a new one named `productName`. */
  createPrice(input: { productId: string | null; productName?: string; currency: string; unitAmount: bigint; interval: Interval | null }): Promise<{ id: string; productId: string }>;
  createPaymentIntent(input: HostedPaymentIntentInput): Promise<{ id: string; clientSecret: string }>;
  createCheckoutSession(input: HostedCheckoutInput): Promise<{ id: string; url: string; expiresAt: Date }>;
  /**
   * Creates the subscription and pays its first invoice at once. A decline throws ChargeNotSent
   * around a CARD_DECLINED error: nothing was created.
   */
  createSubscription(input: HostedSubscriptionInput): Promise<HostedSubscription>;
  /** The subscription carrying this value under this metadata key, if any (for requests older than the idempotency window). */
  findSubscription(metadataKey: string, value: string): Promise<HostedSubscription | null>;
  /** A change that charges (items, tip, a new cycle) and is declined throws CARD_DECLINED and changes nothing. */
  updateSubscription(id: string, change: HostedSubscriptionChange, idempotencyKey: string): Promise<HostedSubscription>;
  cancelSubscription(id: string): Promise<HostedSubscription>;
  refund(paymentRef: string, amount: bigint, idempotencyKey: string): Promise<{ id: string }>;
}
