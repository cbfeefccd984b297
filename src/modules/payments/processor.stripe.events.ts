import type Stripe from 'stripe';
import { isStripeError } from './processor.stripe.sdk.js';
import { AppError } from '../../platform/errors.js';
import type { HostedSubscription } from './processor.hosted.js';
import { toHostedSubscription } from './processor.stripe.billing.map.js';
import { idOf, stripeDate as date } from './processor.stripe.map.js';
import { CHARGE_ID_KEY } from './processor.stripe.js';

/**
 * Stripe webhook events in our terms. The route hands over the raw body and the Stripe-Signature
 * header; what comes back names only our concepts (a payment succeeded, an invoice was paid), so the
 * domain never reads a Stripe object.
 */
export type ProcessorEvent =
  | { kind: 'payment_succeeded'; paymentRef: string; amount: bigint; paymentMethodId: string | null; chargeId: string | null }
  | { kind: 'payment_failed'; paymentRef: string; code: string; message: string; chargeId: string | null }
  | { kind: 'payment_refunded'; paymentRef: string; amountRefunded: bigint }
  | { kind: 'checkout_completed'; sessionId: string; paymentRef: string | null; subscriptionId: string | null; paid: boolean }
  | {
      kind: 'invoice_paid';
      invoiceId: string;
      subscriptionId: string;
      /** The subscription's metadata when the invoice was made: names our row before it knows Stripe's id. */
      metadata: Record<string, string>;
      paymentRef: string | null;
      amountPaid: bigint;
      periodStart: Date;
      periodEnd: Date;
      /** The period the subscription's lines pay for (a renewal pays the one that starts). */
      servicePeriod: { start: Date; end: Date } | null;
    }
  | { kind: 'invoice_failed'; invoiceId: string; subscriptionId: string; metadata: Record<string, string>; amountDue: bigint; periodStart: Date; periodEnd: Date }
  | { kind: 'subscription_changed'; subscription: HostedSubscription }
  | { kind: 'setup_succeeded'; setupIntentId: string; customerId: string | null; paymentMethodId: string }
  | { kind: 'unhandled' };

export interface ReceivedEvent {
  id: string;
  type: string;
  livemode: boolean;
  event: ProcessorEvent;
}

/**
 * Checks the Stripe-Signature over the exact bytes received, with each configured endpoint secret
 * (a test-mode and a live-mode endpoint, or both sides of a rotation). `nowMs` is our clock, so the
 * five-minute replay window follows it.
 */
export function verifyStripeEvent(sdk: typeof Stripe, raw: Buffer, signature: string | undefined, secrets: readonly string[], nowMs: number): Stripe.Event {
  if (secrets.length === 0) {
    throw new AppError('INVALID_SIGNATURE', 'Stripe webhooks are not configured on this server (ALMONER_STRIPE_WEBHOOK_SECRET): no event can be verified');
  }
  if (!signature) throw new AppError('INVALID_SIGNATURE', 'The Stripe-Signature header is missing');
  for (const secret of secrets) {
    try {
      return sdk.webhooks.constructEvent(raw, signature, secret, sdk.webhooks.DEFAULT_TOLERANCE, undefined, nowMs);
    } catch (err) {
      if (!isStripeError(err, 'StripeSignatureVerificationError')) {
        throw new AppError('VALIDATION_ERROR', 'The event body is not a Stripe event (not valid JSON)');
      }
    }
  }
  throw new AppError('INVALID_SIGNATURE', 'The Stripe-Signature does not match this body for any configured endpoint secret, or is older than five minutes');
}

/** The subscription an invoice bills: under parent.subscription_details now, at the top level before 2025. */
function invoiceSubscription(invoice: Stripe.Invoice): string | null {
  const legacy = invoice as unknown as { subscription?: string | { id: string } | null };
  return idOf(invoice.parent?.subscription_details?.subscription ?? legacy.subscription ?? null);
}

/** The billed subscription's metadata: under parent.subscription_details now, subscription_details before 2025. */
function invoiceSubscriptionMetadata(invoice: Stripe.Invoice): Record<string, string> {
  const legacy = invoice as unknown as { subscription_details?: { metadata?: Record<string, string> | null } | null };
  return { ...(invoice.parent?.subscription_details?.metadata ?? legacy.subscription_details?.metadata ?? {}) };
}

/** The latest period the invoice's subscription lines cover. */
function servicePeriod(invoice: Stripe.Invoice): { start: Date; end: Date } | null {
  const periods = (invoice.lines?.data ?? []).map((l) => l.period).filter((p): p is Stripe.InvoiceLineItem.Period => !!p && p.end > p.start);
  if (periods.length === 0) return null;
  const latest = periods.reduce((a, b) => (b.end > a.end ? b : a));
  return { start: date(latest.start), end: date(latest.end) };
}

/** The PaymentIntent that paid an invoice: in its payments list now, at the top level before 2025. */
function invoicePayment(invoice: Stripe.Invoice): string | null {
  const legacy = invoice as unknown as { payment_intent?: string | { id: string } | null };
  const paid = invoice.payments?.data?.find((p) => p.payment?.payment_intent)?.payment?.payment_intent;
  return idOf(paid ?? legacy.payment_intent ?? null);
}

export function toProcessorEvent(e: Stripe.Event): ReceivedEvent {
  const base = { id: e.id, type: e.type, livemode: e.livemode };
  const object = e.data.object as unknown;
  switch (e.type) {
    case 'payment_intent.succeeded': {
      const pi = object as Stripe.PaymentIntent;
      return {
        ...base,
        event: { kind: 'payment_succeeded', paymentRef: pi.id, amount: BigInt(pi.amount_received ?? pi.amount), paymentMethodId: idOf(pi.payment_method), chargeId: pi.metadata?.[CHARGE_ID_KEY] ?? null },
      };
    }
    case 'payment_intent.payment_failed': {
      const pi = object as Stripe.PaymentIntent;
      const err = pi.last_payment_error;
      return {
        ...base,
        event: {
          kind: 'payment_failed',
          paymentRef: pi.id,
          code: err?.decline_code || err?.code || 'payment_failed',
          message: err?.message || 'The payment failed',
          chargeId: pi.metadata?.[CHARGE_ID_KEY] ?? null,
        },
      };
    }
    case 'charge.refunded': {
      const charge = object as Stripe.Charge;
      const ref = idOf(charge.payment_intent);
      return ref ? { ...base, event: { kind: 'payment_refunded', paymentRef: ref, amountRefunded: BigInt(charge.amount_refunded) } } : { ...base, event: { kind: 'unhandled' } };
    }
    case 'checkout.session.completed': {
      const s = object as Stripe.Checkout.Session;
      return {
        ...base,
        event: { kind: 'checkout_completed', sessionId: s.id, paymentRef: idOf(s.payment_intent), subscriptionId: idOf(s.subscription), paid: s.payment_status !== 'unpaid' },
      };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const invoice = object as Stripe.Invoice;
      const subscriptionId = invoiceSubscription(invoice);
      if (!subscriptionId || !invoice.id) return { ...base, event: { kind: 'unhandled' } };
      const period = { periodStart: date(invoice.period_start), periodEnd: date(invoice.period_end) };
      const metadata = invoiceSubscriptionMetadata(invoice);
      return e.type === 'invoice.paid'
        ? {
            ...base,
            event: { kind: 'invoice_paid', invoiceId: invoice.id, subscriptionId, metadata, paymentRef: invoicePayment(invoice), amountPaid: BigInt(invoice.amount_paid), ...period, servicePeriod: servicePeriod(invoice) },
          }
        : { ...base, event: { kind: 'invoice_failed', invoiceId: invoice.id, subscriptionId, metadata, amountDue: BigInt(invoice.amount_due), ...period } };
    }
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return { ...base, event: { kind: 'subscription_changed', subscription: toHostedSubscription(object as Stripe.Subscription) } };
    case 'setup_intent.succeeded': {
      const si = object as Stripe.SetupIntent;
      const pm = idOf(si.payment_method);
      return pm
        ? { ...base, event: { kind: 'setup_succeeded', setupIntentId: si.id, customerId: idOf(si.customer), paymentMethodId: pm } }
        : { ...base, event: { kind: 'unhandled' } };
    }
    default:
      return { ...base, event: { kind: 'unhandled' } };
  }
}
