// Scheduled campaign transitions: a DRAFT waiting with autoStart becomes ACTIVE at startsAt, and an ACTIVE or
// PAUSED campaign becomes ENDED at endsAt. Each transition and its campaign.status_changed event are written in
// one transaction, exactly once, however many worker processes run this at the same time.
import type { Kysely } from 'kysely';
import type { Database, Environment } from '../../platform/db/schema.js';
import { campaignsRepo } from './campaigns.repo.js';
import { writeStatusEvents } from './campaigns.service.js';
import type { PartnerClock } from './partner-clock.js';

const BATCH = 500;

/**
 * Applies every transition that is due and returns how many were made. Each partner environment is judged at
 * its own time (PartnerClock: a sandbox may run ahead of real time). Optional filters limit the run to one
 * partner and/or environment (the sandbox "advance the clock" flow runs it for one partner right away).
 */
export async function runCampaignSchedule(
  db: Kysely<Database>,
  partnerClock: PartnerClock,
  filter: { partnerId?: string; environment?: Environment } = {},
): Promise<number> {
  // PartnerClock serves production on real time, so this is the base every sandbox offset is added to. The
  // SQL pre-filter uses it with the stored offsets; the transitions themselves use PartnerClock's answer.
  const realNow = await partnerClock.now(filter.partnerId ?? '', 'production');
  const pairs = await campaignsRepo.pairsWithDueTransitions(db, realNow, filter);
  let applied = 0;
  for (const pair of pairs) {
    const now = await partnerClock.now(pair.partner_id, pair.environment);
    for (;;) {
      const count = await db.transaction().execute(async (trx) => {
        const done = await campaignsRepo.applyDueTransitions(trx, pair.partner_id, pair.environment, now, BATCH);
        for (const t of done) {
          await writeStatusEvents(
            trx,
            { id: t.id, partnerId: t.partner_id, environment: t.environment },
            [{ previousStatus: t.previous_status, status: t.status, reason: 'schedule' }],
            now,
          );
        }
        return done.length;
      });
      applied += count;
      if (count < BATCH) break;
    }
  }
  return applied;
}

/**
 * Runs the schedule every `intervalMs` until stopped (for the worker). Runs never overlap within a process;
 * errors go to `onError` and the next tick tries again.
 */
export function startCampaignScheduler(
  db: Kysely<Database>,
  partnerClock: PartnerClock,
  options: { intervalMs?: number; onError?: (err: unknown) => void; onApplied?: (count: number) => void } = {},
): { stop(): Promise<void> } {
  const intervalMs = options.intervalMs ?? 10_000;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = runCampaignSchedule(db, partnerClock)
      .then((count) => {
        if (count > 0) options.onApplied?.(count);
      })
      .catch((err: unknown) => options.onError?.(err))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
