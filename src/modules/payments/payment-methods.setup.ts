import { timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { SetupIntentsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { accountsRepo } from './accounts.repo.js';
import type { CustomersService } from './customers.service.js';
import { paymentMethodsRepo, setupIntentsRepo } from './payment-methods.repo.js';
import type { ConfirmSetupBodyType, SetupIntentType } from './payment-methods.schemas.js';
import type { CardSource } from './processor.methods.js';
import { cardColumns } from './charges.rows.js';
import type { Processors } from './processor.js';

type IntentRow = Selectable<SetupIntentsTable>;

export const SANDBOX_CONFIRM_PATH = '/sandbox/setup-intents/confirm';
const CLIENT_SECRET = /^(seti_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;

// One answer for a malformed, unknown or wrong secret, so the route cannot be used to find intent ids.
const noSuchIntent = () => notFound('No setup intent with this client secret');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function toSetupIntent(row: IntentRow): SetupIntentType {
  const error = row.last_error as { code?: unknown; message?: unknown } | null;
  return {
    id: row.id,
    status: row.status,
    customerId: row.customer_id,
    paymentMethod: row.payment_method_id,
    nextAction:
      row.status === 'requires_action'
        ? { type: 'authenticate', method: 'POST', url: SANDBOX_CONFIRM_PATH, body: { clientSecret: row.client_secret, authenticate: true } }
        : null,
    lastError: error ? { code: String(error.code), message: String(error.message) } : null,
  };
}

/**
 * Setup intents (contract B6.6): the API hands out a client secret; the payment page confirms it.
 * With Stripe, Stripe.js confirms in the browser; in the sandbox the hosted page (or a test)
 * confirms through SANDBOX_CONFIRM_PATH, where the client secret is the only credential, as it is
 * for Stripe.js with a publishable key.
 */
export class SetupIntents {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly customers: CustomersService,
    private readonly clock: Clock,
  ) {}

  /** The client secret (a bare string in the response); a guest intent has no customer. */
  async create(auth: PaymentsAuth, customerId: string | null): Promise<string> {
    if (customerId !== null) await this.customers.row(auth, customerId);
    const { id, clientSecret } = await this.processors.for(auth).createSetupIntent({ customerId });
    const now = this.clock.now();
    await setupIntentsRepo.insert(this.db, {
      id,
      account_id: auth.accountId,
      customer_id: customerId,
      client_secret: clientSecret,
      status: 'requires_payment_method',
      created_at: now,
      updated_at: now,
    });
    return clientSecret;
  }

  /**
   * Sandbox confirmation. A card either saves at once or, for a 3-D Secure test card, waits in
   * requires_action until a second call with `authenticate` (what the bank's challenge page does):
   * true saves it, false fails the intent back to requires_payment_method.
   */
  async confirm(body: ConfirmSetupBodyType): Promise<SetupIntentType> {
    const m = CLIENT_SECRET.exec(body.clientSecret);
    if (!m) throw noSuchIntent();
    const given = [body.card, body.paymentMethod, body.authenticate].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new AppError('VALIDATION_ERROR', 'Send exactly one of card, paymentMethod (a test id such as pm_card_visa) or authenticate');
    }
    return this.db.transaction().execute(async (trx) => {
      const intent = await setupIntentsRepo.findForUpdate(trx, m[1]!);
      if (!intent || !sameSecret(intent.client_secret, body.clientSecret)) throw noSuchIntent();
      const account = await accountsRepo.find(trx, intent.account_id);
      if (!account || !account.is_active || account.partner_status === 'SUSPENDED') throw noSuchIntent();
      if (account.processor !== 'sandbox') {
        throw new AppError('INVALID_STATE', 'This setup intent belongs to a Stripe account: confirm it with Stripe.js (stripe.confirmCardSetup)');
      }
      if (intent.status === 'succeeded' || intent.status === 'canceled') {
        throw new AppError('INVALID_STATE', `This setup intent has already ${intent.status}; create a new one to save another card`);
      }
      if (body.authenticate !== undefined) return this.authenticate(trx, intent, body.authenticate);
      return this.saveCard(trx, intent, account, body);
    });
  }

  private async saveCard(trx: Transaction<Database>, intent: IntentRow, auth: Pick<PaymentsAuth, 'processor'>, body: ConfirmSetupBodyType) {
    const source: CardSource = body.card ? { card: body.card } : { paymentMethod: body.paymentMethod! };
    const now = this.clock.now();
    const { card, requiresAuthentication } = await this.processors.for({ processor: auth.processor, accountId: intent.account_id }, trx).confirmSetupIntent(intent.id, source, now);
    // A new card replaces one still waiting for authentication.
    if (intent.payment_method_id) await paymentMethodsRepo.detach(trx, intent.payment_method_id, now);
    await paymentMethodsRepo.insert(trx, {
      ...cardColumns(card),
      account_id: intent.account_id,
      // Attached only once authenticated, so a card stuck in 3-D Secure never shows in the list.
      customer_id: requiresAuthentication ? null : intent.customer_id,
      billing_details: JSON.stringify({ name: body.billingDetails?.name ?? null, email: body.billingDetails?.email ?? null, phone: body.billingDetails?.phone ?? null }),
      created_at: now,
    });
    const row = await setupIntentsRepo.update(trx, intent.id, {
      status: requiresAuthentication ? 'requires_action' : 'succeeded',
      payment_method_id: card.id,
      last_error: null,
      updated_at: now,
    });
    return toSetupIntent(row);
  }

  private async authenticate(trx: Transaction<Database>, intent: IntentRow, passed: boolean) {
    if (intent.status !== 'requires_action' || !intent.payment_method_id) {
      throw new AppError('INVALID_STATE', `This setup intent is ${intent.status}; authenticate only answers a requires_action intent`);
    }
    const now = this.clock.now();
    if (passed) {
      await paymentMethodsRepo.update(trx, intent.payment_method_id, { customer_id: intent.customer_id });
      return toSetupIntent(await setupIntentsRepo.update(trx, intent.id, { status: 'succeeded', last_error: null, updated_at: now }));
    }
    await paymentMethodsRepo.detach(trx, intent.payment_method_id, now);
    const error = {
      code: 'setup_intent_authentication_failure',
      message: 'The card holder did not complete authentication; try again or use another card',
    };
    return toSetupIntent(
      await setupIntentsRepo.update(trx, intent.id, {
        status: 'requires_payment_method',
        payment_method_id: null,
        last_error: JSON.stringify(error),
        updated_at: now,
      }),
    );
  }
}
