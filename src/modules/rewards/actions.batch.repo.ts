import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import type { HotState } from './actions.decide.js';
import type { BatchSnapshot } from './actions.plan.js';
import { campaignVersion, writeBatch } from './actions.batch.write.js';
import type { CampaignRow, Scope } from './actions.repo.js';
import type { PoolWithBalance } from './pools.repo.js';

/**
 * The SQL of one submission batch: one read, one write (writeBatch, in actions.batch.write.ts) and, on
 * the locked path, one lock. Every statement takes whole arrays, so a batch of 100 actions costs what a batch of 1 does in round
 * trips; the per-row work is only what PostgreSQL must do to store the rows.
 */
type Db = Kysely<Database> | Transaction<Database>;

export interface ExistingAction {
  id: string;
  idempotency_key: string;
  request_hash: string;
  status: 'COMPLETED' | 'FAILED' | 'PARTIALLY_REVERSED' | 'REVERSED';
  tokens_distributed: string;
  stakeholders: StoredStakeholder[];
  failure_code: string | null;
  failure_message: string | null;
}

const dates = <T extends Record<string, unknown>>(row: T, keys: string[]) => {
  const out: Record<string, unknown> = { ...row };
  for (const k of keys) out[k] = row[k] === null || row[k] === undefined ? null : new Date(row[k] as string);
  return out;
};

type Versioned<T> = T & { version: string };

export type Snapshot = Omit<BatchSnapshot, 'campaigns'> & HotState;

const campaignFromJson = (c: Record<string, unknown>) =>
  dates(c, ['starts_at', 'ends_at', 'archived_at', 'created_at', 'updated_at']) as unknown as Versioned<CampaignRow>;

function poolFromJson(p: Record<string, unknown>): Versioned<PoolWithBalance> {
  const d = dates(p, ['expires_at', 'created_at', 'updated_at']);
  return { ...d, balance: BigInt(p.balance as string), credits_total: BigInt(p.credits_total as string), debits_total: BigInt(p.debits_total as string) } as unknown as Versioned<PoolWithBalance>;
}

const spendFromJson = (s: { campaign_id: string; user_id: string; spent: string }) => ({ campaign_id: s.campaign_id, user_id: s.user_id, spent: BigInt(s.spent) });

/** The error of a write whose idempotency key another request recorded first. */
export function keyTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'actions_partner_id_environment_idempotency_key_key';
}

export const batchRepo = {
  /**
   * What a batch decides on, unlocked, in one statement: earlier actions with these keys, the users
   * named, the running campaigns and any named ones, the default pool, the state of every pool those
   * could draw on and the per-user spend rows of capped campaigns, each with the row version a write
   * checks. An empty list of keys or users skips that part.
   */
  async snapshot(db: Db, scope: Scope, keys: string[], externalIds: string[], explicitCampaignIds: string[], now: Date): Promise<Snapshot> {
    const { partnerId, environment } = scope;
    const r = await sql<{
      existing: ExistingAction[] | null;
      users: { id: string; external_user_id: string }[] | null;
      campaigns: Record<string, unknown>[] | null;
      default_pool: string | null;
      pools: Record<string, unknown>[] | null;
      spend: { campaign_id: string; user_id: string; spent: string }[] | null;
    }>`
      WITH cand AS (
        SELECT c.*, ${campaignVersion('c')} AS version FROM campaigns c
         WHERE c.partner_id = ${partnerId} AND c.environment = ${environment}
           AND ((c.status = 'ACTIVE' AND c.archived_at IS NULL) OR c.id = ANY(${explicitCampaignIds}::text[]))
      ), usr AS (
        SELECT u.id, u.external_user_id FROM partner_users u
         WHERE u.partner_id = ${partnerId} AND u.environment = ${environment} AND u.external_user_id = ANY(${externalIds}::text[])
      ), dflt AS (
        SELECT p.id FROM token_pools p
         WHERE p.partner_id = ${partnerId} AND p.environment = ${environment}
           AND p.status IN ('ACTIVE', 'DEPLETED') AND (p.expires_at IS NULL OR p.expires_at > ${now.toISOString()}::timestamptz)
         ORDER BY p.created_at, p.id LIMIT 1
      )
      SELECT
        (SELECT json_agg(json_build_object('id', a.id, 'idempotency_key', a.idempotency_key, 'request_hash', a.request_hash,
                 'status', a.status, 'tokens_distributed', a.tokens_distributed::text, 'stakeholders', a.stakeholders,
                 'failure_code', a.failure_code, 'failure_message', a.failure_message))
           FROM actions a
          WHERE a.partner_id = ${partnerId} AND a.environment = ${environment} AND a.idempotency_key = ANY(${keys}::text[])) AS existing,
        (SELECT json_agg(json_build_object('id', u.id, 'external_user_id', u.external_user_id)) FROM usr u) AS users,
        (SELECT json_agg(row_to_json(c)) FROM cand c) AS campaigns,
        (SELECT id FROM dflt) AS default_pool,
        (SELECT json_agg(row_to_json(p)) FROM (
            SELECT p.*, p.xmin::text AS version, a.balance::text AS balance, a.credits_total::text AS credits_total, a.debits_total::text AS debits_total
              FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.id IN (SELECT token_pool_id FROM cand UNION ALL SELECT id FROM dflt)) p) AS pools,
        (SELECT json_agg(json_build_object('campaign_id', s.campaign_id, 'user_id', s.user_id, 'spent', s.spent::text))
           FROM campaign_user_spend s
          WHERE s.campaign_id IN (SELECT id FROM cand WHERE per_user_cap IS NOT NULL) AND s.user_id IN (SELECT id FROM usr)) AS spend`.execute(db);
    const row = r.rows[0]!;
    return {
      existing: row.existing ?? [],
      users: row.users ?? [],
      campaigns: (row.campaigns ?? []).map(campaignFromJson),
      defaultPoolId: row.default_pool,
      pools: (row.pools ?? []).map(poolFromJson),
      spend: (row.spend ?? []).map(spendFromJson),
    };
  },

  /**
   * Locks, in the one order every writer uses: campaigns by id, then pool accounts by id, then the
   * per-user spend rows. Scalar subqueries run left to right, so the order holds within the statement.
   */
  async lock(trx: Transaction<Database>, campaignIds: string[], poolIds: string[], cappedCampaignIds: string[], userIds: string[]): Promise<HotState> {
    const r = await sql<{ campaigns: Record<string, unknown>[] | null; pools: Record<string, unknown>[] | null; spend: { campaign_id: string; user_id: string; spent: string }[] | null }>`
      SELECT
        (SELECT json_agg(row_to_json(c)) FROM (
            SELECT c.*, ${campaignVersion('c')} AS version FROM campaigns c WHERE c.id = ANY(${campaignIds}::text[]) ORDER BY c.id FOR UPDATE) c) AS campaigns,
        (SELECT json_agg(row_to_json(p)) FROM (
            SELECT p.*, p.xmin::text AS version, a.balance::text AS balance, a.credits_total::text AS credits_total, a.debits_total::text AS debits_total
              FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.id = ANY(${poolIds}::text[]) ORDER BY a.id FOR UPDATE OF a) p) AS pools,
        (SELECT json_agg(json_build_object('campaign_id', s.campaign_id, 'user_id', s.user_id, 'spent', s.spent::text)) FROM (
            SELECT * FROM campaign_user_spend
             WHERE campaign_id = ANY(${cappedCampaignIds}::text[]) AND user_id = ANY(${userIds}::text[])
             ORDER BY campaign_id, user_id FOR UPDATE) s) AS spend`.execute(trx);
    const row = r.rows[0]!;
    return {
      campaigns: (row.campaigns ?? []).map(campaignFromJson),
      pools: (row.pools ?? []).map(poolFromJson),
      spend: (row.spend ?? []).map(spendFromJson),
    };
  },
  write: writeBatch,
};
