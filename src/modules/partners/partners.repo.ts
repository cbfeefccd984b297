import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Environment, NewApiKey, PartnersTable } from '../../platform/db/schema.js';
import type { Insertable, Updateable } from 'kysely';

type Db = Kysely<Database> | Transaction<Database>;

export const partnersRepo = {
  async insertPartner(db: Db, row: Insertable<PartnersTable>) {
    return db.insertInto('partners').values(row).returningAll().executeTakeFirstOrThrow();
  },

  async slugTaken(db: Db, slug: string) {
    const row = await db.selectFrom('partners').select('id').where('slug', '=', slug).executeTakeFirst();
    return row !== undefined;
  },

  async findPartner(db: Db, id: string) {
    return db.selectFrom('partners').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async listPartners(db: Db, opts: { status?: string | undefined; offset: number; limit: number }) {
    let q = db.selectFrom('partners');
    if (opts.status) q = q.where('status', '=', opts.status as PartnersTable['status']);
    const [rows, total] = await Promise.all([
      q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').offset(opts.offset).limit(opts.limit).execute(),
      q.select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(total.n) };
  },

  async updatePartner(db: Db, id: string, patch: Updateable<PartnersTable>) {
    return db
      .updateTable('partners')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  async insertPortalUser(
    db: Db,
    row: { id: string; partner_id: string; email: string; name: string | null; password_hash: string },
  ) {
    return db.insertInto('portal_users').values(row).returningAll().executeTakeFirstOrThrow();
  },

  async findPortalUserByEmail(db: Db, email: string) {
    return db.selectFrom('portal_users').selectAll().where('email', '=', email).executeTakeFirst();
  },

  async findPortalUser(db: Db, id: string) {
    return db.selectFrom('portal_users').selectAll().where('id', '=', id).executeTakeFirst();
  },

  async recordLoginFailure(db: Db, userId: string, at: Date) {
    await db
      .updateTable('portal_users')
      .set((eb) => ({ failed_login_count: eb('failed_login_count', '+', 1), last_failed_login_at: at }))
      .where('id', '=', userId)
      .execute();
  },

  async resetLoginFailures(db: Db, userId: string) {
    await db
      .updateTable('portal_users')
      .set({ failed_login_count: 0, last_failed_login_at: null })
      .where('id', '=', userId)
      .where('failed_login_count', '>', 0)
      .execute();
  },

  async setPortalPassword(db: Db, userId: string, passwordHash: string) {
    await db
      .updateTable('portal_users')
      .set({ password_hash: passwordHash, failed_login_count: 0, updated_at: sql`now()` })
      .where('id', '=', userId)
      .execute();
  },

  async insertKey(db: Db, row: NewApiKey) {
    return db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
  },

  async listKeys(db: Db, partnerId: string) {
    return db
      .selectFrom('api_keys')
      .selectAll()
      .where('partner_id', '=', partnerId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
  },

  async findKey(db: Db, partnerId: string, id: string) {
    return db
      .selectFrom('api_keys')
      .selectAll()
      .where('partner_id', '=', partnerId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
  },

  async updateKey(
    db: Db,
    partnerId: string,
    id: string,
    patch: { name?: string; is_active?: boolean; expires_at?: Date | null; revoked_at?: Date },
  ) {
    return db
      .updateTable('api_keys')
      .set({ ...patch, updated_at: sql`now()` })
      .where('partner_id', '=', partnerId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  },

  /** Newest usable publishable key of an environment, shown to a logged-in portal user. */
  async activePublishableKey(db: Db, partnerId: string, environment: Environment, now: Date) {
    const row = await db
      .selectFrom('api_keys')
      .select('publishable_key')
      .where('partner_id', '=', partnerId)
      .where('environment', '=', environment)
      .where('is_active', '=', true)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.publishable_key ?? null;
  },

  /** One query for the auth path: the key and its partner together. */
  async findKeyForAuth(db: Db, by: { publishableKey: string } | { secretKeyHash: string }) {
    let q = db
      .selectFrom('api_keys as k')
      .innerJoin('partners as p', 'p.id', 'k.partner_id')
      .select([
        'k.id as key_id',
        'k.environment',
        'k.is_active',
        'k.expires_at',
        'k.revoked_at',
        'k.hmac_secret_sealed',
        'p.id as partner_id',
        'p.status',
        'p.rate_limit',
        'p.enabled_features',
        'p.ip_allowlist',
      ]);
    q = 'publishableKey' in by ? q.where('k.publishable_key', '=', by.publishableKey) : q.where('k.secret_key_hash', '=', by.secretKeyHash);
    return q.executeTakeFirst();
  },

  async touchKeys(db: Db, usedAt: Map<string, Date>) {
    if (usedAt.size === 0) return;
    const ids = [...usedAt.keys()];
    const times = ids.map((id) => usedAt.get(id)!.toISOString());
    await sql`
      UPDATE api_keys AS k SET last_used_at = u.used_at
      FROM unnest(${ids}::text[], ${times}::timestamptz[]) AS u(id, used_at)
      WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at)`.execute(db);
  },
};
