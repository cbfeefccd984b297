import type { Kysely, Transaction } from 'kysely';
import { prefixedId } from '../../platform/crypto/ids.js';
import { safeEqual } from '../../platform/crypto/signing.js';
import type { Database } from '../../platform/db/schema.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newEvent, writeEvents } from '../../platform/outbox/outbox.js';
import type { Clock } from '../../platform/clock.js';
import type { PartnerClock } from '../rewards/index.js';
import type { CheckoutService } from '../payments/checkout.service.js';
import type { CustomersService } from '../payments/customers.service.js';
import type { PaymentsAccountsService } from '../payments/accounts.service.js';
import { donationsRepo, type DonationRow } from './donations.repo.js';
import { centsFromEveryOrg, everyOrgLink, invalid, linkTerms, withDonationId } from './donations.rules.js';
import { eventBase, toView } from './donations.view.js';
import type { CreateLinkBodyType, DonationStatusViewType, EveryOrgNotificationType } from './donations.schemas.js';
import type { DonationRewarder } from './donations.rewards.js';

export interface Scope {
  partnerId: string;
  environment: 'sandbox' | 'production';
}

export interface DonationsOptions {
  publicUrl: string;
  everyOrgBase: string;
  /** Every.org's token for our partner webhook: it goes in every link, so it is not a secret. */
  everyOrgWebhookToken: string;
  /** What Every.org's notifications must carry (in the URL registered with Every.org): a secret. */
  everyOrgIntakeToken: string;
}

/**
 * Donation links (contract A8.3). A link is a hosted checkout of the partner's payments account
 * (provider stripe) or an Every.org donate URL; the donation it stands for completes once, from the
 * checkout's outcome or Every.org's notification, and is then rewarded once.
 */
export class DonationsService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly checkout: CheckoutService,
    private readonly customers: CustomersService,
    private readonly accounts: PaymentsAccountsService,
    private readonly rewarder: DonationRewarder,
    private readonly partnerClock: PartnerClock,
    private readonly clock: Clock,
    private readonly options: DonationsOptions,
  ) {}

  async createLink(scope: Scope, body: CreateLinkBodyType) {
    const { provider, frequency, currency, amount, tip } = linkTerms(body);
    if (tip > 0n && !(await donationsRepo.tipsEnabled(this.db, scope.partnerId))) throw invalid('/tipAmount', 'Tips are turned off for this partner (tipConfig.enabled is false)');
    const org = await donationsRepo.organizationBySlug(this.db, body.nonprofitSlug);
    if (!org || org.status !== 'active') throw new AppError('ORGANIZATION_NOT_FOUND', `No active nonprofit with slug "${body.nonprofitSlug}"; search GET /v1/partner/organizations?q=`);
    if (body.referralCode !== undefined && !(await donationsRepo.userExists(this.db, scope.partnerId, scope.environment, body.referralCode))) {
      throw new AppError('USER_NOT_FOUND', `referralCode "${body.referralCode}" names no user of this partner; it must be the referrer's externalUserId`, {
        details: [{ path: '/referralCode', message: 'unknown user' }],
      });
    }

    const id = prefixedId('don', 24);
    const now = await this.partnerClock.now(scope.partnerId, scope.environment);
    const back = `${this.options.publicUrl}/`;
    const successUrl = withDonationId(body.successUrl ?? back, id);
    const cancelUrl = withDonationId(body.cancelUrl ?? back, id);
    let link: string;
    let sessionId: string | null = null;
    if (provider === 'stripe') {
      ({ link, sessionId } = await this.checkoutFor(scope, body, { id, orgId: org.id, amount, tip, currency, frequency, successUrl, cancelUrl }));
    } else {
      link = everyOrgLink({
        base: this.options.everyOrgBase,
        slug: org.slug,
        amount,
        frequency,
        donationId: id,
        partnerMetadata: { partnerDonationId: id, ...(body.metadata ?? {}) },
        webhookToken: this.options.everyOrgWebhookToken,
        successUrl,
        donor: { email: body.donorEmail ?? null, firstName: body.firstName ?? null, lastName: body.lastName ?? null },
      });
    }
    const row = await donationsRepo.insert(this.db, {
      id,
      partner_id: scope.partnerId,
      environment: scope.environment,
      organization_id: org.id,
      provider,
      frequency,
      amount,
      tip,
      currency,
      donor_email: body.donorEmail ?? null,
      first_name: body.firstName ?? null,
      last_name: body.lastName ?? null,
      external_user_id: body.externalUserId ?? null,
      referral_code: body.referralCode ?? null,
      success_url: body.successUrl ?? null,
      cancel_url: body.cancelUrl ?? null,
      metadata: JSON.stringify(body.metadata ?? {}),
      link_url: link,
      status: 'PENDING',
      checkout_session_id: sessionId,
      created_at: now,
      updated_at: now,
    });
    return { donationLink: row.link_url, partnerDonationId: row.id, provider: row.provider, status: 'PENDING' as const };
  }

  private async checkoutFor(
    scope: Scope,
    body: CreateLinkBodyType,
    d: { id: string; orgId: number; amount: bigint; tip: bigint; currency: string; frequency: 'once' | 'monthly'; successUrl: string; cancelUrl: string },
  ): Promise<{ link: string; sessionId: string }> {
    const account = await donationsRepo.paymentsAccountFor(this.db, scope.partnerId, scope.environment);
    if (!account) {
      throw new AppError('INVALID_STATE', `provider "stripe" needs a ${scope.environment} payments account for this partner; ask the operator to create one, or use provider "every.org"`);
    }
    const auth = await this.accounts.authFor(account.id);
    const monthly = d.frequency === 'monthly';
    const customerId = monthly
      ? (await this.customers.create(auth, { email: body.donorEmail!, ...(body.firstName ? { firstName: body.firstName } : {}), ...(body.lastName ? { lastName: body.lastName } : {}) })).customerId
      : null;
    const { id: sessionId } = await this.checkout.create(auth, customerId, {
      ...(monthly
        ? { mode: 'subscription' as const, items: [{ unitAmount: Number(d.amount), interval: 'month' as const, productName: 'Monthly donation', quantity: 1 }], ...(d.tip > 0n ? { tipInterval: 'month' as const } : {}) }
        : { amount: Number(d.amount), productName: 'Donation', quantity: 1 }),
      currency: d.currency,
      tip: Number(d.tip),
      charityId: d.orgId,
      successURL: d.successUrl,
      cancelURL: d.cancelUrl,
      description: `Donation ${d.id}`,
      metadata: [{ key: 'partnerDonationId', value: d.id }],
    });
    const state = await donationsRepo.sessionState(this.db, sessionId);
    return { link: state?.processor_url ?? `${this.options.publicUrl}/checkout/${sessionId}`, sessionId };
  }

  async status(scope: Scope, donationId: string): Promise<DonationStatusViewType> {
    const found = await donationsRepo.find(this.db, scope.partnerId, scope.environment, donationId);
    if (!found) throw notFound(`Donation "${donationId}"`);
    const { slug, ...row } = found;
    return toView(await this.reconcile(row), slug);
  }

  /** The hosted checkout of this session was paid or declined: bring its donation up to date now. */
  async checkoutSettled(sessionId: string, result: { status: string; error: { message: string } | null }): Promise<void> {
    let row = await donationsRepo.bySession(this.db, sessionId);
    if (!row) return;
    // A subscription checkout's decline leaves no payment intent behind: the page's answer is the record.
    if (result.status === 'requires_payment_method' && result.error && row.status === 'PENDING') {
      row = (await this.fail(row, result.error.message, await this.partnerClock.now(row.partner_id, row.environment))) ?? row;
    }
    await this.reconcile(row);
  }

  /**
   * Brings a stripe-provider donation in line with its checkout (paid -> COMPLETED, declined ->
   * FAILED, expired -> CANCELLED) and gives a reward still owed. Safe to call from anywhere, any
   * number of times: every change is a guarded transition.
   */
  async reconcile(row: DonationRow): Promise<DonationRow> {
    if (row.checkout_session_id && (row.status === 'PENDING' || row.status === 'FAILED')) {
      const s = await donationsRepo.sessionState(this.db, row.checkout_session_id);
      const now = await this.partnerClock.now(row.partner_id, row.environment);
      if (s?.status === 'complete') {
        row = (await this.complete(row, {})) ?? row;
      } else if (s && row.status === 'PENDING' && s.last_error) {
        const reason = String((s.last_error as { message?: unknown }).message ?? 'The payment was declined');
        row = (await this.fail(row, reason, now)) ?? row;
      } else if (s && row.status === 'PENDING' && now >= s.expires_at) {
        row = (await donationsRepo.transition(this.db, row.id, ['PENDING'], { status: 'CANCELLED', failure_reason: 'The checkout expired unpaid', updated_at: now })) ?? row;
      }
    }
    if (row.reward_status === 'pending') row = (await this.rewarder.give(row)) ?? (await donationsRepo.findAny(this.db, row.id))!;
    return row;
  }

  private async fail(row: DonationRow, reason: string, now: Date) {
    return this.db.transaction().execute(async (trx) => {
      const failed = await donationsRepo.transition(trx, row.id, ['PENDING'], { status: 'FAILED', failure_reason: reason, updated_at: now });
      if (failed) await writeEvents(trx, [newEvent(failed.partner_id, failed.environment, 'donation.failed', { ...eventBase(failed), reason }, now)]);
      return failed;
    });
  }

  /** PENDING or FAILED -> COMPLETED once; the reward is owed from then on. */
  private async complete(row: DonationRow, patch: { amount?: bigint; providerRef?: string }) {
    const now = await this.partnerClock.now(row.partner_id, row.environment);
    const rewarded = row.external_user_id !== null || row.referral_code !== null;
    const done = await this.db.transaction().execute(async (trx) => {
      const completed = await donationsRepo.transition(trx, row.id, ['PENDING', 'FAILED'], {
        status: 'COMPLETED',
        failure_reason: null,
        completed_at: now,
        updated_at: now,
        reward_status: rewarded ? 'pending' : 'none',
        ...(patch.amount !== undefined ? { amount: patch.amount } : {}),
        ...(patch.providerRef !== undefined ? { provider_ref: patch.providerRef } : {}),
      });
      // Without anyone to reward the donation is final now; otherwise its event waits for the tokens.
      if (completed && !rewarded) {
        await writeEvents(trx, [newEvent(completed.partner_id, completed.environment, 'donation.completed', { ...eventBase(completed), tokensAwarded: 0 }, now)]);
      }
      return completed;
    });
    if (done?.reward_status === 'pending') return (await this.rewarder.give(done)) ?? done;
    return done;
  }

  /** What to register with Every.org: the URL its notifications go to, token included, and the link token. */
  everyOrgSetup() {
    const url = `${this.options.publicUrl}/v1/integrations/every-org/donations?token=${encodeURIComponent(this.options.everyOrgIntakeToken)}`;
    return { intakeUrl: url, webhookToken: this.options.everyOrgWebhookToken };
  }

  /** Every.org's notification: checked against our intake token, completes its donation once. */
  async everyOrgNotification(token: string | undefined, body: EveryOrgNotificationType) {
    if (!token || !safeEqual(token, this.options.everyOrgIntakeToken)) {
      throw new AppError('INVALID_TOKEN', 'The notification token is missing or wrong');
    }
    const row = await donationsRepo.findAny(this.db, body.partnerDonationId);
    if (!row || row.provider !== 'every.org') throw notFound(`Donation "${body.partnerDonationId}"`);
    const cents = centsFromEveryOrg(body.amount);
    if (cents === undefined) throw invalid('/amount', `amount must be a positive decimal number of dollars; got "${body.amount}"`);
    if (body.currency !== undefined && body.currency.toUpperCase() !== row.currency) {
      throw invalid('/currency', `The donation is in ${row.currency}; the notification says ${body.currency}`);
    }
    if (row.status === 'COMPLETED') return { received: true, partnerDonationId: row.id, status: row.status, duplicate: true };
    const done = await this.complete(row, { amount: cents, providerRef: body.chargeId });
    const now = done ?? (await donationsRepo.findAny(this.db, row.id))!;
    return { received: true, partnerDonationId: now.id, status: now.status, duplicate: done === undefined };
  }

  /** A full refund's transaction: the donation it paid for owes its reward back. */
  async refundedInTransaction(trx: Transaction<Database>, chargeId: string, at: Date): Promise<void> {
    await donationsRepo.markRefunded(trx, chargeId, at);
  }

  async refunded(chargeId: string): Promise<void> {
    for (const { id } of await donationsRepo.reversalsPending(this.db, 10, chargeId)) await this.rewarder.takeBack(id);
  }

  /** Worker: donations whose checkout settled while nobody asked, rewards still owed, and rewards owed back. */
  async sweep(limit = 100): Promise<number> {
    let n = 0;
    for (const { id } of await donationsRepo.reversalsPending(this.db, limit)) {
      await this.rewarder.takeBack(id);
      n++;
    }
    for (const { id } of await donationsRepo.settledOpen(this.db, this.clock.now(), limit)) {
      const row = await donationsRepo.findAny(this.db, id);
      if (row) await this.reconcile(row);
      n++;
    }
    for (const { id } of await donationsRepo.rewardsPending(this.db, limit)) {
      const row = await donationsRepo.findAny(this.db, id);
      if (row?.reward_status === 'pending') await this.rewarder.give(row);
      n++;
    }
    return n;
  }
}
