/**
 * The rules every ledger transaction obeys, as pure functions: amounts are non-zero integers and
 * each transaction's postings sum to zero per asset, so value only ever moves between accounts.
 */
export interface Posting {
  accountId: string;
  asset: string;
  /** Added to the account's balance: positive credits it, negative debits it. */
  amount: bigint;
}

export interface NewLedgerTransaction {
  id: string;
  partnerId: string | null;
  environment: 'sandbox' | 'production' | null;
  kind: string;
  reference: string | null;
  createdAt: Date;
  postings: Posting[];
}

export class UnbalancedTransactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnbalancedTransactionError';
  }
}

export function assertBalanced(tx: Pick<NewLedgerTransaction, 'id' | 'postings'>): void {
  if (tx.postings.length < 2) throw new UnbalancedTransactionError(`transaction ${tx.id} needs at least two postings`);
  const sums = new Map<string, bigint>();
  for (const p of tx.postings) {
    if (p.amount === 0n) throw new UnbalancedTransactionError(`transaction ${tx.id} has a zero posting on ${p.accountId}`);
    sums.set(p.asset, (sums.get(p.asset) ?? 0n) + p.amount);
  }
  for (const [asset, sum] of sums) {
    if (sum !== 0n) throw new UnbalancedTransactionError(`transaction ${tx.id} does not balance in ${asset} (off by ${sum})`);
  }
}

export interface AccountDelta {
  accountId: string;
  delta: bigint;
  credits: bigint;
  debits: bigint;
}

/**
 * Net effect of many transactions per account, sorted by account id: balances are then updated
 * in one statement per batch, and always locked in the same order, so concurrent batches that share
 * accounts cannot deadlock.
 */
export function accountDeltas(txs: Pick<NewLedgerTransaction, 'postings'>[]): AccountDelta[] {
  const byAccount = new Map<string, AccountDelta>();
  for (const tx of txs) {
    for (const p of tx.postings) {
      const d = byAccount.get(p.accountId) ?? { accountId: p.accountId, delta: 0n, credits: 0n, debits: 0n };
      d.delta += p.amount;
      if (p.amount > 0n) d.credits += p.amount;
      else d.debits -= p.amount;
      byAccount.set(p.accountId, d);
    }
  }
  return [...byAccount.values()].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
}

/** Deterministic account ids: a batch can name its accounts without looking them up first. */
export const accountIds = {
  pool: (poolId: string) => `pool:${poolId}`,
  wallet: (userId: string) => `wallet:${userId}`,
  issuance: (partnerId: string, env: string, asset: string) => `issuance:${partnerId}:${env}:${asset}`,
  allocation: (partnerId: string, env: string, asset: string) => `allocation:${partnerId}:${env}:${asset}`,
  redemption: (partnerId: string, env: string, asset: string) => `redemption:${partnerId}:${env}:${asset}`,
  expired: (partnerId: string, env: string, asset: string) => `expired:${partnerId}:${env}:${asset}`,
};

export const TOKEN_ASSET = 'SIR';
