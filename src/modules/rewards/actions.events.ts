import type { StoredStakeholder } from '../../platform/db/schema.js';
import type { NewActionRow } from './actions.repo.js';
import { formatTokens } from './distribution.js';

/**
 * The data of the events a submission batch writes (their shapes are in the webhooks event
 * catalogue). They are built here rather than in the batch statement: the outbox stores the text it
 * is given (outbox_events.data is json), and building the same objects with jsonb functions and
 * numeric token arithmetic cost PostgreSQL about 10 % of its time per action on the serial path.
 */

/** The transaction.completed of one credit. */
export function creditEventData(action: Pick<NewActionRow, 'id'>, h: StoredStakeholder) {
  return { transactionId: h.transactionId, actionId: action.id, externalUserId: h.partnerUserId, amount: formatTokens(BigInt(h.units)), type: 'CREDIT' };
}

/** The action.completed or action.failed of an action, by its status. */
export function actionEvent(a: Pick<NewActionRow, 'id' | 'idempotency_key' | 'action_type' | 'status' | 'tokens_distributed' | 'stakeholders' | 'failure_code' | 'failure_message'>) {
  const head = { actionId: a.id, idempotencyKey: a.idempotency_key, actionType: a.action_type };
  if (a.status === 'FAILED') {
    return { type: 'action.failed', data: { ...head, status: 'FAILED', errorCode: a.failure_code, errorMessage: a.failure_message } };
  }
  return {
    type: 'action.completed',
    data: {
      ...head,
      status: 'COMPLETED',
      tokensDistributed: formatTokens(a.tokens_distributed),
      transactionIds: a.stakeholders.flatMap((h) => (h.transactionId ? [h.transactionId] : [])),
      stakeholders: a.stakeholders.map((h) => ({ stakeholderTypeCode: h.stakeholderTypeCode, partnerUserId: h.partnerUserId, tokens: formatTokens(BigInt(h.units)) })),
    },
  };
}
