import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { currencyDigits } from '../../platform/money/currencies.js';
import { formatMinor } from '../../platform/money/decimal.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import { formatTokens, TOKEN_SCALE, type ActionsService, type ReversalsService, type PartnerClock } from '../rewards/index.js';
import { donationsRepo, type DonationRow } from './donations.repo.js';
import { eventBase } from './donations.view.js';

/** One reward per donation, whoever asks and however often: the action is keyed by the donation. */
export const donationRewardKey = (donationId: string) => `donation-link:${donationId}`;

/**
 * Turns a completed donation into a DONATION action for the donor (its externalUserId, created if
 * new) and the referrer, for the donation amount (not the tip), through the rewards engine and its
 * campaigns. The action is its own transaction; the donation then records the outcome and its
 * `donation.completed` event in one more, guarded so only the first finisher writes them.
 */
export class DonationRewarder {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly actions: ActionsService,
    private readonly reversals: ReversalsService,
    private readonly partnerClock: PartnerClock,
  ) {}

  /**
   * Takes a refunded donation's reward back (forced: tokens already spent are recorded as a
   * shortfall rather than blocking the refund), once, keyed by the donation.
   */
  async takeBack(id: string): Promise<void> {
    let row = await donationsRepo.findAny(this.db, id);
    if (!row || row.reversal_status !== 'pending') return;
    if (row.reward_status === 'pending') row = (await this.give(row)) ?? (await donationsRepo.findAny(this.db, id))!;
    let status: 'done' | 'failed' = 'done';
    if (row.action_id && row.reward_status === 'done') {
      const body = { reason: 'Donation refunded', idempotencyKey: `refund:${row.id}`, force: true };
      const scope = { partnerId: row.partner_id, environment: row.environment };
      await this.reversals.reverse(scope, row.action_id, body, Buffer.from(JSON.stringify(body))).catch((err: unknown) => {
        // Taken back already (a retry after a crash): nothing left to do.
        if (err instanceof AppError && (err.code === 'IDEMPOTENT' || err.code === 'ACTION_NOT_REVERSIBLE')) return;
        if (err instanceof AppError) status = 'failed';
        else throw err;
      });
    }
    await donationsRepo.finishReversal(this.db, row.id, status, await this.partnerClock.now(row.partner_id, row.environment));
  }

  async give(row: DonationRow): Promise<DonationRow | undefined> {
    const scope = { partnerId: row.partner_id, environment: row.environment };
    const stakeholders = [
      ...(row.external_user_id ? [{ stakeholderTypeCode: 'DONOR', partnerUserId: row.external_user_id }] : []),
      ...(row.referral_code && row.referral_code !== row.external_user_id ? [{ stakeholderTypeCode: 'REFERRER', partnerUserId: row.referral_code }] : []),
    ];
    let outcome: { status: 'done' | 'failed'; actionId: string | null; tokens: bigint; error: string | null };
    try {
      const amount = formatMinor(row.amount, currencyDigits(row.currency) ?? 2);
      // Built as text so the amount reaches the engine as the exact decimal, as a partner's request would.
      const raw = `{"idempotencyKey":${JSON.stringify(donationRewardKey(row.id))},"actionType":"DONATION","amount":${amount},"currency":${JSON.stringify(row.currency)},"stakeholders":${JSON.stringify(stakeholders)},"autoCreateUsers":true,"metadata":{"partnerDonationId":${JSON.stringify(row.id)}}}`;
      const result = await this.actions.submit(scope, JSON.parse(raw), Buffer.from(raw));
      outcome = { status: 'done', actionId: result.actionId, tokens: tokenUnits(result.tokensDistributed), error: null };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const extra = (err.extra ?? {}) as { actionId?: string; tokensDistributed?: number; status?: string };
      if (err.code === 'IDEMPOTENT' && extra.status !== 'FAILED') {
        outcome = { status: 'done', actionId: extra.actionId ?? null, tokens: tokenUnits(extra.tokensDistributed ?? 0), error: null };
      } else {
        // A refused reward (no pool, budget spent, unknown stakeholder type) is recorded, not retried forever.
        outcome = { status: 'failed', actionId: extra.actionId ?? null, tokens: 0n, error: `${err.code}: ${err.message}` };
      }
    }
    const now = await this.partnerClock.now(row.partner_id, row.environment);
    return this.db.transaction().execute(async (trx) => {
      const done = await donationsRepo.finishReward(trx, row.id, {
        reward_status: outcome.status,
        action_id: outcome.actionId,
        tokens_awarded: outcome.tokens,
        updated_at: now,
      });
      if (done) {
        await writeEvents(trx, [
          newEvent(done.partner_id, done.environment, 'donation.completed', { ...eventBase(done), tokensAwarded: formatTokens(outcome.tokens) }, now),
        ]);
      }
      return done;
    });
  }
}

/** tokensDistributed is a JSON number with at most 2 decimals: back to exact token units. */
function tokenUnits(tokens: number): bigint {
  const [whole, frac = ''] = tokens.toFixed(2).split('.');
  return BigInt(whole!) * TOKEN_SCALE + BigInt(frac.padEnd(2, '0').slice(0, 2));
}
