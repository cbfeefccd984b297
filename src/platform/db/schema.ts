import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Table types for Kysely. They mirror migrations/*.sql; a test compares them with the live
 * catalogue so the two cannot drift apart silently.
 */
export type Environment = 'sandbox' | 'production';
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string | undefined, string>;

export interface PartnersTable {
  id: string;
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

export interface Database {
  partners: PartnersTable;
  portal_users: PortalUsersTable;
  api_keys: ApiKeysTable;
  partner_users: PartnerUsersTable;
  api_usage_daily: ApiUsageDailyTable;
  schema_migrations: SchemaMigrationsTable;
}

export type PartnerRow = Selectable<PartnersTable>;
export type PortalUserRow = Selectable<PortalUsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
export type PartnerUserRow = Selectable<PartnerUsersTable>;
export type PartnerUserUpdate = Updateable<PartnerUsersTable>;
