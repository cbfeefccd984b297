import { sql, type Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import type { GivingAccountKind } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import { organizationsRepo } from '../organizations/index.js';
import type { Donation } from './donation.js';

const FIELD: Record<GivingAccountKind, string> = {
  giving_account: 'givingaAccountNumber',
  subaccount: 'subaccountNumber',
  master_account: 'masterAccountUsername',
  campaign: 'campaignId',
};

/**
 * Destinations must exist before money is sent to them: a charity of the directory (charityId),
 * or one of the payments account's giving accounts. Every destination field given is checked, not
 * only the one that receives the money, so a typo in a donor's account number is caught too.
 */
export class DestinationsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async assertExists(auth: Pick<PaymentsAuth, 'accountId'>, d: Donation): Promise<void> {
    if (d.charityId !== null) {
      const org = await organizationsRepo.find(this.db, d.charityId);
      if (!org || org.status !== 'active') throw notFound(`Charity ${d.charityId} (charityId)`);
    }
    const wanted: [GivingAccountKind, string | null][] = [
      ['giving_account', d.givingaAccountNumber],
      ['subaccount', d.subaccountNumber],
      ['master_account', d.masterAccountUsername],
      ['campaign', d.campaignId],
    ];
    for (const [kind, ref] of wanted) {
      if (ref !== null && !(await this.exists(auth.accountId, kind, ref))) throw notFound(`${FIELD[kind]} "${ref}"`);
    }
  }

  private async exists(accountId: string, kind: GivingAccountKind, ref: string) {
    const row = await this.db
      .selectFrom('giving_accounts')
      .select('ref')
      .where('account_id', '=', accountId)
      .where('kind', '=', kind)
      .where('ref', '=', ref)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Operator: registers a giving account; a subaccount's master account must exist first. */
  async addGivingAccount(accountId: string, input: { kind: GivingAccountKind; ref: string; name?: string | null; masterRef?: string | null }) {
    if (input.kind !== 'subaccount' && input.masterRef) {
      throw new AppError('VALIDATION_ERROR', 'Only a subaccount belongs to a master account (masterRef)');
    }
    if (input.kind === 'subaccount' && input.masterRef && !(await this.exists(accountId, 'master_account', input.masterRef))) {
      throw notFound(`Master account "${input.masterRef}" (register it before its subaccounts)`);
    }
    await this.db
      .insertInto('giving_accounts')
      .values({ account_id: accountId, kind: input.kind, ref: input.ref, name: input.name ?? null, master_ref: input.masterRef ?? null, created_at: this.clock.now() })
      .onConflict((oc) => oc.columns(['account_id', 'kind', 'ref']).doNothing())
      .execute();
    return { kind: input.kind, ref: input.ref, name: input.name ?? null, masterRef: input.masterRef ?? null };
  }

  /** Operator: every money balance of a payments account (destinations, fees, tips, cuts, clearing). */
  async balances(accountId: string) {
    const rows = await sql<{ id: string; kind: string; asset: string; balance: bigint }>`
      SELECT l.id, l.kind, l.asset, l.balance
      FROM ledger_accounts l
      WHERE l.id LIKE ${`pay:%:${accountId}:%`}
         OR l.id LIKE ANY (SELECT 'pay:cut:' || c.id || ':%' FROM connected_accounts c WHERE c.account_id = ${accountId})
      ORDER BY l.id`.execute(this.db);
    return rows.rows.map((r) => ({ ledgerAccountId: r.id, kind: r.kind, currency: r.asset, balance: Number(r.balance) }));
  }
}
