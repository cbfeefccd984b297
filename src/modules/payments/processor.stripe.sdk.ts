import type Stripe from 'stripe';

/**
 * Stripe's SDK, loaded when a Stripe account is first used rather than at every process start
 * (where it cost about 120 ms and 9 MB of heap, in processes that may never talk to Stripe).
 */
let loading: Promise<typeof Stripe> | undefined;

export function loadStripeSdk(): Promise<typeof Stripe> {
  loading ??= import('stripe').then((m) => m.default);
  return loading;
}

type ErrorClasses = (typeof Stripe)['errors'];
export type StripeErrorName = { [K in keyof ErrorClasses]: ErrorClasses[K] extends abstract new (...args: never[]) => unknown ? K : never }[keyof ErrorClasses];

/**
 * Whether `err` is the SDK's error of that class, by its `type`, which the SDK sets to the class's
 * name (the check Stripe's own documentation uses): no SDK needs to be loaded to ask, and an error
 * thrown before it was loaded is simply none of them.
 */
export function isStripeError<N extends StripeErrorName>(err: unknown, name: N): err is InstanceType<ErrorClasses[N]> {
  return err instanceof Error && (err as { type?: unknown }).type === name;
}

/** Any error the SDK raised for an answer or a failed request. */
export function isAnyStripeError(err: unknown): err is Stripe.errors.StripeError {
  const type = err instanceof Error ? (err as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('Stripe');
}
