import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { objectId } from '../../platform/crypto/ids.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from '../../platform/crypto/passwords.js';
import type { Database, Environment, PartnerRow } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { isValidAllowlistEntry, type PortalAuth } from '../../platform/http/auth.js';
import type { KeysService } from './keys.service.js';
import { LoginThrottle } from './login-throttle.js';
import { TIER_RATE_LIMITS, slugify, toPartner } from './partners.mappers.js';
import { partnersRepo } from './partners.repo.js';
import type {
  AdminPartnerListType,
  AdminPartnerPatchType,
  LoginBodyType,
  PartnerType,
  RegisterBodyType,
  SessionType,
} from './partners.schemas.js';
import type { PortalTokens } from './portal-tokens.js';

const INVALID_LOGIN = 'Email or password is incorrect';

export interface CreatePartnerInput {
  name: string;
  status: PartnerRow['status'];
  contactEmail?: string | null;
  slug?: string;
}

export async function createPartnerRecord(
  db: Kysely<Database> | Transaction<Database>,
  clock: Clock,
  input: CreatePartnerInput,
): Promise<PartnerRow> {
  const base = input.slug ?? slugify(input.name);
  // Collisions get -2, -3 … in order, so the same names always yield the same slugs.
  for (let n = 1; n < 1000; n++) {
    const slug = n === 1 ? base : `${base}-${n}`;
    if (await partnersRepo.slugTaken(db, slug)) continue;
    return partnersRepo.insertPartner(db, {
      id: objectId(clock.now()),
      name: input.name,
      slug,
      status: input.status,
      tier: 'STANDARD',
      rate_limit: TIER_RATE_LIMITS.STANDARD,
      contact_email: input.contactEmail ?? null,
    });
  }
  throw new AppError('CONFLICT', 'Could not find a free slug for this partner name');
}

export class PartnersService {
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly keys: KeysService,
    private readonly tokens: PortalTokens,
    private readonly clock: Clock,
  ) {
    this.throttle = new LoginThrottle(clock);
  }

  createPartner(input: CreatePartnerInput): Promise<PartnerRow> {
    return createPartnerRecord(this.db, this.clock, input);
  }

  async register(body: RegisterBodyType): Promise<SessionType> {
    const email = body.email.trim().toLowerCase();
    if (await partnersRepo.findPortalUserByEmail(this.db, email)) {
      throw new AppError('EMAIL_TAKEN', 'An account with this email already exists; log in instead');
    }
    const passwordHash = await hashPassword(body.password);
    const { partner, user } = await this.db.transaction().execute(async (trx) => {
      const partner = await createPartnerRecord(trx, this.clock, {
        name: body.partnerName,
        status: 'PENDING_APPROVAL',
        contactEmail: body.contactEmail ?? email,
      });
      const user = await partnersRepo.insertPortalUser(trx, {
        id: objectId(this.clock.now()),
        partner_id: partner.id,
        email,
        name: body.name ?? null,
        password_hash: passwordHash,
      });
      return { partner, user };
    }).catch((err: unknown) => {
      // Two registrations racing for one email: the unique index decides, the loser gets a clear 409.
      if ((err as { code?: string }).code === '23505') {
        throw new AppError('EMAIL_TAKEN', 'An account with this email already exists; log in instead');
      }
      throw err;
    });
    return this.session({ userId: user.id, partnerId: partner.id }, { id: user.id, email: user.email, name: user.name }, partner);
  }

  async login(body: LoginBodyType, clientIp: string): Promise<SessionType> {
    const email = body.email.trim().toLowerCase();
    this.throttle.check(email, clientIp);
    const user = await partnersRepo.findPortalUserByEmail(this.db, email);
    const ok = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), body.password);
    if (!user || !ok) {
      this.throttle.fail(email, clientIp);
      if (user) await partnersRepo.recordLoginFailure(this.db, user.id, this.clock.now());
      throw new AppError('INVALID_CREDENTIALS', INVALID_LOGIN);
    }
    this.throttle.succeed(email);
    await partnersRepo.resetLoginFailures(this.db, user.id);
    const partner = await partnersRepo.findPartner(this.db, user.partner_id);
    if (!partner) throw new AppError('INVALID_CREDENTIALS', INVALID_LOGIN);
    return this.session({ userId: user.id, partnerId: partner.id }, { id: user.id, email: user.email, name: user.name }, partner);
  }

  async refresh(refreshToken: string): Promise<SessionType> {
    const auth = await this.tokens.verify(refreshToken, 'refresh');
    const { user, partner } = await this.portalContext(auth);
    return this.session(auth, user, partner);
  }

  verifyAccessToken(token: string): Promise<PortalAuth> {
    return this.tokens.verify(token, 'access');
  }

  async me(auth: PortalAuth) {
    const { user, partner } = await this.portalContext(auth);
    return { user, partner: toPartner(partner), publishableKey: await this.publishableKey(partner.id) };
  }

  async partnerInfo(partnerId: string): Promise<PartnerType> {
    const partner = await partnersRepo.findPartner(this.db, partnerId);
    if (!partner) throw notFound('Partner');
    return toPartner(partner);
  }

  async widgetConfig(partnerId: string, environment: Environment) {
    const p = await this.partnerInfo(partnerId);
    return {
      id: p.id,
      name: p.name,
      slug: p.slug,
      environment,
      enabledFeatures: p.enabledFeatures,
      rateLimit: p.rateLimit,
      isActive: p.status === 'ACTIVE',
      webhookUrl: p.webhookUrl,
      tipConfig: p.tipConfig,
    };
  }

  // ---- operator ----

  async listPartners(q: AdminPartnerListType) {
    const { rows, total } = await partnersRepo.listPartners(this.db, {
      status: q.status,
      offset: (q.page - 1) * q.limit,
      limit: q.limit,
    });
    return { data: rows.map(toPartner), page: q.page, limit: q.limit, total };
  }

  async setStatus(partnerId: string, status: PartnerRow['status']) {
    const row = await partnersRepo.updatePartner(this.db, partnerId, { status });
    if (!row) throw notFound('Partner');
    this.keys.invalidate();
    return toPartner(row);
  }

  async updatePartner(partnerId: string, patch: AdminPartnerPatchType) {
    const bad = patch.ipAllowlist?.filter((e) => !isValidAllowlistEntry(e)) ?? [];
    if (bad.length > 0) {
      throw new AppError('VALIDATION_ERROR', `ipAllowlist entries must be IPv4/IPv6 addresses or CIDR ranges; invalid: ${bad.join(', ')}`);
    }
    const set: Parameters<typeof partnersRepo.updatePartner>[2] = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.tier !== undefined) {
      set.tier = patch.tier;
      set.rate_limit = TIER_RATE_LIMITS[patch.tier];
    }
    // An explicit rate limit wins over the tier default.
    if (patch.rateLimit !== undefined) set.rate_limit = patch.rateLimit;
    if (patch.enabledFeatures !== undefined) set.enabled_features = JSON.stringify(patch.enabledFeatures);
    if (patch.tipConfig !== undefined) set.tip_config = JSON.stringify(patch.tipConfig);
    if (patch.ipAllowlist !== undefined) set.ip_allowlist = JSON.stringify(patch.ipAllowlist);
    if (patch.webhookUrl !== undefined) set.webhook_url = patch.webhookUrl;
    if (patch.contactEmail !== undefined) set.contact_email = patch.contactEmail;
    const row = await partnersRepo.updatePartner(this.db, partnerId, set);
    if (!row) throw notFound('Partner');
    this.keys.invalidate();
    return toPartner(row);
  }

  // ---- helpers ----

  private async portalContext(auth: PortalAuth) {
    const row = await partnersRepo.findPortalUser(this.db, auth.userId);
    const partner = row ? await partnersRepo.findPartner(this.db, row.partner_id) : undefined;
    if (!row || !partner || partner.id !== auth.partnerId) {
      throw new AppError('INVALID_TOKEN', 'The account behind this token no longer exists; log in again');
    }
    return { user: { id: row.id, email: row.email, name: row.name }, partner };
  }

  private async publishableKey(partnerId: string) {
    const now = this.clock.now();
    return (
      (await partnersRepo.activePublishableKey(this.db, partnerId, 'production', now)) ??
      (await partnersRepo.activePublishableKey(this.db, partnerId, 'sandbox', now))
    );
  }

  private async session(auth: PortalAuth, user: SessionType['user'], partner: PartnerRow): Promise<SessionType> {
    const tokens = await this.tokens.issue(auth);
    return {
      ...tokens,
      tokenType: 'Bearer',
      user,
      partner: toPartner(partner),
      publishableKey: await this.publishableKey(partner.id),
    };
  }
}
