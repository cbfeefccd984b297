import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { pageWithTotal } from '../../platform/db/pagination.js';
import type { ActionsTable, CampaignsTable, Database, Environment, StoredStakeholder } from '../../platform/db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type ActionRow = Selectable<ActionsTable>;
export type CampaignRow = Selectable<CampaignsTable>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

export interface NewActionRow {
  id: string;
  idempotency_key: string;
  request_hash: string;
  action_type: string;
  amount_minor: bigint;
  currency: string;
  status: 'COMPLETED' | 'FAILED';
  campaign_id: string | null;
  token_pool_id: string | null;
  tokens_distributed: bigint;
  stakeholders: StoredStakeholder[];
  ledger_transaction_id: string | null;
  metadata: Record<string, string>;
  failure_code: string | null;
  failure_message: string | null;
  created_at: Date;
}

export interface NewCreditRow {
  id: string;
  user_id: string;
  external_user_id: string;
  action_id: string;
  stakeholder_type_code: string;
  amount: bigint;
  available_at: Date;
  expires_at: Date | null;
  token_pool_id: string;
  campaign_id: string | null;
  ledger_transaction_id: string;
  created_at: Date;
}

const str = (v: bigint) => v.toString();

export const actionsRepo = {
  async findByKeys(db: Db, scope: Scope, keys: string[]) {
    if (keys.length === 0) return [];
    return db
      .selectFrom('actions')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('idempotency_key', 'in', keys)
      .execute();
  },

  async findUsers(db: Db, scope: Scope, externalIds: string[]) {
    if (externalIds.length === 0) return [];
    return db
      .selectFrom('partner_users')
      .select(['id', 'external_user_id'])
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where('external_user_id', 'in', externalIds)
      .execute();
  },

  /** Sorted by external id so concurrent batches take the unique-index locks in one order. */
  async insertUsers(
    db: Db,
    scope: Scope,
    rows: { id: string; external_user_id: string; email: string | null; first_name: string | null; last_name: string | null; created_at: Date }[],
  ) {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.external_user_id < b.external_user_id ? -1 : 1));
    await sql`
      INSERT INTO partner_users (id, partner_id, environment, external_user_id, email, first_name, last_name, created_at, updated_at)
      SELECT u.id, ${scope.partnerId}, ${scope.environment}, u.ext, u.email, u.fn, u.ln, u.at, u.at
        FROM unnest(${sorted.map((r) => r.id)}::text[], ${sorted.map((r) => r.external_user_id)}::text[],
                    ${sorted.map((r) => r.email)}::text[], ${sorted.map((r) => r.first_name)}::text[],
                    ${sorted.map((r) => r.last_name)}::text[], ${sorted.map((r) => r.created_at.toISOString())}::timestamptz[])
             AS u(id, ext, email, fn, ln, at)
      ON CONFLICT (partner_id, environment, external_user_id) DO NOTHING`.execute(db);
  },

  async campaigns(db: Db, scope: Scope, explicitIds: string[]) {
    return db
      .selectFrom('campaigns')
      .selectAll()
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'ACTIVE'), eb('archived_at', 'is', null)]),
          ...(explicitIds.length > 0 ? [eb('id', 'in', explicitIds)] : []),
        ]),
      )
      .execute();
  },

  /** Campaign rows locked in id order: budgets are checked and spent under this lock. */
  async lockCampaigns(db: Db, ids: string[]) {
    if (ids.length === 0) return [];
    const rows = await sql<CampaignRow>`SELECT * FROM campaigns WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`.execute(db);
    return rows.rows;
  },

  async userSpend(db: Db, campaignIds: string[], userIds: string[]) {
    if (campaignIds.length === 0 || userIds.length === 0) return [];
    const rows = await sql<{ campaign_id: string; user_id: string; spent: bigint }>`
      SELECT campaign_id, user_id, spent FROM campaign_user_spend
       WHERE campaign_id = ANY(${campaignIds}::text[]) AND user_id = ANY(${userIds}::text[])
       ORDER BY campaign_id, user_id FOR UPDATE`.execute(db);
    return rows.rows;
  },

  /** Returns the idempotency keys actually inserted; a missing one was claimed concurrently. */
  async insertActions(db: Db, scope: Scope, rows: NewActionRow[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const result = await sql<{ idempotency_key: string }>`
      INSERT INTO actions (id, partner_id, environment, idempotency_key, request_hash, action_type, amount_minor, currency,
                           status, campaign_id, token_pool_id, tokens_distributed, stakeholders, ledger_transaction_id,
                           metadata, failure_code, failure_message, created_at)
      SELECT a.id, ${scope.partnerId}, ${scope.environment}, a.key, a.hash, a.type, a.amount, a.currency, a.status, a.campaign,
             a.pool, a.tokens, a.stakeholders, a.ledger_tx, a.metadata, a.fcode, a.fmsg, a.at
        FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.idempotency_key)}::text[], ${rows.map((r) => r.request_hash)}::text[],
                    ${rows.map((r) => r.action_type)}::text[], ${rows.map((r) => str(r.amount_minor))}::bigint[], ${rows.map((r) => r.currency)}::text[],
                    ${rows.map((r) => r.status)}::text[], ${rows.map((r) => r.campaign_id)}::text[], ${rows.map((r) => r.token_pool_id)}::text[],
                    ${rows.map((r) => str(r.tokens_distributed))}::bigint[], ${rows.map((r) => JSON.stringify(r.stakeholders))}::jsonb[],
                    ${rows.map((r) => r.ledger_transaction_id)}::text[], ${rows.map((r) => JSON.stringify(r.metadata))}::jsonb[],
                    ${rows.map((r) => r.failure_code)}::text[], ${rows.map((r) => r.failure_message)}::text[],
                    ${rows.map((r) => r.created_at.toISOString())}::timestamptz[])
             AS a(id, key, hash, type, amount, currency, status, campaign, pool, tokens, stakeholders, ledger_tx, metadata, fcode, fmsg, at)
      ON CONFLICT (partner_id, environment, idempotency_key) DO NOTHING
      RETURNING idempotency_key`.execute(db);
    return new Set(result.rows.map((r) => r.idempotency_key));
  },

  async insertCredits(db: Db, scope: Scope, rows: NewCreditRow[]) {
    if (rows.length === 0) return;
    await sql`
      INSERT INTO token_transactions (id, partner_id, environment, user_id, external_user_id, action_id, stakeholder_type_code,
                                      type, amount, remaining, available_at, expires_at, status, token_pool_id, campaign_id,
                                      ledger_transaction_id, created_at)
      SELECT c.id, ${scope.partnerId}, ${scope.environment}, c.user_id, c.ext, c.action_id, c.code, 'CREDIT', c.amount, c.amount,
             c.available_at, c.expires_at, 'COMPLETED', c.pool, c.campaign, c.ledger_tx, c.at
        FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.user_id)}::text[], ${rows.map((r) => r.external_user_id)}::text[],
                    ${rows.map((r) => r.action_id)}::text[], ${rows.map((r) => r.stakeholder_type_code)}::text[],
                    ${rows.map((r) => str(r.amount))}::bigint[], ${rows.map((r) => r.available_at.toISOString())}::timestamptz[],
                    ${rows.map((r) => r.expires_at?.toISOString() ?? null)}::timestamptz[], ${rows.map((r) => r.token_pool_id)}::text[],
                    ${rows.map((r) => r.campaign_id)}::text[], ${rows.map((r) => r.ledger_transaction_id)}::text[],
                    ${rows.map((r) => r.created_at.toISOString())}::timestamptz[])
             AS c(id, user_id, ext, action_id, code, amount, available_at, expires_at, pool, campaign, ledger_tx, at)`.execute(db);
  },

  async addCampaignSpend(db: Db, spend: Map<string, bigint>, now: Date) {
    if (spend.size === 0) return;
    const ids = [...spend.keys()].sort();
    await sql`
      UPDATE campaigns c SET budget_spent = c.budget_spent + s.units, updated_at = ${now.toISOString()}::timestamptz
        FROM unnest(${ids}::text[], ${ids.map((id) => str(spend.get(id)!))}::bigint[]) AS s(id, units)
       WHERE c.id = s.id`.execute(db);
  },

  async addUserSpend(db: Db, rows: { campaignId: string; userId: string; units: bigint }[]) {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.campaignId + a.userId < b.campaignId + b.userId ? -1 : 1));
    await sql`
      INSERT INTO campaign_user_spend (campaign_id, user_id, spent)
      SELECT * FROM unnest(${sorted.map((r) => r.campaignId)}::text[], ${sorted.map((r) => r.userId)}::text[], ${sorted.map((r) => str(r.units))}::bigint[])
      ON CONFLICT (campaign_id, user_id) DO UPDATE SET spent = campaign_user_spend.spent + excluded.spent`.execute(db);
  },

  async find(db: Db, scope: Scope, id: string) {
    return db
      .selectFrom('actions')
      .selectAll()
      .where('id', '=', id)
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .executeTakeFirst();
  },

  async list(db: Db, scope: Scope, f: { status?: string | undefined; actionType?: string | undefined; from?: string | undefined; to?: string | undefined }, offset: number, limit: number) {
    let q = db.selectFrom('actions').where('partner_id', '=', scope.partnerId).where('environment', '=', scope.environment);
    if (f.status) q = q.where('status', '=', f.status as ActionRow['status']);
    if (f.actionType) q = q.where('action_type', '=', f.actionType);
    if (f.from) q = q.where('created_at', '>=', new Date(f.from));
    if (f.to) q = q.where('created_at', '<', new Date(f.to));
    return pageWithTotal(q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc'), offset, limit);
  },
};
