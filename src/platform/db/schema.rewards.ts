import type { ColumnType, Generated } from 'kysely';
import type { Environment, JsonCol, Timestamp } from './schema.js';

/** The ledger's and the rewards engine's tables (see schema.ts). */

type Big = ColumnType<bigint, bigint | number | string | undefined, bigint | number | string>;

export interface LedgerAccountsTable {
  id: string;
  partner_id: string | null;
  environment: Environment | null;
  kind: 'POOL' | 'WALLET' | 'ISSUANCE' | 'ALLOCATION' | 'REDEMPTION' | 'EXPIRED';
  asset: string;
  balance: Big;
  credits_total: Big;
  debits_total: Big;
  allow_negative: Generated<boolean>;
  created_at: Timestamp;
}

export interface LedgerTransactionsTable {
  id: string;
  partner_id: string | null;
  environment: Environment | null;
  kind: string;
  reference: string | null;
  created_at: Timestamp;
}

export interface LedgerPostingsTable {
  id: Generated<bigint>;
  transaction_id: string;
  account_id: string;
  asset: string;
  amount: Big;
  created_at: Timestamp;
}

export interface StakeholderTypesTable {
  partner_id: string;
  code: string;
  name: string;
  created_at: Timestamp;
}

export type PoolStatus = 'PENDING_APPROVAL' | 'ACTIVE' | 'DEPLETED' | 'EXPIRED' | 'CLOSED';

export interface TokenPoolsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  name: string;
  status: PoolStatus;
  account_id: string;
  vesting_days: number | null;
  grant_expiry_days: number | null;
  expires_at: Date | null;
  redemption_rules: JsonCol<unknown> | null;
  auto_refill_enabled: Generated<boolean>;
  auto_refill_threshold: Big;
  auto_refill_amount: Big;
  low_balance_threshold: Big;
  low_balance_alerted: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TokenPoolRequestsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  token_pool_id: string | null;
  amount: Big;
  reason: string | null;
  status: 'PENDING' | 'APPROVED' | 'DECLINED';
  decided_at: Date | null;
  decision_note: string | null;
  created_at: Timestamp;
}

export type CampaignStatus = 'DRAFT' | 'ACTIVE' | 'PAUSED' | 'ENDED';

export interface StoredTier {
  minAmountMinor: string;
  maxAmountMinor: string | null;
  multiplierBp: string;
}
export interface StoredSplit {
  stakeholderTypeCode: string;
  percent: string;
}

export interface CampaignsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  name: string;
  description: string | null;
  status: CampaignStatus;
  auto_start: Generated<boolean>;
  action_types: JsonCol<string[]>;
  multiplier_bp: Big;
  tiers: JsonCol<StoredTier[]>;
  splits: JsonCol<StoredSplit[]>;
  starts_at: Date | null;
  ends_at: Date | null;
  timezone: Generated<string>;
  budget_total: Big | null;
  budget_spent: Big;
  per_user_cap: Big | null;
  token_pool_id: string | null;
  priority: Generated<number>;
  archived_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CampaignUserSpendTable {
  campaign_id: string;
  user_id: string;
  spent: Big;
}

export type ActionStatus = 'COMPLETED' | 'FAILED' | 'PARTIALLY_REVERSED' | 'REVERSED';

export interface StoredStakeholder {
  stakeholderTypeCode: string;
  partnerUserId: string;
  userId: string | null;
  units: string;
  transactionId: string | null;
}

export interface ActionsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  idempotency_key: string;
  request_hash: string;
  action_type: string;
  amount_minor: Big;
  currency: string;
  status: ActionStatus;
  campaign_id: string | null;
  token_pool_id: string | null;
  tokens_distributed: Big;
  tokens_reversed: Big;
  stakeholders: JsonCol<StoredStakeholder[]>;
  ledger_transaction_id: string | null;
  metadata: JsonCol<Record<string, unknown>>;
  failure_code: string | null;
  failure_message: string | null;
  reversed_at: Date | null;
  created_at: Timestamp;
}

export interface ActionReversalsTable {
  id: string;
  action_id: string;
  partner_id: string;
  environment: Environment;
  idempotency_key: string | null;
  request_hash: string;
  requested_units: Big;
  reversed_units: Big;
  shortfall_units: Big;
  forced: Generated<boolean>;
  reason: string | null;
  ledger_transaction_id: string | null;
  created_at: Timestamp;
}

export interface TokenTransactionsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  user_id: string;
  external_user_id: string;
  action_id: string | null;
  stakeholder_type_code: string | null;
  type: 'CREDIT' | 'REVERSAL' | 'REDEMPTION' | 'EXPIRY';
  amount: Big;
  remaining: Big;
  available_at: Date | null;
  expires_at: Date | null;
  status: 'COMPLETED' | 'PENDING' | 'REVERSED';
  token_pool_id: string | null;
  campaign_id: string | null;
  ledger_transaction_id: string;
  idempotency_key: string | null;
  request_hash: string | null;
  reason: string | null;
  created_at: Timestamp;
}

export interface OutboxEventsTable {
  seq: Generated<bigint>;
  id: string;
  partner_id: string;
  environment: Environment;
  type: string;
  data: JsonCol<Record<string, unknown>>;
  created_at: Timestamp;
  /** The writing transaction's id (xid8, as text): fan-out reads in commit-safe order by it. */
  xid: Generated<string>;
}
