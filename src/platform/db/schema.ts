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
import type {
  LedgerAccountsTable,
  LedgerTransactionsTable,
  LedgerPostingsTable,
  StakeholderTypesTable,
  TokenPoolsTable,
  TokenPoolRequestsTable,
  CampaignsTable,
  CampaignUserSpendTable,
  ActionsTable,
  ActionReversalsTable,
  TokenTransactionsTable,
  OutboxEventsTable,
} from './schema.rewards.js';
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

export type JsonCol<T> = ColumnType<T, string | undefined, string>;

export type {
  LedgerAccountsTable,
  LedgerTransactionsTable,
  LedgerPostingsTable,
  StakeholderTypesTable,
  PoolStatus,
  TokenPoolsTable,
  TokenPoolRequestsTable,
  CampaignStatus,
  StoredTier,
  StoredSplit,
  CampaignsTable,
  CampaignUserSpendTable,
  ActionStatus,
  StoredStakeholder,
  ActionsTable,
  ActionReversalsTable,
  TokenTransactionsTable,
  OutboxEventsTable,
} from './schema.rewards.js';

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
