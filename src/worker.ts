import { sql } from 'kysely';
import { startCampaignScheduler } from './modules/rewards/campaigns.scheduler.js';
import type { Services } from './services.js';

export interface BackgroundWork {
  stop(): Promise<void>;
}

/**
 * The background work: webhook fan-out and delivery, campaign schedules, grant expiry, bank-debit settlement, Stripe charges left processing, subscription billing and donation rewards. It runs inside `serve` (one process
 * is enough for the embedded setup) and in `worker` processes; every step is safe to run from
 * several processes at once (SKIP LOCKED claims and guarded updates), so running both is fine.
 */
export function startBackgroundWork(
  services: Services,
  log: { warn(obj: object, msg: string): void },
  options: { intervalMs?: number; deliverWebhooks?: boolean } = {},
): BackgroundWork {
  const intervalMs = options.intervalMs ?? 10_000;
  const dispatcher = options.deliverWebhooks === false ? undefined : services.dispatcher.start((err) => log.warn({ err }, 'webhook delivery step failed'));
  const scheduler = startCampaignScheduler(services.db, services.partnerClock, {
    intervalMs,
    onError: (err) => log.warn({ err }, 'campaign schedule failed'),
  });
  let running: Promise<void> | undefined;
  const sweep = async () => {
    // Bank debits whose settlement day has come (by each partner's sandbox clock in the sandbox).
    while ((await services.charges.settleDue()) > 0);
    // Stripe charges whose answer was never recorded (a crash, a failed commit): Stripe is asked again.
    while ((await services.charges.reconcileProcessing()) > 0);
    // Stripe subscriptions whose creation was never recorded: Stripe is asked again under the same key.
    while ((await services.stripeSubscriptions.reconcile()) > 0);
    await services.subscriptionBilling.billDue();
    while ((await services.donationRewards.runPending()) > 0);
    await services.donations.sweep();
    // Only partner environments whose pools let grants expire can have anything to expire.
    const scopes = await sql<{ partner_id: string; environment: 'sandbox' | 'production' }>`
      SELECT DISTINCT partner_id, environment FROM token_pools WHERE grant_expiry_days IS NOT NULL`.execute(services.db);
    for (const s of scopes.rows) await services.wallets.sweepPartner({ partnerId: s.partner_id, environment: s.environment });
  };
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((err: unknown) => log.warn({ err }, 'expiry sweep failed'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await dispatcher?.stop();
      await scheduler.stop();
      await running;
    },
  };
}
