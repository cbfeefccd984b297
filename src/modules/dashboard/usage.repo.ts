import { sql, type Kysely } from 'kysely';
import type { Database, Environment } from '../../platform/db/schema.js';
import type { UsageRow } from '../../platform/http/usage.js';

export const usageRepo = {
  async addCounts(db: Kysely<Database>, rows: UsageRow[]) {
    if (rows.length === 0) return;
    await db
      .insertInto('api_usage_daily')
      .values(
        rows.map((r) => ({
          partner_id: r.partnerId,
          environment: r.environment,
          day: r.day,
          method: r.method,
          route: r.route,
          status_code: r.statusCode,
          request_count: r.count,
          total_duration_ms: r.durationMs,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['partner_id', 'environment', 'day', 'method', 'route', 'status_code']).doUpdateSet({
          request_count: sql`api_usage_daily.request_count + excluded.request_count`,
          total_duration_ms: sql`api_usage_daily.total_duration_ms + excluded.total_duration_ms`,
        }),
      )
      .execute();
  },

  /**
   * Requests per route over whole UTC days (firstDay through lastDay, 'YYYY-MM-DD'), busiest first;
   * the primary key's (partner_id, environment, day) prefix makes it one index range.
   */
  async byEndpoint(db: Kysely<Database>, scope: { partnerId: string; environment: Environment }, firstDay: string, lastDay: string) {
    const result = await sql<{ method: string; route: string; requests: bigint; errors_4xx: bigint; errors_5xx: bigint; limited: bigint }>`
      SELECT method, route, sum(request_count)::bigint AS requests,
             coalesce(sum(request_count) FILTER (WHERE status_code BETWEEN 400 AND 499), 0)::bigint AS errors_4xx,
             coalesce(sum(request_count) FILTER (WHERE status_code BETWEEN 500 AND 599), 0)::bigint AS errors_5xx,
             coalesce(sum(request_count) FILTER (WHERE status_code = 429), 0)::bigint AS limited
        FROM api_usage_daily
       WHERE partner_id = ${scope.partnerId} AND environment = ${scope.environment}
         AND day >= ${firstDay}::date AND day <= ${lastDay}::date
       GROUP BY method, route
       ORDER BY requests DESC, route, method`.execute(db);
    return result.rows;
  },

  async totals(db: Kysely<Database>, partnerId: string) {
    return db
      .selectFrom('api_usage_daily')
      .select(['environment', 'day', 'method', 'route', 'status_code', 'request_count'])
      .where('partner_id', '=', partnerId)
      .orderBy('day')
      .execute();
  },
};
