import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId, randomHex } from '../../platform/crypto/ids.js';
import type { SecretBox } from '../../platform/crypto/secret-box.js';
import { sha256Hex } from '../../platform/crypto/signing.js';
import type { Database, Environment } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { parseAllowlist, type ResolvedKey } from '../../platform/http/auth.js';
import { toApiKey } from './partners.mappers.js';
import { partnersRepo } from './partners.repo.js';
import type { CreateKeyBodyType, CreatedApiKeyType, UpdateKeyBodyType } from './partners.schemas.js';

export const HMAC_PURPOSE = 'api_keys.hmac_secret';
const CACHE_TTL_MS = 5000;
const CACHE_MAX = 10_000;

/**
 * API key pairs: issuance, management and the lookup behind every partner request.
 * Lookups are cached for a few seconds (a signed request then costs no key query); any change
 * made through this process clears the cache at once, other processes see it within the TTL.
 */
export class KeysService {
  private readonly cache = new Map<string, { value: ResolvedKey; expires: number }>();
  private pendingUse = new Map<string, Date>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  async createKey(partnerId: string, body: CreateKeyBodyType, createdBy: string | null): Promise<CreatedApiKeyType> {
    const partner = await partnersRepo.findPartner(this.db, partnerId);
    if (!partner) throw notFound('Partner');
    if (partner.status === 'SUSPENDED') {
      throw new AppError('PARTNER_NOT_ACTIVE', 'This partner account is suspended; contact support');
    }
    if (body.environment === 'production' && partner.status !== 'ACTIVE') {
      throw new AppError(
        'PRODUCTION_NOT_APPROVED',
        'Production keys need an approved partner account; use environment "sandbox" until approval',
      );
    }
    return this.issuePair(partnerId, body.environment, body.name, body.expiresAt ? new Date(body.expiresAt) : null, createdBy);
  }

  async issuePair(
    partnerId: string,
    environment: Environment,
    name: string,
    expiresAt: Date | null,
    createdBy: string | null,
  ): Promise<CreatedApiKeyType> {
    const mode = environment === 'sandbox' ? 'test' : 'live';
    const publicKey = `pk_${mode}_${randomHex(32)}`;
    const secretKey = `sk_${mode}_${randomHex(32)}`;
    const hmacSecret = randomHex(32);
    const row = await partnersRepo.insertKey(this.db, {
      id: prefixedId('key'),
      partner_id: partnerId,
      environment,
      name,
      publishable_key: publicKey,
      secret_key_hash: sha256Hex(secretKey),
      secret_key_last4: secretKey.slice(-4),
      hmac_secret_sealed: this.box.seal(hmacSecret, HMAC_PURPOSE),
      expires_at: expiresAt,
      created_by: createdBy,
    });
    return {
      id: row.id,
      partnerId,
      name: row.name,
      environment: row.environment,
      publicKey,
      secretKey,
      hmacSecret,
      isActive: row.is_active,
      expiresAt: row.expires_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
    };
  }

  async listKeys(partnerId: string) {
    return (await partnersRepo.listKeys(this.db, partnerId)).map(toApiKey);
  }

  async getKey(partnerId: string, id: string) {
    const row = await partnersRepo.findKey(this.db, partnerId, id);
    if (!row) throw notFound('API key');
    return toApiKey(row);
  }

  async updateKey(partnerId: string, id: string, body: UpdateKeyBodyType) {
    const patch: { name?: string; is_active?: boolean; expires_at?: Date | null } = {};
    if (body.name !== undefined) patch.name = body.name;
    if (body.isActive !== undefined) patch.is_active = body.isActive;
    if (body.expiresAt !== undefined) patch.expires_at = body.expiresAt === null ? null : new Date(body.expiresAt);
    const row = await partnersRepo.updateKey(this.db, partnerId, id, patch);
    if (!row) throw notFound('API key');
    this.invalidate();
    return toApiKey(row);
  }

  async revokeKey(partnerId: string, id: string) {
    const row = await partnersRepo.updateKey(this.db, partnerId, id, { revoked_at: this.clock.now(), is_active: false });
    if (!row) throw notFound('API key');
    this.invalidate();
    return { id: row.id, deleted: true as const };
  }

  /** Called by the auth hook with the raw X-Partner-Key value (already format-checked). */
  async resolve(headerValue: string): Promise<ResolvedKey | null> {
    const now = Date.now();
    const hit = this.cache.get(headerValue);
    if (hit && hit.expires > now) return hit.value;
    const isSecret = headerValue.startsWith('sk_');
    const row = await partnersRepo.findKeyForAuth(
      this.db,
      isSecret ? { secretKeyHash: sha256Hex(headerValue) } : { publishableKey: headerValue },
    );
    if (!row) return null;
    const value: ResolvedKey = {
      keyId: row.key_id,
      environment: row.environment,
      kind: isSecret ? 'secret' : 'publishable',
      isActive: row.is_active,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      hmacSecret: row.hmac_secret_sealed ? this.box.open(row.hmac_secret_sealed, HMAC_PURPOSE) : null,
      partner: {
        id: row.partner_id,
        status: row.status,
        rateLimit: row.rate_limit,
        enabledFeatures: row.enabled_features,
        allowlist: parseAllowlist(row.ip_allowlist),
      },
    };
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(headerValue, { value, expires: now + CACHE_TTL_MS });
    return value;
  }

  invalidate() {
    this.cache.clear();
  }

  /** lastUsedAt is written in batches; a per-request UPDATE would double the cost of every call. */
  markUsed(keyId: string) {
    this.pendingUse.set(keyId, this.clock.now());
  }

  async flushUsage() {
    if (this.pendingUse.size === 0) return;
    const batch = this.pendingUse;
    this.pendingUse = new Map();
    await partnersRepo.touchKeys(this.db, batch);
  }
}

