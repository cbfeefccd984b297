import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { prefixedId } from '../../platform/crypto/ids.js';
import type { Database } from '../../platform/db/schema.js';
import type { SubscriptionsTable } from '../../platform/db/schema.payments.js';
import { AppError, notFound } from '../../platform/errors.js';
import type { PaymentsAuth } from '../../platform/http/auth.js';
import type { PartnerClock } from '../rewards/index.js';
import { catalogRepo } from './catalog.repo.js';
import { KEY_REPLAY_MS, PROCESSOR_LEASE_MS } from './charges.processing.js';
import { accountAuth } from './charges.rows.js';
import type { ChargesService } from './charges.service.js';
import type { CustomersService } from './customers.service.js';
import type { DestinationsService } from './destinations.js';
import { toDonation, type DonationInput } from './donation.js';
import { requestHash } from './idempotency.js';
import { ChargeNotSent } from './processor.charges.js';
import type { HostedSubscription, HostedSubscriptionInput } from './processor.hosted.js';
import type { Processors } from './processor.js';
import { processorError, RETRY } from './processor.stripe.map.js';
import { subscriptionsRepo } from './subscriptions.repo.js';
import { addInterval } from './subscriptions.rules.js';
import type { CreateSubscriptionBodyType, SubscriptionType } from './subscriptions.schemas.js';
import { subscriptionTip } from './subscriptions.service.js';
import { toSubscription } from './subscriptions.view.js';
import { invalid, mirrorOf, stripeItems, withStripePrices } from './subscriptions.stripe.items.js';

type SubscriptionRow = Selectable<SubscriptionsTable>;
type Db = Kysely<Database> | Transaction<Database>;

/** Metadata on a Stripe subscription that names our row, for events that arrive before we know Stripe's id. */
export const SUBSCRIPTION_ID_KEY = 'almoner_subscription_id';

/**
 * Creating a Stripe subscription: the layer of StripeSubscriptions (subscriptions.stripe.ts) that its
 * changes and cancellation build on, sharing its dependencies and its test hook.
 *
 * Creation cannot be lost either way round: our row is committed first (incomplete, hidden from the
 * API) with the Idempotency-Key and exact request Stripe will get; Stripe is asked outside any
 * transaction; the row then takes Stripe's id and state. A row left incomplete is finished by asking
 * again under the same key: the same request again, the worker's sweep, or an event naming it in
 * the subscription's metadata. A decline (error_if_incomplete) creates nothing at Stripe, and the row
 * is removed.
 */
export class StripeSubscriptionCreation {
  /** Test hook: runs inside the transaction that records Stripe's subscription, just before it commits. */
  readonly faults: { beforeLinkCommit?: (subscriptionId: string) => void | Promise<void> } = {};

  constructor(
    protected readonly db: Kysely<Database>,
    protected readonly processors: Processors,
    protected readonly customers: CustomersService,
    protected readonly destinations: DestinationsService,
    protected readonly charges: ChargesService,
    protected readonly clock: PartnerClock,
    private readonly baseClock: Clock,
  ) {}

  async create(auth: PaymentsAuth, customerId: string, body: CreateSubscriptionBodyType): Promise<SubscriptionType> {
    const customer = await this.customers.row(auth, customerId);
    const donation = toDonation(body as DonationInput);
    await this.destinations.assertExists(auth, donation);
    const now = await this.clock.now(auth.partnerId, auth.environment);
    const pmId = body.paymentMethodId ?? customer.default_payment_method_id;
    if (!pmId) throw invalid('/paymentMethodId', 'Send paymentMethodId, or set a default payment method for the customer first');
    const hash = requestHash(`POST subscriptions ${customerId}`, body);
    const asked = this.baseClock.now();
    const id = prefixedId('sub', 24);
    const start = await this.db.transaction().execute(async (trx) => {
      // The same request again whose creator was never told: it is that one's retry.
      const earlier = await subscriptionsRepo.byRequest(trx, auth.accountId, hash, new Date(asked.getTime() - KEY_REPLAY_MS));
      if (earlier) return { earlier };
      const items = await stripeItems(trx, auth, body.items);
      const { currency, interval } = items[0]!.stored;
      const tip = subscriptionTip(body, currency, interval);
      const method = await this.charges.paymentMethod(trx, auth, customerId, pmId, now);
      const connected = await catalogRepo.defaultConnected(trx, auth.accountId);
      const request: HostedSubscriptionInput = {
        customerId,
        items: items.map((i) => i.hosted),
        paymentMethodId: method.id,
        currency,
        interval,
        recurringTip: Number(tip.recurring),
        oneTimeTip: Number(tip.once),
        connectedAccountId: connected?.id ?? null,
        cutBps: connected?.cut_bps ?? 0,
        description: donation.description,
        metadata: { ...Object.fromEntries(donation.metadata.map((kv) => [kv.key, kv.value])), [SUBSCRIPTION_ID_KEY]: id },
        idempotencyKey: `subscription:${id}`,
      };
      const fresh = await subscriptionsRepo.insert(trx, {
        id,
        account_id: auth.accountId,
        customer_id: customerId,
        currency,
        interval,
        items: JSON.stringify(items.map((i) => i.stored)),
        amount: items.reduce((sum, i) => sum + BigInt(i.stored.unitAmount) * BigInt(i.stored.quantity), 0n),
        tip: tip.recurring,
        tip_interval: tip.recurring > 0n ? interval : null,
        one_time_tip: tip.once,
        payment_method_id: method.id,
        donation: JSON.stringify(donation),
        status: 'incomplete',
        start_date: now,
        current_period_start: now,
        current_period_end: addInterval(now, interval),
        created_at: now,
        updated_at: now,
        processor_key: request.idempotencyKey,
        processor_request: JSON.stringify(request),
        request_hash: hash,
        lease_until: new Date(asked.getTime() + PROCESSOR_LEASE_MS),
        processor_asked_at: asked,
      });
      return { fresh };
    });
    if (start.earlier) return this.resume(auth, start.earlier);
    return toSubscription(await this.ask(auth, start.fresh!, { first: true, answered: true }));
  }

  /** Creations left incomplete (a crash, a lost answer), finished by asking Stripe again; leased like charges. */
  async reconcile(limit = 20): Promise<number> {
    const now = this.baseClock.now();
    const due = await this.db.transaction().execute((trx) => subscriptionsRepo.leaseAbandoned(trx, now, new Date(now.getTime() + PROCESSOR_LEASE_MS), limit));
    for (const { id, account_id } of due) {
      const auth = await accountAuth(this.db, account_id);
      const row = await this.db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
      if (row) await this.ask(auth, row, { first: false, answered: false }, false).catch(() => undefined);
    }
    return due.length;
  }

  /**
   * Our row takes Stripe's subscription: its id, state and the prices Stripe made. Once only: a row
   * already linked (by an event) is left as it is. `answered`: the creator is being told, so a
   * repeat of its request is a new subscription from now on.
   */
  async link(trx: Transaction<Database>, id: string, h: HostedSubscription, answered: boolean): Promise<SubscriptionRow> {
    const row = (await subscriptionsRepo.lockForUpdate(trx, id))!;
    const now = await this.rowNow(trx, row.account_id);
    if (row.processor_ref !== null) return answered && row.request_hash ? subscriptionsRepo.update(trx, id, { request_hash: null }) : row;
    return subscriptionsRepo.update(trx, id, {
      ...mirrorOf(h, now),
      processor_ref: h.id,
      items: JSON.stringify(withStripePrices(row.items, h)),
      lease_until: null,
      ...(answered ? { request_hash: null } : {}),
    });
  }

  private async rowNow(db: Db, accountId: string) {
    const auth = await accountAuth(db, accountId);
    return this.clock.now(auth.partnerId, auth.environment, db);
  }

  private async resume(auth: PaymentsAuth, row: SubscriptionRow): Promise<SubscriptionType> {
    if (row.status !== 'incomplete') {
      // Finished by the worker or an event after its own request failed: this caller is told now.
      return toSubscription(await subscriptionsRepo.update(this.db, row.id, { request_hash: null }));
    }
    const now = this.baseClock.now();
    const leased = await subscriptionsRepo.lease(this.db, row.id, now, new Date(now.getTime() + PROCESSOR_LEASE_MS));
    if (!leased) {
      throw new AppError('CONFLICT', `Subscription ${row.id} of this same request is being created right now; ask again in a few seconds`, { headers: { 'Retry-After': '2' } });
    }
    return toSubscription(await this.ask(auth, leased, { first: false, answered: true }));
  }

  /**
   * Asks Stripe to create the subscription under the row's key and exact request (within Stripe's
   * idempotency window a repeat is answered with the first result), or after the window looks it up
   * by our id in its metadata, then links the row.
   */
  private async ask(auth: PaymentsAuth, row: SubscriptionRow, a: { first: boolean; answered: boolean }, releaseOnError = true): Promise<SubscriptionRow> {
    const hosted = this.processors.hosted(auth);
    const firstAsked = row.processor_asked_at?.getTime() ?? 0;
    let created: HostedSubscription | null;
    try {
      created =
        a.first || this.baseClock.now().getTime() - firstAsked < KEY_REPLAY_MS
          ? await hosted.createSubscription(row.processor_request as unknown as HostedSubscriptionInput)
          : await hosted.findSubscription(SUBSCRIPTION_ID_KEY, row.id);
    } catch (err) {
      // Declined (nothing is created: error_if_incomplete), or refused before Stripe acted on the first attempt.
      if (err instanceof ChargeNotSent && (a.first || err.error instanceof AppError && err.error.code === 'CARD_DECLINED')) {
        await this.db.transaction().execute((trx) => subscriptionsRepo.deleteIncomplete(trx, row.id));
        throw err.error;
      }
      if (releaseOnError) await subscriptionsRepo.releaseLease(this.db, row.id, this.baseClock.now()).catch(() => undefined);
      const e = processorError(err instanceof ChargeNotSent ? err.error : err);
      throw new AppError(
        e.code,
        `${e.message.replace(` ${RETRY}`, '')} Subscription ${row.id} is being created until Stripe's answer is known; send the same request again for it: it is never created twice`,
        e.headers ? { headers: e.headers } : {},
      );
    }
    if (!created) {
      // A day on, Stripe has none: it was never created.
      await this.db.transaction().execute((trx) => subscriptionsRepo.deleteIncomplete(trx, row.id));
      throw notFound(`Subscription "${row.id}" at Stripe`);
    }
    try {
      return await this.db.transaction().execute(async (trx) => {
        const linked = await this.link(trx, row.id, created, a.answered);
        await this.faults.beforeLinkCommit?.(row.id);
        return linked;
      });
    } catch (err) {
      if (releaseOnError) await subscriptionsRepo.releaseLease(this.db, row.id, this.baseClock.now()).catch(() => undefined);
      if (err instanceof AppError) throw err;
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `Stripe created subscription ${row.id} but it could not be recorded yet; send the same request again for it: it is never created twice`,
        { headers: { 'Retry-After': '2' } },
      );
    }
  }
}
