import { sql, type Transaction } from 'kysely';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import type { OutboxEvent } from '../../platform/outbox/outbox.js';
import type { NewLedgerTransaction } from '../ledger/index.js';
import type { CampaignRow, NewActionRow, NewCreditRow, Scope } from './actions.repo.js';
import type { PoolWithBalance } from './pools.repo.js';

/**
 * The SQL of one submission batch, in as few round trips as the rules allow: one read, one lock,
 * one write. Every statement takes whole arrays, so a batch of 100 actions costs what a batch of 1
 * does in round trips; the per-row work is only what PostgreSQL must do to store the rows.
 */
type Trx = Transaction<Database>;

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

function campaignFromJson(c: Record<string, unknown>): CampaignRow {
  return dates(c, ['starts_at', 'ends_at', 'archived_at', 'created_at', 'updated_at']) as unknown as CampaignRow;
}

export const batchRepo = {
  /** Earlier actions with these keys, the users named, the candidate campaigns and the default pool. */
  async read(trx: Trx, scope: Scope, keys: string[], externalIds: string[], explicitCampaignIds: string[], now: Date) {
    const r = await sql<{ existing: ExistingAction[] | null; users: { id: string; external_user_id: string }[] | null; campaigns: Record<string, unknown>[] | null; default_pool: string | null }>`
      SELECT
        (SELECT json_agg(json_build_object('id', a.id, 'idempotency_key', a.idempotency_key, 'request_hash', a.request_hash,
                 'status', a.status, 'tokens_distributed', a.tokens_distributed::text, 'stakeholders', a.stakeholders,
                 'failure_code', a.failure_code, 'failure_message', a.failure_message))
           FROM actions a
          WHERE a.partner_id = ${scope.partnerId} AND a.environment = ${scope.environment}
            AND a.idempotency_key = ANY(${keys}::text[])) AS existing,
        (SELECT json_agg(json_build_object('id', u.id, 'external_user_id', u.external_user_id))
           FROM partner_users u
          WHERE u.partner_id = ${scope.partnerId} AND u.environment = ${scope.environment}
            AND u.external_user_id = ANY(${externalIds}::text[])) AS users,
        (SELECT json_agg(row_to_json(c))
           FROM campaigns c
          WHERE c.partner_id = ${scope.partnerId} AND c.environment = ${scope.environment}
            AND ((c.status = 'ACTIVE' AND c.archived_at IS NULL) OR c.id = ANY(${explicitCampaignIds}::text[]))) AS campaigns,
        (SELECT p.id FROM token_pools p
          WHERE p.partner_id = ${scope.partnerId} AND p.environment = ${scope.environment}
            AND p.status IN ('ACTIVE', 'DEPLETED') AND (p.expires_at IS NULL OR p.expires_at > ${now.toISOString()}::timestamptz)
          ORDER BY p.created_at, p.id LIMIT 1) AS default_pool`.execute(trx);
    const row = r.rows[0]!;
    return {
      existing: row.existing ?? [],
      users: row.users ?? [],
      campaigns: (row.campaigns ?? []).map(campaignFromJson),
      defaultPoolId: row.default_pool,
    };
  },

  /**
   * Locks, in the one order every writer uses: campaigns by id, then pool accounts by id, then the
   * per-user spend rows. Scalar subqueries run left to right, so the order holds within the statement.
   */
  async lock(trx: Trx, campaignIds: string[], poolIds: string[], cappedCampaignIds: string[], userIds: string[]) {
    const r = await sql<{ campaigns: Record<string, unknown>[] | null; pools: Record<string, unknown>[] | null; spend: { campaign_id: string; user_id: string; spent: string }[] | null }>`
      SELECT
        (SELECT json_agg(row_to_json(c)) FROM (SELECT * FROM campaigns WHERE id = ANY(${campaignIds}::text[]) ORDER BY id FOR UPDATE) c) AS campaigns,
        (SELECT json_agg(row_to_json(p)) FROM (
            SELECT p.*, a.balance::text AS balance, a.credits_total::text AS credits_total, a.debits_total::text AS debits_total
              FROM token_pools p JOIN ledger_accounts a ON a.id = p.account_id
             WHERE p.id = ANY(${poolIds}::text[]) ORDER BY a.id FOR UPDATE OF a) p) AS pools,
        (SELECT json_agg(json_build_object('campaign_id', s.campaign_id, 'user_id', s.user_id, 'spent', s.spent::text)) FROM (
            SELECT * FROM campaign_user_spend
             WHERE campaign_id = ANY(${cappedCampaignIds}::text[]) AND user_id = ANY(${userIds}::text[])
             ORDER BY campaign_id, user_id FOR UPDATE) s) AS spend`.execute(trx);
    const row = r.rows[0]!;
    return {
      campaigns: (row.campaigns ?? []).map(campaignFromJson),
      pools: (row.pools ?? []).map((p) => {
        const d = dates(p, ['expires_at', 'created_at', 'updated_at']);
        return { ...d, balance: BigInt(p.balance as string), credits_total: BigInt(p.credits_total as string), debits_total: BigInt(p.debits_total as string) } as unknown as PoolWithBalance;
      }),
      spend: (row.spend ?? []).map((s) => ({ campaign_id: s.campaign_id, user_id: s.user_id, spent: BigInt(s.spent) })),
    };
  },

  /**
   * Everything the batch writes, as one statement. The caller compares the returned counts with
   * what it sent: fewer actions means a key was claimed concurrently, fewer pool rows means a pool
   * would have gone below zero; either way it rolls back.
   */
  async write(
    trx: Trx,
    scope: Scope,
    input: {
      actions: NewActionRow[];
      ledger: NewLedgerTransaction[];
      /** Net change per pool account (negative). */
      poolDeltas: { accountId: string; delta: bigint }[];
      /** Net credit per wallet account, sorted by account id. */
      walletCredits: { accountId: string; amount: bigint }[];
      credits: NewCreditRow[];
      campaignSpend: { id: string; units: bigint }[];
      userSpend: { campaignId: string; userId: string; units: bigint }[];
      events: OutboxEvent[];
      now: Date;
    },
  ): Promise<{ actionsInserted: number; poolBalances: Map<string, bigint> }> {
    const a = input.actions;
    const postings = input.ledger.flatMap((t) => t.postings.map((p) => ({ ...p, txId: t.id })));
    const at = input.now.toISOString();
    const s = (v: bigint) => v.toString();
    const r = await sql<{ kind: string; id: string | null; n: string }>`
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
          FROM unnest(${input.poolDeltas.map((p) => p.accountId)}::text[], ${input.poolDeltas.map((p) => s(p.delta))}::bigint[]) AS d(id, delta)
         WHERE acc.id = d.id AND acc.balance + d.delta >= 0
        RETURNING acc.id, acc.balance
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
          FROM unnest(${input.campaignSpend.map((c) => c.id)}::text[], ${input.campaignSpend.map((c) => s(c.units))}::bigint[]) AS x(id, units)
         WHERE c.id = x.id
        RETURNING 1
      ), ups_spend AS (
        INSERT INTO campaign_user_spend (campaign_id, user_id, spent)
        SELECT * FROM unnest(${input.userSpend.map((u) => u.campaignId)}::text[], ${input.userSpend.map((u) => u.userId)}::text[],
                             ${input.userSpend.map((u) => s(u.units))}::bigint[])
        ON CONFLICT (campaign_id, user_id) DO UPDATE SET spent = campaign_user_spend.spent + excluded.spent
        RETURNING 1
      ), ins_events AS (
        INSERT INTO outbox_events (id, partner_id, environment, type, data, created_at)
        SELECT e.id, ${scope.partnerId}, ${scope.environment}, e.type, e.data, ${at}::timestamptz
          FROM unnest(${input.events.map((e) => e.id)}::text[], ${input.events.map((e) => e.type)}::text[],
                      ${input.events.map((e) => JSON.stringify(e.data))}::jsonb[]) AS e(id, type, data)
        RETURNING 1
      )
      SELECT 'actions' AS kind, NULL AS id, (SELECT count(*) FROM ins_actions)::text AS n
      UNION ALL SELECT 'pool', id, balance::text FROM upd_pools
      UNION ALL SELECT 'rows', NULL, ((SELECT count(*) FROM ups_wallets) + (SELECT count(*) FROM ins_ledger) + (SELECT count(*) FROM ins_postings)
                                      + (SELECT count(*) FROM ins_credits) + (SELECT count(*) FROM upd_campaigns) + (SELECT count(*) FROM ups_spend)
                                      + (SELECT count(*) FROM ins_events))::text`.execute(trx);
    let actionsInserted = 0;
    const poolBalances = new Map<string, bigint>();
    for (const row of r.rows) {
      if (row.kind === 'actions') actionsInserted = Number(row.n);
      if (row.kind === 'pool' && row.id) poolBalances.set(row.id, BigInt(row.n));
    }
    return { actionsInserted, poolBalances };
  },
};

