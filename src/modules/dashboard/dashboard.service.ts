import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { formatTokens, type PartnerClock } from '../rewards/index.js';
import { endpointDeliveryStats } from '../webhooks/index.js';
import { dashboardRepo, type Scope } from './dashboard.repo.js';
import { bucketDays, resolvePeriod, usageDays, type Period } from './dashboard.period.js';
import type {
  ApiUsageType,
  DashboardSummaryType,
  PeriodQueryType,
  TopEarnersQueryType,
  TopEarnersType,
  TrendsQueryType,
  TrendsType,
  WebhookHealthSummaryType,
} from './dashboard.schemas.js';
import { usageRepo } from './usage.repo.js';

/** Counts are bigint from the database and far below 2^53; token units go through formatTokens. */
const count = (v: bigint | number | string | null | undefined) => Number(v ?? 0);
const tokens = (units: bigint | number | string) => formatTokens(BigInt(units));
const bounds = (p: Period) => ({ periodStart: p.from.toISOString(), periodEnd: p.to.toISOString() });
const rate = (attempts: number, failures: number) => (attempts === 0 ? null : (attempts - failures) / attempts);
const later = (a: Date | null, b: Date | null) => (a && b ? (a > b ? a : b) : (a ?? b));

/** The partner dashboard: rewards, webhook and API usage figures of one partner environment over a period. */
export class DashboardService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly partnerClock: PartnerClock,
  ) {}

  /**
   * Rewards rows are stamped with the partner's clock, which a sandbox may have moved ahead, so the
   * default period ends at that time, as the transaction and balance routes see it.
   */
  private async rewardsPeriod(scope: Scope, q: PeriodQueryType): Promise<Period> {
    return resolvePeriod(q, await this.partnerClock.now(scope.partnerId, scope.environment));
  }

  /**
   * Webhook attempts and API usage are stamped with platform time, sandbox or not: ending their
   * default period at a sandbox's moved clock would show a month in which nothing was sent.
   */
  private platformPeriod(q: PeriodQueryType): Period {
    return resolvePeriod(q, this.clock.now());
  }

  async summary(scope: Scope, q: PeriodQueryType): Promise<DashboardSummaryType> {
    const period = await this.rewardsPeriod(scope, q);
    const row = await dashboardRepo.summary(this.db, scope, period);
    return {
      totalUsers: count(row.total_users),
      activeUsers: count(row.active_users),
      totalActions: count(row.total_actions),
      failedActions: count(row.failed_actions),
      tokensDistributed: tokens(row.tokens_distributed),
      tokensReversed: tokens(row.tokens_reversed),
      poolBalance: tokens(row.pool_balance),
      ...bounds(period),
    };
  }

  async topEarners(scope: Scope, q: TopEarnersQueryType): Promise<TopEarnersType> {
    const period = await this.rewardsPeriod(scope, q);
    const rows = await dashboardRepo.topEarners(this.db, scope, period, q.limit);
    return {
      data: rows.map((r) => ({ externalUserId: r.external_user_id, tokensEarned: tokens(r.earned), actionCount: count(r.action_count) })),
      limit: q.limit,
      ...bounds(period),
    };
  }

  async trends(scope: Scope, q: TrendsQueryType): Promise<TrendsType> {
    const period = await this.rewardsPeriod(scope, q);
    const rows = new Map((await dashboardRepo.trends(this.db, scope, period, q.interval)).map((r) => [r.bucket, r]));
    return {
      interval: q.interval,
      data: bucketDays(period, q.interval).map((date) => {
        const r = rows.get(date);
        return { date, actions: count(r?.actions), tokensDistributed: tokens(r?.tokens ?? 0n), newUsers: count(r?.new_users) };
      }),
      ...bounds(period),
    };
  }

  async webhookHealth(scope: Scope, q: PeriodQueryType): Promise<WebhookHealthSummaryType> {
    const period = this.platformPeriod(q);
    const endpoints = await dashboardRepo.webhookEndpoints(this.db, scope);
    const ids = endpoints.map((e) => e.id);
    // The stats' window is closed; attempts are stamped to the millisecond, so ending it one
    // millisecond early is exactly the half-open period every other figure uses.
    const stats = new Map((await endpointDeliveryStats(this.db, ids, period.from, new Date(period.to.getTime() - 1))).map((s) => [s.endpoint_id, s]));
    const lastFailure = new Map((await dashboardRepo.lastFailures(this.db, ids, period)).map((f) => [f.endpoint_id, f.last_failure_at]));
    const byWebhook = endpoints.map((e) => {
      const s = stats.get(e.id);
      const deliveries = count(s?.attempts);
      const failures = deliveries - count(s?.succeeded);
      return {
        webhookId: e.id,
        url: e.url,
        isActive: e.is_active,
        deliveries,
        failures,
        successRate: rate(deliveries, failures),
        lastFailureAt: lastFailure.get(e.id)?.toISOString() ?? null,
        pending: count(s?.pending),
        consecutiveFailures: e.consecutive_failures,
        latencyMs: { p50: s?.p50 ?? null, p95: s?.p95 ?? null, p99: s?.p99 ?? null },
      };
    });
    const sum = (f: (row: (typeof byWebhook)[number]) => number) => byWebhook.reduce((total, row) => total + f(row), 0);
    const deliveries = sum((r) => r.deliveries);
    const failures = sum((r) => r.failures);
    const latestFailure = [...lastFailure.values()].reduce<Date | null>(later, null);
    return {
      deliveries,
      failures,
      successRate: rate(deliveries, failures),
      lastFailureAt: latestFailure?.toISOString() ?? null,
      pending: sum((r) => r.pending),
      byWebhook,
      ...bounds(period),
    };
  }

  /** `rateLimit` is the partner's limit as its keys carry it, and the deployment's window. */
  async apiUsage(scope: Scope & { partner: { rateLimit: number } }, q: PeriodQueryType, windowSeconds: number): Promise<ApiUsageType> {
    const period = this.platformPeriod(q);
    const days = usageDays(period);
    const rows = await usageRepo.byEndpoint(this.db, scope, days.firstDay, days.lastDay);
    const byEndpoint = rows.map((r) => ({
      method: r.method,
      path: r.route,
      count: count(r.requests),
      errors4xx: count(r.errors_4xx),
      errors5xx: count(r.errors_5xx),
    }));
    const sum = (f: (row: (typeof rows)[number]) => bigint) => count(rows.reduce((total, row) => total + BigInt(f(row)), 0n));
    return {
      requests: sum((r) => r.requests),
      errors4xx: sum((r) => r.errors_4xx),
      errors5xx: sum((r) => r.errors_5xx),
      rateLimit: { limit: scope.partner.rateLimit, windowSeconds, limitedRequests: sum((r) => r.limited) },
      byEndpoint,
      ...days,
      ...bounds(period),
    };
  }
}
