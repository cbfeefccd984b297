import type { Kysely, Selectable } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { accountsRepo } from './accounts.repo.js';
import type { CustomersService } from './customers.service.js';
import { paymentMethodsRepo } from './payment-methods.repo.js';
import type { BankAccountType, BillingDetailsType, PaymentMethodType } from './payment-methods.schemas.js';
import { SetupIntents } from './payment-methods.setup.js';
import { createSandboxBankToken, type ProcessorBankAccount } from './processor.methods.js';
import type { Processors } from './processor.js';
import { MAX_VERIFY_ATTEMPTS } from './sandbox-cards.js';

type MethodRow = Selectable<PaymentMethodsTable>;
type BankStatus = BankAccountType['status'];

export function billingDetails(row: MethodRow): BillingDetailsType {
  const b = row.billing_details as Partial<Record<keyof BillingDetailsType, unknown>>;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return { name: text(b.name), email: text(b.email), phone: text(b.phone) };
}

export function toPaymentMethod(row: MethodRow, defaultId: string | null): PaymentMethodType {
  const card = row.type === 'card';
  return {
    id: row.id,
    type: row.type,
    card: card ? { brand: row.card_brand ?? 'unknown', last4: row.card_last4 ?? '', exp_month: row.card_exp_month ?? 0, exp_year: row.card_exp_year ?? 0 } : null,
    us_bank_account: card
      ? null
      : { bank_name: row.bank_name ?? '', last4: row.bank_last4 ?? '', routing_number: row.bank_routing ?? '', status: row.status as BankStatus },
    billing_details: billingDetails(row),
    created: Math.floor(row.created_at.getTime() / 1000),
    isDefault: row.id === defaultId,
  };
}

function toBankAccount(row: MethodRow): BankAccountType {
  return {
    id: row.id,
    object: 'bank_account',
    status: row.status as BankStatus,
    bank_name: row.bank_name ?? '',
    last4: row.bank_last4 ?? '',
    routing_number: row.bank_routing ?? '',
    account_holder_name: billingDetails(row).name,
  };
}

/** Why a bank account cannot be verified (or charged) in its state, in words the caller can act on. */
function notAwaitingVerification(row: MethodRow): AppError {
  if (row.status === 'verified') return new AppError('INVALID_STATE', `Bank account "${row.id}" is already verified`);
  return new AppError(
    'INVALID_STATE',
    `Bank account "${row.id}" is locked after ${MAX_VERIFY_ATTEMPTS} wrong micro-deposit amounts (verification_failed); add it again, or link it through Plaid`,
  );
}

/** Saved payment methods of a customer: listing, bank accounts, verification, default, removal. */
export class PaymentMethodsService {
  readonly setup: SetupIntents;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly customers: CustomersService,
    private readonly clock: Clock,
  ) {
    this.setup = new SetupIntents(db, processors, customers, clock);
  }

  /** The sandbox's stand-in for Stripe.js createToken: no account is involved, like a publishable-key call. */
  sandboxBankToken(input: { routingNumber: string; accountNumber: string; accountHolderName: string }) {
    return createSandboxBankToken(input);
  }

  async list(auth: PaymentsAuth, customerId: string): Promise<PaymentMethodType[]> {
    const customer = await this.customers.row(auth, customerId);
    const rows = await paymentMethodsRepo.listAttached(this.db, auth.accountId, customerId);
    return rows.map((r) => toPaymentMethod(r, customer.default_payment_method_id));
  }

  async attachBankToken(auth: PaymentsAuth, customerId: string, token: string): Promise<BankAccountType> {
    await this.customers.row(auth, customerId);
    return this.saveBank(auth, customerId, await this.processors.for(auth).attachBankToken(customerId, token));
  }

  async plaidLinkToken(auth: PaymentsAuth, customerId: string) {
    await this.customers.row(auth, customerId);
    // Plaid Link shows this name to the donor, so it is the partner's, not ours.
    const clientName = (await accountsRepo.find(this.db, auth.accountId))?.partner_name ?? 'almoner';
    const { environment, linkToken } = await this.processors.for(auth).plaidLinkToken({ customerId, clientName });
    return { environment, clientName, linkToken };
  }

  async plaidAttach(auth: PaymentsAuth, customerId: string, publicToken: string, plaidAccountId: string): Promise<BankAccountType> {
    await this.customers.row(auth, customerId);
    return this.saveBank(auth, customerId, await this.processors.for(auth).plaidExchange(customerId, { publicToken, accountId: plaidAccountId }));
  }

  async verify(auth: PaymentsAuth, customerId: string, paymentMethodId: string, amounts: number[]) {
    const pm = await this.method(auth, customerId, paymentMethodId);
    if (pm.type !== 'us_bank_account') {
      throw new AppError('INVALID_STATE', `"${pm.id}" is a card; only bank accounts are verified with micro-deposits`);
    }
    if (pm.status !== 'new') throw notAwaitingVerification(pm);
    const matches = await this.processors.for(auth).verifyMicroDeposits(customerId, pm.id, amounts);
    if (matches) {
      const row = await paymentMethodsRepo.markVerified(this.db, pm.id);
      if (!row) throw notAwaitingVerification(await this.method(auth, customerId, paymentMethodId));
      return { id: row.id, status: 'verified' as const };
    }
    const row = await paymentMethodsRepo.recordFailedVerification(this.db, pm.id, MAX_VERIFY_ATTEMPTS);
    if (!row) throw notAwaitingVerification(await this.method(auth, customerId, paymentMethodId));
    const attemptsLeft = Math.max(0, MAX_VERIFY_ATTEMPTS - row.verify_attempts);
    const message =
      attemptsLeft === 0
        ? 'The amounts do not match the micro-deposits. That was the last attempt: the bank account is now locked (verification_failed); add it again or link it through Plaid'
        : `The amounts do not match the micro-deposits; ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left`;
    throw new AppError('VALIDATION_ERROR', message, { details: [{ path: '/values', message, attemptsLeft }] });
  }

  async setDefault(auth: PaymentsAuth, customerId: string, paymentMethodId: string) {
    const pm = await this.method(auth, customerId, paymentMethodId);
    // An unverified bank account would only fail later, on the first scheduled charge.
    if (pm.type === 'us_bank_account' && pm.status !== 'verified') {
      throw new AppError('INVALID_STATE', `Bank account "${pm.id}" is ${pm.status}; verify it before making it the default`);
    }
    await this.processors.for(auth).setDefaultPaymentMethod(customerId, pm.id);
    await paymentMethodsRepo.setDefault(this.db, auth.accountId, customerId, pm.id, this.clock.now());
    return { defaultPaymentMethod: pm.id };
  }

  async detach(auth: PaymentsAuth, customerId: string, paymentMethodId: string) {
    const pm = await this.method(auth, customerId, paymentMethodId);
    await this.processors.for(auth).detachPaymentMethod(customerId, pm.id);
    const now = this.clock.now();
    const detached = await this.db.transaction().execute(async (trx) => {
      const row = await paymentMethodsRepo.detach(trx, pm.id, now);
      if (row) await paymentMethodsRepo.clearDefaultIf(trx, auth.accountId, customerId, pm.id, now);
      return row;
    });
    // A concurrent delete got there first: the method is gone either way, but only one caller deleted it.
    if (!detached) throw notFound(`Payment method "${paymentMethodId}"`);
    return { id: pm.id, deleted: true as const };
  }

  /** An attached method of a customer of this account; anything else (another customer's, detached) is a 404. */
  private async method(auth: PaymentsAuth, customerId: string, paymentMethodId: string): Promise<MethodRow> {
    await this.customers.row(auth, customerId);
    const row = await paymentMethodsRepo.findAttached(this.db, auth.accountId, customerId, paymentMethodId);
    if (!row) throw notFound(`Payment method "${paymentMethodId}" of customer "${customerId}"`);
    return row;
  }

  private async saveBank(auth: PaymentsAuth, customerId: string, bank: ProcessorBankAccount): Promise<BankAccountType> {
    const row = await paymentMethodsRepo.insert(this.db, {
      id: bank.id,
      account_id: auth.accountId,
      customer_id: customerId,
      type: 'us_bank_account',
      bank_name: bank.bankName,
      bank_last4: bank.last4,
      bank_routing: bank.routingNumber,
      status: bank.verified ? 'verified' : 'new',
      sandbox_outcome: bank.sandboxOutcome,
      billing_details: JSON.stringify({ name: bank.holderName, email: null, phone: null }),
      created_at: this.clock.now(),
    });
    return toBankAccount(row);
  }
}
