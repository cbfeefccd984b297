import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import type { AccountDelta, NewLedgerTransaction } from './ledger.rules.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface NewAccount {
  id: string;
  partnerId: string | null;
  environment: 'sandbox' | 'production' | null;
  kind:
    | 'POOL'
    | 'WALLET'
    | 'ISSUANCE'
    | 'ALLOCATION'
    | 'REDEMPTION'
    | 'EXPIRED'
    | 'PAYMENTS_CLEARING'
    | 'PROCESSOR_FEES'
    | 'PARTNER_CUT'
    | 'PLATFORM_TIPS'
    | 'DESTINATION';
  asset: string;
  allowNegative?: boolean;
}

/**
 * All ledger SQL. Batches go in as arrays through unnest(), so a batch of any size costs the same
 * number of round trips.
 */
export const ledgerRepo = {
  async ensureAccounts(db: Db, accounts: NewAccount[]) {
    if (accounts.length === 0) return;
    const sorted = [...accounts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await sql`
      INSERT INTO ledger_accounts (id, partner_id, environment, kind, asset, allow_negative)
      SELECT * FROM unnest(${sorted.map((a) => a.id)}::text[], ${sorted.map((a) => a.partnerId)}::text[],
                           ${sorted.map((a) => a.environment)}::text[], ${sorted.map((a) => a.kind)}::text[],
                           ${sorted.map((a) => a.asset)}::text[], ${sorted.map((a) => a.allowNegative ?? false)}::boolean[])
      ON CONFLICT (id) DO NOTHING`.execute(db);
  },

  async insertTransactions(db: Db, txs: NewLedgerTransaction[]) {
    if (txs.length === 0) return;
    const postings = txs.flatMap((t) => t.postings.map((p) => ({ ...p, txId: t.id, at: t.createdAt.toISOString() })));
    await sql`
      WITH t AS (
        INSERT INTO ledger_transactions (id, partner_id, environment, kind, reference, created_at)
        SELECT * FROM unnest(${txs.map((t) => t.id)}::text[], ${txs.map((t) => t.partnerId)}::text[],
                             ${txs.map((t) => t.environment)}::text[], ${txs.map((t) => t.kind)}::text[],
                             ${txs.map((t) => t.reference)}::text[], ${txs.map((t) => t.createdAt.toISOString())}::timestamptz[])
      )
      INSERT INTO ledger_postings (transaction_id, account_id, asset, amount, created_at)
      SELECT * FROM unnest(${postings.map((p) => p.txId)}::text[], ${postings.map((p) => p.accountId)}::text[],
                           ${postings.map((p) => p.asset)}::text[], ${postings.map((p) => p.amount.toString())}::bigint[],
                           ${postings.map((p) => p.at)}::timestamptz[])`.execute(db);
  },

  /**
   * Locks the accounts in id order, then applies the deltas. Returns the new balances of the
   * accounts it could update; an account missing from the result would have gone below zero
   * (or does not exist), and the caller must roll back.
   */
  async applyDeltas(db: Db, deltas: AccountDelta[]): Promise<Map<string, bigint>> {
    if (deltas.length === 0) return new Map();
    const result = await sql<{ id: string; balance: bigint }>`
      WITH d AS (
        SELECT * FROM unnest(${deltas.map((d) => d.accountId)}::text[], ${deltas.map((d) => d.delta.toString())}::bigint[],
                             ${deltas.map((d) => d.credits.toString())}::bigint[], ${deltas.map((d) => d.debits.toString())}::bigint[])
          AS d(id, delta, credits, debits)
      ), locked AS (
        SELECT a.id FROM ledger_accounts a WHERE a.id IN (SELECT id FROM d) ORDER BY a.id FOR UPDATE
      )
      UPDATE ledger_accounts a
         SET balance = a.balance + d.delta,
             credits_total = a.credits_total + d.credits,
             debits_total = a.debits_total + d.debits
        FROM d, locked
       WHERE a.id = d.id AND locked.id = d.id AND (a.allow_negative OR a.balance + d.delta >= 0)
      RETURNING a.id, a.balance`.execute(db);
    return new Map(result.rows.map((r) => [r.id, BigInt(r.balance)]));
  },

  async lockAccounts(db: Db, ids: string[]) {
    if (ids.length === 0) return new Map<string, bigint>();
    const rows = await sql<{ id: string; balance: bigint }>`
      SELECT id, balance FROM ledger_accounts WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`.execute(db);
    return new Map(rows.rows.map((r) => [r.id, BigInt(r.balance)]));
  },

  async accounts(db: Db, ids: string[]) {
    if (ids.length === 0) return [];
    const rows = await sql<{ id: string; balance: bigint; credits_total: bigint; debits_total: bigint; kind: string; asset: string }>`
      SELECT id, balance, credits_total, debits_total, kind, asset FROM ledger_accounts WHERE id = ANY(${ids}::text[])`.execute(db);
    return rows.rows;
  },

  /** Balance as of a moment, from the postings alone. */
  async balanceAt(db: Db, accountId: string, at: Date): Promise<bigint> {
    const row = await sql<{ total: bigint | null }>`
      SELECT sum(amount)::bigint AS total FROM ledger_postings WHERE account_id = ${accountId} AND created_at <= ${at.toISOString()}::timestamptz`.execute(
      db,
    );
    return BigInt(row.rows[0]?.total ?? 0);
  },

  /** Accounts whose stored balance or lifetime sums disagree with their postings. */
  async balanceDrift(db: Db) {
    const rows = await sql<{ id: string; stored: bigint; computed: bigint; credits_stored: bigint; credits_computed: bigint }>`
      SELECT a.id, a.balance AS stored, coalesce(p.total, 0)::bigint AS computed,
             a.credits_total AS credits_stored, coalesce(p.credits, 0)::bigint AS credits_computed
        FROM ledger_accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS total, sum(amount) FILTER (WHERE amount > 0) AS credits
                     FROM ledger_postings GROUP BY account_id) p ON p.account_id = a.id
       WHERE a.balance <> coalesce(p.total, 0) OR a.credits_total <> coalesce(p.credits, 0)`.execute(db);
    return rows.rows;
  },

  /** Transactions whose postings do not sum to zero per asset. */
  async unbalancedTransactions(db: Db) {
    const rows = await sql<{ transaction_id: string; asset: string; total: bigint }>`
      SELECT transaction_id, asset, sum(amount)::bigint AS total FROM ledger_postings
       GROUP BY transaction_id, asset HAVING sum(amount) <> 0`.execute(db);
    return rows.rows;
  },

  /** Postings whose account or transaction does not exist (the hot tables carry no foreign keys). */
  async orphanPostings(db: Db) {
    const rows = await sql<{ id: string; transaction_id: string; account_id: string }>`
      SELECT p.id::text AS id, p.transaction_id, p.account_id FROM ledger_postings p
       WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = p.account_id)
          OR NOT EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.id = p.transaction_id)
       LIMIT 100`.execute(db);
    return rows.rows;
  },

  async counts(db: Db) {
    const row = await sql<{ accounts: bigint; transactions: bigint; postings: bigint }>`
      SELECT (SELECT count(*) FROM ledger_accounts) AS accounts, (SELECT count(*) FROM ledger_transactions) AS transactions,
             (SELECT count(*) FROM ledger_postings) AS postings`.execute(db);
    return row.rows[0]!;
  },
};
