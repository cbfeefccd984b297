import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import type { PayBodyType, PayResultType } from './checkout.schemas.js';
import type { CheckoutLineItem, Interval } from '../../platform/db/schema.payments.js';
import type { DonationInput } from './donation.js';
import { chargesRepo } from './charges.repo.js';
import { cardColumns } from './charges.rows.js';
import type { Processors } from './processor.js';
import type { SubscriptionsService } from './subscriptions.service.js';

/**
 * What the hosted checkout needs from subscriptions: a paid subscription-mode session starts a
 * subscription with the donor's card (this side owns card handling, 3-D Secure and the first invoice).
 */
export interface CheckoutSubscriptions {
  startFromCheckout(
    auth: PaymentsAuth,
    input: {
      sessionId: string;
      customerId: string | null;
      currency: string;
      items: CheckoutLineItem[];
      tip: number;
      tipInterval: Interval | null;
      donation: DonationInput;
      paymentMethodId: string | null;
      pay: PayBodyType;
    },
  ): Promise<{ status: 'succeeded' | 'requires_action' | 'requires_payment_method'; error: PayResultType['error'] }>;
}

type Start = Parameters<CheckoutSubscriptions['startFromCheckout']>;
type Answer = Awaited<ReturnType<CheckoutSubscriptions['startFromCheckout']>>;

/**
 * Subscription-mode checkout on the hosted page: the card the donor enters is saved to the
 * customer (a subscription bills it again every period), a 3-D Secure card is authenticated once
 * first, and the subscription is then created as POST /subscriptions would, first period billed at
 * once. A decline creates nothing and lets the donor try another card, as in payment mode.
 */
export class CheckoutSubscriptionStarter implements CheckoutSubscriptions {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly subscriptions: SubscriptionsService,
    private readonly clock: PartnerClock,
  ) {}

  async startFromCheckout(auth: Start[0], input: Start[1]): Promise<Answer> {
    if (!input.customerId) throw new AppError('INVALID_STATE', 'A subscription checkout needs a customer; create the session with POST /customers/{customerId}/checkout');
    const now = await this.clock.now(auth.partnerId, auth.environment);
    let methodId: string;
    if (input.pay.card) {
      const { name: _name, ...card } = input.pay.card;
      const processor = this.processors.for(auth);
      const saved = await processor.confirmPaymentIntentCard(input.sessionId, { card }, now);
      await chargesRepo.insertMethod(this.db, { ...cardColumns(saved.card), account_id: auth.accountId, customer_id: input.customerId, created_at: now });
      await this.db.updateTable('checkout_sessions').set({ payment_method_id: saved.card.id }).where('id', '=', input.sessionId).execute();
      if (saved.requiresAuthentication) return { status: 'requires_action', error: null };
      methodId = saved.card.id;
    } else if (input.pay.authenticate !== undefined) {
      const method = input.paymentMethodId ? await chargesRepo.findMethod(this.db, auth.accountId, input.paymentMethodId) : undefined;
      if (!method || method.sandbox_outcome !== 'authentication_required') {
        throw new AppError('INVALID_STATE', 'Nothing to authenticate: this checkout does not require action');
      }
      if (!input.pay.authenticate) {
        return { status: 'requires_payment_method', error: { code: 'payment_intent_authentication_failure', message: 'The card was not authenticated; try again or use another card.' } };
      }
      // Authenticated once, the card is set up for the renewals that follow (an off-session mandate).
      await chargesRepo.markAuthenticated(this.db, method.id);
      methodId = method.id;
    } else {
      methodId = input.paymentMethodId!;
    }
    return this.subscribe(auth, input, methodId);
  }

  private async subscribe(auth: PaymentsAuth, input: Start[1], paymentMethodId: string): Promise<Answer> {
    const items = input.items.map((line) =>
      line.priceId
        ? { priceId: line.priceId, quantity: line.quantity }
        : { unitAmount: line.unitAmount, currency: input.currency, interval: line.interval!, productName: line.name, quantity: line.quantity },
    );
    try {
      await this.subscriptions.create(auth, input.customerId!, {
        ...(input.donation as Record<string, unknown>),
        items,
        paymentMethodId,
        tip: input.tip,
        ...(input.tipInterval ? { tipInterval: input.tipInterval } : {}),
      });
      return { status: 'succeeded', error: null };
    } catch (err) {
      if (err instanceof AppError && err.code === 'CARD_DECLINED') {
        const declineCode = String((err.extra as { declineCode?: string } | undefined)?.declineCode ?? 'card_declined');
        return { status: 'requires_payment_method', error: { code: 'card_declined', declineCode, message: err.message } };
      }
      throw err;
    }
  }
}
