import { AppError } from '../../platform/errors.js';
import type { CampaignRow } from './actions.repo.js';
import { isRunning, pickCampaign as pickHighestPriority } from './campaigns.rules.js';

/**
 * The campaign an action goes through: the one it names (which must be running and cover the
 * action type), else the highest-priority running campaign for the type, else none.
 */
export function pickCampaign(
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
