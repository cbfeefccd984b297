import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type {
  ChargesTable,
  CheckoutSessionsTable,
  ConnectedAccountsTable,
  DonationRewardJobsTable,
  GivingAccountsTable,
  MatchRequestsTable,
  OrganizationsTable,
  PaymentIntentsTable,
  PaymentMethodsTable,
  PaymentsIdempotencyTable,
  SetupIntentsTable,
  StripeEventsTable,
  SubscriptionInvoicesTable,
  SubscriptionsTable,
  PaymentCustomersTable,
  PaymentPricesTable,
  PaymentProductsTable,
  PaymentsAccountsTable,
  PaymentsPartnersTable,
} from './schema.payments.js';
import type { DonationsTable } from './schema.donations.js';
import type { WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEndpointsTable, WebhookFanoutCursorTable } from './schema.webhooks.js';

/**
 * Table types for Kysely. They mirror migrations/*.sql; a test compares them with the live
 * catalogue so the two cannot drift apart silently.
 */
export type Environment = 'sandbox' | 'production';
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string | undefined, string>;

export interface PartnersTable {
  id: string;
  sandbox_clock_offset_ms: ColumnType<bigint, bigint | number | undefined, bigint | number>;
  name: string;
  slug: string;
  status: 'PENDING_APPROVAL' | 'ACTIVE' | 'SUSPENDED';
  tier: 'STANDARD' | 'PROFESSIONAL' | 'ENTERPRISE';
  rate_limit: number;
  enabled_features: Json<string[]>;
  tip_config: Json<{ enabled: boolean; defaultPercent: number }>;
  webhook_url: string | null;
  contact_email: string | null;
  ip_allowlist: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PortalUsersTable {
  id: string;
  partner_id: string;
  email: string;
  name: string | null;
  password_hash: string;
  failed_login_count: Generated<number>;
  last_failed_login_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  partner_id: string;
  environment: Environment;
  name: string;
  publishable_key: string;
  secret_key_hash: string;
  secret_key_last4: string;
  hmac_secret_sealed: string | null;
  is_active: Generated<boolean>;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PartnerUsersTable {
  id: string;
  partner_id: string;
  environment: Environment;
  external_user_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  metadata: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiUsageDailyTable {
  partner_id: string;
  environment: Environment;
  day: ColumnType<Date, string, string>;
  method: string;
  route: string;
  status_code: number;
  request_count: ColumnType<bigint, bigint | number, bigint | number>;
  total_duration_ms: ColumnType<bigint, bigint | number, bigint | number>;
}

export interface SchemaMigrationsTable {
  version: string;
  name: string;
  checksum: string;
  applied_at: Timestamp;
}


type Big = ColumnType<bigint, bigint | number | string | undefined, bigint | number | string>;
export type JsonCol<T> = ColumnType<T, string | undefined, string>;

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


export interface Database {
  donations: DonationsTable;
  partners: PartnersTable;
  portal_users: PortalUsersTable;
  api_keys: ApiKeysTable;
  partner_users: PartnerUsersTable;
  api_usage_daily: ApiUsageDailyTable;
  schema_migrations: SchemaMigrationsTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_transactions: LedgerTransactionsTable;
  ledger_postings: LedgerPostingsTable;
  stakeholder_types: StakeholderTypesTable;
  token_pools: TokenPoolsTable;
  token_pool_requests: TokenPoolRequestsTable;
  campaigns: CampaignsTable;
  campaign_user_spend: CampaignUserSpendTable;
  actions: ActionsTable;
  action_reversals: ActionReversalsTable;
  token_transactions: TokenTransactionsTable;
  outbox_events: OutboxEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_fanout_cursor: WebhookFanoutCursorTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  payments_partners: PaymentsPartnersTable;
  payments_accounts: PaymentsAccountsTable;
  payment_customers: PaymentCustomersTable;
  payment_products: PaymentProductsTable;
  payment_prices: PaymentPricesTable;
  connected_accounts: ConnectedAccountsTable;
  payment_methods: PaymentMethodsTable;
  setup_intents: SetupIntentsTable;
  payment_intents: PaymentIntentsTable;
  charges: ChargesTable;
  payments_idempotency: PaymentsIdempotencyTable;
  organizations: OrganizationsTable;
  giving_accounts: GivingAccountsTable;
  match_requests: MatchRequestsTable;
  checkout_sessions: CheckoutSessionsTable;
  subscriptions: SubscriptionsTable;
  subscription_invoices: SubscriptionInvoicesTable;
  donation_reward_jobs: DonationRewardJobsTable;
  stripe_events: StripeEventsTable;
}

export type PartnerRow = Selectable<PartnersTable>;
export type PortalUserRow = Selectable<PortalUsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
export type PartnerUserRow = Selectable<PartnerUsersTable>;
export type PartnerUserUpdate = Updateable<PartnerUsersTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookEndpointUpdate = Updateable<WebhookEndpointsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
