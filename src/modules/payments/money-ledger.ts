import type { NewAccount, NewLedgerTransaction, Posting } from '../ledger/index.js';
import type { Donation } from './donation.js';
import type { Split } from './fees.js';

/**
 * The payments side of the ledger: one asset per currency ("USD", "JPY"), amounts in its minor
 * units. Account ids are deterministic so a charge can post without looking anything up.
 */
export const moneyAccounts = {
  /** Money arriving from the processor: goes negative by what donors paid in. */
  clearing: (acct: string, cur: string) => `pay:clearing:${acct}:${cur}`,
  fees: (acct: string, cur: string) => `pay:fees:${acct}:${cur}`,
  tips: (acct: string, cur: string) => `pay:tips:${acct}:${cur}`,
  cut: (connected: string, cur: string) => `pay:cut:${connected}:${cur}`,
  destination: (acct: string, d: Donation['destination'], cur: string) => `pay:dest:${acct}:${d.kind}:${d.ref}:${cur}`,
};

export interface ChargeMoney {
  chargeId: string;
  accountId: string;
  partnerId: string;
  environment: 'sandbox' | 'production';
  currency: string;
  split: Split;
  connectedAccountId: string | null;
  destination: Donation['destination'];
}

/** The accounts a charge touches, for ensureAccounts. */
export function chargeAccounts(c: ChargeMoney): NewAccount[] {
  const base = { partnerId: c.partnerId, environment: c.environment, asset: c.currency };
  const out: NewAccount[] = [
    { ...base, id: moneyAccounts.clearing(c.accountId, c.currency), kind: 'PAYMENTS_CLEARING', allowNegative: true },
    { ...base, id: moneyAccounts.fees(c.accountId, c.currency), kind: 'PROCESSOR_FEES' },
    { ...base, id: moneyAccounts.tips(c.accountId, c.currency), kind: 'PLATFORM_TIPS' },
    { ...base, id: moneyAccounts.destination(c.accountId, c.destination, c.currency), kind: 'DESTINATION' },
  ];
  if (c.connectedAccountId) out.push({ ...base, id: moneyAccounts.cut(c.connectedAccountId, c.currency), kind: 'PARTNER_CUT' });
  return out;
}

/**
 * The donor's payment split into its parts: clearing pays out the gross, and the fee, the partner's
 * cut, the tip and the destination's share are credited. `sign` -1 reverses it (a full refund).
 */
export function chargeTransaction(c: ChargeMoney, txId: string, kind: 'CHARGE' | 'REFUND', at: Date): NewLedgerTransaction {
  const sign = kind === 'REFUND' ? -1n : 1n;
  const s = c.split;
  const postings: Posting[] = [
    { accountId: moneyAccounts.clearing(c.accountId, c.currency), asset: c.currency, amount: -s.gross * sign },
    { accountId: moneyAccounts.fees(c.accountId, c.currency), asset: c.currency, amount: s.fee * sign },
    { accountId: moneyAccounts.tips(c.accountId, c.currency), asset: c.currency, amount: s.tip * sign },
    { accountId: moneyAccounts.destination(c.accountId, c.destination, c.currency), asset: c.currency, amount: s.destination * sign },
    ...(c.connectedAccountId ? [{ accountId: moneyAccounts.cut(c.connectedAccountId, c.currency), asset: c.currency, amount: s.partnerCut * sign }] : []),
  ].filter((p) => p.amount !== 0n);
  return { id: txId, partnerId: c.partnerId, environment: c.environment, kind, reference: c.chargeId, createdAt: at, postings };
}
