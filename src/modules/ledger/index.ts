export { ledgerRepo, type NewAccount } from './ledger.repo.js';
export {
  accountDeltas,
  accountIds,
  assertBalanced,
  TOKEN_ASSET,
  type NewLedgerTransaction,
  type Posting,
} from './ledger.rules.js';
export { balanceAt, checkLedger, postTransactions, type LedgerCheckReport } from './ledger.service.js';
