import type { ColumnType, Generated } from 'kysely';
import type { Timestamp } from './schema.js';
import type { Interval, JsonDoc, NullableDate } from './schema.payments.js';

/** Subscriptions and what bills them: invoices, donation reward jobs, Stripe's events (see schema.payments.ts). */

export interface StoredSubscriptionItem {
  priceId: string;
  productId: string;
  unitAmount: number;
  quantity: number;
  currency: string;
  interval: Interval;
  isCustom: boolean;
}

export interface SubscriptionsTable {
  id: string;
  account_id: string;
  customer_id: string;
  currency: string;
  interval: Interval;
  items: ColumnType<StoredSubscriptionItem[], string, string>;
  amount: bigint;
  tip: bigint;
  tip_interval: Interval | null;
  one_time_tip: bigint;
  payment_method_id: string;
  donation: JsonDoc<Record<string, unknown>>;
  /** incomplete: a Stripe subscription being created; never shown through the API. */
  status: 'incomplete' | 'active' | 'past_due' | 'canceled';
  paused: Generated<boolean>;
  resumes_at: NullableDate;
  cancel_at_period_end: Generated<boolean>;
  cancel_at: NullableDate;
  proration_behaviour: Generated<'none' | 'always_invoice' | 'create_proration'>;
  pending_proration: Generated<bigint>;
  start_date: Timestamp;
  current_period_start: Timestamp;
  current_period_end: Timestamp;
  ended_at: NullableDate;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Stripe accounts: Stripe's subscription (sub_...). */
  processor_ref: ColumnType<string | null, string | null | undefined, string | null>;
  processor_key: ColumnType<string | null, string | null | undefined, string | null>;
  /** What Stripe was asked to create, sent again as is by a retry. */
  processor_request: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  request_hash: ColumnType<string | null, string | null | undefined, string | null>;
  lease_until: NullableDate;
  processor_asked_at: NullableDate;
}

export interface SubscriptionInvoicesTable {
  id: string;
  subscription_id: string;
  period_start: Timestamp;
  period_end: Timestamp;
  amount: bigint;
  tip: bigint;
  proration: bigint;
  status: 'paid' | 'failed' | 'void' | 'pending';
  charge_id: string | null;
  created_at: Timestamp;
  /** Stripe accounts: the invoice (in_...) that billed the period. */
  processor_ref: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DonationRewardJobsTable {
  charge_id: string;
  kind: 'reward' | 'reverse';
  account_id: string;
  status: 'pending' | 'done' | 'failed';
  attempts: Generated<number>;
  action_id: string | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface StripeEventsTable {
  id: string;
  type: string;
  livemode: boolean;
  account_id: string | null;
  outcome: 'applied' | 'ignored' | 'unmatched';
  received_at: Timestamp;
}
