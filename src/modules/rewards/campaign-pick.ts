import { AppError } from '../../platform/errors.js';
import type { CampaignRow } from './actions.repo.js';
import type { CampaignStatus } from '../../platform/db/schema.js';

export interface PickableCampaign {
  id: string;
  status: CampaignStatus;
  archived_at: Date | null;
  action_types: readonly string[];
  starts_at: Date | null;
  ends_at: Date | null;
  priority: number;
  created_at: Date;
}

/** ACTIVE, not archived, and `now` inside [startsAt, endsAt). */
export function isRunning(c: PickableCampaign, now: Date): boolean {
  return (
    c.status === 'ACTIVE' &&
    c.archived_at === null &&
    (c.starts_at === null || c.starts_at.getTime() <= now.getTime()) &&
    (c.ends_at === null || now.getTime() < c.ends_at.getTime())
  );
}

/**
 * The campaign an action of `actionType` goes through at `now`: among running campaigns that cover the type,
 * the highest priority; on a tie the oldest (then the smallest id, so the choice never depends on row order).
 */
export function pickHighestPriority<T extends PickableCampaign>(rows: readonly T[], actionType: string, now: Date): T | undefined {
  let best: T | undefined;
  for (const c of rows) {
    if (!isRunning(c, now) || !c.action_types.includes(actionType)) continue;
    if (
      best === undefined ||
      c.priority > best.priority ||
      (c.priority === best.priority &&
        (c.created_at.getTime() < best.created_at.getTime() || (c.created_at.getTime() === best.created_at.getTime() && c.id < best.id)))
    ) {
      best = c;
    }
  }
  return best;
}

/**
 * The campaign an action goes through: the one it names (which must be running and cover the
 * action type), else the highest-priority running campaign for the type, else none.
 */
export function campaignForAction(
  action: { campaignId: string | null; actionType: string },
  byId: Map<string, CampaignRow>,
  candidates: CampaignRow[],
  now: Date,
): { ok: true; campaign: CampaignRow | null } | { ok: false; error: AppError } {
  if (!action.campaignId) return { ok: true, campaign: pickHighestPriority(candidates, action.actionType, now) ?? null };
  const c = byId.get(action.campaignId);
  if (!c) return { ok: false, error: new AppError('NOT_FOUND', `Campaign ${action.campaignId} was not found`) };
  if (!isRunning(c, now)) {
    return { ok: false, error: new AppError('INVALID_STATE', `Campaign ${c.id} is not running (status ${c.status}); activate it or leave campaignId out`) };
  }
  if (!c.action_types.includes(action.actionType)) {
    return { ok: false, error: new AppError('VALIDATION_ERROR', `Campaign ${c.id} does not apply to ${action.actionType} actions (it covers ${c.action_types.join(', ')})`) };
  }
  return { ok: true, campaign: c };
}
