import type { Kysely, Selectable } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { CheckoutSessionsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import type { PaymentsAccountsService } from './accounts.service.js';
import { MAX_AMOUNT } from './catalog.schemas.js';
import { currencyOrThrow, type CatalogService } from './catalog.service.js';
import { assertModeAndInterval, assertRedirectUrl, checkoutLines, successRedirect } from './checkout.lines.js';
import type { ChargesService } from './charges.service.js';
import type { CheckoutBodyType, PayBodyType, PayResultType } from './checkout.schemas.js';
import type { CustomersService } from './customers.service.js';
import type { DestinationsService } from './destinations.js';
import { chargeCurrency, toDonation, type DonationInput } from './donation.js';
import type { PaymentIntentsService } from './payment-intents.js';
import { TEST_PAYMENT_METHOD_IDS } from './sandbox-cards.js';
import { stripeCheckoutSession } from './checkout.stripe.js';
import type { CheckoutSubscriptions } from './subscriptions.checkout.js';
import type { Processors } from './processor.js';

type SessionRow = Selectable<CheckoutSessionsTable>;

/** Stripe's default lifetime of a Checkout Session. */
export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;
const SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{24,64}$/;

const invalid = (path: string, message: string) => new AppError('VALIDATION_ERROR', message, { details: [{ path, message }] });
const DONATION_KEYS = ['charityId', 'givingaAccountNumber', 'subaccountNumber', 'masterAccountUsername', 'campaignId', 'carbonOffset', 'matchRequested',
  'customerCoveringFee', 'customerCoveringPartnerCut', 'description', 'statementDescriptor', 'notes', 'activityId', 'activityId2', 'activityId3', 'anonymity',
  'metadata'] as const;

/**
 * Checkout sessions (contract B6.4) and the sandbox's hosted checkout page behind them. A session
 * holds what is sold; paying it creates one payment intent and confirms it through
 * PaymentIntentsService, so the charge, the split, the ledger and the declines are exactly those of
 * a payment intent.
 */
export class CheckoutService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly customers: CustomersService,
    private readonly catalog: CatalogService,
    private readonly destinations: DestinationsService,
    private readonly charges: ChargesService,
    private readonly intents: PaymentIntentsService,
    private readonly accounts: PaymentsAccountsService,
    private readonly clock: PartnerClock,
    private readonly subscriptions: CheckoutSubscriptions,
    private readonly processors: Processors,
  ) {}

  async create(auth: PaymentsAuth, customerId: string | null, body: CheckoutBodyType): Promise<{ id: string; url?: string }> {
    if (customerId !== null) await this.customers.row(auth, customerId);
    const mode = body.mode ?? 'payment';
    const currency = currencyOrThrow(body.currency);
    assertRedirectUrl(body.successURL, 'successURL');
    assertRedirectUrl(body.cancelURL, 'cancelURL');
    const lines = await checkoutLines(this.db, this.catalog, auth, body, currency);
    assertModeAndInterval(mode, lines, body);
    const amount = lines.reduce((sum, l) => sum + BigInt(l.unitAmount) * BigInt(l.quantity), 0n);
    if (amount > BigInt(MAX_AMOUNT)) throw invalid(body.items ? '/items' : '/amount', `The total (${amount}) is above the largest charge (${MAX_AMOUNT})`);
    const donationInput = Object.fromEntries(DONATION_KEYS.filter((k) => body[k] !== undefined).map((k) => [k, body[k]])) as DonationInput;
    const donation = toDonation(donationInput);
    await this.destinations.assertExists(auth, donation);
    const tip = BigInt(body.tip ?? 0);
    // The fees are taken at charge time; splitting now only refuses an amount the fees would eat.
    const split = await this.charges.split(auth, 'card', amount, tip, chargeCurrency(currency).digits, donation);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    if (body.paymentMethodId && !TEST_PAYMENT_METHOD_IDS.has(body.paymentMethodId)) {
      await this.charges.paymentMethod(this.db, auth, customerId, body.paymentMethodId, now);
    }
    if (mode === 'subscription' && customerId === null) {
      throw invalid('/mode', 'Subscription mode needs a customer, who owns the subscription: use POST /customers/{customerId}/checkout');
    }
    const processorKey = `checkout:${prefixedId('k', 24)}`;
    const hosted =
      auth.processor === 'stripe'
        ? await stripeCheckoutSession(this.processors, auth, {
            mode,
            customerId,
            currency,
            lines,
            tipInterval: mode === 'subscription' ? (body.tipInterval ?? null) : null,
            split: split.split,
            amount,
            connectedAccountId: split.connectedAccountId,
            cutBps: (await this.catalog.defaultConnected(auth.accountId))?.cut_bps ?? 0,
            donation,
            successUrl: body.successURL,
            cancelUrl: body.cancelURL,
            idempotencyKey: processorKey,
          })
        : null;
    const id = hosted?.id ?? prefixedId(auth.environment === 'sandbox' ? 'cs_test' : 'cs_live', 32);
    await this.db
      .insertInto('checkout_sessions')
      .values({
        id,
        account_id: auth.accountId,
        customer_id: customerId,
        mode,
        currency,
        line_items: JSON.stringify(lines),
        amount,
        tip,
        tip_interval: mode === 'subscription' ? (body.tipInterval ?? null) : null,
        success_url: body.successURL,
        cancel_url: body.cancelURL,
        payment_method_id: body.paymentMethodId ?? null,
        donation: JSON.stringify(donationInput),
        status: 'open',
        payment_intent_id: null,
        created_at: now,
        expires_at: hosted?.expiresAt ?? new Date(now.getTime() + SESSION_TTL_MS),
        processor_url: hosted?.url ?? null,
        processor_key: hosted && mode === 'subscription' ? processorKey : null,
      })
      .execute();
    return hosted ? { id, url: hosted.url } : { id };
  }

  /** What the hosted page shows. */
  async view(sessionId: string) {
    const session = await this.reconciled(await this.find(sessionId));
    const auth = await this.accounts.authFor(session.account_id);
    const account = await this.accounts.get(session.account_id);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const { digits } = chargeCurrency(session.currency);
    const donation = toDonation(session.donation as DonationInput);
    const { split } = await this.charges.split(auth, 'card', session.amount, session.tip, digits, donation);
    const method = session.payment_method_id ? await this.savedMethod(session) : null;
    return {
      id: session.id,
      state: session.status === 'complete' ? ('complete' as const) : now >= session.expires_at ? ('expired' as const) : ('open' as const),
      partnerName: account.partner_name,
      mode: session.mode,
      currency: session.currency,
      digits,
      lines: session.line_items,
      amount: session.amount,
      tip: session.tip,
      tipInterval: session.tip_interval,
      // What the donor pays on top when covering the fee or the partner's cut.
      extra: split.gross - session.amount - session.tip,
      total: split.gross,
      savedMethod: method,
      cancelUrl: session.cancel_url,
      successUrl: session.status === 'complete' ? successRedirect(session.success_url, session.id) : null,
    };
  }

  /**
   * The page pays: the first attempt creates the session's payment intent, later ones (after a
   * decline or a 3-D Secure challenge) confirm the same intent, as Stripe Checkout does.
   */
  private readonly settledListeners: ((sessionId: string, result: PayResultType) => Promise<void>)[] = [];

  /**
   * Called after each payment attempt on the page (paid or declined), before the page answers, so
   * whatever the session pays for (a donation link) is up to date when the donor lands back.
   */
  onSettled(listener: (sessionId: string, result: PayResultType) => Promise<void>): void {
    this.settledListeners.push(listener);
  }

  async pay(sessionId: string, body: PayBodyType): Promise<PayResultType> {
    const result = await this.attempt(sessionId, body);
    // A listener's failure must not turn a taken payment into an error page: its own sweep catches up.
    for (const listener of this.settledListeners) await listener(sessionId, result).catch(() => undefined);
    return result;
  }

  private async attempt(sessionId: string, body: PayBodyType): Promise<PayResultType> {
    if (body.card && body.authenticate !== undefined) throw new AppError('VALIDATION_ERROR', 'Send card or authenticate, not both');
    const session = await this.reconciled(await this.find(sessionId));
    const auth = await this.accounts.authFor(session.account_id);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    if (session.status === 'complete') throw new AppError('INVALID_STATE', 'This checkout session is already paid');
    if (now >= session.expires_at) throw new AppError('INVALID_STATE', 'This checkout session has expired; ask for a new payment link');
    if (!body.card && body.authenticate === undefined && !session.payment_method_id) {
      throw new AppError('VALIDATION_ERROR', 'Enter a card to pay with', { details: [{ path: '/card', message: 'required' }] });
    }
    const donation = session.donation as DonationInput;
    if (session.mode === 'subscription') {
      const started = await this.subscriptions.startFromCheckout(auth, {
        sessionId: session.id,
        customerId: session.customer_id,
        currency: session.currency,
        items: session.line_items,
        tip: Number(session.tip),
        tipInterval: session.tip_interval,
        donation,
        paymentMethodId: session.payment_method_id,
        pay: body,
      });
      if (started.status === 'succeeded') return { status: 'succeeded', redirectUrl: await this.complete(session, now), error: null };
      return { status: started.status, redirectUrl: null, error: started.error };
    }

    const clientSecret = await this.intentSecret(auth, session, donation);
    const { name: _name, ...card } = body.card ?? { number: '', expMonth: 1, expYear: 0 };
    const view = await this.intents.confirm({
      clientSecret,
      ...(body.card ? { card } : {}),
      ...(body.authenticate !== undefined ? { authenticate: body.authenticate } : {}),
    });
    if (view.status === 'succeeded' || view.status === 'processing') {
      return { status: view.status, redirectUrl: await this.complete(session, now), error: null };
    }
    if (view.status === 'canceled') throw new AppError('INVALID_STATE', 'This payment was canceled; ask for a new payment link');
    return { status: view.status, redirectUrl: null, error: view.lastError };
  }

  private async intentSecret(auth: PaymentsAuth, session: SessionRow, donation: DonationInput): Promise<string> {
    if (session.payment_intent_id) return this.clientSecretOf(session.payment_intent_id);
    const { clientSecret } = await this.intents.create(auth, session.customer_id, {
      ...donation,
      amount: Number(session.amount),
      tip: Number(session.tip),
      currency: session.currency,
      ...(session.payment_method_id ? { paymentMethodId: session.payment_method_id } : {}),
    });
    const intentId = clientSecret.slice(0, clientSecret.indexOf('_secret_'));
    // Two first attempts racing: one intent is kept, the other is left unconfirmed and unused.
    const won = await this.db
      .updateTable('checkout_sessions')
      .set({ payment_intent_id: intentId })
      .where('id', '=', session.id)
      .where('payment_intent_id', 'is', null)
      .executeTakeFirst();
    if (won.numUpdatedRows === 1n) return clientSecret;
    const current = await this.find(session.id);
    return this.clientSecretOf(current.payment_intent_id!);
  }

  private async clientSecretOf(intentId: string): Promise<string> {
    const row = await this.db.selectFrom('payment_intents').select('client_secret').where('id', '=', intentId).executeTakeFirstOrThrow();
    return row.client_secret;
  }

  private async complete(session: SessionRow, now: Date): Promise<string> {
    await this.db
      .updateTable('checkout_sessions')
      .set({ status: 'complete', completed_at: now })
      .where('id', '=', session.id)
      .where('status', '=', 'open')
      .execute();
    return successRedirect(session.success_url, session.id);
  }

  /** A paid intent whose session was not marked (a crash in between) completes the session now. */
  private async reconciled(session: SessionRow): Promise<SessionRow> {
    if (session.status !== 'open' || !session.payment_intent_id) return session;
    const intent = await this.db.selectFrom('payment_intents').select('status').where('id', '=', session.payment_intent_id).executeTakeFirst();
    if (intent?.status !== 'succeeded' && intent?.status !== 'processing') return session;
    await this.complete(session, new Date());
    return this.find(session.id);
  }

  private async find(sessionId: string): Promise<SessionRow> {
    const row = SESSION_ID.test(sessionId)
      ? await this.db.selectFrom('checkout_sessions').selectAll().where('id', '=', sessionId).executeTakeFirst()
      : undefined;
    if (!row) throw notFound('Checkout session');
    return row;
  }

  private async savedMethod(session: SessionRow) {
    const test = TEST_PAYMENT_METHOD_IDS.get(session.payment_method_id!);
    if (test) return { brand: test.brand, last4: test.last4 };
    const row = await this.db
      .selectFrom('payment_methods')
      .select(['card_brand', 'card_last4', 'bank_name', 'bank_last4'])
      .where('id', '=', session.payment_method_id!)
      .executeTakeFirst();
    return row ? { brand: row.card_brand ?? row.bank_name ?? 'saved method', last4: row.card_last4 ?? row.bank_last4 ?? '' } : null;
  }
}
