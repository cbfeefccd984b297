import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import type { BatchSnapshot, BatchWrites, HotState } from './actions.decide.js';
import type { CampaignRow, Scope } from './actions.repo.js';
import type { PoolWithBalance } from './pools.repo.js';

/**
 * The SQL of one submission batch: one read, one write (and, on the locked path, one lock). Every
 * statement takes whole arrays, so a batch of 100 actions costs what a batch of 1 does in round
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

/**
 * What a batch decided on a remembered state must also find unchanged: the running campaigns (the
 * set a campaign is picked from) and the default pool. Left out, they are not checked.
 */
export interface WriteChecks {
  running?: { id: string; version: string }[];
  defaultPoolId?: string | null;
}

const campaignFromJson = (c: Record<string, unknown>) =>
  dates(c, ['starts_at', 'ends_at', 'archived_at', 'created_at', 'updated_at']) as unknown as Versioned<CampaignRow>;

function poolFromJson(p: Record<string, unknown>): Versioned<PoolWithBalance> {
  const d = dates(p, ['expires_at', 'created_at', 'updated_at']);
  return { ...d, balance: BigInt(p.balance as string), credits_total: BigInt(p.credits_total as string), debits_total: BigInt(p.debits_total as string) } as unknown as Versioned<PoolWithBalance>;
}

const spendFromJson = (s: { campaign_id: string; user_id: string; spent: string }) => ({ campaign_id: s.campaign_id, user_id: s.user_id, spent: BigInt(s.spent) });

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
        SELECT c.*, c.xmin::text AS version FROM campaigns c
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
        (SELECT json_agg(row_to_json(c)) FROM (SELECT *, xmin::text AS version FROM campaigns WHERE id = ANY(${campaignIds}::text[]) ORDER BY id FOR UPDATE) c) AS campaigns,
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

  /**
   * Everything the batch writes, as one statement, which also checks that what the batch was decided
   * against still holds: every idempotency key still free, each pool account at the balance it was
   * decided against (and not below zero after), each campaign, pool and spend row at the version it
   * was read at. If anything moved, rewards_batch_guard() raises a serialization failure and nothing
   * of the batch is written. Outside a transaction this statement is the whole transaction: decided
   * on an unlocked read, a batch costs two round trips and holds its row locks only while it writes.
   */
  async write(db: Db, scope: Scope, input: BatchWrites, now: Date, checks: WriteChecks = {}): Promise<Map<string, string>> {
    const a = input.rows;
    const postings = input.ledger.flatMap((t) => t.postings.map((p) => ({ ...p, txId: t.id })));
    const at = now.toISOString();
    const s = (v: bigint) => v.toString();
    const spent = input.campaigns.filter((c) => c.units > 0n);
    const unspent = input.campaigns.filter((c) => c.units === 0n);
    const spendUpdates = input.userSpend.filter((u) => u.expected !== null);
    const spendInserts = input.userSpend.filter((u) => u.expected === null);
    const moved = input.poolDeltas.filter((p) => p.delta !== 0n);
    const unmoved = input.poolDeltas.filter((p) => p.delta === 0n);
    const running = checks.running;
    const r = await sql<{ versions: { id: string; version: string }[] | null }>`
      WITH ins_actions AS (
        INSERT INTO actions (id, partner_id, environment, idempotency_key, request_hash, action_type, amount_minor, currency,
                             status, campaign_id, token_pool_id, tokens_distributed, stakeholders, ledger_transaction_id,
                             metadata, failure_code, failure_message, created_at)
        SELECT x.id, ${scope.partnerId}, ${scope.environment}, x.key, x.hash, x.type, x.amount, x.currency, x.status, x.campaign,
               x.pool, x.tokens, x.stakeholders, x.ledger_tx, x.metadata, x.fcode, x.fmsg, ${at}::timestamptz
          FROM unnest(${a.map((r) => r.id)}::text[], ${a.map((r) => r.idempotency_key)}::text[], ${a.map((r) => r.request_hash)}::text[],
                      ${a.map((r) => r.action_type)}::text[], ${a.map((r) => s(r.amount_minor))}::bigint[], ${a.map((r) => r.currency)}::text[],
                      ${a.map((r) => r.status)}::text[], ${a.map((r) => r.campaign_id)}::text[], ${a.map((r) => r.token_pool_id)}::text[],
                      ${a.map((r) => s(r.tokens_distributed))}::bigint[], ${a.map((r) => JSON.stringify(r.stakeholders))}::jsonb[],
                      ${a.map((r) => r.ledger_transaction_id)}::text[], ${a.map((r) => JSON.stringify(r.metadata))}::jsonb[],
                      ${a.map((r) => r.failure_code)}::text[], ${a.map((r) => r.failure_message)}::text[])
               AS x(id, key, hash, type, amount, currency, status, campaign, pool, tokens, stakeholders, ledger_tx, metadata, fcode, fmsg)
        ON CONFLICT (partner_id, environment, idempotency_key) DO NOTHING
        RETURNING 1
      ), upd_pools AS (
        UPDATE ledger_accounts acc
           SET balance = acc.balance + d.delta, debits_total = acc.debits_total - d.delta
          FROM unnest(${moved.map((p) => p.accountId)}::text[], ${moved.map((p) => s(p.delta))}::bigint[],
                      ${moved.map((p) => s(p.expected))}::bigint[]) AS d(id, delta, expected)
         WHERE acc.id = d.id AND acc.balance = d.expected AND acc.balance + d.delta >= 0
        RETURNING 1
      ), ups_wallets AS (
        INSERT INTO ledger_accounts (id, partner_id, environment, kind, asset, balance, credits_total, debits_total)
        SELECT w.id, ${scope.partnerId}, ${scope.environment}, 'WALLET', 'SIR', w.amount, w.amount, 0
          FROM unnest(${input.walletCredits.map((w) => w.accountId)}::text[], ${input.walletCredits.map((w) => s(w.amount))}::bigint[]) AS w(id, amount)
        ON CONFLICT (id) DO UPDATE
          SET balance = ledger_accounts.balance + excluded.balance, credits_total = ledger_accounts.credits_total + excluded.credits_total
        RETURNING 1
      ), ins_ledger AS (
        INSERT INTO ledger_transactions (id, partner_id, environment, kind, reference, created_at)
        SELECT t.id, ${scope.partnerId}, ${scope.environment}, 'REWARD', t.ref, ${at}::timestamptz
          FROM unnest(${input.ledger.map((t) => t.id)}::text[], ${input.ledger.map((t) => t.reference)}::text[]) AS t(id, ref)
        RETURNING 1
      ), ins_postings AS (
        INSERT INTO ledger_postings (transaction_id, account_id, asset, amount, created_at)
        SELECT p.tx, p.account, 'SIR', p.amount, ${at}::timestamptz
          FROM unnest(${postings.map((p) => p.txId)}::text[], ${postings.map((p) => p.accountId)}::text[], ${postings.map((p) => s(p.amount))}::bigint[])
               AS p(tx, account, amount)
        RETURNING 1
      ), ins_credits AS (
        INSERT INTO token_transactions (id, partner_id, environment, user_id, external_user_id, action_id, stakeholder_type_code,
                                        type, amount, remaining, available_at, expires_at, status, token_pool_id, campaign_id,
                                        ledger_transaction_id, created_at)
        SELECT c.id, ${scope.partnerId}, ${scope.environment}, c.user_id, c.ext, c.action_id, c.code, 'CREDIT', c.amount, c.amount,
               c.available_at, c.expires_at, 'COMPLETED', c.pool, c.campaign, c.ledger_tx, ${at}::timestamptz
          FROM unnest(${input.credits.map((c) => c.id)}::text[], ${input.credits.map((c) => c.user_id)}::text[],
                      ${input.credits.map((c) => c.external_user_id)}::text[], ${input.credits.map((c) => c.action_id)}::text[],
                      ${input.credits.map((c) => c.stakeholder_type_code)}::text[], ${input.credits.map((c) => s(c.amount))}::bigint[],
                      ${input.credits.map((c) => c.available_at.toISOString())}::timestamptz[],
                      ${input.credits.map((c) => c.expires_at?.toISOString() ?? null)}::timestamptz[],
                      ${input.credits.map((c) => c.token_pool_id)}::text[], ${input.credits.map((c) => c.campaign_id)}::text[],
                      ${input.credits.map((c) => c.ledger_transaction_id)}::text[])
               AS c(id, user_id, ext, action_id, code, amount, available_at, expires_at, pool, campaign, ledger_tx)
        RETURNING 1
      ), upd_campaigns AS (
        UPDATE campaigns c SET budget_spent = c.budget_spent + x.units, updated_at = ${at}::timestamptz
          FROM unnest(${spent.map((c) => c.id)}::text[], ${spent.map((c) => s(c.units))}::bigint[], ${spent.map((c) => c.version)}::text[]) AS x(id, units, version)
         WHERE c.id = x.id AND c.xmin::text = x.version
        RETURNING c.id, c.xmin::text AS version
      ), upd_spend AS (
        UPDATE campaign_user_spend sp SET spent = sp.spent + x.units
          FROM unnest(${spendUpdates.map((u) => u.campaignId)}::text[], ${spendUpdates.map((u) => u.userId)}::text[],
                      ${spendUpdates.map((u) => s(u.units))}::bigint[], ${spendUpdates.map((u) => s(u.expected!))}::bigint[]) AS x(campaign_id, user_id, units, expected)
         WHERE sp.campaign_id = x.campaign_id AND sp.user_id = x.user_id AND sp.spent = x.expected
        RETURNING 1
      ), ins_spend AS (
        INSERT INTO campaign_user_spend (campaign_id, user_id, spent)
        SELECT * FROM unnest(${spendInserts.map((u) => u.campaignId)}::text[], ${spendInserts.map((u) => u.userId)}::text[],
                             ${spendInserts.map((u) => s(u.units))}::bigint[])
        ON CONFLICT (campaign_id, user_id) DO NOTHING
        RETURNING 1
      ), ins_events AS (
        INSERT INTO outbox_events (id, partner_id, environment, type, data, created_at)
        SELECT e.id, ${scope.partnerId}, ${scope.environment}, e.type, e.data, ${at}::timestamptz
          FROM unnest(${input.events.map((e) => e.id)}::text[], ${input.events.map((e) => e.type)}::text[],
                      ${input.events.map((e) => JSON.stringify(e.data))}::jsonb[]) AS e(id, type, data)
        RETURNING 1
      )
      SELECT
        rewards_batch_guard(
          (SELECT count(*) FROM upd_campaigns) = ${spent.length}
          AND (SELECT count(*) FROM campaigns c
                 JOIN unnest(${unspent.map((c) => c.id)}::text[], ${unspent.map((c) => c.version)}::text[]) AS x(id, version)
                   ON c.id = x.id AND c.xmin::text = x.version) = ${unspent.length},
          'a campaign changed'),
        rewards_batch_guard(
          (SELECT count(*) FROM upd_pools) = ${moved.length}
          AND (SELECT count(*) FROM ledger_accounts acc
                 JOIN unnest(${unmoved.map((p) => p.accountId)}::text[], ${unmoved.map((p) => s(p.expected))}::bigint[]) AS x(id, expected)
                   ON acc.id = x.id AND acc.balance = x.expected) = ${unmoved.length},
          'a pool balance moved'),
        rewards_batch_guard((SELECT count(*) FROM upd_spend) + (SELECT count(*) FROM ins_spend) = ${input.userSpend.length}, 'a per-user spend moved'),
        rewards_batch_guard(
          (SELECT count(*) FROM token_pools p
             JOIN unnest(${input.poolVersions.map((p) => p.id)}::text[], ${input.poolVersions.map((p) => p.version)}::text[]) AS x(id, version)
               ON p.id = x.id AND p.xmin::text = x.version) = ${input.poolVersions.length},
          'a pool changed'),
        rewards_batch_guard(${running === undefined} OR (
          (SELECT count(*) FROM campaigns c
            WHERE c.partner_id = ${scope.partnerId} AND c.environment = ${scope.environment} AND c.status = 'ACTIVE' AND c.archived_at IS NULL) = ${running?.length ?? 0}
          AND (SELECT count(*) FROM campaigns c
                 JOIN unnest(${(running ?? []).map((c) => c.id)}::text[], ${(running ?? []).map((c) => c.version)}::text[]) AS x(id, version)
                   ON c.id = x.id AND c.xmin::text = x.version
                WHERE c.status = 'ACTIVE' AND c.archived_at IS NULL) = ${running?.length ?? 0}),
          'the running campaigns changed'),
        rewards_batch_guard(${checks.defaultPoolId === undefined} OR (
          SELECT p.id FROM token_pools p
           WHERE p.partner_id = ${scope.partnerId} AND p.environment = ${scope.environment}
             AND p.status IN ('ACTIVE', 'DEPLETED') AND (p.expires_at IS NULL OR p.expires_at > ${at}::timestamptz)
           ORDER BY p.created_at, p.id LIMIT 1) IS NOT DISTINCT FROM ${checks.defaultPoolId ?? null}::text,
          'the default pool changed'),
        rewards_batch_guard((SELECT count(*) FROM ins_actions) = ${a.length}, 'an idempotency key was claimed concurrently'),
        (SELECT count(*) FROM ups_wallets) + (SELECT count(*) FROM ins_ledger) + (SELECT count(*) FROM ins_postings)
          + (SELECT count(*) FROM ins_credits) + (SELECT count(*) FROM ins_events) AS rows,
        (SELECT json_agg(json_build_object('id', id, 'version', version)) FROM upd_campaigns) AS versions`.execute(db);
    return new Map((r.rows[0]!.versions ?? []).map((v) => [v.id, v.version]));
  },
};
