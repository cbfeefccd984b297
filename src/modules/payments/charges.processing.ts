import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable, PaymentMethodsTable } from '../../platform/db/schema.payments.js';
import { AppError } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import { chargesRepo } from './charges.repo.js';
import { accountAuth, chargeRowInsert, methodForProcessor } from './charges.rows.js';
import type { ChargeAnswer, ChargesService } from './charges.service.js';
import type { ChargeBodyType } from './donation.schemas.js';
import type { Donation } from './donation.js';
import { assertKeyShape, idempotencyKeys, requestHash, type Outcome } from './idempotency.js';
import { ChargeNotSent, type ChargeRequest, type ChargeResult } from './processor.charges.js';
import type { Processors } from './processor.js';
import { CHARGE_ID_KEY } from './processor.stripe.js';
import { processorError, RETRY } from './processor.stripe.map.js';

type ChargeRow = Selectable<ChargesTable>;
type MethodRow = Selectable<PaymentMethodsTable>;
type Decline = { declineCode: string; chargeId: string; message: string };
export type ChargeOutcome = Outcome<ChargeAnswer | Decline>;

/**
 * How long one request or one sweep may spend asking Stripe about a charge before another may ask:
 * above the SDK's timeout times its attempts with the default settings (30 s × 2).
 */
export const PROCESSOR_LEASE_MS = 5 * 60_000;
/** Stripe keeps an idempotency key for at least 24 hours: asking again under it is safe until then. */
export const KEY_REPLAY_MS = 23 * 60 * 60_000;
const DAY_MS = 86_400_000;

interface Attempt {
  /** The first time Stripe is asked: a certain refusal then means nothing happened at all. */
  first: boolean;
  /** The caller's Idempotency-Key, finished with the outcome. */
  key: string | null;
  /** A caller is waiting for this outcome (a request; not the worker). */
  answered: boolean;
}

/** The answer a settled charge gives: 200 for a payment taken or under way, 402 for a decline. */
export function answerOf(row: ChargeRow): ChargeOutcome {
  if (row.status === 'failed') {
    return { status: 402, body: { declineCode: row.failure_code ?? 'payment_failed', chargeId: row.id, message: row.failure_message ?? 'The payment failed' } };
  }
  return { status: 200, body: { status: 'Success', chargeId: row.id } };
}

/**
 * Charges of Stripe accounts, so that no charge is lost between Stripe and our database. The charge
 * row is written first, as processing, and committed with the Idempotency-Key Stripe will receive
 * (derived from the row's id, or from the caller's own key). Stripe is then asked outside any
 * transaction, and the outcome recorded in a second one. Whatever fails in between leaves a
 * processing row that asking again settles: the same request again (it finds the row by its key or,
 * without one, by its request hash), the worker's sweep, or the payment_intent.* webhook. Asking
 * again sends the same key and parameters, so Stripe answers with the first payment, never a second.
 *
 * Sandbox charges keep their single transaction: the sandbox decides in process, nothing can be
 * taken that the transaction does not record.
 */
export class ProcessorChargeFlow {
  /** Test hook: runs inside the transaction that records an outcome, just before it commits. */
  readonly faults: { beforeOutcomeCommit?: (chargeId: string) => void | Promise<void> } = {};

  constructor(
    private readonly db: Kysely<Database>,
    private readonly processors: Processors,
    private readonly charges: ChargesService,
    private readonly clock: PartnerClock,
    private readonly baseClock: Clock,
  ) {}

  async create(
    auth: PaymentsAuth,
    customerId: string | null,
    body: ChargeBodyType,
    key: string | undefined,
    c: { route: string; donation: Donation; currency: string; digits: number; now: Date },
  ): Promise<ChargeOutcome> {
    assertKeyShape(key);
    const hash = requestHash(c.route, body);
    const asked = this.baseClock.now();
    const id = prefixedId('ch', 24);
    const start = await this.db.transaction().execute(async (trx) => {
      if (key !== undefined) {
        const held = await idempotencyKeys.claim(trx, auth.accountId, key, hash, c.now, { chargeId: id });
        if (held) return held.status === 0 ? { resume: (held.body as { chargeId: string }).chargeId } : { answer: held as ChargeOutcome };
      } else {
        // The same request again while the first one's outcome was never given: it is that one's retry.
        const earlier = await chargesRepo.unanswered(trx, auth.accountId, hash, new Date(asked.getTime() - KEY_REPLAY_MS));
        if (earlier) return { resume: earlier.id };
      }
      const method = await this.charges.paymentMethod(trx, auth, customerId, body.paymentMethodId, c.now);
      const { split, connectedAccountId } = await this.charges.split(auth, method.type, BigInt(body.amount), BigInt(body.tip ?? 0), c.digits, c.donation, trx);
      const row = await chargeRowInsert(trx, {
        id,
        auth,
        customerId,
        method,
        currency: c.currency,
        split,
        connectedAccountId,
        donation: c.donation,
        paymentIntentId: null,
        now: c.now,
        status: 'processing',
        failureCode: null,
        failureMessage: null,
        settlesAt: null,
        processorRef: null,
        more: {
          // A retry with the caller's key reaches Stripe with the same key even before this row existed.
          processor_key: key !== undefined ? `charge:${auth.accountId}:${key}` : `charge:${id}`,
          request_hash: hash,
          lease_until: new Date(asked.getTime() + PROCESSOR_LEASE_MS),
          processor_asked_at: asked,
        },
      });
      return { fresh: { row, method } };
    });
    if ('answer' in start) return start.answer!;
    if ('resume' in start) return this.resume(auth, start.resume!, key ?? null);
    return this.ask(auth, start.fresh.row, start.fresh.method, { first: true, key: key ?? null, answered: true });
  }

  /**
   * Processing charges whose asker is gone (a crash, a failed recording, Stripe unreachable), asked
   * about again. Each is leased first, so concurrent workers never ask about one at once, and a
   * failure keeps the lease: the charge waits a lease period before the next try.
   */
  async reconcile(limit = 20): Promise<number> {
    const now = this.baseClock.now();
    const due = await this.db.transaction().execute((trx) => chargesRepo.leaseAbandoned(trx, now, new Date(now.getTime() + PROCESSOR_LEASE_MS), limit));
    for (const { id, account_id } of due) {
      const auth = await accountAuth(this.db, account_id);
      const row = (await chargesRepo.find(this.db, account_id, id))!;
      const method = (await chargesRepo.findMethod(this.db, account_id, row.payment_method_id))!;
      await this.ask(auth, row, method, { first: false, key: null, answered: false }, false).catch(() => undefined);
    }
    return due.length;
  }

  /**
   * Records what the processor did with a processing charge, once: a charge another asker (or a
   * webhook) settled first is left as it is. A payment taken posts its ledger transaction here.
   */
  async settle(trx: Transaction<Database>, auth: PaymentsAuth, chargeId: string, result: ChargeResult, answered: boolean): Promise<ChargeRow> {
    const row = (await chargesRepo.lockForUpdate(trx, chargeId))!;
    const now = await this.clock.now(auth.partnerId, auth.environment, trx);
    if (row.status !== 'processing') {
      return answered && row.answered_at === null ? (await chargesRepo.update(trx, row.id, { answered_at: now }))! : row;
    }
    const outcome =
      result.status === 'succeeded'
        ? { status: 'succeeded' as const }
        : result.status === 'pending'
          ? { status: 'pending' as const, settles_at: new Date(now.getTime() + result.settlesInDays * DAY_MS) }
          : { status: 'failed' as const, failure_code: result.code, failure_message: result.message };
    const updated = (await chargesRepo.update(trx, row.id, {
      ...outcome,
      processor_ref: result.processorRef ?? row.processor_ref,
      lease_until: null,
      answered_at: answered ? now : null,
      updated_at: now,
    }))!;
    if (updated.status === 'succeeded') await this.charges.postCharge(trx, auth, updated, now);
    return updated;
  }

  private async resume(auth: PaymentsAuth, chargeId: string, key: string | null): Promise<ChargeOutcome> {
    const now = this.baseClock.now();
    const leased = await chargesRepo.lease(this.db, chargeId, now, new Date(now.getTime() + PROCESSOR_LEASE_MS));
    if (leased) {
      const method = (await chargesRepo.findMethod(this.db, auth.accountId, leased.payment_method_id))!;
      return this.ask(auth, leased, method, { first: false, key, answered: true });
    }
    const row = await chargesRepo.find(this.db, auth.accountId, chargeId);
    if (!row) throw new AppError('CONFLICT', 'The first attempt of this request was refused by Stripe before it took anything; send the request again');
    if (row.status === 'processing') {
      throw new AppError('CONFLICT', `Charge ${chargeId} of this same request is being taken right now; ask again in a few seconds for its outcome`, {
        headers: { 'Retry-After': '2' },
      });
    }
    // Settled by the worker or a webhook after its own request failed: this caller is told now.
    return this.db.transaction().execute(async (trx) => {
      const settled = (await chargesRepo.lockForUpdate(trx, chargeId))!;
      if (settled.answered_at === null) await chargesRepo.update(trx, chargeId, { answered_at: await this.clock.now(auth.partnerId, auth.environment, trx) });
      const outcome = answerOf(settled);
      if (key) await idempotencyKeys.finish(trx, auth.accountId, key, outcome);
      return outcome;
    });
  }

  /**
   * Asks Stripe and records the answer. Within Stripe's idempotency window that is the charge itself
   * under its key (a repeat is answered with the first result); after it, a lookup by the charge id
   * in the PaymentIntent's metadata, since a repeat then would pay again.
   */
  private async ask(auth: PaymentsAuth, row: ChargeRow, method: MethodRow, a: Attempt, releaseOnError = true): Promise<ChargeOutcome> {
    const processor = this.processors.for(auth);
    const firstAsked = row.processor_asked_at?.getTime() ?? 0;
    let result: ChargeResult;
    try {
      if (a.first || this.baseClock.now().getTime() - firstAsked < KEY_REPLAY_MS) {
        result = await processor.charge(requestOf(row, method));
      } else {
        result = (await processor.lookup(row.id)) ?? { status: 'failed', code: 'not_taken', message: 'Stripe has no payment for this charge: it was never taken' };
      }
    } catch (err) {
      if (err instanceof ChargeNotSent && a.first) {
        // Stripe refused before acting on it: forgotten, exactly as if it had never been asked.
        await this.db.transaction().execute(async (trx) => {
          await chargesRepo.deleteProcessing(trx, row.id);
          if (a.key) await idempotencyKeys.release(trx, auth.accountId, a.key);
        });
        throw err.error;
      }
      if (releaseOnError) await chargesRepo.releaseLease(this.db, row.id, this.baseClock.now()).catch(() => undefined);
      throw inDoubt(err instanceof ChargeNotSent ? err.error : err, row.id);
    }
    try {
      return await this.db.transaction().execute(async (trx) => {
        const settled = await this.settle(trx, auth, row.id, result, a.answered);
        const outcome = answerOf(settled);
        if (a.key) await idempotencyKeys.finish(trx, auth.accountId, a.key, outcome);
        await this.faults.beforeOutcomeCommit?.(row.id);
        return outcome;
      });
    } catch (err) {
      if (releaseOnError) await chargesRepo.releaseLease(this.db, row.id, this.baseClock.now()).catch(() => undefined);
      if (err instanceof AppError) throw err;
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `Stripe answered for charge ${row.id} but the answer could not be recorded; the charge stays processing until it is. ` +
          'Send the same request again (with the same Idempotency-Key if it had one) for its outcome: it is never taken twice',
        { headers: { 'Retry-After': '2' } },
      );
    }
  }
}

/** The charge as Stripe receives it, rebuilt from the row, so every attempt sends the same parameters. */
function requestOf(row: ChargeRow, method: MethodRow): ChargeRequest {
  const donation = row.donation as unknown as Donation;
  return {
    paymentMethod: methodForProcessor(method),
    gross: row.gross,
    currency: row.currency,
    description: donation.description,
    statementDescriptor: donation.statementDescriptor,
    connectedAccountId: row.connected_account_id,
    partnerCut: row.partner_cut,
    metadata: { ...Object.fromEntries(donation.metadata.map((kv) => [kv.key, kv.value])), [CHARGE_ID_KEY]: row.id },
    customerId: row.customer_id,
    idempotencyKey: row.processor_key!,
  };
}

/** Stripe's failure when the outcome is not known: the same status and code, and what to do now. */
function inDoubt(err: unknown, chargeId: string): AppError {
  const e = processorError(err);
  const what = e.message.replace(` ${RETRY}`, '');
  return new AppError(
    e.code,
    `${what} Charge ${chargeId} is processing until Stripe's answer is known; send the same request again (with the same Idempotency-Key if it had one) for its outcome: it is never taken twice`,
    { ...(e.headers ? { headers: e.headers } : {}), ...(e.details ? { details: e.details } : {}) },
  );
}
