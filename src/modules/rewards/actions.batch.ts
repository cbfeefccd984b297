import type { Kysely, Transaction } from 'kysely';
import { objectId } from '../../platform/crypto/ids.js';
import type { Database, StoredStakeholder } from '../../platform/db/schema.js';
import { AppError } from '../../platform/errors.js';
import { newEvent, writeEvents, type OutboxEvent } from '../../platform/outbox/outbox.js';
import { accountIds, assertBalanced, TOKEN_ASSET, type NewLedgerTransaction } from '../ledger/index.js';
import { formatTokens } from './distribution.js';
import { applyPerUserCap, campaignRule, judge, planReward, type CampaignRule, type PoolState } from './actions.engine.js';
import type { NormalizedAction } from './actions.input.js';
import { usersRepo } from '../users/users.repo.js';
import { type CampaignRow, type NewActionRow, type NewCreditRow, type Scope } from './actions.repo.js';
import { batchRepo, type ExistingAction } from './actions.batch.repo.js';
import { campaignForAction } from './campaign-pick.js';
import { actionRow } from './actions.row.js';
import { afterPoolBalanceChange } from './pools.service.js';
import type { PoolWithBalance } from './pools.repo.js';

const DAY_MS = 86_400_000;

export type SubmitOutcome =
  | { kind: 'recorded'; row: NewActionRow }
  | { kind: 'duplicate'; original: ExistingAction | NewActionRow; sameRequest: boolean }
  | { kind: 'rejected'; error: AppError };

/** A concurrent writer claimed one of our idempotency keys first; the batch is run again. */
export class KeyRaceError extends Error {}

interface Work {
  action: NormalizedAction;
  index: number;
}

/**
 * One database transaction for a batch of submissions of one partner and environment: it locks the
 * campaigns and pools involved (in id order), decides every action in arrival order against the
 * locked balances and budgets, and writes actions, ledger, token transactions, budgets and outbox
 * events with a fixed number of statements whatever the batch size. Each submission still gets its
 * own outcome: recorded (completed or failed), a duplicate of an earlier request, or rejected.
 */
export async function runSubmitBatch(db: Kysely<Database>, scope: Scope, actions: NormalizedAction[], now: Date): Promise<SubmitOutcome[]> {
  return db.transaction().execute((trx) => submitInTransaction(trx, scope, actions, now));
}

async function submitInTransaction(trx: Transaction<Database>, scope: Scope, actions: NormalizedAction[], now: Date): Promise<SubmitOutcome[]> {
  const outcomes: (SubmitOutcome | undefined)[] = actions.map(() => undefined);

  // 1. One read: keys seen before, the users named, candidate campaigns, the default pool.
  const externalIdsAll = [...new Set(actions.flatMap((a) => a.stakeholders.map((s) => s.partnerUserId)))];
  const explicitAll = [...new Set(actions.map((a) => a.campaignId).filter((c): c is string => c !== null))];
  const snapshot = await batchRepo.read(trx, scope, [...new Set(actions.map((a) => a.idempotencyKey))], externalIdsAll, explicitAll, now);
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

  // 2. Users: known ones, and the ones to create where the request allows it.
  const userIds = new Map(snapshot.users.map((u) => [u.external_user_id, u.id]));
  const claimUsers = (items: Work[]) => {
    const toCreate = new Map<string, { id: string; external_user_id: string; email: string | null; first_name: string | null; last_name: string | null; created_at: Date }>();
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

  // 3. Campaign and pool of each action.
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
  // Users are created only for actions that passed every check: creating them in step 2 left the
  // auto-created users of a request refused for its campaign (404/409) behind. Claiming again over
  // the survivors also refuses an action that relied on a user only a refused action would create.
  const { accepted: decided, toCreate } = claimUsers(picked);
  if (toCreate.size > 0) {
    await usersRepo.insertMany(trx, scope, [...toCreate.values()]);
    // Another writer may have created some of them first: read back the ids that won.
    for (const u of await usersRepo.findMany(trx, scope, [...toCreate.keys()])) userIds.set(u.external_user_id, u.id);
  }
  const defaultPool = snapshot.defaultPoolId;
  const poolOf = (w: Work) => chosen.get(w.index)?.token_pool_id ?? defaultPool ?? null;

  // 4. One statement takes the locks, always in the same order: campaigns, pool accounts, per-user spend.
  const campaignIds = [...new Set(decided.map((w) => chosen.get(w.index)?.id).filter((c): c is string => !!c))].sort();
  const poolIds = [...new Set(decided.map(poolOf).filter((p): p is string => !!p))].sort();
  const capped = candidates.filter((c) => campaignIds.includes(c.id) && c.per_user_cap !== null).map((c) => c.id);
  const locked = await batchRepo.lock(trx, campaignIds, poolIds, capped, [...userIds.values()]);
  const rules = new Map<string, CampaignRule>(locked.campaigns.map((r) => [r.id, campaignRule(r)]));
  const pools = new Map<string, PoolWithBalance>(locked.pools.map((p) => [p.id, p]));
  const poolState = new Map<string, PoolState>(
    [...pools.values()].map((p) => [p.id, { id: p.id, accountId: p.account_id, status: p.status, expiresAt: p.expires_at, balance: BigInt(p.balance) }]),
  );
  const spent = new Map<string, bigint>();
  for (const r of locked.spend) spent.set(`${r.campaign_id}:${r.user_id}`, r.spent);

  // 5. Decide in arrival order against the running balances.
  const rows: NewActionRow[] = [];
  const ledgerTxs: NewLedgerTransaction[] = [];
  const credits: NewCreditRow[] = [];
  const events: OutboxEvent[] = [];
  const campaignSpend = new Map<string, bigint>();
  const userSpend = new Map<string, { campaignId: string; userId: string; units: bigint }>();
  for (const w of decided) {
    const a = w.action;
    const rule = chosen.get(w.index) ? (rules.get(chosen.get(w.index)!.id) ?? null) : null;
    const poolId = poolOf(w);
    const pool = poolId ? (poolState.get(poolId) ?? null) : null;
    const userSpent = new Map<string, bigint>();
    if (rule?.perUserCap !== null && rule) {
      for (const uid of userIds.values()) {
        const v = spent.get(`${rule.id}:${uid}`);
        if (v !== undefined) userSpent.set(uid, v);
      }
    }
    const plan = applyPerUserCap(planReward(a, rule), rule, (ext) => userIds.get(ext), userSpent);
    const verdict = judge(plan, rule, pool, now);
    const id = objectId(now);
    if (!verdict.ok) {
      rows.push(actionRow(a, id, 'FAILED', rule, pool, 0n, [], null, verdict.code, verdict.message, now, userIds));
      events.push(newEvent(scope.partnerId, scope.environment, 'action.failed', {
        actionId: id, idempotencyKey: a.idempotencyKey, actionType: a.actionType, status: 'FAILED', errorCode: verdict.code, errorMessage: verdict.message,
      }, now));
      continue;
    }
    const given = plan.allocations.filter((al) => al.units > 0n);
    const ledgerTxId = given.length > 0 ? objectId(now) : null;
    const creditIds = given.map(() => objectId(now));
    if (ledgerTxId && pool) {
      ledgerTxs.push({
        id: ledgerTxId,
        partnerId: scope.partnerId,
        environment: scope.environment,
        kind: 'REWARD',
        reference: id,
        createdAt: now,
        postings: [
          { accountId: pool.accountId, asset: TOKEN_ASSET, amount: -plan.distributedUnits },
          ...given.map((al) => ({ accountId: accountIds.wallet(userIds.get(al.partnerUserId)!), asset: TOKEN_ASSET, amount: al.units })),
        ],
      });
      pool.balance -= plan.distributedUnits;
      const poolRow = pools.get(pool.id)!;
      given.forEach((al, i) => {
        credits.push({
          id: creditIds[i]!,
          user_id: userIds.get(al.partnerUserId)!,
          external_user_id: al.partnerUserId,
          action_id: id,
          stakeholder_type_code: al.stakeholderTypeCode,
          amount: al.units,
          available_at: new Date(now.getTime() + (poolRow.vesting_days ?? 0) * DAY_MS),
          expires_at: poolRow.grant_expiry_days ? new Date(now.getTime() + poolRow.grant_expiry_days * DAY_MS) : null,
          token_pool_id: pool.id,
          campaign_id: rule?.id ?? null,
          ledger_transaction_id: ledgerTxId,
          created_at: now,
        });
        events.push(newEvent(scope.partnerId, scope.environment, 'transaction.completed', {
          transactionId: creditIds[i], actionId: id, externalUserId: al.partnerUserId, amount: formatTokens(al.units), type: 'CREDIT',
        }, now));
      });
      if (rule) {
        rule.budgetSpent += plan.distributedUnits;
        campaignSpend.set(rule.id, (campaignSpend.get(rule.id) ?? 0n) + plan.distributedUnits);
        if (rule.perUserCap !== null) {
          for (const al of given) {
            const uid = userIds.get(al.partnerUserId)!;
            const k = `${rule.id}:${uid}`;
            spent.set(k, (spent.get(k) ?? 0n) + al.units);
            const e = userSpend.get(k) ?? { campaignId: rule.id, userId: uid, units: 0n };
            e.units += al.units;
            userSpend.set(k, e);
          }
        }
      }
    }
    let c = 0;
    const stakeholders: StoredStakeholder[] = plan.allocations.map((al) => ({
      stakeholderTypeCode: al.stakeholderTypeCode,
      partnerUserId: al.partnerUserId,
      userId: userIds.get(al.partnerUserId) ?? null,
      units: al.units.toString(),
      transactionId: al.units > 0n ? creditIds[c++]! : null,
    }));
    rows.push(actionRow(a, id, 'COMPLETED', rule, pool, plan.distributedUnits, stakeholders, ledgerTxId, null, null, now, userIds));
    events.push(newEvent(scope.partnerId, scope.environment, 'action.completed', {
      actionId: id,
      idempotencyKey: a.idempotencyKey,
      actionType: a.actionType,
      status: 'COMPLETED',
      tokensDistributed: formatTokens(plan.distributedUnits),
      transactionIds: creditIds,
      stakeholders: plan.allocations.map((al) => ({ stakeholderTypeCode: al.stakeholderTypeCode, partnerUserId: al.partnerUserId, tokens: formatTokens(al.units) })),
    }, now));
  }

  // 6. One statement writes it all. A key claimed concurrently by another writer, or a pool that
  // would go below zero, shows in the counts: roll back and let the batch run again.
  const walletCredits = new Map<string, bigint>();
  for (const c of credits) walletCredits.set(accountIds.wallet(c.user_id), (walletCredits.get(accountIds.wallet(c.user_id)) ?? 0n) + c.amount);
  const poolDeltas = new Map<string, bigint>();
  for (const t of ledgerTxs) {
    const debit = t.postings[0]!;
    poolDeltas.set(debit.accountId, (poolDeltas.get(debit.accountId) ?? 0n) + debit.amount);
  }
  for (const t of ledgerTxs) assertBalanced(t);
  const written = await batchRepo.write(trx, scope, {
    actions: rows,
    ledger: ledgerTxs,
    poolDeltas: [...poolDeltas].sort(([x], [y]) => (x < y ? -1 : 1)).map(([accountId, delta]) => ({ accountId, delta })),
    walletCredits: [...walletCredits].sort(([x], [y]) => (x < y ? -1 : 1)).map(([accountId, amount]) => ({ accountId, amount })),
    credits,
    campaignSpend: [...campaignSpend].sort(([x], [y]) => (x < y ? -1 : 1)).map(([id, units]) => ({ id, units })),
    userSpend: [...userSpend.values()].sort((x, y) => (x.campaignId + x.userId < y.campaignId + y.userId ? -1 : 1)),
    events,
    now,
  });
  if (written.actionsInserted !== rows.length) throw new KeyRaceError('an idempotency key was claimed concurrently');
  if (written.poolBalances.size !== poolDeltas.size) throw new Error('a pool balance would have gone below zero under its own lock');
  const followUps: OutboxEvent[] = [];
  for (const pool of pools.values()) {
    const after = written.poolBalances.get(pool.account_id);
    if (after !== undefined) await afterPoolBalanceChange(trx, pool, after, now, followUps);
  }
  // Pool alerts and refills are rare; their events follow in their own statement.
  await writeEvents(trx, followUps);

  rows.forEach((row) => {
    const index = actions.findIndex((a, i) => outcomes[i] === undefined && a.idempotencyKey === row.idempotency_key && firstInBatch.get(a.idempotencyKey) === i);
    outcomes[index] = { kind: 'recorded', row };
  });
  // Repeats of a key within this batch resolve against the first occurrence.
  return actions.map((a, i) => {
    const o = outcomes[i];
    if (o) return o;
    const first = outcomes[firstInBatch.get(a.idempotencyKey)!];
    if (first?.kind === 'recorded') return { kind: 'duplicate', original: first.row, sameRequest: first.row.request_hash === a.requestHash };
    return first ?? { kind: 'rejected', error: new AppError('INTERNAL_ERROR', 'action was not decided') };
  });
}
