import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { currencyDigits } from '../../platform/money/currencies.js';
import { formatMinor } from '../../platform/money/decimal.js';
import type { ActionsService, ReversalsService } from '../rewards/index.js';

/** The reward of one donation is keyed by its charge: retries and restarts never give it twice. */
export const rewardKey = (chargeId: string) => `donation:${chargeId}`;

/**
 * The rewards bridge. In the charge's (or refund's) transaction a job is written; the worker turns
 * it into a DONATION action for the donor (the customer's externalId as the partner user, created
 * if new), or reverses that action after a full refund. Rewards are for the donation amount, not
 * the fee or the tip.
 */
export class DonationRewards {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly actions: ActionsService,
    private readonly reversals: ReversalsService,
    private readonly clock: Clock,
  ) {}

  /** Called inside the transaction that records a succeeded charge or a full refund. */
  async enqueue(trx: Transaction<Database>, chargeId: string, accountId: string, kind: 'reward' | 'reverse', at: Date) {
    const eligible = await sql<{ ok: boolean }>`
      SELECT a.donation_rewards AND cu.external_id IS NOT NULL AS ok
      FROM charges c JOIN payments_accounts a ON a.id = c.account_id
      LEFT JOIN payment_customers cu ON cu.id = c.customer_id
      WHERE c.id = ${chargeId}`.execute(trx);
    if (!eligible.rows[0]?.ok) return;
    await trx
      .insertInto('donation_reward_jobs')
      .values({ charge_id: chargeId, kind, account_id: accountId, status: 'pending', created_at: at, updated_at: at })
      .onConflict((oc) => oc.columns(['charge_id', 'kind']).doNothing())
      .execute();
  }

  /**
   * Runs pending jobs; returns how many ran. No lock is held while an action is submitted (that
   * would hold one pool connection while the submit waits for another): the action's idempotency
   * key makes two workers on one job give one reward, and the loser just records the same action.
   */
  async runPending(limit = 50): Promise<number> {
    const jobs = await sql<{ charge_id: string; kind: 'reward' | 'reverse' }>`
      SELECT charge_id, kind FROM donation_reward_jobs WHERE status = 'pending'
      ORDER BY created_at LIMIT ${limit}`.execute(this.db);
    for (const job of jobs.rows) {
      const ctx = await sql<{ partner_id: string; environment: 'sandbox' | 'production'; external_id: string; amount: bigint; currency: string }>`
        SELECT a.partner_id, a.environment, cu.external_id, c.amount, c.currency
        FROM charges c JOIN payments_accounts a ON a.id = c.account_id JOIN payment_customers cu ON cu.id = c.customer_id
        WHERE c.id = ${job.charge_id}`.execute(this.db);
      const c = ctx.rows[0]!;
      const scope = { partnerId: c.partner_id, environment: c.environment };
      let status: 'done' | 'failed' = 'done';
      let actionId: string | null = null;
      let error: string | null = null;
      try {
        if (job.kind === 'reward') {
          const amount = formatMinor(BigInt(c.amount), currencyDigits(c.currency) ?? 2);
          const raw = `{"idempotencyKey":${JSON.stringify(rewardKey(job.charge_id))},"actionType":"DONATION","amount":${amount},"currency":${JSON.stringify(c.currency)},"stakeholders":[{"stakeholderTypeCode":"DONOR","partnerUserId":${JSON.stringify(c.external_id)}}],"autoCreateUsers":true,"metadata":{"chargeId":${JSON.stringify(job.charge_id)}}}`;
          actionId = (await this.actions.submit(scope, JSON.parse(raw), Buffer.from(raw))).actionId;
        } else {
          const action = await this.db
            .selectFrom('actions')
            .select('id')
            .where('partner_id', '=', scope.partnerId)
            .where('environment', '=', scope.environment)
            .where('idempotency_key', '=', rewardKey(job.charge_id))
            .executeTakeFirst();
          if (action) {
            const body = { reason: 'Donation refunded', idempotencyKey: `refund:${job.charge_id}`, force: true };
            await this.reversals.reverse(scope, action.id, body, Buffer.from(JSON.stringify(body))).catch((err: unknown) => {
              // Reversed already (a retry after a crash): nothing left to do.
              if (!(err instanceof AppError && (err.code === 'IDEMPOTENT' || err.code === 'ACTION_NOT_REVERSIBLE'))) throw err;
            });
            actionId = action.id;
          }
        }
      } catch (err) {
        if (err instanceof AppError && err.code === 'IDEMPOTENT') {
          actionId = String((err.extra as { actionId?: string } | undefined)?.actionId ?? '') || null;
        } else {
          // A refused reward (no pool, budget spent) is recorded for the operator, not retried forever.
          status = 'failed';
          error = err instanceof AppError ? `${err.code}: ${err.message}` : 'internal error';
        }
      }
      await this.db
        .updateTable('donation_reward_jobs')
        .set({ status, action_id: actionId, last_error: error, attempts: sql`attempts + 1`, updated_at: this.clock.now() })
        .where('charge_id', '=', job.charge_id)
        .where('kind', '=', job.kind)
        .where('status', '=', 'pending')
        .execute();
    }
    return jobs.rows.length;
  }
}
