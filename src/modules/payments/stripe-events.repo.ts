import { sql, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { StripeEventsTable } from '../../platform/db/schema.payments.js';

export const stripeEventsRepo = {
  /**
   * Claims an event id inside the effect's transaction. A concurrent delivery of the same event
   * waits on the row until this transaction ends, then finds it taken: false means "already done".
   */
  async claim(trx: Transaction<Database>, e: { id: string; type: string; livemode: boolean; receivedAt: Date }): Promise<boolean> {
    const res = await sql<{ id: string }>`
      INSERT INTO stripe_events (id, type, livemode, outcome, received_at)
      VALUES (${e.id}, ${e.type}, ${e.livemode}, 'ignored', ${e.receivedAt})
      ON CONFLICT (id) DO NOTHING RETURNING id`.execute(trx);
    return res.rows.length === 1;
  },

  async finish(trx: Transaction<Database>, id: string, outcome: StripeEventsTable['outcome'], accountId: string | null) {
    await trx.updateTable('stripe_events').set({ outcome, account_id: accountId }).where('id', '=', id).execute();
  },
};
