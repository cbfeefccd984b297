import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Environment } from '../../platform/db/schema.js';
import type { Interval, Period } from './dashboard.period.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface Scope {
  partnerId: string;
  environment: Environment;
}

// Every figure is one partner's, in one environment, over [from, to): the partner's tables are all
// indexed by (partner_id, environment, created_at), so each condition below is one index range.
const ofScope = (alias: string, s: Scope) =>
  sql`${sql.ref(`${alias}.partner_id`)} = ${s.partnerId} AND ${sql.ref(`${alias}.environment`)} = ${s.environment}`;
const inPeriod = (column: string, p: Period) =>
  sql`${sql.ref(column)} >= ${p.from.toISOString()}::timestamptz AND ${sql.ref(column)} < ${p.to.toISOString()}::timestamptz`;
// Buckets are computed in UTC whatever the session's time zone, and come back as text so the driver
// never reads them in the server's local time.
const bucketOf = (column: string, interval: Interval) =>
  sql<string>`to_char(date_trunc(${interval}::text, ${sql.ref(column)} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`;

/** Read models over the rewards and webhook tables; sums of token units come back as bigint. */
export const dashboardRepo = {
  async summary(db: Db, scope: Scope, period: Period) {
    const result = await sql<{
      total_users: bigint;
      active_users: bigint;
      total_actions: bigint;
      failed_actions: bigint;
      tokens_distributed: bigint;
      tokens_reversed: bigint;
      pool_balance: bigint;
    }>`
      SELECT
        (SELECT count(*) FROM partner_users u
          WHERE ${ofScope('u', scope)} AND u.created_at < ${period.to.toISOString()}::timestamptz) AS total_users,
        (SELECT count(DISTINCT s.value->>'userId')
           FROM actions x CROSS JOIN LATERAL jsonb_array_elements(x.stakeholders) s
          WHERE ${ofScope('x', scope)} AND ${inPeriod('x.created_at', period)} AND x.status <> 'FAILED') AS active_users,
        agg.total_actions, agg.failed_actions, agg.tokens_distributed,
        (SELECT coalesce(sum(t.amount), 0)::bigint FROM token_transactions t
          WHERE ${ofScope('t', scope)} AND ${inPeriod('t.created_at', period)} AND t.type = 'REVERSAL') AS tokens_reversed,
        -- The pools' balances now, less what was posted to them since the period ended: the ledger
        -- is append-only, so that is what they held then.
        (SELECT coalesce(sum(acc.balance), 0)::bigint FROM token_pools p JOIN ledger_accounts acc ON acc.id = p.account_id
          WHERE ${ofScope('p', scope)})
        - (SELECT coalesce(sum(lp.amount), 0)::bigint FROM token_pools p JOIN ledger_postings lp ON lp.account_id = p.account_id
            WHERE ${ofScope('p', scope)} AND lp.created_at >= ${period.to.toISOString()}::timestamptz) AS pool_balance
      FROM (SELECT count(*) AS total_actions,
                   count(*) FILTER (WHERE a.status = 'FAILED') AS failed_actions,
                   coalesce(sum(a.tokens_distributed), 0)::bigint AS tokens_distributed
              FROM actions a WHERE ${ofScope('a', scope)} AND ${inPeriod('a.created_at', period)}) agg`.execute(db);
    return result.rows[0]!;
  },

  /** Credits less reversals per user over the period, for users credited in it, most first. */
  async topEarners(db: Db, scope: Scope, period: Period, limit: number) {
    const result = await sql<{ external_user_id: string; earned: bigint; action_count: bigint }>`
      SELECT t.external_user_id,
             (coalesce(sum(t.amount) FILTER (WHERE t.type = 'CREDIT'), 0)
              - coalesce(sum(t.amount) FILTER (WHERE t.type = 'REVERSAL'), 0))::bigint AS earned,
             count(DISTINCT t.action_id) FILTER (WHERE t.type = 'CREDIT') AS action_count
        FROM token_transactions t
       WHERE ${ofScope('t', scope)} AND ${inPeriod('t.created_at', period)} AND t.type IN ('CREDIT', 'REVERSAL')
       GROUP BY t.user_id, t.external_user_id
      HAVING count(*) FILTER (WHERE t.type = 'CREDIT') > 0
       ORDER BY earned DESC, t.external_user_id
       LIMIT ${limit}`.execute(db);
    return result.rows;
  },

  /** Actions, their tokens and new users per bucket; buckets where nothing happened are absent. */
  async trends(db: Db, scope: Scope, period: Period, interval: Interval) {
    const result = await sql<{ bucket: string; actions: bigint; tokens: bigint; new_users: bigint }>`
      SELECT x.bucket, sum(x.actions)::bigint AS actions, sum(x.tokens)::bigint AS tokens, sum(x.new_users)::bigint AS new_users
        FROM (SELECT ${bucketOf('a.created_at', interval)} AS bucket, 1 AS actions, a.tokens_distributed AS tokens, 0 AS new_users
                FROM actions a WHERE ${ofScope('a', scope)} AND ${inPeriod('a.created_at', period)}
              UNION ALL
              SELECT ${bucketOf('u.created_at', interval)}, 0, 0, 1
                FROM partner_users u WHERE ${ofScope('u', scope)} AND ${inPeriod('u.created_at', period)}) x
       GROUP BY x.bucket`.execute(db);
    return result.rows;
  },

  /** The environment's webhook endpoints, oldest first; a partner has a handful, so all of them. */
  async webhookEndpoints(db: Db, scope: Scope) {
    return db
      .selectFrom('webhook_endpoints')
      .select(['id', 'url', 'is_active', 'consecutive_failures'])
      .where('partner_id', '=', scope.partnerId)
      .where('environment', '=', scope.environment)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  },

  /**
   * The latest failed attempt per endpoint in the period. Every failure is an attempt row (only
   * successes may live on the delivery row alone, migration 0017), so the attempts table suffices.
   */
  async lastFailures(db: Db, endpointIds: string[], period: Period) {
    if (endpointIds.length === 0) return [];
    const result = await sql<{ endpoint_id: string; last_failure_at: Date }>`
      SELECT w.endpoint_id, max(w.attempted_at) AS last_failure_at
        FROM webhook_attempts w
       WHERE w.endpoint_id = ANY(${endpointIds}::text[]) AND NOT w.succeeded AND ${inPeriod('w.attempted_at', period)}
       GROUP BY w.endpoint_id`.execute(db);
    return result.rows;
  },
};
