import { objectId } from '../../platform/crypto/ids.js';
import { AppError } from '../../platform/errors.js';
import type { NormalizedAction } from './actions.input.js';
import type { CampaignRow, NewActionRow } from './actions.repo.js';
import type { ExistingAction } from './actions.batch.repo.js';
import { campaignForAction } from './campaign-pick.js';

/**
 * The first steps of a submission batch, before any balance is looked at: duplicates of earlier or
 * neighbouring requests, the users each action needs, and the campaign each action goes through.
 */

export type SubmitOutcome =
  | { kind: 'recorded'; row: NewActionRow }
  | { kind: 'duplicate'; original: ExistingAction | NewActionRow; sameRequest: boolean }
  | { kind: 'rejected'; error: AppError };

export interface Work {
  action: NormalizedAction;
  index: number;
}

export interface NewUser {
  id: string;
  external_user_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  created_at: Date;
}

/** What the batch read before deciding: earlier actions of its keys, its users, candidate campaigns. */
export interface BatchSnapshot {
  existing: ExistingAction[];
  users: { id: string; external_user_id: string }[];
  campaigns: CampaignRow[];
  defaultPoolId: string | null;
}

/** Steps 1-3: duplicates, unknown users, the campaign of each action. Fills `outcomes` for the refused. */
export interface BatchPlan {
  outcomes: (SubmitOutcome | undefined)[];
  /** Index of the first action of each idempotency key; repeats resolve against it. */
  firstInBatch: Map<string, number>;
  decided: Work[];
  chosen: Map<number, CampaignRow | null>;
  userIds: Map<string, string>;
  toCreate: Map<string, NewUser>;
  poolOf: (w: Work) => string | null;
}

export function planBatch(actions: NormalizedAction[], snapshot: BatchSnapshot, now: Date): BatchPlan {
  const outcomes: (SubmitOutcome | undefined)[] = actions.map(() => undefined);
  const existing = new Map(snapshot.existing.map((r) => [r.idempotency_key, r]));
  const firstInBatch = new Map<string, number>();
  const work: Work[] = [];
  actions.forEach((action, index) => {
    const before = existing.get(action.idempotencyKey);
    if (before) {
      outcomes[index] = { kind: 'duplicate', original: before, sameRequest: before.request_hash === action.requestHash };
      return;
    }
    if (firstInBatch.has(action.idempotencyKey)) return; // resolved after the first one is decided
    firstInBatch.set(action.idempotencyKey, index);
    work.push({ action, index });
  });

  const userIds = new Map(snapshot.users.map((u) => [u.external_user_id, u.id]));
  const claimUsers = (items: Work[]) => {
    const toCreate = new Map<string, NewUser>();
    const accepted: Work[] = [];
    for (const w of items) {
      const missing = w.action.stakeholders.filter((s) => !userIds.has(s.partnerUserId) && !toCreate.has(s.partnerUserId));
      if (missing.length > 0 && !w.action.autoCreateUsers) {
        outcomes[w.index] = {
          kind: 'rejected',
          error: new AppError('USER_NOT_FOUND', `Unknown user(s) ${missing.map((m) => `"${m.partnerUserId}"`).join(', ')}; create them first or send "autoCreateUsers": true`),
        };
        continue;
      }
      for (const s of missing) {
        toCreate.set(s.partnerUserId, {
          id: objectId(now),
          external_user_id: s.partnerUserId,
          email: s.userEmail,
          first_name: s.userFirstName,
          last_name: s.userLastName,
          created_at: now,
        });
      }
      accepted.push(w);
    }
    return { accepted, toCreate };
  };
  const live = claimUsers(work).accepted;

  const candidates = snapshot.campaigns;
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const chosen = new Map<number, CampaignRow | null>();
  const picked: Work[] = [];
  for (const w of live) {
    const pick = campaignForAction(w.action, byId, candidates, now);
    if (!pick.ok) {
      outcomes[w.index] = { kind: 'rejected', error: pick.error };
      continue;
    }
    chosen.set(w.index, pick.campaign);
    picked.push(w);
  }
  // Users are created only for actions that passed every check: creating them before the campaign
  // check left the auto-created users of a request refused for its campaign (404/409) behind.
  // Claiming again over the survivors also refuses an action that relied on a user only a refused
  // action would create.
  const { accepted: decided, toCreate } = claimUsers(picked);
  const defaultPool = snapshot.defaultPoolId;
  return {
    outcomes,
    firstInBatch,
    decided,
    chosen,
    userIds,
    toCreate,
    poolOf: (w: Work) => chosen.get(w.index)?.token_pool_id ?? defaultPool ?? null,
  };
}

/** The ids whose rows a batch depends on: campaigns, pools, and the capped campaigns' spend rows. */
export function batchDependencies(plan: BatchPlan) {
  const campaignIds = [...new Set(plan.decided.map((w) => plan.chosen.get(w.index)?.id).filter((c): c is string => !!c))].sort();
  const poolIds = [...new Set(plan.decided.map(plan.poolOf).filter((p): p is string => !!p))].sort();
  const capped = [...new Set(plan.decided.map((w) => plan.chosen.get(w.index)).filter((c) => !!c && c.per_user_cap !== null).map((c) => c!.id))].sort();
  return { campaignIds, poolIds, capped };
}
