import type { CheckoutLineItem, Interval } from '../../platform/db/schema.payments.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { Donation } from './donation.js';
import type { Split } from './fees.js';
import type { HostedLine } from './processor.hosted.js';
import type { Processors } from './processor.js';

/** Metadata on a subscription made by Stripe Checkout that names the checkout session it came from. */
export const CHECKOUT_REFERENCE_KEY = 'almoner_checkout';

/**
 * A checkout session of a Stripe account is a Stripe Checkout Session: Stripe hosts the page and
 * takes the payment; checkout.session.completed (webhook) records the charge. What the donor adds
 * on top (the tip, fees or cut they cover) are lines of their own, so Stripe collects the same gross
 * our split expects.
 */
export async function stripeCheckoutSession(
  processors: Processors,
  auth: PaymentsAuth,
  s: {
    mode: 'payment' | 'subscription';
    customerId: string | null;
    currency: string;
    lines: CheckoutLineItem[];
    /** Subscription mode: a recurring tip's interval; null, a tip on the first invoice only. */
    tipInterval: Interval | null;
    split: Split;
    amount: bigint;
    connectedAccountId: string | null;
    cutBps: number;
    donation: Donation;
    successUrl: string;
    cancelUrl: string;
    idempotencyKey: string;
  },
) {
  const extra = s.split.gross - s.amount - s.split.tip;
  // Subscription mode: covered fees recur with the items; a one-time line is added to the first invoice only.
  const every = s.mode === 'subscription' ? s.lines[0]!.interval : null;
  const lines: HostedLine[] = [
    ...s.lines.map((l) => ({ name: l.name, priceId: l.priceId, unitAmount: l.unitAmount, quantity: l.quantity, interval: l.interval })),
    ...(s.split.tip > 0n ? [{ name: 'Tip', priceId: null, unitAmount: Number(s.split.tip), quantity: 1, interval: s.mode === 'subscription' ? s.tipInterval : null }] : []),
    ...(extra > 0n ? [{ name: 'Fees covered', priceId: null, unitAmount: Number(extra), quantity: 1, interval: every }] : []),
  ];
  const metadata = Object.fromEntries(s.donation.metadata.map((kv) => [kv.key, kv.value]));
  return processors.hosted(auth).createCheckoutSession({
    mode: s.mode,
    currency: s.currency,
    lines,
    // Stripe fills in {CHECKOUT_SESSION_ID}; the sandbox page adds ?session_id= the same way.
    successUrl: s.successUrl.includes('{CHECKOUT_SESSION_ID}') ? s.successUrl : `${s.successUrl}${s.successUrl.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`,
    cancelUrl: s.cancelUrl,
    customerId: s.customerId,
    connectedAccountId: s.connectedAccountId,
    partnerCut: s.split.partnerCut,
    cutBps: s.cutBps,
    description: s.donation.description,
    statementDescriptor: s.donation.statementDescriptor,
    metadata,
    // The key is ours before Stripe's session id exists: invoice events carry it on the subscription.
    ...(s.mode === 'subscription' ? { subscriptionMetadata: { ...metadata, [CHECKOUT_REFERENCE_KEY]: s.idempotencyKey } } : {}),
    idempotencyKey: s.idempotencyKey,
  });
}
