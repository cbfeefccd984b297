import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, Environment, PoolStatus, TokenPoolsTable } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type PoolRow = Selectable<TokenPoolsTable>;
export type PoolWithBalance = PoolRow & { balance: bigint; credits_total: bigint; debits_total: bigint };

const withBalance = (db: Db) =>
  db
    .selectFrom('token_pools as p')
    .innerJoin('ledger_accounts as a', 'a.id', 'p.account_id')
    .selectAll('p')
    .select(['a.balance', 'a.credits_total', 'a.debits_total']);

export const poolsRepo = {
  async insert(db: Db, row: Omit<PoolRow, 'auto_refill_enabled' | 'low_balance_alerted'> & { auto_refill_enabled: boolean }) {
    return db
      .insertInto('token_pools')
      .values({ ...row, redemption_rules: row.redemption_rules === null ? null : JSON.stringify(row.redemption_rules) })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async find(db: Db, id: string, scope?: { partnerId: string; environment: Environment }) {
    let q = withBalance(db).where('p.id', '=', id);
    if (scope) q = q.where('p.partner_id', '=', scope.partnerId).where('p.environment', '=', scope.environment);
    return (await q.executeTakeFirst()) as PoolWithBalance | undefined;
  },

  async list(db: Db, scope: { partnerId: string; environment: Environment }, offset: number, limit: number) {
    const rows = (await withBalance(db)
      .where('p.partner_id', '=', scope.partnerId)
      .where('p.environment', '=', scope.environment)
      .select(sql<bigint>`count(*) OVER ()`.as('total_count'))
      .orderBy('p.created_at', 'asc')
      .orderBy('p.id', 'asc')
      .offset(offset)
      .limit(limit)
      .execute()) as (PoolWithBalance & { total_count: bigint })[];
    return rows;
  },

  async count(db: Db, scope: { partnerId: string; environment: Environment }) {
    const r = await db
      .selectFrom('token_pools')
      .select((eb) => eb.fn.countAll<bigint>().as('n'))
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },

  /** The pool an action draws on when no campaign names one: the oldest usable pool of the environment. */
  async defaultPoolId(db: Db, partnerId: string, environment: Environment, now: Date) {
    const row = await db
      .selectFrom('token_pools')
      .select('id')
      .where('partner_id', '=', partnerId)
      .where('environment', '=', environment)
      .where('status', 'in', ['ACTIVE', 'DEPLETED'])
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  },

  /** Locks the pool's account row: every movement of one pool serialises here. */
  async lockForUpdate(db: Db, poolId: string) {
    const row = await sql<PoolWithBalance>`
      SELECT p.*, a.balance, a.credits_total, a.debits_total
        FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id
       WHERE p.id = ${poolId}
       FOR UPDATE OF a`.execute(db);
    const r = row.rows[0];
    return r ? { ...r, balance: BigInt(r.balance), credits_total: BigInt(r.credits_total), debits_total: BigInt(r.debits_total) } : undefined;
  },

  async update(db: Db, id: string, patch: Partial<{ status: PoolStatus; low_balance_alerted: boolean; updated_at: Date } & Record<string, unknown>>) {
    await db.updateTable('token_pools').set(patch).where('id', '=', id).execute();
  },

  async insertRequest(db: Db, row: { id: string; partner_id: string; environment: Environment; token_pool_id: string | null; amount: bigint; reason: string | null; created_at: Date }) {
    return db
      .insertInto('token_pool_requests')
      .values({ ...row, status: 'PENDING' })
      .returningAll()
      .executeTakeFirstOrThrow();
  },

  async findRequest(db: Db, id: string) {
    return db.selectFrom('token_pool_requests').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async listRequests(db: Db, status: 'PENDING' | 'APPROVED' | 'DECLINED' | undefined) {
    let q = db.selectFrom('token_pool_requests').selectAll();
    if (status) q = q.where('status', '=', status);
    return q.orderBy('created_at', 'asc').limit(500).execute();
  },

  async decideRequest(db: Db, id: string, status: 'APPROVED' | 'DECLINED', at: Date, note: string | null) {
    return db
      .updateTable('token_pool_requests')
      .set({ status, decided_at: at, decision_note: note })
      .where('id', '=', id)
      .where('status', '=', 'PENDING')
      .returningAll()
      .executeTakeFirst();
  },
};
