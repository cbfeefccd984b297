import { formatTokens } from '../rewards/index.js';
import type { DonationRow } from './donations.repo.js';
import type { DonationStatusViewType } from './donations.schemas.js';

/** The fields every donation event carries; amounts in the smallest currency unit, as in create-link. */
export function eventBase(row: DonationRow) {
  return { partnerDonationId: row.id, amount: Number(row.amount), currency: row.currency, provider: row.provider };
}

export function toView(row: DonationRow, slug: string): DonationStatusViewType {
  return {
    partnerDonationId: row.id,
    status: row.status,
    amount: Number(row.amount),
    tip: Number(row.tip),
    currency: row.currency,
    provider: row.provider,
    frequency: row.frequency,
    nonprofitSlug: slug,
    tokensAwarded: row.tokens_awarded === null ? null : formatTokens(row.tokens_awarded),
    failureReason: row.failure_reason,
    createdAt: row.created_at.toISOString(),
    completedAt: row.completed_at ? row.completed_at.toISOString() : null,
  };
}
