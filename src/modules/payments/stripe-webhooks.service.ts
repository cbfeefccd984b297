import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { ChargesService } from './charges.service.js';
import { chargeCurrency, type Donation } from './donation.js';
import type { ChargeResult } from './processor.charges.js';
import type { HostedPaymentMethod } from './processor.hosted.js';
import type { Processors } from './processor.js';
import { loadStripeSdk } from './processor.stripe.sdk.js';
import { toProcessorEvent, verifyStripeEvent, type ProcessorEvent, type ReceivedEvent } from './processor.stripe.events.js';
import type { RefundsService } from './refunds.js';
import { stripeEventsRepo } from './stripe-events.repo.js';
import { StripeBillingEvents } from './stripe-webhooks.billing.js';
import type { StripeSubscriptions } from './subscriptions.stripe.js';

type Trx = Transaction<Database>;
type MethodRow = Selectable<PaymentMethodsTable>;
export type Effect = { outcome: 'applied' | 'ignored' | 'unmatched'; accountId: string | null };
type Of<K extends ProcessorEvent['kind']> = Extract<ProcessorEvent, { kind: K }>;

export const unmatched: Effect = { outcome: 'unmatched', accountId: null };
export const applied = (accountId: string): Effect => ({ outcome: 'applied', accountId });

/**
 * Stripe webhooks (POST /api/stripe/webhook): verified on the raw body, then applied in one
 * transaction that first claims the event id, so a redelivered or concurrently delivered event
 * changes nothing the second time. Our rows are found by the Stripe ids they carry; an event about
 * something we do not know, or of a type we do not handle, is recorded and changes nothing.
 */
export class StripeWebhooksService {
  readonly billing: StripeBillingEvents;

  constructor(
    private readonly db: Kysely<Database>,
    readonly processors: Processors,
    readonly charges: ChargesService,
    readonly subscriptions: StripeSubscriptions,
    private readonly refunds: RefundsService,
    private readonly accounts: PaymentsAccountsService,
    readonly clock: PartnerClock,
    private readonly baseClock: Clock,
    private readonly secrets: readonly string[],
  ) {
    this.billing = new StripeBillingEvents(this);
  }

  async receive(raw: Buffer | undefined, signature: string | undefined): Promise<{ received: true; duplicate: boolean; outcome: Effect['outcome'] | null }> {
    const sdk = await loadStripeSdk();
    const received = toProcessorEvent(verifyStripeEvent(sdk, raw ?? Buffer.alloc(0), signature, this.secrets, this.baseClock.now().getTime()));
    return this.db.transaction().execute(async (trx) => {
      const fresh = await stripeEventsRepo.claim(trx, { id: received.id, type: received.type, livemode: received.livemode, receivedAt: this.baseClock.now() });
      if (!fresh) return { received: true as const, duplicate: true, outcome: null };
      const effect = await this.apply(trx, received);
      await stripeEventsRepo.finish(trx, received.id, effect.outcome, effect.accountId);
      return { received: true as const, duplicate: false, outcome: effect.outcome };
    });
  }

  private apply(trx: Trx, r: ReceivedEvent): Promise<Effect> {
    const e = r.event;
    switch (e.kind) {
      case 'payment_succeeded':
        return this.paymentSucceeded(trx, e, r.livemode);
      case 'payment_failed':
        return this.paymentFailed(trx, e, r.livemode);
      case 'payment_refunded':
        return this.paymentRefunded(trx, e, r.livemode);
      case 'setup_succeeded':
        return this.setupSucceeded(trx, e, r.livemode);
      case 'checkout_completed':
        return this.billing.checkoutCompleted(trx, e, r.livemode);
      case 'invoice_paid':
        return this.billing.invoicePaid(trx, e, r.livemode);
      case 'invoice_failed':
        return this.billing.invoiceFailed(trx, e, r.livemode);
      case 'subscription_changed':
        return this.billing.subscriptionChanged(trx, e, r.livemode);
      case 'unhandled':
        return Promise.resolve({ outcome: 'ignored', accountId: null });
    }
  }

  /**
   * Who acts for the account a row belongs to, or null when the event cannot be about it: a test-mode
   * event never touches a production account, nor a live one a sandbox account.
   */
  async authFor(trx: Trx, accountId: string, livemode: boolean): Promise<{ auth: PaymentsAuth; now: Date } | null> {
    const auth = await this.accounts.authFor(accountId, trx);
    if (auth.processor !== 'stripe' || (auth.environment === 'production') !== livemode) return null;
    return { auth, now: await this.clock.now(auth.partnerId, auth.environment, trx) };
  }

  /**
   * A charge of ours still processing, named by the charge id in the PaymentIntent's metadata (its
   * asker never recorded Stripe's answer): the event settles it, exactly as asking Stripe would.
   */
  private async processingCharge(trx: Trx, chargeId: string | null, livemode: boolean, result: ChargeResult): Promise<Effect | null> {
    if (!chargeId) return null;
    const charge = await trx.selectFrom('charges').selectAll().where('id', '=', chargeId).forUpdate().executeTakeFirst();
    // Settled ones (a pending debit included) are found by their PaymentIntent id as before.
    if (!charge || charge.status !== 'processing') return null;
    const who = await this.authFor(trx, charge.account_id, livemode);
    if (!who) return unmatched;
    await this.charges.processing.settle(trx, who.auth, charge.id, result, false);
    return applied(charge.account_id);
  }

  private async paymentSucceeded(trx: Trx, e: Of<'payment_succeeded'>, livemode: boolean): Promise<Effect> {
    const byMetadata = await this.processingCharge(trx, e.chargeId, livemode, { status: 'succeeded', processorRef: e.paymentRef });
    if (byMetadata) return byMetadata;
    const charge = await trx.selectFrom('charges').selectAll().where('processor_ref', '=', e.paymentRef).forUpdate().executeTakeFirst();
    if (charge) {
      const who = await this.authFor(trx, charge.account_id, livemode);
      if (!who) return unmatched;
      if (charge.status === 'pending') {
        const row = await trx.updateTable('charges').set({ status: 'succeeded', updated_at: who.now }).where('id', '=', charge.id).returningAll().executeTakeFirstOrThrow();
        await this.charges.postCharge(trx, who.auth, row, who.now);
      }
      return applied(charge.account_id);
    }
    // A payment intent of ours that the donor confirmed in the browser with Stripe.js.
    const intent = await trx.selectFrom('payment_intents').selectAll().where('id', '=', e.paymentRef).forUpdate().executeTakeFirst();
    if (!intent || !e.paymentMethodId) return unmatched;
    const who = await this.authFor(trx, intent.account_id, livemode);
    if (!who) return unmatched;
    if (intent.charge_id) return applied(intent.account_id);
    const { auth, now } = who;
    const method = await this.method(trx, auth, e.paymentMethodId, intent.persist_payment_method ? intent.customer_id : null, now);
    const donation = intent.donation as unknown as Donation;
    const { split, connectedAccountId } = await this.charges.split(auth, method.type, intent.amount, intent.tip, chargeCurrency(intent.currency).digits, donation, trx);
    const outcome = await this.charges.record(
      trx,
      auth,
      { customerId: intent.customer_id, method, currency: intent.currency, split, connectedAccountId, donation, paymentIntentId: intent.id, now },
      { status: 'succeeded', processorRef: intent.id },
    );
    const chargeId = (outcome.body as { chargeId: string }).chargeId;
    await trx.updateTable('payment_intents').set({ status: 'succeeded', charge_id: chargeId, payment_method_id: method.id, last_error: null, updated_at: now }).where('id', '=', intent.id).execute();
    return applied(intent.account_id);
  }

  private async paymentFailed(trx: Trx, e: Of<'payment_failed'>, livemode: boolean): Promise<Effect> {
    const byMetadata = await this.processingCharge(trx, e.chargeId, livemode, { status: 'failed', code: e.code, message: e.message, processorRef: e.paymentRef });
    if (byMetadata) return byMetadata;
    const charge = await trx.selectFrom('charges').selectAll().where('processor_ref', '=', e.paymentRef).forUpdate().executeTakeFirst();
    if (charge) {
      const who = await this.authFor(trx, charge.account_id, livemode);
      if (!who) return unmatched;
      if (charge.status === 'pending') {
        await trx.updateTable('charges').set({ status: 'failed', failure_code: e.code, failure_message: e.message, updated_at: who.now }).where('id', '=', charge.id).execute();
      }
      return applied(charge.account_id);
    }
    const intent = await trx.selectFrom('payment_intents').selectAll().where('id', '=', e.paymentRef).forUpdate().executeTakeFirst();
    if (!intent) return unmatched;
    const who = await this.authFor(trx, intent.account_id, livemode);
    if (!who) return unmatched;
    if (intent.status !== 'succeeded') {
      await trx
        .updateTable('payment_intents')
        .set({ status: 'requires_payment_method', last_error: JSON.stringify({ code: 'card_declined', declineCode: e.code, message: e.message }), updated_at: who.now })
        .where('id', '=', intent.id)
        .execute();
    }
    return applied(intent.account_id);
  }

  /** Stripe reports the total refunded; whatever is beyond what we recorded was refunded at Stripe. */
  private async paymentRefunded(trx: Trx, e: Of<'payment_refunded'>, livemode: boolean): Promise<Effect> {
    const charge = await trx.selectFrom('charges').selectAll().where('processor_ref', '=', e.paymentRef).forUpdate().executeTakeFirst();
    if (!charge) return unmatched;
    const who = await this.authFor(trx, charge.account_id, livemode);
    if (!who) return unmatched;
    const more = e.amountRefunded - charge.refunded_amount;
    if (more > 0n && charge.status !== 'pending' && charge.status !== 'failed' && charge.status !== 'processing') {
      await this.refunds.record(trx, who.auth, charge, more > charge.gross - charge.refunded_amount ? charge.gross - charge.refunded_amount : more, who.now);
    }
    return applied(charge.account_id);
  }

  /** A card saved with Stripe.js through one of our setup intents: the method becomes the customer's. */
  private async setupSucceeded(trx: Trx, e: Of<'setup_succeeded'>, livemode: boolean): Promise<Effect> {
    const intent = await trx.selectFrom('setup_intents').selectAll().where('id', '=', e.setupIntentId).forUpdate().executeTakeFirst();
    if (!intent) return unmatched;
    const who = await this.authFor(trx, intent.account_id, livemode);
    if (!who) return unmatched;
    if (intent.status !== 'succeeded') {
      const method = await this.method(trx, who.auth, e.paymentMethodId, intent.customer_id, who.now);
      await trx.updateTable('setup_intents').set({ status: 'succeeded', payment_method_id: method.id, last_error: null, updated_at: who.now }).where('id', '=', intent.id).execute();
    }
    return applied(intent.account_id);
  }

  /** Our row of a Stripe payment method, made from Stripe's description of it the first time it is seen. */
  async method(trx: Trx, auth: PaymentsAuth, id: string, customerId: string | null, now: Date, known?: HostedPaymentMethod | null): Promise<MethodRow> {
    const existing = await trx.selectFrom('payment_methods').selectAll().where('account_id', '=', auth.accountId).where('id', '=', id).executeTakeFirst();
    if (existing) return existing;
    const pm = known ?? (await this.processors.hosted(auth, trx).retrievePaymentMethod(id));
    return trx
      .insertInto('payment_methods')
      .values({
        id: pm.id,
        account_id: auth.accountId,
        customer_id: customerId,
        type: pm.type,
        card_brand: pm.card?.brand ?? null,
        card_last4: pm.card?.last4 ?? null,
        card_exp_month: pm.card?.expMonth ?? null,
        card_exp_year: pm.card?.expYear ?? null,
        bank_name: pm.bank?.bankName ?? null,
        bank_last4: pm.bank?.last4 ?? null,
        bank_routing: pm.bank?.routingNumber ?? null,
        // Stripe only reports a bank account through a payment once it could debit it.
        status: pm.type === 'card' ? 'active' : 'verified',
        sandbox_outcome: null,
        billing_details: JSON.stringify({ name: pm.holderName, email: pm.email, phone: null }),
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
