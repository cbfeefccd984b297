import type Stripe from 'stripe';
import { isStripeError } from './processor.stripe.sdk.js';
import { AppError } from '../../platform/errors.js';
import type { PlaidClient } from './plaid.client.js';
import { ChargeNotSent, type ChargeRequest, type ChargeResult } from './processor.charges.js';
import type { CardSource, ProcessorBankAccount, ProcessorCard } from './processor.methods.js';
import type { PaymentProcessor } from './processor.js';
import { bankAccount, chargeResult, declinedResult, processorError, stripeCall } from './processor.stripe.map.js';

/**
 * The PaymentProcessor on Stripe, through the official SDK: customers, server-side confirmed
 * PaymentIntents for charges (Connect destination charges when the account has a connected
 * account), setup intents, bank accounts as customer sources (added by token or through Plaid,
 * verified with micro-deposits) and default and removed payment methods. Card details never reach
 * us: Stripe.js collects them in the browser.
 */
export class StripeProcessor implements PaymentProcessor {
  constructor(
    private readonly stripe: () => Promise<Stripe>,
    private readonly plaid: PlaidClient | null,
  ) {}

  async createCustomer(input: { email: string | null; name: string | null; externalId: string | null }): Promise<{ id: string }> {
    const s = await stripeCall(this.stripe);
    const customer = await stripeCall(() =>
      s.customers.create({
        ...(input.email ? { email: input.email } : {}),
        ...(input.name ? { name: input.name } : {}),
        ...(input.externalId ? { metadata: { external_id: input.externalId } } : {}),
      }),
    );
    return { id: customer.id };
  }

  async updateCustomer(id: string, input: { email?: string | null; name?: string | null }): Promise<void> {
    const s = await stripeCall(this.stripe);
    // Stripe clears a field given as an empty string.
    await stripeCall(() =>
      s.customers.update(id, {
        ...(input.email !== undefined ? { email: input.email ?? '' } : {}),
        ...(input.name !== undefined ? { name: input.name ?? '' } : {}),
      }),
    );
  }

  /**
   * A PaymentIntent created and confirmed at once with the saved method, the donor not present
   * (off_session). With a connected account it is a destination charge whose application fee is the
   * account's cut. Stripe refuses statement_descriptor on card payments, so cards get the suffix.
   */
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const s = await stripeCall(this.stripe).catch((err: Error) => {
      throw new ChargeNotSent(err);
    });
    const card = request.paymentMethod.type === 'card';
    const params: Stripe.PaymentIntentCreateParams = {
      amount: Number(request.gross),
      currency: request.currency.toLowerCase(),
      payment_method: request.paymentMethod.id,
      // Confirmed on the server with the donor away: no method that needs a redirect may be used
      // (without this Stripe would ask for a return_url).
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      confirm: true,
      off_session: true,
      ...(request.customerId ? { customer: request.customerId } : {}),
      ...(request.description ? { description: request.description } : {}),
      ...(request.statementDescriptor ? (card ? { statement_descriptor_suffix: request.statementDescriptor } : { statement_descriptor: request.statementDescriptor }) : {}),
      ...(Object.keys(request.metadata).length > 0 ? { metadata: request.metadata } : {}),
      ...(request.connectedAccountId
        ? { transfer_data: { destination: request.connectedAccountId }, application_fee_amount: Number(request.partnerCut) }
        : {}),
      // A bank account saved before this charge was authorised by its owner offline (the form they
      // signed when adding it); Stripe needs that mandate stated on the first debit.
      ...(card ? {} : { mandate_data: { customer_acceptance: { type: 'offline' } } }),
    };
    try {
      const pi = await s.paymentIntents.create(params, request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {});
      return chargeResult(pi);
    } catch (err) {
      if (isStripeError(err, 'StripeCardError')) return declinedResult(err);
      throw refusedBeforeActing(err) ? new ChargeNotSent(processorError(err)) : processorError(err);
    }
  }

  /**
   * Stripe's PaymentIntent carrying this charge id in its metadata. Search is Stripe's only lookup
   * by metadata; it trails writes by up to a minute, so it is used only for charges a day old.
   */
  async lookup(chargeId: string): Promise<ChargeResult | null> {
    const s = await stripeCall(this.stripe);
    const found = await stripeCall(() => s.paymentIntents.search({ query: `metadata['${CHARGE_ID_KEY}']:'${chargeId}'`, limit: 1 }));
    const pi = found.data[0];
    return pi ? chargeResult(pi) : null;
  }

  async settle(): Promise<never> {
    throw new AppError('INVALID_STATE', 'Stripe settles bank debits itself and reports the outcome by webhook');
  }

  async createSetupIntent(input: { customerId: string | null }): Promise<{ id: string; clientSecret: string }> {
    const s = await stripeCall(this.stripe);
    const intent = await stripeCall(() =>
      s.setupIntents.create({ ...(input.customerId ? { customer: input.customerId } : {}), usage: 'off_session' }),
    );
    if (!intent.client_secret) throw new AppError('PROCESSOR_ERROR', 'Stripe returned a setup intent without a client secret');
    return { id: intent.id, clientSecret: intent.client_secret };
  }

  async confirmSetupIntent(_id: string, _source: CardSource, _now: Date): Promise<{ card: ProcessorCard; requiresAuthentication: boolean }> {
    throw browserOnly('setup', 'stripe.confirmCardSetup');
  }

  async confirmPaymentIntentCard(_id: string, _source: CardSource, _now: Date): Promise<{ card: ProcessorCard; requiresAuthentication: boolean }> {
    throw browserOnly('payment', 'stripe.confirmCardPayment');
  }

  async attachBankToken(customerId: string, token: string): Promise<ProcessorBankAccount> {
    const s = await stripeCall(this.stripe);
    const source = await stripeCall(() => s.customers.createSource(customerId, { source: token }));
    if (source.object !== 'bank_account') {
      // A card token was sent where a bank token belongs: take it off again rather than keep a stray card.
      await stripeCall(() => s.customers.deleteSource(customerId, source.id));
      throw new AppError('VALIDATION_ERROR', 'token must be a bank account token (btok_...) from Stripe.js', { details: [{ path: '/token', message: 'not a bank account token' }] });
    }
    return bankAccount(source as Stripe.BankAccount);
  }

  async verifyMicroDeposits(customerId: string, bankAccountId: string, amounts: readonly number[]): Promise<boolean> {
    const s = await stripeCall(this.stripe);
    try {
      const verified = await s.customers.verifySource(customerId, bankAccountId, { amounts: [...amounts] });
      return verified.status === 'verified';
    } catch (err) {
      // Wrong amounts are Stripe's 400 with this code; the caller counts the failed attempt.
      if (isStripeError(err, 'StripeInvalidRequestError') && err.code === 'bank_account_verification_failed') return false;
      throw processorError(err);
    }
  }

  async plaidLinkToken(input: { customerId: string; clientName: string }): Promise<{ environment: string; linkToken: string }> {
    const plaid = this.requirePlaid();
    return { environment: plaid.environment, linkToken: await plaid.linkToken(input) };
  }

  /** Plaid proves the donor owns the account, so the bank account Stripe makes of its token is verified. */
  async plaidExchange(customerId: string, input: { publicToken: string; accountId: string }): Promise<ProcessorBankAccount> {
    const plaid = this.requirePlaid();
    const linked = await plaid.exchange(input.publicToken, input.accountId);
    const token = await plaid.stripeBankToken(linked);
    return this.attachBankToken(customerId, token);
  }

  async setDefaultPaymentMethod(customerId: string, paymentMethodId: string): Promise<void> {
    const s = await stripeCall(this.stripe);
    // PaymentMethods (pm_) are the invoice default; bank accounts added by token are sources.
    const params: Stripe.CustomerUpdateParams = paymentMethodId.startsWith('pm_')
      ? { invoice_settings: { default_payment_method: paymentMethodId } }
      : { default_source: paymentMethodId };
    await stripeCall(() => s.customers.update(customerId, params));
  }

  async detachPaymentMethod(customerId: string, paymentMethodId: string): Promise<void> {
    const s = await stripeCall(this.stripe);
    if (paymentMethodId.startsWith('pm_')) await stripeCall(() => s.paymentMethods.detach(paymentMethodId));
    else await stripeCall(() => s.customers.deleteSource(customerId, paymentMethodId));
  }

  private requirePlaid(): PlaidClient {
    if (!this.plaid) {
      throw new AppError('SERVICE_UNAVAILABLE', 'Plaid is not configured on this server; add the bank account with a Stripe.js bank token and micro-deposits instead');
    }
    return this.plaid;
  }
}

/** The metadata key that names our charge on its Stripe PaymentIntent. */
export const CHARGE_ID_KEY = 'almoner_charge_id';

/**
 * Stripe errors that mean the request was refused before Stripe acted on it, on every attempt the
 * SDK made: nothing was charged. A rate limit is not one of them: the SDK may have been limited on
 * its retry after a first attempt whose answer was lost.
 */
function refusedBeforeActing(err: unknown): boolean {
  return isStripeError(err, 'StripeInvalidRequestError') || isStripeError(err, 'StripeAuthenticationError') || isStripeError(err, 'StripePermissionError');
}

const browserOnly = (kind: 'setup' | 'payment', call: string) =>
  new AppError('INVALID_STATE', `This ${kind} intent belongs to a Stripe account: confirm it in the browser with Stripe.js (${call}); card details never pass through this API`);
