import type { ColumnType, Generated } from 'kysely';
import type { Environment, JsonCol, Timestamp } from './schema.js';

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface WebhookEndpointsTable {
  id: string;
  partner_id: string;
  environment: Environment;
  url: string;
  description: string | null;
  event_types: JsonCol<string[]>;
  receive_all_events: boolean;
  headers: JsonCol<Record<string, string>>;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: NullableTimestamp;
  is_active: boolean;
  disabled_reason: string | null;
  consecutive_failures: Generated<number>;
  failing_since: NullableTimestamp;
  last_success_at: NullableTimestamp;
  last_failure_at: NullableTimestamp;
  disabled_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** xid8 arrives as text from the driver; only SQL compares it. */
export interface WebhookFanoutCursorTable {
  singleton: boolean;
  xid: string;
  seq: bigint;
}

export type DeliveryStatus = 'PENDING' | 'DELIVERING' | 'SUCCEEDED' | 'FAILED';

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  partner_id: string;
  environment: Environment;
  event_id: string;
  event_type: string;
  event_created_at: Timestamp;
  outbox_seq: bigint | null;
  payload: JsonCol<Record<string, unknown>> | null;
  status: DeliveryStatus;
  attempts: Generated<number>;
  max_attempts: number;
  next_attempt_at: NullableTimestamp;
  claim_token: string | null;
  last_attempt_at: NullableTimestamp;
  last_status_code: number | null;
  last_latency_ms: number | null;
  last_error: string | null;
  delivered_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookAttemptsTable {
  id: Generated<bigint>;
  delivery_id: string;
  endpoint_id: string;
  attempted_at: Timestamp;
  succeeded: boolean;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}
