import type { ColumnType } from 'kysely';
import type { Environment } from './schema.js';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export type DonationStatus = 'PENDING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
type RewardStatus = 'none' | 'pending' | 'done' | 'failed';
export type DonationProvider = 'stripe' | 'every.org';

export interface DonationsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  organization_id: number;
  provider: DonationProvider;
  frequency: 'once' | 'monthly';
  amount: bigint;
  tip: bigint;
  currency: string;
  donor_email: string | null;
  first_name: string | null;
  last_name: string | null;
  external_user_id: string | null;
  referral_code: string | null;
  success_url: string | null;
  cancel_url: string | null;
  metadata: ColumnType<Record<string, string>, string, string>;
  link_url: string;
  status: DonationStatus;
  failure_reason: ColumnType<string | null, string | null | undefined, string | null>;
  checkout_session_id: string | null;
  provider_ref: ColumnType<string | null, string | null | undefined, string | null>;
  reward_status: ColumnType<RewardStatus, RewardStatus | undefined, RewardStatus>;
  action_id: ColumnType<string | null, string | null | undefined, string | null>;
  tokens_awarded: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
  completed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  refunded_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  reversal_status: ColumnType<RewardStatus, RewardStatus | undefined, RewardStatus>;
}
