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
