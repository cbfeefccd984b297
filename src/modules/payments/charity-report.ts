import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { notFound } from '../../platform/errors.js';
import { donorFor } from './anonymity.js';
import type { Donation } from './donation.js';

/**
 * What a nonprofit may be told of the donations it received through the Payments API, across every
 * partner: amounts and dates always, the donor only as far as each donation's anonymity allows.
 */
export class CharityReport {
  constructor(private readonly db: Kysely<Database>) {}

  async donations(organizationId: number, limit: number) {
    const org = await this.db.selectFrom('organizations').select(['id', 'name']).where('id', '=', organizationId).executeTakeFirst();
    if (!org) throw notFound(`Organization ${organizationId}`);
    const rows = await sql<{
      id: string;
      amount: bigint;
      currency: string;
      refunded_amount: bigint;
      status: string;
      created_at: Date;
      donation: Donation;
      first_name: string | null;
      last_name: string | null;
      email: string | null;
      partner_name: string;
    }>`
      SELECT c.id, c.destination_amount AS amount, c.currency, c.refunded_amount, c.status, c.created_at, c.donation,
             cu.first_name, cu.last_name, cu.email, p.name AS partner_name
      FROM charges c
      JOIN payments_accounts a ON a.id = c.account_id
      JOIN partners p ON p.id = a.partner_id
      LEFT JOIN payment_customers cu ON cu.id = c.customer_id
      WHERE c.donation -> 'destination' ->> 'kind' = 'charity'
        AND c.donation -> 'destination' ->> 'ref' = ${String(organizationId)}
        AND c.status IN ('succeeded', 'refunded')
      ORDER BY c.created_at DESC, c.id DESC
      LIMIT ${limit}`.execute(this.db);
    return {
      organizationId: org.id,
      name: org.name,
      donations: rows.rows.map((r) => ({
        chargeId: r.id,
        amount: Number(r.amount),
        currency: r.currency,
        status: r.status,
        refunded: r.status === 'refunded',
        partner: r.partner_name,
        anonymity: r.donation.anonymity,
        donor: donorFor(r.donation.anonymity, r),
        createdAt: r.created_at.toISOString(),
      })),
    };
  }
}
