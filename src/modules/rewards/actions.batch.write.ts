import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { pgPoolOf } from '../../platform/db/postgres.js';
import { accountIds } from '../ledger/index.js';
import type { BatchWrites } from './actions.decide.js';
import type { Scope } from './actions.repo.js';
import { actionEvent, creditEventData } from './actions.events.js';

/**
 * The write of one submission batch: every row it stores and every check that what it was decided
 * against still holds, as one statement (batchRepo in actions.batch.repo.ts has its reads).
 */
type Db = Kysely<Database> | Transaction<Database>;

/**
 * A campaign's version as the reward rules see it: a hash of every column a decision reads except
 * the spent budget, which the write checks by value. The batches of this process change only that
 * budget (and updated_at), so the version of a campaign stays put while they run, and any edit to its
 * rules, state or schedule changes it.
 */
export const campaignVersion = (c: string) =>
  sql.raw(`md5(row(${['status', 'archived_at', 'starts_at', 'ends_at', 'action_types', 'multiplier_bp', 'tiers', 'splits', 'budget_total', 'per_user_cap', 'token_pool_id', 'priority', 'created_at'].map((col) => `${c}.${col}`).join(', ')})::text)`);

/**
 * What a batch decided on a remembered state must also find unchanged: the running campaigns (the
 * set a campaign is picked from) and the default pool. Left out, they are not checked.
 */
export interface WriteChecks {
  running?: { id: string; version: string }[];
  defaultPoolId?: string | null;
  /**
   * Per pool id, the balances the pool must end within (null: no upper bound) when the decisions did
   * not read its exact balance; without an entry, anything from zero up.
   */
  poolRanges?: Map<string, { min: bigint; max: bigint | null }>;
}

/**
 * Everything the batch writes, as one statement, which also checks that what the batch was decided
 * against still holds: each pool account at the balance it was decided against (and not below zero
 * after), each campaign at the version and spent budget, each pool and spend row as it was read. If anything moved,
 * rewards_batch_guard() raises a serialization failure and nothing of the batch is written. An
 * idempotency key used meanwhile makes the actions' unique index refuse the insert (keyTaken()). Outside a transaction this statement is the whole transaction: a batch
 * decided on remembered or unlocked state costs one round trip and holds its row locks only while
 * it writes.
 */
export async function writeBatch(db: Db, scope: Scope, input: BatchWrites, now: Date, checks: WriteChecks = {}): Promise<void> {
  const at = now.toISOString();
  const s = (v: bigint) => v.toString();
  // Rows travel as one JSON array per kind (bigints as strings), read back by json_to_recordset:
  // one string each instead of one array per column, which pg escaped element by element. Only
  // the actions and their stakeholders are sent, each with the JSON it stores (the action's
  // stakeholders, the events' data); credits, postings, wallet totals and the ledger transactions
  // are derived from them here.
  const rows = (list: object[]) => JSON.stringify(list);
  const eventIds = randomBytes(12 * input.actions.reduce((n, d) => n + 1 + d.row.stakeholders.filter((h) => h.transactionId).length, 0)).toString('hex');
  let nextEvent = 0;
  const eventId = () => `evt_${eventIds.slice(24 * nextEvent, 24 * ++nextEvent)}`;
  const stakeholders: object[] = [];
  const actions = rows(
    input.actions.map(({ row: r, poolAccount, availableAt, expiresAt }, n) => {
      r.stakeholders.forEach((h, o) =>
        stakeholders.push({
          n,
          o,
          code: h.stakeholderTypeCode,
          ext: h.partnerUserId,
          uid: h.userId,
          units: h.units,
          credit: h.transactionId,
          evt: h.transactionId ? eventId() : null,
          wallet: h.transactionId ? accountIds.wallet(h.userId!) : null,
          event: h.transactionId ? creditEventData(r, h) : null,
        }),
      );
      const event = actionEvent(r);
      return {
        n,
        id: r.id,
        key: r.idempotency_key,
        hash: r.request_hash,
        type: r.action_type,
        amount: s(r.amount_minor),
        currency: r.currency,
        status: r.status,
        campaign: r.campaign_id,
        pool: r.token_pool_id,
        pool_account: poolAccount,
        tokens: s(r.tokens_distributed),
        ledger_tx: r.ledger_transaction_id,
        metadata: r.metadata,
        fcode: r.failure_code,
        fmsg: r.failure_message,
        available_at: availableAt?.toISOString() ?? null,
        expires_at: expiresAt?.toISOString() ?? null,
        stakeholders: r.stakeholders,
        evt: eventId(),
        event_type: event.type,
        event: event.data,
      };
    }),
  );
  // A pool is checked at the exact balance decided against when a decision read it; otherwise only
  // its balance after the batch is: within the range the caller asks for (no alert, refill or status
  // change to make), or at least zero.
  const pools = input.poolDeltas.map((p) => {
    const range = checks.poolRanges?.get(p.poolId);
    return { id: p.accountId, delta: s(p.delta), expected: p.exact ? s(p.expected) : null, min: s(range?.min ?? 0n), max: range?.max == null ? null : s(range.max) };
  });
  const moved = pools.filter((p, i) => input.poolDeltas[i]!.delta !== 0n);
  const unmoved = pools.filter((p, i) => input.poolDeltas[i]!.delta === 0n);
  const poolCheck = (acc: string, x: string, delta: string) =>
    sql.raw(`(${x}.expected IS NULL OR ${acc}.balance = ${x}.expected) AND ${acc}.balance + ${delta} >= ${x}.min
             AND (${x}.max IS NULL OR ${acc}.balance + ${delta} <= ${x}.max)`);
  const spent = input.campaigns.filter((c) => c.units > 0n);
  const unspent = input.campaigns.filter((c) => c.units === 0n);
  const spendUpdates = input.userSpend.filter((u) => u.expected !== null);
  const spendInserts = input.userSpend.filter((u) => u.expected === null);
  const running = checks.running;
  const query = sql`
    WITH a AS MATERIALIZED (
      SELECT * FROM json_to_recordset(${actions}::json)
        AS a(n int, id text, key text, hash text, type text, amount bigint, currency text, status text, campaign text, pool text,
             pool_account text, tokens bigint, ledger_tx text, metadata jsonb, fcode text, fmsg text,
             available_at timestamptz, expires_at timestamptz, stakeholders json, evt text, event_type text, event json)
    ), h AS MATERIALIZED (
      SELECT * FROM json_to_recordset(${rows(stakeholders)}::json)
        AS h(n int, o int, code text, ext text, uid text, units bigint, credit text, evt text, wallet text, event json)
    ), credit AS MATERIALIZED (
      SELECT h.*, a.id AS action_id, a.ledger_tx, a.pool, a.campaign, a.available_at, a.expires_at
        FROM h JOIN a ON a.n = h.n WHERE h.credit IS NOT NULL
    ), ins_actions AS (
      INSERT INTO actions (id, partner_id, environment, idempotency_key, request_hash, action_type, amount_minor, currency,
                           status, campaign_id, token_pool_id, tokens_distributed, stakeholders, ledger_transaction_id,
                           metadata, failure_code, failure_message, created_at)
      SELECT a.id, ${scope.partnerId}, ${scope.environment}, a.key, a.hash, a.type, a.amount, a.currency, a.status, a.campaign,
             a.pool, a.tokens, a.stakeholders::jsonb, a.ledger_tx, a.metadata, a.fcode, a.fmsg, ${at}::timestamptz
        FROM a
      RETURNING 1
    ), upd_pools AS (
      UPDATE ledger_accounts acc
         SET balance = acc.balance + d.delta, debits_total = acc.debits_total - d.delta
        FROM json_to_recordset(${rows(moved)}::json) AS d(id text, delta bigint, expected bigint, min bigint, max bigint)
       WHERE acc.id = ANY(${moved.map((p) => p.id)}::text[]) AND acc.id = d.id AND ${poolCheck('acc', 'd', 'd.delta')}
      RETURNING 1
    ), ups_wallets AS (
      -- In account id order (as every writer locks accounts), so concurrent writers cannot deadlock.
      INSERT INTO ledger_accounts (id, partner_id, environment, kind, asset, balance, credits_total, debits_total)
      SELECT c.wallet, ${scope.partnerId}, ${scope.environment}, 'WALLET', 'SIR', sum(c.units), sum(c.units), 0
        FROM credit c GROUP BY c.wallet ORDER BY c.wallet COLLATE "C"
      ON CONFLICT (id) DO UPDATE
        SET balance = ledger_accounts.balance + excluded.balance, credits_total = ledger_accounts.credits_total + excluded.credits_total
      RETURNING 1
    ), ins_ledger AS (
      INSERT INTO ledger_transactions (id, partner_id, environment, kind, reference, created_at)
      SELECT a.ledger_tx, ${scope.partnerId}, ${scope.environment}, 'REWARD', a.id, ${at}::timestamptz FROM a WHERE a.ledger_tx IS NOT NULL
      RETURNING 1
    ), ins_postings AS (
      -- Per action: the pool pays what its credits add up to (checked in decideBatch), then each wallet.
      INSERT INTO ledger_postings (transaction_id, account_id, asset, amount, created_at)
      SELECT p.tx, p.account, 'SIR', p.amount, ${at}::timestamptz
        FROM (SELECT a.ledger_tx AS tx, a.pool_account AS account, -a.tokens AS amount, a.n, -1 AS o FROM a WHERE a.ledger_tx IS NOT NULL
              UNION ALL
              SELECT c.ledger_tx, c.wallet, c.units, c.n, c.o FROM credit c) p
       ORDER BY p.n, p.o
      RETURNING 1
    ), ins_credits AS (
      INSERT INTO token_transactions (id, partner_id, environment, user_id, external_user_id, action_id, stakeholder_type_code,
                                      type, amount, remaining, available_at, expires_at, status, token_pool_id, campaign_id,
                                      ledger_transaction_id, created_at)
      SELECT c.credit, ${scope.partnerId}, ${scope.environment}, c.uid, c.ext, c.action_id, c.code, 'CREDIT', c.units, c.units,
             c.available_at, c.expires_at, 'COMPLETED', c.pool, c.campaign, c.ledger_tx, ${at}::timestamptz
        FROM credit c ORDER BY c.n, c.o
      RETURNING 1
    ), upd_campaigns AS (
      UPDATE campaigns c SET budget_spent = c.budget_spent + x.units, updated_at = ${at}::timestamptz
        FROM json_to_recordset(${rows(spent.map((c) => ({ id: c.id, units: s(c.units), spent: c.exact ? s(c.spentBefore) : null, version: c.version })))}::json)
             AS x(id text, units bigint, spent bigint, version text)
       WHERE c.id = ANY(${spent.map((c) => c.id)}::text[]) AND c.id = x.id AND ${campaignVersion('c')} = x.version
         AND (x.spent IS NULL OR c.budget_spent = x.spent) AND (c.budget_total IS NULL OR c.budget_spent + x.units <= c.budget_total)
      RETURNING 1
    ), upd_spend AS (
      UPDATE campaign_user_spend sp SET spent = sp.spent + x.units
        FROM json_to_recordset(${rows(spendUpdates.map((u) => ({ campaign_id: u.campaignId, user_id: u.userId, units: s(u.units), expected: s(u.expected!) })))}::json)
             AS x(campaign_id text, user_id text, units bigint, expected bigint)
       WHERE sp.campaign_id = ANY(${spendUpdates.map((u) => u.campaignId)}::text[]) AND sp.user_id = ANY(${spendUpdates.map((u) => u.userId)}::text[])
         AND sp.campaign_id = x.campaign_id AND sp.user_id = x.user_id AND sp.spent = x.expected
      RETURNING 1
    ), ins_spend AS (
      INSERT INTO campaign_user_spend (campaign_id, user_id, spent)
      SELECT x.campaign_id, x.user_id, x.units
        FROM json_to_recordset(${rows(spendInserts.map((u) => ({ campaign_id: u.campaignId, user_id: u.userId, units: s(u.units) })))}::json)
             AS x(campaign_id text, user_id text, units bigint)
      ON CONFLICT (campaign_id, user_id) DO NOTHING
      RETURNING 1
    ), ins_events AS (
      -- Each credit's transaction.completed, then its action's action.completed (or action.failed),
      -- action by action in arrival order.
      INSERT INTO outbox_events (id, partner_id, environment, type, data, created_at)
      SELECT e.id, ${scope.partnerId}, ${scope.environment}, e.type, e.data, ${at}::timestamptz
        FROM (SELECT c.evt AS id, 'transaction.completed' AS type, c.n, c.o, c.event AS data FROM credit c
              UNION ALL
              SELECT a.evt, a.event_type, a.n, 2147483647, a.event FROM a) e
       ORDER BY e.n, e.o
      RETURNING 1
    )
    SELECT
      -- The select list runs left to right, and each data-modifying CTE runs when it is first read.
      -- So the checks that only read come first, then the appends, and the rows other writers also
      -- change last, in the order every writer locks them (campaigns, pool accounts, per-user spend,
      -- wallets: batchRepo.lock, reversals and redemptions take accounts in id order, pool: before
      -- wallet:). A batch then holds the pool's row only for its wallet updates and its commit, and
      -- another batch of the same pool does all its appends meanwhile.
      rewards_batch_guard(
        (SELECT count(*) FROM token_pools p
           JOIN json_to_recordset(${rows(input.poolVersions)}::json) AS x(id text, version text)
             ON p.id = x.id AND p.xmin::text = x.version
          WHERE p.id = ANY(${input.poolVersions.map((p) => p.id)}::text[])) = ${input.poolVersions.length},
        'a pool changed'),
      rewards_batch_guard(${running === undefined} OR (
        (SELECT count(*) FROM campaigns c
          WHERE c.partner_id = ${scope.partnerId} AND c.environment = ${scope.environment} AND c.status = 'ACTIVE' AND c.archived_at IS NULL) = ${running?.length ?? 0}
        AND (SELECT count(*) FROM campaigns c
               JOIN json_to_recordset(${rows(running ?? [])}::json) AS x(id text, version text)
                 ON c.id = x.id AND ${campaignVersion('c')} = x.version
              WHERE c.id = ANY(${(running ?? []).map((c) => c.id)}::text[]) AND c.partner_id = ${scope.partnerId} AND c.environment = ${scope.environment}
                AND c.status = 'ACTIVE' AND c.archived_at IS NULL) = ${running?.length ?? 0}),
        'the running campaigns changed'),
      rewards_batch_guard(${checks.defaultPoolId === undefined} OR (
        SELECT p.id FROM token_pools p
         WHERE p.partner_id = ${scope.partnerId} AND p.environment = ${scope.environment}
           AND p.status IN ('ACTIVE', 'DEPLETED') AND (p.expires_at IS NULL OR p.expires_at > ${at}::timestamptz)
         ORDER BY p.created_at, p.id LIMIT 1) IS NOT DISTINCT FROM ${checks.defaultPoolId ?? null}::text,
        'the default pool changed'),
      rewards_batch_guard(
        (SELECT count(*) FROM campaigns c
           JOIN json_to_recordset(${rows(unspent.map((c) => ({ id: c.id, spent: c.exact ? s(c.spentBefore) : null, version: c.version })))}::json)
             AS x(id text, spent bigint, version text)
             ON c.id = x.id AND ${campaignVersion('c')} = x.version AND (x.spent IS NULL OR c.budget_spent = x.spent)
          WHERE c.id = ANY(${unspent.map((c) => c.id)}::text[])) = ${unspent.length},
        'a campaign changed'),
      rewards_batch_guard(
        (SELECT count(*) FROM ledger_accounts acc
           JOIN json_to_recordset(${rows(unmoved)}::json) AS x(id text, delta bigint, expected bigint, min bigint, max bigint)
             ON acc.id = x.id AND ${poolCheck('acc', 'x', '0')}
          WHERE acc.id = ANY(${unmoved.map((p) => p.id)}::text[])) = ${unmoved.length},
        'a pool balance moved'),
      (SELECT count(*) FROM ins_actions) + (SELECT count(*) FROM ins_ledger) + (SELECT count(*) FROM ins_postings)
        + (SELECT count(*) FROM ins_credits) + (SELECT count(*) FROM ins_events) AS rows,
      rewards_batch_guard((SELECT count(*) FROM upd_campaigns) = ${spent.length}, 'a campaign changed'),
      rewards_batch_guard((SELECT count(*) FROM upd_pools) = ${moved.length}, 'a pool balance moved'),
      rewards_batch_guard((SELECT count(*) FROM upd_spend) + (SELECT count(*) FROM ins_spend) = ${input.userSpend.length}, 'a per-user spend moved'),
      (SELECT count(*) FROM ups_wallets) AS wallets`;
  const pool = db.isTransaction ? undefined : pgPoolOf(db as Kysely<Database>);
  if (pool) {
    // Outside a transaction the statement runs as a named prepared statement, so PostgreSQL parses
    // and plans it once per connection rather than for every batch (planning alone cost about as
    // much as executing). The = ANY conditions above let that generic plan reach every table
    // through its index; on a table of a few thousand rows PostgreSQL may still prefer a scan.
    const compiled = query.compile(db);
    await pool.query({ name: 'rewards_batch_write', text: compiled.sql, values: [...compiled.parameters] });
  } else {
    await query.execute(db);
  }
}
