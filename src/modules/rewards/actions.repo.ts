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

export const actionsRepo = {
  async userSpend(db: Db, campaignIds: string[], userIds: string[]) {
    if (campaignIds.length === 0 || userIds.length === 0) return [];
    const rows = await sql<{ campaign_id: string; user_id: string; spent: bigint }>`
      SELECT campaign_id, user_id, spent FROM campaign_user_spend
       WHERE campaign_id = ANY(${campaignIds}::text[]) AND user_id = ANY(${userIds}::text[])
       ORDER BY campaign_id, user_id FOR UPDATE`.execute(db);
    return rows.rows;
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
