import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { ledgerRepo } from './ledger.repo.js';
import { accountDeltas, assertBalanced, type NewLedgerTransaction } from './ledger.rules.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface LedgerCheckReport {
  ok: boolean;
  accounts: number;
  transactions: number;
  postings: number;
  drift: { accountId: string; stored: string; computed: string }[];
  unbalanced: { transactionId: string; asset: string; off: string }[];
  orphans: { postingId: string; transactionId: string; accountId: string }[];
}

/**
 * Posts balanced transactions. Must run inside the caller's database transaction: the postings,
 * the balance updates and the caller's own rows commit or roll back together.
 */
export async function postTransactions(db: Transaction<Database>, txs: NewLedgerTransaction[]): Promise<Map<string, bigint>> {
  if (txs.length === 0) return new Map();
  for (const tx of txs) assertBalanced(tx);
  const deltas = accountDeltas(txs);
  const balances = await ledgerRepo.applyDeltas(db, deltas);
  const refused = deltas.filter((d) => !balances.has(d.accountId));
  if (refused.length > 0) {
    throw new AppError(
      'INSUFFICIENT_FUNDS',
      `Not enough balance in ${refused.map((d) => d.accountId).join(', ')} for this movement`,
    );
  }
  await ledgerRepo.insertTransactions(db, txs);
  return balances;
}

/** Recomputes every balance from the postings and reports any disagreement. */
export async function checkLedger(db: Db): Promise<LedgerCheckReport> {
  const [drift, unbalanced, orphans, counts] = await Promise.all([
    ledgerRepo.balanceDrift(db),
    ledgerRepo.unbalancedTransactions(db),
    ledgerRepo.orphanPostings(db),
    ledgerRepo.counts(db),
  ]);
  return {
    ok: drift.length === 0 && unbalanced.length === 0 && orphans.length === 0,
    accounts: Number(counts.accounts),
    transactions: Number(counts.transactions),
    postings: Number(counts.postings),
    drift: drift.map((d) => ({ accountId: d.id, stored: String(d.stored), computed: String(d.computed) })),
    unbalanced: unbalanced.map((u) => ({ transactionId: u.transaction_id, asset: u.asset, off: String(u.total) })),
    orphans: orphans.map((o) => ({ postingId: o.id, transactionId: o.transaction_id, accountId: o.account_id })),
  };
}

export const balanceAt = (db: Db, accountId: string, at: Date) => ledgerRepo.balanceAt(db, accountId, at);
