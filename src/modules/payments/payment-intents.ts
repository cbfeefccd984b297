import { timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentIntentsTable, PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import type { ChargesService } from './charges.service.js';
import { chargesRepo } from './charges.repo.js';
import { cardColumns } from './charges.rows.js';
import type { CustomersService } from './customers.service.js';
import type { DestinationsService } from './destinations.js';
import { chargeCurrency, toDonation, type Donation } from './donation.js';
import type { ConfirmPaymentBodyType, PaymentIntentBodyType, PaymentIntentViewType } from './payment-intents.schemas.js';
import type { Processors } from './processor.js';

type IntentRow = Selectable<PaymentIntentsTable>;
type MethodRow = Selectable<PaymentMethodsTable>;

export const SANDBOX_PAYMENT_CONFIRM_PATH = '/sandbox/payment-intents/confirm';
const CLIENT_SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;
const noSuchIntent = () => notFound('No payment intent with this client secret');

export function toPaymentIntentView(row: IntentRow): PaymentIntentViewType {
  const error = row.last_error as { code?: string; declineCode?: string; message?: string } | null;
  return {
    id: row.id,
    status: row.status,
    amount: Number(row.amount),
    tip: Number(row.tip),
    currency: row.currency,
    chargeId: row.charge_id,
    paymentMethod: row.payment_method_id,
    nextAction:
      row.status === 'requires_action'
        ? { type: 'authenticate', method: 'POST', url: SANDBOX_PAYMENT_CONFIRM_PATH, body: { clientSecret: row.client_secret, authenticate: true } }
        : null,
    lastError: error ? { code: String(error.code), ...(error.declineCode ? { declineCode: error.declineCode } : {}), message: String(error.message) } : null,
  };
}

/**
 * Payment intents (contract B6.5): the API creates one and hands out its client secret; the payment
 * page confirms it with a card (Stripe.js with Stripe, the sandbox confirm route offline). The
 * charge itself is the same as a direct charge: same split, same ledger, same decline handling.
 */
export class PaymentIntentsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly customers: CustomersService,
    private readonly destinations: DestinationsService,
    private readonly charges: ChargesService,
    private readonly accounts: PaymentsAccountsService,
    private readonly clock: PartnerClock,
  ) {}

  async create(auth: PaymentsAuth, customerId: string | null, body: PaymentIntentBodyType): Promise<{ clientSecret: string }> {
    if (customerId !== null) await this.customers.row(auth, customerId);
    const donation = toDonation(body);
    const { currency } = chargeCurrency(body.currency);
    await this.destinations.assertExists(auth, donation);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const method = body.paymentMethodId ? await this.charges.paymentMethod(this.db, auth, customerId, body.paymentMethodId, now) : null;
    // With Stripe the intent is Stripe's (Stripe.js confirms it), under Stripe's id and client secret.
    // Asked before our row is written and outside any transaction: nothing is paid until the donor
    // confirms, so an intent whose row never gets written is only an unused Stripe object.
    const { id, clientSecret } =
      auth.processor === 'stripe'
        ? await this.stripeIntent(auth, customerId, body, method, donation, currency)
        : { id: prefixedId('pi', 24), clientSecret: null };
    const row = await this.db
      .insertInto('payment_intents')
      .values({
        id,
        account_id: auth.accountId,
        customer_id: customerId,
        client_secret: clientSecret ?? `${id}_secret_${prefixedId('s', 24).slice(2)}`,
        amount: BigInt(body.amount),
        tip: BigInt(body.tip ?? 0),
        currency,
        status: 'requires_payment_method',
        payment_method_id: method?.id ?? null,
        persist_payment_method: body.persistPaymentMethod ?? false,
        donation: JSON.stringify(donation),
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { clientSecret: row.client_secret };
  }

  /** A Stripe PaymentIntent for the donation's gross, a destination charge when the account has a connected account. */
  private async stripeIntent(
    auth: PaymentsAuth,
    customerId: string | null,
    body: PaymentIntentBodyType,
    method: MethodRow | null,
    donation: Donation,
    currency: string,
  ) {
    const { split, connectedAccountId } = await this.charges.split(auth, method?.type ?? 'card', BigInt(body.amount), BigInt(body.tip ?? 0), chargeCurrency(currency).digits, donation);
    return this.processors.hosted(auth).createPaymentIntent({
      amount: split.gross,
      currency,
      customerId,
      paymentMethodId: method?.id ?? null,
      persist: body.persistPaymentMethod ?? false,
      description: donation.description,
      statementDescriptor: donation.statementDescriptor,
      metadata: Object.fromEntries(donation.metadata.map((kv) => [kv.key, kv.value])),
      connectedAccountId,
      partnerCut: split.partnerCut,
      idempotencyKey: `payment_intent:${prefixedId('k', 24)}`,
    });
  }

  /** What the payment page shows while it works (Stripe.js retrievePaymentIntent). */
  async retrieve(clientSecret: string): Promise<PaymentIntentViewType> {
    return toPaymentIntentView(await this.byClientSecret(this.db, clientSecret));
  }

  /**
   * The payment page confirms: with a card (or a pm_card_* id), with the intent's own saved
   * method, or with `authenticate` after a 3-D Secure challenge. A decline leaves the intent in
   * requires_payment_method with lastError, so the donor can try another card.
   */
  async confirm(body: ConfirmPaymentBodyType): Promise<PaymentIntentViewType> {
    const sources = [body.card, body.paymentMethod, body.authenticate].filter((v) => v !== undefined).length;
    if (sources > 1) throw new AppError('VALIDATION_ERROR', 'Send at most one of card, paymentMethod or authenticate');
    return this.db.transaction().execute(async (trx) => {
      const intent = await this.byClientSecret(trx, body.clientSecret, true);
      if (intent.status === 'succeeded' || intent.status === 'processing' || intent.status === 'canceled') {
        throw new AppError('INVALID_STATE', `This payment intent is already ${intent.status}`);
      }
      const auth = await this.accounts.authFor(intent.account_id, trx);
      if (auth.processor !== 'sandbox') {
        throw new AppError('INVALID_STATE', 'This payment intent belongs to a Stripe account: confirm it in the browser with Stripe.js (stripe.confirmCardPayment); card details never pass through this API');
      }
      const now = await this.clock.now(auth.partnerId, auth.environment, trx);
      const update = (patch: Partial<Pick<IntentRow, 'status' | 'payment_method_id' | 'charge_id'>> & { last_error?: string | null }) =>
        trx
          .updateTable('payment_intents')
          .set({ ...patch, updated_at: now })
          .where('id', '=', intent.id)
          .returningAll()
          .executeTakeFirstOrThrow();

      let method: MethodRow;
      let authenticated = false;
      if (body.authenticate !== undefined) {
        if (intent.status !== 'requires_action' || !intent.payment_method_id) {
          throw new AppError('INVALID_STATE', 'Nothing to authenticate: this payment intent does not require action');
        }
        if (!body.authenticate) {
          const failed = await update({
            status: 'requires_payment_method',
            last_error: JSON.stringify({ code: 'payment_intent_authentication_failure', message: 'The card was not authenticated; try again or use another card.' }),
          });
          return toPaymentIntentView(failed);
        }
        method = (await chargesRepo.findMethod(trx, intent.account_id, intent.payment_method_id))!;
        authenticated = true;
      } else if (body.card || body.paymentMethod) {
        const source = body.card ? { card: body.card } : { paymentMethod: body.paymentMethod! };
        const { card, requiresAuthentication } = await this.processors.for(auth).confirmPaymentIntentCard(intent.id, source, now);
        method = await chargesRepo.insertMethod(trx, {
          ...cardColumns(card),
          account_id: intent.account_id,
          // Saved to the customer only when asked (persistPaymentMethod, Stripe's setup_future_usage).
          customer_id: intent.persist_payment_method ? intent.customer_id : null,
          created_at: now,
        });
        if (requiresAuthentication) return toPaymentIntentView(await update({ status: 'requires_action', payment_method_id: method.id, last_error: null }));
      } else if (intent.payment_method_id) {
        method = (await chargesRepo.findMethod(trx, intent.account_id, intent.payment_method_id))!;
        if (method.sandbox_outcome === 'authentication_required') {
          return toPaymentIntentView(await update({ status: 'requires_action', last_error: null }));
        }
      } else {
        throw new AppError('VALIDATION_ERROR', 'This payment intent has no payment method yet: send card or paymentMethod');
      }

      const donation = intent.donation as unknown as Donation;
      const { digits } = chargeCurrency(intent.currency);
      const { split, connectedAccountId } = await this.charges.split(auth, method.type, intent.amount, intent.tip, digits, donation, trx);
      // A passed 3-D Secure challenge is what lets such a card pay.
      const paying = authenticated ? { ...method, sandbox_outcome: 'succeeds' } : method;
      const outcome = await this.charges.take(trx, auth, {
        customerId: intent.customer_id,
        method: paying,
        currency: intent.currency,
        split,
        connectedAccountId,
        donation,
        paymentIntentId: intent.id,
        now,
      });
      if (outcome.status === 402) {
        const b = outcome.body as { declineCode: string; chargeId: string; message: string };
        return toPaymentIntentView(
          await update({
            status: 'requires_payment_method',
            payment_method_id: method.id,
            charge_id: b.chargeId,
            last_error: JSON.stringify({ code: 'card_declined', declineCode: b.declineCode, message: b.message }),
          }),
        );
      }
      const chargeId = (outcome.body as { chargeId: string }).chargeId;
      const charge = (await chargesRepo.find(trx, intent.account_id, chargeId))!;
      return toPaymentIntentView(
        await update({ status: charge.status === 'pending' ? 'processing' : 'succeeded', payment_method_id: method.id, charge_id: chargeId, last_error: null }),
      );
    });
  }

  private async byClientSecret(db: Kysely<Database> | Transaction<Database>, clientSecret: string, forUpdate = false): Promise<IntentRow> {
    const m = CLIENT_SECRET.exec(clientSecret);
    if (!m) throw noSuchIntent();
    let q = db.selectFrom('payment_intents').selectAll().where('id', '=', m[1]!);
    if (forUpdate) q = q.forUpdate();
    const row = await q.executeTakeFirst();
    const a = Buffer.from(row?.client_secret ?? '');
    const b = Buffer.from(clientSecret);
    if (!row || a.length !== b.length || !timingSafeEqual(a, b)) throw noSuchIntent();
    return row;
  }
}
