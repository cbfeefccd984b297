import type { Generated } from 'kysely';
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
