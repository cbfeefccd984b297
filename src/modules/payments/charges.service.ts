import type { Kysely, Selectable, Transaction } from 'kysely';
import { objectId, prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable, PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { ledgerRepo, postTransactions } from '../ledger/index.js';
import type { PartnerClock } from '../rewards/index.js';
import type { CatalogService } from './catalog.service.js';
import type { CustomersService } from './customers.service.js';
import type { DestinationsService } from './destinations.js';
import type { MatchRequestsService } from './match-requests.js';
import type { DonationRewards } from './donation-rewards.js';
import type { ChargeBodyType } from './donation.schemas.js';
import { chargeCurrency, toDonation, type Donation } from './donation.js';
import { DEFAULT_FEES, rateFor, splitDonation, type FeeSchedule, type Split } from './fees.js';
import { idempotent, requestHash, type Outcome } from './idempotency.js';
import { chargeAccounts, chargeTransaction } from './money-ledger.js';
import type { ChargeRequest, ChargeResult } from './processor.charges.js';
import type { Processors } from './processor.js';
import { TEST_PAYMENT_METHOD_IDS } from './sandbox-cards.js';
import { chargesRepo } from './charges.repo.js';
import { ProcessorChargeFlow } from './charges.processing.js';
import { accountAuth, chargeMoney, chargeRowInsert, methodForProcessor, type TakeInput } from './charges.rows.js';
import type { Clock } from '../../platform/clock.js';

type ChargeRow = Selectable<ChargesTable>;
type MethodRow = Selectable<PaymentMethodsTable>;

const DAY_MS = 86_400_000;

export interface ChargeAnswer {
  status: 'Success';
  chargeId: string;
}

/** A decline: 402 with Stripe's decline code, the charge recorded as failed and nothing as paid. */
export const declined = (chargeId: string, code: string, message: string) =>
  new AppError('CARD_DECLINED', message, { extra: { declineCode: code, chargeId } });

/**
 * Charges (contract B6.2): take a donation from a saved or test payment method now. The split
 * (fee, partner cut, tip, destination) is fixed when the charge is made; a card charge moves the
 * money in the ledger in the same transaction, a bank debit when it settles.
 */
export class ChargesService {
  /** Stripe accounts' charges: written before Stripe is asked, settled after (charges.processing.ts). */
  readonly processing: ProcessorChargeFlow;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly customers: CustomersService,
    private readonly catalog: CatalogService,
    private readonly destinations: DestinationsService,
    private readonly matches: MatchRequestsService,
    private readonly rewards: DonationRewards,
    private readonly clock: PartnerClock,
    private readonly baseClock: Clock,
    private readonly fees: FeeSchedule = DEFAULT_FEES,
  ) {
    this.processing = new ProcessorChargeFlow(db, processors, this, clock, baseClock);
  }

  async create(auth: PaymentsAuth, customerId: string | null, body: ChargeBodyType, idempotencyKey: string | undefined): Promise<ChargeAnswer> {
    if (customerId !== null) await this.customers.row(auth, customerId);
    const donation = toDonation(body);
    const { currency, digits } = chargeCurrency(body.currency);
    await this.destinations.assertExists(auth, donation);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const route = `POST charges ${customerId ?? 'guest'}`;
    const outcome =
      auth.processor === 'stripe'
        ? await this.processing.create(auth, customerId, body, idempotencyKey, { route, donation, currency, digits, now })
        : await this.sandboxCharge(auth, customerId, body, idempotencyKey, { route, donation, digits, currency, now });
    if (outcome.status === 402) {
      const b = outcome.body as { declineCode: string; chargeId: string; message: string };
      throw declined(b.chargeId, b.declineCode, b.message);
    }
    return outcome.body as ChargeAnswer;
  }

  /** Sandbox charges: decided in process, so taken and recorded in one transaction. */
  private sandboxCharge(
    auth: PaymentsAuth,
    customerId: string | null,
    body: ChargeBodyType,
    idempotencyKey: string | undefined,
    { route, donation, digits, currency, now }: { route: string; donation: Donation; digits: number; currency: string; now: Date },
  ) {
    return idempotent<ChargeAnswer | { declineCode: string; chargeId: string; message: string }>(
      this.db,
      auth.accountId,
      idempotencyKey,
      requestHash(route, body),
      now,
      async (trx) => {
        const method = await this.paymentMethod(trx, auth, customerId, body.paymentMethodId, now);
        const split = await this.split(auth, method.type, BigInt(body.amount), BigInt(body.tip ?? 0), digits, donation, trx);
        return this.take(trx, auth, {
          customerId,
          method,
          currency,
          split: split.split,
          connectedAccountId: split.connectedAccountId,
          donation,
          paymentIntentId: null,
          now,
          // A retry with the same Idempotency-Key reaches the processor with the same key, so even a
          // retry after an answer that never arrived cannot take the money twice.
          ...(idempotencyKey ? { processorKey: `charge:${auth.accountId}:${idempotencyKey}` } : {}),
        });
      },
    );
  }

  /** Processing Stripe charges left behind by a crash or a failed recording, settled by asking Stripe again. */
  reconcileProcessing(limit?: number): Promise<number> {
    return this.processing.reconcile(limit);
  }

  /**
   * The split for a donation: fee rate of the method, the default connected account's cut, cover flags.
   * Inside a transaction pass it as `db`: a second pool connection taken while the first is held
   * deadlocks the pool once every connection is a transaction waiting for another.
   */
  async split(
    auth: PaymentsAuth,
    methodType: 'card' | 'us_bank_account',
    amount: bigint,
    tip: bigint,
    digits: number,
    donation: Donation,
    db: Kysely<Database> | Transaction<Database> = this.db,
  ) {
    const connected = await this.catalog.defaultConnected(auth.accountId, db);
    const rate = rateFor(methodType === 'card' ? this.fees.card : this.fees.ach, digits);
    const split = splitDonation({
      amount,
      tip,
      rate,
      cutBps: BigInt(connected?.cut_bps ?? 0),
      coverFee: donation.customerCoveringFee,
      coverCut: donation.customerCoveringPartnerCut,
    });
    if (split.destination < 0n) {
      throw new AppError('VALIDATION_ERROR', `amount is too small to cover the processing fee (${split.fee}) and the partner's cut (${split.partnerCut}); raise it or set customerCoveringFee`, {
        details: [{ path: '/amount', message: 'too small for the fees' }],
      });
    }
    if (split.gross > 99_999_999n) throw new AppError('VALIDATION_ERROR', 'The total with fees and tip is above the largest charge (99,999,999)');
    return { split, connectedAccountId: connected?.id ?? null };
  }

  /**
   * Asks the processor to take the money, then records what it did, in the caller's transaction:
   * for the sandbox only, which decides in process. A Stripe charge must never be taken inside a
   * transaction (its commit could fail after Stripe took the money): ProcessorChargeFlow does those.
   */
  async take(trx: Transaction<Database>, auth: PaymentsAuth, c: TakeInput): Promise<Outcome<ChargeAnswer | { declineCode: string; chargeId: string; message: string }>> {
    if (auth.processor !== 'sandbox') throw new AppError('INVALID_STATE', 'A processor charge cannot be taken inside a database transaction');
    const id = prefixedId('ch', 24);
    const request = { ...this.request(c.method, c.split, c.currency, c.donation, c.connectedAccountId), customerId: c.customerId, idempotencyKey: c.processorKey ?? `charge:${id}` };
    const result = await this.processors.for(auth, trx).charge(request);
    return this.record(trx, auth, c, result, id);
  }

  /**
   * Records what the processor did with a charge: succeeded (ledger transaction in this same
   * database transaction), pending (bank debit) or failed (a decline: stored, no money). Also the
   * entry point for payments a processor reports by webhook (a Stripe.js or Checkout payment).
   */
  async record(trx: Transaction<Database>, auth: PaymentsAuth, c: TakeInput, result: ChargeResult, id = prefixedId('ch', 24)) {
    const row = await chargeRowInsert(trx, {
      id,
      auth,
      ...c,
      status: result.status,
      failureCode: result.status === 'failed' ? result.code : null,
      failureMessage: result.status === 'failed' ? result.message : null,
      settlesAt: result.status === 'pending' ? new Date(c.now.getTime() + result.settlesInDays * DAY_MS) : null,
      processorRef: result.processorRef ?? null,
    });
    if (result.status === 'failed') return { status: 402, body: { declineCode: result.code, chargeId: id, message: result.message } };
    if (result.status === 'succeeded') await this.postCharge(trx, auth, row, c.now);
    return { status: 200, body: { status: 'Success' as const, chargeId: id } };
  }

  /** Settles bank debits that are due; returns how many settled either way. */
  async settleDue(limit = 100): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const due = await chargesRepo.dueForSettlement(trx, this.baseClock.now(), limit);
      for (const { id, account_id } of due) {
        const auth = await accountAuth(trx, account_id);
        const row = (await chargesRepo.find(trx, account_id, id))!;
        const method = (await chargesRepo.findMethod(trx, account_id, row.payment_method_id))!;
        const now = await this.clock.now(auth.partnerId, auth.environment);
        const result = await this.processors.for(auth).settle(methodForProcessor(method));
        if (result.status === 'succeeded') {
          const updated = (await chargesRepo.update(trx, id, { status: 'succeeded', updated_at: now }))!;
          await this.postCharge(trx, auth, updated, now);
        } else {
          await chargesRepo.update(trx, id, { status: 'failed', failure_code: result.code, failure_message: result.message, updated_at: now });
        }
      }
      return due.length;
    });
  }

  async listPayments(auth: PaymentsAuth, customerId: string) {
    await this.customers.row(auth, customerId);
    const rows = await chargesRepo.listForCustomer(this.db, auth.accountId, customerId, 100);
    return rows.map(toPayment);
  }

  /** A charge that succeeded: its money moves, and an employer match is requested if asked for. */
  async postCharge(trx: Transaction<Database>, auth: PaymentsAuth, row: ChargeRow, at: Date) {
    const money = chargeMoney(auth, row);
    await ledgerRepo.ensureAccounts(trx, chargeAccounts(money));
    const txId = objectId(at);
    await postTransactions(trx, [chargeTransaction(money, txId, 'CHARGE', at)]);
    await chargesRepo.update(trx, row.id, { ledger_transaction_id: txId });
    const donation = row.donation as unknown as Donation;
    if (donation.matchRequested) await this.matches.createForCharge(trx, row, donation, auth, at);
    await this.rewards.enqueue(trx, row.id, row.account_id, 'reward', at);
  }

  private request(method: MethodRow, split: Split, currency: string, donation: Donation, connectedAccountId: string | null): ChargeRequest {
    return {
      paymentMethod: methodForProcessor(method),
      gross: split.gross,
      currency,
      description: donation.description,
      statementDescriptor: donation.statementDescriptor,
      connectedAccountId,
      partnerCut: split.partnerCut,
      metadata: Object.fromEntries(donation.metadata.map((kv) => [kv.key, kv.value])),
    };
  }

  /**
   * The payment method a charge uses: one saved on this customer (a guest charge may use one saved
   * on no customer), or one of Stripe's pm_card_* test ids on a sandbox account, saved on the fly.
   */
  async paymentMethod(db: Kysely<Database> | Transaction<Database>, auth: PaymentsAuth, customerId: string | null, id: string, now: Date): Promise<MethodRow> {
    const test = auth.processor === 'sandbox' ? TEST_PAYMENT_METHOD_IDS.get(id) : undefined;
    if (test) {
      return chargesRepo.insertMethod(db, {
        id: prefixedId('pm', 24),
        account_id: auth.accountId,
        customer_id: customerId,
        type: 'card',
        card_brand: test.brand,
        card_last4: test.last4,
        card_exp_month: 12,
        card_exp_year: now.getUTCFullYear() + 3,
        status: 'active',
        sandbox_outcome: test.outcome,
        created_at: now,
      });
    }
    const method = await chargesRepo.findMethod(db, auth.accountId, id);
    if (!method || method.detached_at !== null || method.customer_id !== customerId) throw notFound(`Payment method "${id}"`);
    if (method.type === 'us_bank_account' && method.status !== 'verified') {
      throw new AppError('INVALID_STATE', `Bank account "${id}" is not verified; verify it with its micro-deposits first`);
    }
    return method;
  }
}

/** B6.3: PaymentIntent-like objects for the customer's payments, newest first. */
export function toPayment(row: ChargeRow) {
  const donation = row.donation as unknown as Donation;
  return {
    id: row.payment_intent_id ?? row.id,
    chargeId: row.id,
    amount: Number(row.gross),
    currency: row.currency.toLowerCase(),
    status: row.status === 'pending' ? 'processing' : row.status === 'failed' ? 'failed' : row.status,
    created: Math.floor(row.created_at.getTime() / 1000),
    description: donation.description,
    metadata: Object.fromEntries(donation.metadata.map((kv) => [kv.key, kv.value])),
    payment_method: row.payment_method_id,
    failure_code: row.failure_code,
    donationAmount: Number(row.amount),
    tip: Number(row.tip),
    fee: Number(row.fee),
    partnerCut: Number(row.partner_cut),
  };
}
