import type { Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable, PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { accountsRepo } from './accounts.repo.js';
import { chargesRepo } from './charges.repo.js';
import type { Donation } from './donation.js';
import type { Split } from './fees.js';
import type { ChargeMoney } from './money-ledger.js';
import type { ChargeRequest } from './processor.charges.js';
import type { ProcessorCard } from './processor.methods.js';

/** Charge rows and what is read off them, shared by the charge flows and the webhooks. */

type ChargeRow = Selectable<ChargesTable>;
type MethodRow = Selectable<PaymentMethodsTable>;

/** What a charge is made of, whichever flow takes it. */
export interface TakeInput {
  customerId: string | null;
  method: MethodRow;
  currency: string;
  split: Split;
  connectedAccountId: string | null;
  donation: Donation;
  paymentIntentId: string | null;
  now: Date;
  /** The processor's idempotency key; by default one of this charge alone. */
  processorKey?: string;
}

export async function accountAuth(db: Kysely<Database> | Transaction<Database>, accountId: string): Promise<PaymentsAuth> {
  const a = (await accountsRepo.find(db, accountId))!;
  return { accountId, partnerId: a.partner_id, partnerNumber: a.partner_number, environment: a.environment, processor: a.processor };
}

export function methodForProcessor(m: MethodRow): ChargeRequest['paymentMethod'] {
  return { id: m.id, type: m.type, sandboxOutcome: m.sandbox_outcome, bankLast4: m.bank_last4 };
}

export function chargeMoney(auth: PaymentsAuth, row: ChargeRow): ChargeMoney {
  const donation = row.donation as unknown as Donation;
  return {
    chargeId: row.id,
    accountId: row.account_id,
    partnerId: auth.partnerId,
    environment: auth.environment,
    currency: row.currency,
    split: { gross: row.gross, fee: row.fee, partnerCut: row.partner_cut, tip: row.tip, destination: row.destination_amount },
    connectedAccountId: row.connected_account_id,
    destination: donation.destination,
  };
}

export async function chargeRowInsert(
  trx: Transaction<Database>,
  c: TakeInput & {
    id: string;
    auth: PaymentsAuth;
    status: 'processing' | 'succeeded' | 'pending' | 'failed';
    failureCode: string | null;
    failureMessage: string | null;
    settlesAt: Date | null;
    processorRef: string | null;
    /** Columns of the processing flow (its key, request hash and lease). */
    more?: Pick<Insertable<ChargesTable>, 'processor_key' | 'request_hash' | 'lease_until' | 'processor_asked_at'>;
  },
) {
  const amount = c.split.destination + c.split.fee + c.split.partnerCut;
  return chargesRepo.insert(trx, {
    id: c.id,
    account_id: c.auth.accountId,
    customer_id: c.customerId,
    payment_intent_id: c.paymentIntentId,
    payment_method_id: c.method.id,
    method_type: c.method.type,
    currency: c.currency,
    amount,
    tip: c.split.tip,
    gross: c.split.gross,
    fee: c.split.fee,
    partner_cut: c.split.partnerCut,
    destination_amount: c.split.destination,
    connected_account_id: c.connectedAccountId,
    status: c.status,
    failure_code: c.failureCode,
    failure_message: c.failureMessage,
    donation: JSON.stringify(c.donation),
    settles_at: c.settlesAt,
    processor_ref: c.processorRef,
    created_at: c.now,
    updated_at: c.now,
    ...c.more,
  });
}

/** The payment_methods columns of a card the processor saved. */
export function cardColumns(card: ProcessorCard) {
  return {
    id: card.id,
    type: 'card' as const,
    card_brand: card.brand,
    card_last4: card.last4,
    card_exp_month: card.expMonth,
    card_exp_year: card.expYear,
    status: 'active' as const,
    sandbox_outcome: card.sandboxOutcome,
  };
}
