import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { Database, TokenTransactionsTable } from '../../platform/db/schema.js';
import type { Scope } from './actions.repo.js';

type Db = Kysely<Database> | Transaction<Database>;
export type TokenTxRow = Selectable<TokenTransactionsTable>;

export interface Grant {
  id: string;
  user_id: string;
  action_id: string | null;
  remaining: bigint;
  available_at: Date | null;
  expires_at: Date | null;
  created_at: Date;
}

const str = (v: bigint) => v.toString();

export const walletsRepo = {
  async balances(db: Db, userId: string, now: Date) {
    const soon = new Date(now.getTime() + 30 * 86_400_000);
    const r = await sql<{ available: bigint; pending: bigint; expiring: bigint; earned: bigint }>`
      SELECT
        coalesce(sum(remaining) FILTER (WHERE type = 'CREDIT' AND available_at <= ${now.toISOString()}::timestamptz
                                          AND (expires_at IS NULL OR expires_at > ${now.toISOString()}::timestamptz)), 0)::bigint AS available,
        coalesce(sum(remaining) FILTER (WHERE type = 'CREDIT' AND available_at > ${now.toISOString()}::timestamptz
                                          AND (expires_at IS NULL OR expires_at > ${now.toISOString()}::timestamptz)), 0)::bigint AS pending,
        coalesce(sum(remaining) FILTER (WHERE type = 'CREDIT' AND available_at <= ${now.toISOString()}::timestamptz
                                          AND expires_at > ${now.toISOString()}::timestamptz AND expires_at <= ${soon.toISOString()}::timestamptz), 0)::bigint AS expiring,
        (coalesce(sum(amount) FILTER (WHERE type = 'CREDIT'), 0) - coalesce(sum(amount) FILTER (WHERE type = 'REVERSAL'), 0))::bigint AS earned
      FROM token_transactions WHERE user_id = ${userId}`.execute(db);
    const row = r.rows[0]!;
    return { available: BigInt(row.available), pending: BigInt(row.pending), expiring: BigInt(row.expiring), earned: BigInt(row.earned) };
  },

  /** Grants with something left, locked. Callers pick the consumption order. */
  async lockGrants(db: Db, userIds: string[]): Promise<Grant[]> {
    if (userIds.length === 0) return [];
    const r = await sql<Grant>`
      SELECT id, user_id, action_id, remaining, available_at, expires_at, created_at FROM token_transactions
       WHERE user_id = ANY(${userIds}::text[]) AND type = 'CREDIT' AND remaining > 0
       ORDER BY id FOR UPDATE`.execute(db);
    return r.rows.map((g) => ({ ...g, remaining: BigInt(g.remaining) }));
  },

  /**
   * Users of a partner environment holding expired, unswept grants, longest overdue first. Grouped
   * rather than DISTINCT: with DISTINCT ... LIMIT the planner walks the per-user index through the
   * partner's whole history; this reads only the due grants, through token_transactions_expiry_idx.
   */
  async usersWithExpired(db: Db, scope: Scope, now: Date, limit: number) {
    const r = await sql<{ user_id: string }>`
      SELECT user_id FROM token_transactions
       WHERE partner_id = ${scope.partnerId} AND environment = ${scope.environment} AND type = 'CREDIT'
         AND remaining > 0 AND expires_at <= ${now.toISOString()}::timestamptz
       GROUP BY user_id ORDER BY min(expires_at), user_id
       LIMIT ${limit}`.execute(db);
    return r.rows.map((x) => x.user_id);
  },

  async setRemaining(db: Db, updates: { id: string; remaining: bigint; reversed?: boolean }[]) {
    if (updates.length === 0) return;
    await sql`
      UPDATE token_transactions t SET remaining = u.remaining,
             status = CASE WHEN u.reversed THEN 'REVERSED' ELSE t.status END
        FROM unnest(${updates.map((u) => u.id)}::text[], ${updates.map((u) => str(u.remaining))}::bigint[], ${updates.map((u) => u.reversed ?? false)}::boolean[])
             AS u(id, remaining, reversed)
       WHERE t.id = u.id`.execute(db);
  },

  async insertMovements(
    db: Db,
    scope: Scope,
    rows: {
      id: string;
      user_id: string;
      external_user_id: string;
      action_id: string | null;
      stakeholder_type_code: string | null;
      type: 'REVERSAL' | 'REDEMPTION' | 'EXPIRY';
      amount: bigint;
      token_pool_id: string | null;
      campaign_id: string | null;
      ledger_transaction_id: string;
      idempotency_key: string | null;
      request_hash?: string | null;
      reason: string | null;
      created_at: Date;
    }[],
  ) {
    if (rows.length === 0) return;
    await db
      .insertInto('token_transactions')
        .values(rows.map((r) => ({ request_hash: null, ...r, partner_id: scope.partnerId, environment: scope.environment, remaining: 0n, status: 'COMPLETED' as const })))
      .execute();
  },

  async findRedemption(db: Db, scope: Scope, key: string) {
    return db
      .selectFrom('token_transactions')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  },

  async find(db: Db, scope: Scope, id: string) {
    return db
      .selectFrom('token_transactions')
      .selectAll()
      .where('id', '=', id)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .executeTakeFirst();
  },

  async list(db: Db, scope: Scope, f: { userId?: string; actionId?: string | undefined; from?: string | undefined; to?: string | undefined }, offset: number, limit: number) {
    let q = db.selectFrom('token_transactions').where('partner_id', '=', scope.partnerId).where('environment', '=', scope.environment);
    if (f.userId) q = q.where('user_id', '=', f.userId);
    if (f.actionId) q = q.where('action_id', '=', f.actionId);
    if (f.from) q = q.where('created_at', '>=', new Date(f.from));
    if (f.to) q = q.where('created_at', '<', new Date(f.to));
    return pageWithTotal(q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), offset, limit);
  },
};
