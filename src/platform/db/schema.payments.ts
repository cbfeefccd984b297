import type { ColumnType, Generated, GeneratedAlways } from 'kysely';
import type { Environment, Timestamp } from './schema.js';

export interface PaymentsPartnersTable {
  partner_id: string;
  number: Generated<number>;
}

export type ProcessorKind = 'sandbox' | 'stripe';

export interface PaymentsAccountsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  processor: ProcessorKind;
  description: string | null;
  secret_sealed: string;
  public_key: string;
  processor_secret_sealed: string | null;
  is_active: Generated<boolean>;
  donation_rewards: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface PaymentCustomersTable {
  id: string;
  account_id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  external_id: string | null;
  default_payment_method_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type Interval = 'day' | 'week' | 'month' | 'year';

export interface PaymentProductsTable {
  id: string;
  account_id: string;
  name: string;
  created_at: Timestamp;
}

export interface PaymentPricesTable {
  id: string;
  account_id: string;
  product_id: string;
  currency: string;
  unit_amount: bigint;
  type: 'one_time' | 'recurring';
  recurring_interval: Interval | null;
  is_custom_amount: Generated<boolean>;
  created_at: Timestamp;
}

export interface ConnectedAccountsTable {
  id: string;
  account_id: string;
  cut_bps: number;
  description: string | null;
  is_default: Generated<boolean>;
  created_at: Timestamp;
}

export type JsonDoc<T> = ColumnType<T, string, string>;
export type NullableDate = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type PaymentMethodStatus = 'active' | 'new' | 'verified' | 'verification_failed';

export interface PaymentMethodsTable {
  id: string;
  account_id: string;
  customer_id: string | null;
  type: 'card' | 'us_bank_account';
  card_brand: string | null;
  card_last4: string | null;
  card_exp_month: number | null;
  card_exp_year: number | null;
  bank_name: string | null;
  bank_last4: string | null;
  bank_routing: string | null;
  status: PaymentMethodStatus;
  verify_attempts: Generated<number>;
  sandbox_outcome: string | null;
  billing_details: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Timestamp;
  detached_at: NullableDate;
}

export interface SetupIntentsTable {
  id: string;
  account_id: string;
  customer_id: string | null;
  client_secret: string;
  status: 'requires_payment_method' | 'requires_action' | 'succeeded' | 'canceled';
  payment_method_id: string | null;
  last_error: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type PaymentIntentStatus = 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';

export interface PaymentIntentsTable {
  id: string;
  account_id: string;
  customer_id: string | null;
  client_secret: string;
  amount: bigint;
  tip: bigint;
  currency: string;
  status: PaymentIntentStatus;
  payment_method_id: string | null;
  persist_payment_method: boolean;
  donation: JsonDoc<Record<string, unknown>>;
  charge_id: string | null;
  last_error: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CheckoutLineItem {
  name: string;
  priceId: string | null;
  unitAmount: number;
  quantity: number;
  interval: Interval | null;
}

export interface CheckoutSessionsTable {
  id: string;
  account_id: string;
  customer_id: string | null;
  mode: 'payment' | 'subscription';
  currency: string;
  line_items: ColumnType<CheckoutLineItem[], string, string>;
  amount: bigint;
  tip: bigint;
  tip_interval: Interval | null;
  success_url: string;
  cancel_url: string;
  payment_method_id: string | null;
  donation: JsonDoc<Record<string, unknown>>;
  status: 'open' | 'complete';
  payment_intent_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  completed_at: NullableDate;
  /** Stripe accounts: Stripe's hosted checkout page. */
  processor_url: ColumnType<string | null, string | null | undefined, string | null>;
  /** Stripe subscription mode: our reference, also in the Stripe subscription's metadata. */
  processor_key: ColumnType<string | null, string | null | undefined, string | null>;
}

/** processing: Stripe has been (or is being) asked and its answer is not recorded yet. */
export type ChargeStatus = 'processing' | 'pending' | 'succeeded' | 'failed' | 'refunded';

export interface ChargesTable {
  id: string;
  account_id: string;
  customer_id: string | null;
  payment_intent_id: string | null;
  payment_method_id: string;
  method_type: 'card' | 'us_bank_account';
  currency: string;
  amount: bigint;
  tip: bigint;
  gross: bigint;
  fee: bigint;
  partner_cut: bigint;
  destination_amount: bigint;
  connected_account_id: string | null;
  status: ChargeStatus;
  failure_code: string | null;
  failure_message: string | null;
  donation: JsonDoc<Record<string, unknown>>;
  ledger_transaction_id: string | null;
  refunded_amount: Generated<bigint>;
  settles_at: NullableDate;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Stripe accounts: the PaymentIntent (pi_...) that took the money. */
  processor_ref: ColumnType<string | null, string | null | undefined, string | null>;
  /** The Idempotency-Key every attempt of this charge sends to Stripe. */
  processor_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** The request that made the charge, so a repeat of it is given this charge's outcome. */
  request_hash: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: NullableDate;
  processor_asked_at: NullableDate;
  answered_at: NullableDate;
}

export interface PaymentsIdempotencyTable {
  account_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  response: ColumnType<unknown, string, string>;
  created_at: Timestamp;
}

export interface OrganizationsTable {
  id: Generated<number>;
  slug: string;
  name: string;
  ein: string | null;
  city: string | null;
  state: string | null;
  ntee_code: string | null;
  deductibility: string | null;
  status: Generated<'active' | 'inactive'>;
  logo_url: string | null;
  curated: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** organization_search_key(name), kept by PostgreSQL (migration 0015). */
  search_key: GeneratedAlways<string>;
}

export type GivingAccountKind = 'giving_account' | 'subaccount' | 'master_account' | 'campaign';

export interface GivingAccountsTable {
  account_id: string;
  kind: GivingAccountKind;
  ref: string;
  name: string | null;
  master_ref: string | null;
  created_at: Timestamp;
}

export type MatchStatus = 'requested' | 'approved' | 'declined' | 'paid';

export interface MatchRequestsTable {
  id: string;
  account_id: string;
  charge_id: string;
  customer_id: string | null;
  amount: bigint;
  currency: string;
  destination: ColumnType<{ kind: string; ref: string }, string, string>;
  employer_ref: string | null;
  status: MatchStatus;
  decline_reason: string | null;
  ledger_transaction_id: string | null;
  created_at: Timestamp;
  decided_at: NullableDate;
  paid_at: NullableDate;
}

export type {
  StoredSubscriptionItem,
  SubscriptionsTable,
  SubscriptionInvoicesTable,
  DonationRewardJobsTable,
  StripeEventsTable,
} from './schema.subscriptions.js';
