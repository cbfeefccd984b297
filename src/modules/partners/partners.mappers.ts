import type { ApiKeyRow, PartnerRow } from '../../platform/db/schema.js';
import type { ApiKeyType, PartnerTierType, PartnerType } from './partners.schemas.js';

export const TIER_RATE_LIMITS: Record<PartnerTierType, number> = {
  STANDARD: 1000,
  PROFESSIONAL: 5000,
  ENTERPRISE: 20000,
};

export function toPartner(row: PartnerRow): PartnerType {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    status: row.status,
    tier: row.tier,
    enabledFeatures: row.enabled_features,
    rateLimit: row.rate_limit,
    webhookUrl: row.webhook_url,
    tipConfig: row.tip_config,
    contactEmail: row.contact_email,
    ipAllowlist: row.ip_allowlist,
    createdAt: row.created_at.toISOString(),
  };
}

export function toApiKey(row: ApiKeyRow): ApiKeyType {
  return {
    id: row.id,
    partnerId: row.partner_id,
    name: row.name,
    environment: row.environment,
    publicKey: row.publishable_key,
    secretKeyLast4: row.secret_key_last4,
    isActive: row.is_active,
    expiresAt: row.expires_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

export function slugify(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return base || 'partner';
}
