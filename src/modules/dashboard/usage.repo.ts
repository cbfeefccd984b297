import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
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

  async totals(db: Kysely<Database>, partnerId: string) {
    return db
      .selectFrom('api_usage_daily')
      .select(['environment', 'day', 'method', 'route', 'status_code', 'request_count'])
      .where('partner_id', '=', partnerId)
      .orderBy('day')
      .execute();
  },
};
