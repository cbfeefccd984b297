// Stakeholder types: the codes (CUSTOMER, DONOR, ...) a partner may use in action stakeholders and campaign
// splits. Contract A3: "the codes a partner may use are registered by SIR during onboarding", so partners read
// them and operators change them. Repo and service share this file because both are a few lines each.
import { Type, type Static } from '@sinclair/typebox';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { IsoDate } from '../../platform/http/common.schemas.js';

type Db = Kysely<Database> | Transaction<Database>;

export const STAKEHOLDER_CODE_PATTERN = '^[A-Z][A-Z0-9_]{0,39}$';
const CODE = new RegExp(STAKEHOLDER_CODE_PATTERN);

export const StakeholderTypeCode = Type.String({
  pattern: STAKEHOLDER_CODE_PATTERN,
  description: 'Upper-case code: a letter, then letters, digits or _ (at most 40), e.g. CUSTOMER',
});

export const StakeholderType = Type.Object(
  { code: Type.String(), name: Type.String(), createdAt: IsoDate },
  { title: 'StakeholderType' },
);
export type StakeholderTypeType = Static<typeof StakeholderType>;

export const StakeholderTypeList = Type.Object({ data: Type.Array(StakeholderType) });

export const CreateStakeholderTypeBody = Type.Object(
  {
    code: StakeholderTypeCode,
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', description: 'Human-readable name' }),
  },
  { additionalProperties: false },
);
export type CreateStakeholderTypeBodyType = Static<typeof CreateStakeholderTypeBody>;

/** Every partner starts with these; they are written the first time the partner's types are touched. */
export const DEFAULT_STAKEHOLDER_TYPES: readonly { code: string; name: string }[] = [
  { code: 'CUSTOMER', name: 'Customer' },
  { code: 'DONOR', name: 'Donor' },
  { code: 'VOLUNTEER', name: 'Volunteer' },
  { code: 'ORGANIZATION', name: 'Organization' },
  { code: 'REFERRER', name: 'Referrer' },
  { code: 'ADVOCATE', name: 'Advocate' },
];

export const stakeholderTypesRepo = {
  async list(db: Db, partnerId: string) {
    return db
      .selectFrom('stakeholder_types')
      .select(['code', 'name', 'created_at'])
      .where('partner_id', '=', partnerId)
      .orderBy('created_at', 'asc')
      .orderBy('code', 'asc')
      .execute();
  },

  /**
   * Writes the defaults only for a partner that has no types at all, so a default an operator removed
   * stays removed. Concurrent first reads both insert; the primary key turns the loser into a no-op.
   */
  async seedDefaults(db: Db, partnerId: string) {
    const codes = DEFAULT_STAKEHOLDER_TYPES.map((t) => t.code);
    const names = DEFAULT_STAKEHOLDER_TYPES.map((t) => t.name);
    await sql`
      INSERT INTO stakeholder_types (partner_id, code, name)
      SELECT ${partnerId}, d.code, d.name
        FROM unnest(${codes}::text[], ${names}::text[]) AS d(code, name)
       WHERE NOT EXISTS (SELECT 1 FROM stakeholder_types WHERE partner_id = ${partnerId})
      ON CONFLICT (partner_id, code) DO NOTHING`.execute(db);
  },

  async partnerExists(db: Db, partnerId: string) {
    return (await db.selectFrom('partners').select('id').where('id', '=', partnerId).executeTakeFirst()) !== undefined;
  },

  /** Undefined when the code already exists. */
  async insert(db: Db, partnerId: string, code: string, name: string) {
    return db
      .insertInto('stakeholder_types')
      .values({ partner_id: partnerId, code, name })
      .onConflict((oc) => oc.columns(['partner_id', 'code']).doNothing())
      .returning(['code', 'name', 'created_at'])
      .executeTakeFirst();
  },

  /** Locks all of the partner's rows, so two removals cannot each see the other's row as the one left. */
  async lockAll(trx: Transaction<Database>, partnerId: string) {
    return trx.selectFrom('stakeholder_types').select('code').where('partner_id', '=', partnerId).forUpdate().execute();
  },

  async remove(db: Db, partnerId: string, code: string) {
    const r = await db.deleteFrom('stakeholder_types').where('partner_id', '=', partnerId).where('code', '=', code).executeTakeFirst();
    return r.numDeletedRows > 0n;
  },

  /** Campaigns that still split on the code and can still distribute (any environment). */
  async campaignsSplittingOn(db: Db, partnerId: string, code: string) {
    const rows = await db
      .selectFrom('campaigns')
      .select('id')
      .where('partner_id', '=', partnerId)
      .where('status', '!=', 'ENDED')
      .where('archived_at', 'is', null)
      .where(sql<boolean>`splits @> ${JSON.stringify([{ stakeholderTypeCode: code }])}::jsonb`)
      .orderBy('id')
      .limit(10)
      .execute();
    return rows.map((r) => r.id);
  },
};

/** The 400 an action or campaign gets for codes the partner has not registered: names them and the valid ones. */
export function unknownStakeholderTypeError(unknown: readonly string[], valid: Iterable<string>): AppError {
  const validList = [...valid].sort();
  const subject = unknown.length === 1 ? `Stakeholder type ${unknown[0]} is` : `Stakeholder types ${unknown.join(', ')} are`;
  return new AppError(
    'UNKNOWN_STAKEHOLDER_TYPE',
    `${subject} not registered for this partner; registered types: ${validList.length > 0 ? validList.join(', ') : '(none)'}`,
    { details: unknown.map((code) => ({ message: `${code} is not a registered stakeholder type`, stakeholderTypeCode: code })) },
  );
}

const DEFAULT_CACHE_TTL_MS = 2000;
const MAX_CACHED_PARTNERS = 10_000;

export class StakeholderTypesService {
  /**
   * codes() sits on the hot path of every action, so the set is kept for a short while. Changes made in
   * this process clear it at once; another process sees them within the TTL.
   */
  private readonly cache = new Map<string, { at: number; codes: Promise<Set<string>> }>();
  private readonly ttlMs: number;

  constructor(
    private readonly db: Kysely<Database>,
    options: { cacheTtlMs?: number } = {},
  ) {
    this.ttlMs = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  }

  /** The partner's types, oldest first; the defaults are written on the first call. 404 for an unknown partner. */
  async list(partnerId: string): Promise<StakeholderTypeType[]> {
    let rows = await stakeholderTypesRepo.list(this.db, partnerId);
    if (rows.length === 0) {
      // Either a partner that never had types (seed them) or no such partner (the seed would break the FK).
      if (!(await stakeholderTypesRepo.partnerExists(this.db, partnerId))) throw notFound('Partner');
      await stakeholderTypesRepo.seedDefaults(this.db, partnerId);
      rows = await stakeholderTypesRepo.list(this.db, partnerId);
    }
    return rows.map((r) => ({ code: r.code, name: r.name, createdAt: r.created_at.toISOString() }));
  }

  async codes(partnerId: string): Promise<Set<string>> {
    const now = Date.now();
    const hit = this.cache.get(partnerId);
    if (hit && now - hit.at < this.ttlMs) return hit.codes;
    if (this.cache.size >= MAX_CACHED_PARTNERS) this.cache.clear();
    const codes = this.list(partnerId).then((rows) => new Set(rows.map((r) => r.code)));
    this.cache.set(partnerId, { at: now, codes });
    // A failed read must not be served from the cache.
    codes.catch(() => {
      if (this.cache.get(partnerId)?.codes === codes) this.cache.delete(partnerId);
    });
    return codes;
  }

  /** Throws 400 UNKNOWN_STAKEHOLDER_TYPE naming every code not registered for the partner. */
  async assertRegistered(partnerId: string, codes: readonly string[]): Promise<void> {
    if (codes.length === 0) return;
    const valid = await this.codes(partnerId);
    const unknown = [...new Set(codes.filter((c) => !valid.has(c)))];
    if (unknown.length > 0) throw unknownStakeholderTypeError(unknown, valid);
  }

  async add(partnerId: string, code: string, name: string): Promise<StakeholderTypeType> {
    if (!CODE.test(code)) {
      throw new AppError('VALIDATION_ERROR', `code must match ${STAKEHOLDER_CODE_PATTERN} (e.g. MEMBER)`);
    }
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > 100) throw new AppError('VALIDATION_ERROR', 'name must have 1 to 100 characters');
    // Seed first, so adding a type to a partner nobody has read yet does not suppress the defaults.
    await this.list(partnerId);
    const row = await stakeholderTypesRepo.insert(this.db, partnerId, code, trimmed);
    this.invalidate(partnerId);
    if (!row) throw new AppError('STAKEHOLDER_TYPE_EXISTS', `Stakeholder type ${code} is already registered for this partner`);
    return { code: row.code, name: row.name, createdAt: row.created_at.toISOString() };
  }

  /**
   * Removes a type. Refused while a campaign that can still distribute splits on it (its share would go to
   * nobody), and for the partner's last type (with none left, the next read would bring the defaults back).
   */
  async remove(partnerId: string, code: string): Promise<void> {
    await this.list(partnerId);
    try {
      await this.db.transaction().execute(async (trx) => {
        const rows = await stakeholderTypesRepo.lockAll(trx, partnerId);
        if (!rows.some((r) => r.code === code)) throw notFound(`Stakeholder type ${code}`);
        if (rows.length === 1) {
          throw new AppError('INVALID_STATE', `${code} is this partner's only stakeholder type; add another before removing it`);
        }
        const campaigns = await stakeholderTypesRepo.campaignsSplittingOn(trx, partnerId, code);
        if (campaigns.length > 0) {
          throw new AppError(
            'STAKEHOLDER_TYPE_IN_USE',
            `Campaign(s) ${campaigns.join(', ')} split rewards on ${code}; change their splits or end them first`,
          );
        }
        await stakeholderTypesRepo.remove(trx, partnerId, code);
      });
    } finally {
      this.invalidate(partnerId);
    }
  }

  invalidate(partnerId: string): void {
    this.cache.delete(partnerId);
  }
}
