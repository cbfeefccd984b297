import { sql, type Insertable, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import type { Database, Environment } from '../../platform/db/schema.js';
import type { DonationsTable } from '../../platform/db/schema.donations.js';

type Db = Kysely<Database> | Transaction<Database>;
export type DonationRow = Selectable<DonationsTable>;

export const donationsRepo = {
  organizationBySlug: (db: Db, slug: string) =>
    db.selectFrom('organizations').select(['id', 'slug', 'name', 'status']).where('slug', '=', slug).executeTakeFirst(),

  /** The partner's payments account in this environment that stripe-provider links are paid through. */
  paymentsAccountFor: (db: Db, partnerId: string, environment: Environment) =>
    db
      .selectFrom('payments_accounts')
      .select(['id'])
      .where('partner_id', '=', partnerId)
      .where('environment', '=', environment)
      .where('is_active', '=', true)
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst(),

  userExists: async (db: Db, partnerId: string, environment: Environment, externalUserId: string) =>
    (await db
      .selectFrom('partner_users')
      .select('id')
      .where('partner_id', '=', partnerId)
      .where('environment', '=', environment)
      .where('external_user_id', '=', externalUserId)
      .executeTakeFirst()) !== undefined,

  insert: (db: Db, row: Insertable<DonationsTable>) => db.insertInto('donations').values(row).returningAll().executeTakeFirstOrThrow(),

  /** A partner's donation with its nonprofit's slug, for the status view. */
  find: (db: Db, partnerId: string, environment: Environment, id: string) =>
    db
      .selectFrom('donations as d')
      .innerJoin('organizations as o', 'o.id', 'd.organization_id')
      .selectAll('d')
      .select('o.slug')
      .where('d.id', '=', id)
      .where('d.partner_id', '=', partnerId)
      .where('d.environment', '=', environment)
      .executeTakeFirst(),

  tipsEnabled: async (db: Db, partnerId: string) =>
    (await db.selectFrom('partners').select('tip_config').where('id', '=', partnerId).executeTakeFirstOrThrow()).tip_config.enabled,

  findAny: (db: Db, id: string) => db.selectFrom('donations').selectAll().where('id', '=', id).executeTakeFirst(),

  bySession: (db: Db, sessionId: string) => db.selectFrom('donations').selectAll().where('checkout_session_id', '=', sessionId).executeTakeFirst(),

  /** Moves a donation on only from the states given, so concurrent callers change it once. */
  transition: (db: Db, id: string, from: DonationRow['status'][], patch: Updateable<DonationsTable>) =>
    db.updateTable('donations').set(patch).where('id', '=', id).where('status', 'in', from).returningAll().executeTakeFirst(),

  finishReward: (db: Db, id: string, patch: Updateable<DonationsTable>) =>
    db.updateTable('donations').set(patch).where('id', '=', id).where('reward_status', '=', 'pending').returningAll().executeTakeFirst(),

  /** What the hosted checkout says about the session a stripe-provider donation is paid through. */
  sessionState: (db: Db, sessionId: string) =>
    db
      .selectFrom('checkout_sessions as cs')
      .leftJoin('payment_intents as pi', 'pi.id', 'cs.payment_intent_id')
      .select(['cs.status', 'cs.expires_at', 'cs.processor_url', 'pi.status as intent_status', 'pi.last_error', 'pi.charge_id'])
      .where('cs.id', '=', sessionId)
      .executeTakeFirst(),

  /** Open stripe-provider donations whose checkout has since been paid or has expired. */
  settledOpen: (db: Db, now: Date, limit: number) =>
    db
      .selectFrom('donations as d')
      .innerJoin('checkout_sessions as cs', 'cs.id', 'd.checkout_session_id')
      .select('d.id')
      .where('d.status', 'in', ['PENDING', 'FAILED'])
      .where((eb) => eb.or([eb('cs.status', '=', 'complete'), eb('cs.expires_at', '<=', now)]))
      .limit(limit)
      .execute(),

  /** A full refund of the charge that paid a donation: its reward is now owed back. */
  markRefunded: async (db: Db, chargeId: string, at: Date) =>
    (
      await sql<{ id: string }>`
        UPDATE donations d SET refunded_at = ${at}, reversal_status = 'pending', updated_at = ${at}
        FROM checkout_sessions cs JOIN payment_intents pi ON pi.id = cs.payment_intent_id
        WHERE d.checkout_session_id = cs.id AND pi.charge_id = ${chargeId} AND d.reversal_status = 'none'
        RETURNING d.id`.execute(db)
    ).rows,

  reversalsPending: (db: Db, limit: number, chargeId?: string) => {
    let q = db.selectFrom('donations as d').select('d.id').where('d.reversal_status', '=', 'pending');
    if (chargeId !== undefined) {
      q = q
        .innerJoin('checkout_sessions as cs', 'cs.id', 'd.checkout_session_id')
        .innerJoin('payment_intents as pi', 'pi.id', 'cs.payment_intent_id')
        .where('pi.charge_id', '=', chargeId);
    }
    return q.orderBy('d.refunded_at').limit(limit).execute();
  },

  finishReversal: (db: Db, id: string, status: 'done' | 'failed', at: Date) =>
    db.updateTable('donations').set({ reversal_status: status, updated_at: at }).where('id', '=', id).where('reversal_status', '=', 'pending').execute(),

  rewardsPending: (db: Db, limit: number) =>
    db.selectFrom('donations').select('id').where('reward_status', '=', 'pending').orderBy('completed_at').limit(limit).execute(),
};
