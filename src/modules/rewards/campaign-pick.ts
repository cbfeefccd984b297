import { AppError } from '../../platform/errors.js';
import type { CampaignRow } from './actions.repo.js';

function running(c: CampaignRow, now: Date) {
  return (
    c.status === 'ACTIVE' &&
    c.archived_at === null &&
    (c.starts_at === null || c.starts_at.getTime() <= now.getTime()) &&
    (c.ends_at === null || c.ends_at.getTime() > now.getTime())
  );
}

/**
 * The campaign an action goes through: the one it names (which must be running and cover the
 * action type), else the highest-priority running campaign for the type (oldest on a tie), else none.
 */
export function pickCampaign(
  action: { campaignId: string | null; actionType: string },
  byId: Map<string, CampaignRow>,
  candidates: CampaignRow[],
  now: Date,
): { ok: true; campaign: CampaignRow | null } | { ok: false; error: AppError } {
  if (action.campaignId) {
    const c = byId.get(action.campaignId);
    if (!c) return { ok: false, error: new AppError('NOT_FOUND', `Campaign ${action.campaignId} was not found`) };
    if (!running(c, now)) {
      return { ok: false, error: new AppError('INVALID_STATE', `Campaign ${c.id} is not running (status ${c.status}); activate it or leave campaignId out`) };
    }
    if (!c.action_types.includes(action.actionType)) {
      return { ok: false, error: new AppError('VALIDATION_ERROR', `Campaign ${c.id} does not apply to ${action.actionType} actions (it covers ${c.action_types.join(', ')})`) };
    }
    return { ok: true, campaign: c };
  }
  let best: CampaignRow | null = null;
  for (const c of candidates) {
    if (!running(c, now) || !c.action_types.includes(action.actionType)) continue;
    if (
      !best ||
      c.priority > best.priority ||
      (c.priority === best.priority && (c.created_at.getTime() < best.created_at.getTime() || (c.created_at.getTime() === best.created_at.getTime() && c.id < best.id)))
    ) {
      best = c;
    }
  }
  return { ok: true, campaign: best };
}
