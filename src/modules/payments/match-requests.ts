import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { objectId, prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { ChargesTable, MatchRequestsTable, MatchStatus } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import { currencyDigits } from '../../platform/money/currencies.js';
import { minorToJsonNumber } from '../../platform/money/decimal.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { ledgerRepo, postTransactions } from '../ledger/index.js';
import { accountsRepo } from './accounts.repo.js';
import type { Donation } from './donation.js';
import { donorFor } from './anonymity.js';
import { moneyAccounts } from './money-ledger.js';

type MatchRow = Selectable<MatchRequestsTable>;

type DonorRow = { anonymity: Donation['anonymity']; first_name: string | null; last_name: string | null; email: string | null };

/**
 * The operator deciding a match acts for the employer, who is not the donor's partner: an anonymous
 * donor's customer id and identity stay hidden (see anonymity.ts).
 */
export function toMatchRequest(row: MatchRow, donor: DonorRow | undefined) {
  const anonymity = donor?.anonymity ?? 'Anonymous';
  return {
    id: row.id,
    chargeId: row.charge_id,
    customerId: anonymity === 'Anonymous' ? null : row.customer_id,
    anonymity,
    donor: donorFor(anonymity, row.customer_id ? donor : null),
    amount: Number(row.amount),
    currency: row.currency,
    destination: row.destination,
    employer: row.employer_ref,
    status: row.status,
    declineReason: row.decline_reason,
    createdAt: row.created_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    paidAt: row.paid_at?.toISOString() ?? null,
  };
}

/**
 * Employer match requests: a donation with matchRequested asks the donor's employer to give the
 * same amount to the same destination. requested -> approved | declined; approved -> paid, when
 * the employer's master account balance pays it (a ledger transaction, refused if it would go
 * below zero). Each step is announced to the partner as a webhook event.
 */
export class MatchRequestsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  /** Called in the transaction that records a succeeded charge. */
  async createForCharge(trx: Transaction<Database>, charge: Selectable<ChargesTable>, donation: Donation, partner: { partnerId: string; environment: 'sandbox' | 'production' }, at: Date) {
    let employer = donation.masterAccountUsername;
    if (!employer && donation.subaccountNumber) {
      const sub = await trx
        .selectFrom('giving_accounts')
        .select('master_ref')
        .where('account_id', '=', charge.account_id)
        .where('kind', '=', 'subaccount')
        .where('ref', '=', donation.subaccountNumber)
        .executeTakeFirst();
      employer = sub?.master_ref ?? null;
    }
    const row = await trx
      .insertInto('match_requests')
      .values({
        id: prefixedId('mr', 20),
        account_id: charge.account_id,
        charge_id: charge.id,
        customer_id: charge.customer_id,
        // The employer matches what the donor gave (the amount), not the fee, the tip or the cut.
        amount: charge.amount,
        currency: charge.currency,
        destination: JSON.stringify(donation.destination),
        employer_ref: employer,
        status: 'requested',
        created_at: at,
      })
      .onConflict((oc) => oc.column('charge_id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) await this.announce(trx, row, partner, 'match_request.created', at);
  }

  async list(accountId: string, status: MatchStatus | undefined) {
    let q = this.db.selectFrom('match_requests').selectAll().where('account_id', '=', accountId);
    if (status) q = q.where('status', '=', status);
    return this.views(this.db, await q.orderBy('created_at').orderBy('id').limit(500).execute());
  }

  private async views(db: Kysely<Database> | Transaction<Database>, rows: MatchRow[]) {
    if (rows.length === 0) return [];
    const donors = await db
      .selectFrom('charges as c')
      .leftJoin('payment_customers as cu', 'cu.id', 'c.customer_id')
      .select(['c.id', 'c.donation', 'cu.first_name', 'cu.last_name', 'cu.email'])
      .where('c.id', 'in', rows.map((r) => r.charge_id))
      .execute();
    const byCharge = new Map(
      donors.map((d) => [d.id, { anonymity: (d.donation as unknown as Donation).anonymity, first_name: d.first_name, last_name: d.last_name, email: d.email }]),
    );
    return rows.map((r) => toMatchRequest(r, byCharge.get(r.charge_id)));
  }

  async approve(id: string) {
    return this.decide(id, 'approved', null);
  }

  async decline(id: string, reason: string | null) {
    return this.decide(id, 'declined', reason);
  }

  /** Pays an approved request from the employer's master account to the donation's destination. */
  async pay(id: string) {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.lock(trx, id);
      if (row.status !== 'approved') throw new AppError('INVALID_STATE', `Match request ${id} is ${row.status}; only an approved request can be paid`);
      if (!row.employer_ref) throw new AppError('INVALID_STATE', `Match request ${id} has no employer (no masterAccountUsername or subaccount on the donation)`);
      const partner = await this.partnerOf(trx, row.account_id);
      const at = this.clock.now();
      const from = moneyAccounts.destination(row.account_id, { kind: 'master_account', ref: row.employer_ref }, row.currency);
      const to = moneyAccounts.destination(row.account_id, row.destination as Donation['destination'], row.currency);
      const base = { partnerId: partner.partnerId, environment: partner.environment, asset: row.currency, kind: 'DESTINATION' as const };
      await ledgerRepo.ensureAccounts(trx, [{ ...base, id: from }, { ...base, id: to }]);
      const txId = objectId(at);
      await postTransactions(trx, [
        {
          id: txId,
          partnerId: partner.partnerId,
          environment: partner.environment,
          kind: 'MATCH',
          reference: row.id,
          createdAt: at,
          postings: [
            { accountId: from, asset: row.currency, amount: -row.amount },
            { accountId: to, asset: row.currency, amount: row.amount },
          ],
        },
      ]).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'INSUFFICIENT_FUNDS') {
          throw new AppError('INSUFFICIENT_FUNDS', `The employer's master account "${row.employer_ref}" has less than ${row.amount} ${row.currency} (minor units); fund it first`);
        }
        throw err;
      });
      const paid = (await trx
        .updateTable('match_requests')
        .set({ status: 'paid', paid_at: at, ledger_transaction_id: txId })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst())!;
      await this.announce(trx, paid, partner, 'match_request.paid', at);
      return (await this.views(trx, [paid]))[0]!;
    });
  }

  private async decide(id: string, status: 'approved' | 'declined', reason: string | null) {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.lock(trx, id);
      if (row.status !== 'requested') throw new AppError('INVALID_STATE', `Match request ${id} is already ${row.status}`);
      const at = this.clock.now();
      const updated = (await trx
        .updateTable('match_requests')
        .set({ status, decided_at: at, decline_reason: reason })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst())!;
      await this.announce(trx, updated, await this.partnerOf(trx, row.account_id), `match_request.${status}`, at);
      return (await this.views(trx, [updated]))[0]!;
    });
  }

  private async lock(trx: Transaction<Database>, id: string) {
    const row = await trx.selectFrom('match_requests').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) throw notFound(`Match request "${id}"`);
    return row;
  }

  private async partnerOf(trx: Transaction<Database>, accountId: string) {
    const a = (await accountsRepo.find(trx, accountId))!;
    return { partnerId: a.partner_id, environment: a.environment };
  }

  private async announce(trx: Transaction<Database>, row: MatchRow, partner: { partnerId: string; environment: 'sandbox' | 'production' }, type: string, at: Date) {
    const digits = currencyDigits(row.currency) ?? 2;
    await writeEvents(trx, [
      newEvent(partner.partnerId, partner.environment, type, {
        matchRequestId: row.id,
        chargeId: row.charge_id,
        amount: minorToJsonNumber(row.amount, digits),
        currency: row.currency,
        employer: row.employer_ref,
        status: row.status,
        ...(row.decline_reason ? { reason: row.decline_reason } : {}),
      }, at),
    ]);
  }
}
