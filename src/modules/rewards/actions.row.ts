import type { StoredStakeholder } from '../../platform/db/schema.js';
import type { CampaignRule, PoolState } from './actions.engine.js';
import type { NormalizedAction } from './actions.input.js';
import type { NewActionRow } from './actions.repo.js';

/** The stored form of one decided action; a failed action still lists who it was for. */
export function actionRow(
  a: NormalizedAction,
  id: string,
  status: 'COMPLETED' | 'FAILED',
  rule: CampaignRule | null,
  pool: PoolState | null,
  tokens: bigint,
  stakeholders: StoredStakeholder[],
  ledgerTxId: string | null,
  failureCode: string | null,
  failureMessage: string | null,
  now: Date,
  userIds: Map<string, string>,
): NewActionRow {
  return {
    id,
    idempotency_key: a.idempotencyKey,
    request_hash: a.requestHash,
    action_type: a.actionType,
    amount_minor: a.amountMinor,
    currency: a.currency,
    status,
    campaign_id: rule?.id ?? null,
    token_pool_id: pool?.id ?? null,
    tokens_distributed: tokens,
    stakeholders:
      stakeholders.length > 0
        ? stakeholders
        : a.stakeholders.map((s) => ({ stakeholderTypeCode: s.stakeholderTypeCode, partnerUserId: s.partnerUserId, userId: userIds.get(s.partnerUserId) ?? null, units: '0', transactionId: null })),
    ledger_transaction_id: ledgerTxId,
    metadata: a.metadata,
    failure_code: failureCode,
    failure_message: failureMessage,
    created_at: now,
  };
}
