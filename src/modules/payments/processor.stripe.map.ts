import type Stripe from 'stripe';
import { isAnyStripeError, isStripeError } from './processor.stripe.sdk.js';
import { AppError } from '../../platform/errors.js';
import type { ChargeResult } from './processor.charges.js';
import type { ProcessorBankAccount } from './processor.methods.js';

/**
 * Stripe objects and errors in our own terms. Nothing in here returns a Stripe type: the domain
 * sees charge results, bank accounts and AppErrors only.
 */

export const RETRY = 'Nothing was recorded; retry with the same Idempotency-Key, which Stripe also receives, so the payment is never taken twice';

/**
 * A Stripe failure that is not a card decline, as the AppError the caller gets: Stripe's own refusals
 * of a request (400, with Stripe's message, which names the parameter), and everything that is
 * Stripe's or the network's fault as a retryable 502/503. Card errors are handled by the caller,
 * since a decline is a result, not an error.
 */
export function processorError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isStripeError(err, 'StripeRateLimitError')) {
    return new AppError('PROCESSOR_UNAVAILABLE', `Stripe is rate limiting requests. ${RETRY}`, { headers: { 'Retry-After': '2' } });
  }
  if (isStripeError(err, 'StripeConnectionError')) {
    return new AppError('PROCESSOR_UNAVAILABLE', `Stripe could not be reached. ${RETRY}`, { headers: { 'Retry-After': '2' } });
  }
  if (isStripeError(err, 'StripeAuthenticationError') || isStripeError(err, 'StripePermissionError')) {
    // The account's Stripe key is wrong or lacks a permission: the operator's to fix, not the caller's.
    return new AppError('PROCESSOR_ERROR', "Stripe refused this payments account's credentials; the operator must update its Stripe keys");
  }
  if (isStripeError(err, 'StripeIdempotencyError')) {
    return new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different payment; use a new key for a new payment');
  }
  if (isStripeError(err, 'StripeInvalidRequestError') || isStripeError(err, 'StripeCardError')) {
    const param = (err as Stripe.errors.StripeError).param;
    return new AppError('PROCESSOR_REJECTED', `Stripe refused the request: ${(err as Error).message}`, {
      ...(param ? { details: [{ path: `stripe:${param}`, message: (err as Error).message }] } : {}),
    });
  }
  if (isAnyStripeError(err)) {
    return new AppError('PROCESSOR_ERROR', `Stripe answered with an error (${err.statusCode ?? 'no status'}). ${RETRY}`);
  }
  // Anything else thrown while talking to Stripe (a socket torn down mid-answer, a body that is not
  // JSON) is a transport failure too.
  return new AppError('PROCESSOR_UNAVAILABLE', `Stripe could not be reached. ${RETRY}`, { headers: { 'Retry-After': '2' } });
}

/** A Stripe timestamp (seconds since the epoch) as a Date. */
export const stripeDate = (s: number) => new Date(s * 1000);

/** Runs one Stripe call, turning its failures into our errors. */
export async function stripeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw processorError(err);
  }
}

/** Stripe's standard ACH Direct Debit settlement time, in business days. */
export const STRIPE_ACH_DAYS = 4;

const GENERIC_DECLINE = 'Your card was declined.';

/** A card error (402 from Stripe) as our failed charge: Stripe's decline code, else its error code. */
export function declinedResult(err: Stripe.errors.StripeCardError): ChargeResult {
  return {
    status: 'failed',
    code: err.decline_code || err.code || 'card_declined',
    message: err.message || GENERIC_DECLINE,
    processorRef: err.payment_intent?.id ?? null,
  };
}

/**
 * A PaymentIntent after a server-side confirmation. `processing` is a bank debit on its way (Stripe
 * tells us how it ends by webhook); `requires_action` means the card wants 3-D Secure, which a donor
 * who is not present cannot pass, so it is the same decline the sandbox gives such a card.
 */
export function chargeResult(pi: Pick<Stripe.PaymentIntent, 'id' | 'status' | 'last_payment_error'>): ChargeResult {
  switch (pi.status) {
    case 'succeeded':
      return { status: 'succeeded', processorRef: pi.id };
    case 'processing':
      // Stripe settles the debit and says so by webhook; the days are only the expected wait.
      return { status: 'pending', settlesInDays: STRIPE_ACH_DAYS, processorRef: pi.id };
    case 'requires_action':
      return {
        status: 'failed',
        code: 'authentication_required',
        message: 'This card requires authentication (3-D Secure); pay with a payment intent so the donor can authenticate in the browser',
        processorRef: pi.id,
      };
    default: {
      const e = pi.last_payment_error;
      return {
        status: 'failed',
        code: e?.decline_code || e?.code || (pi.status === 'canceled' ? 'canceled' : 'payment_failed'),
        message: e?.message || `The payment did not complete (Stripe status ${pi.status})`,
        processorRef: pi.id,
      };
    }
  }
}

/** A customer's bank account (a ba_ source): Plaid-linked ones come back verified, token-added ones new. */
export function bankAccount(ba: Pick<Stripe.BankAccount, 'id' | 'bank_name' | 'last4' | 'routing_number' | 'account_holder_name' | 'status'>): ProcessorBankAccount {
  return {
    id: ba.id,
    bankName: ba.bank_name ?? '',
    last4: ba.last4,
    routingNumber: ba.routing_number ?? '',
    holderName: ba.account_holder_name ?? null,
    verified: ba.status === 'verified',
    sandboxOutcome: null,
  };
}

/** Stripe wants an id where it can take an id or an expanded object; we never expand. */
export const idOf = (v: string | { id: string } | null | undefined): string | null => (v == null ? null : typeof v === 'string' ? v : v.id);
