import type { Donation } from './donation.js';
import type { SubscriptionRow } from './subscriptions.billing.js';
import type { SubscriptionType } from './subscriptions.schemas.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toSubscription(row: SubscriptionRow): SubscriptionType {
  const d = row.donation as unknown as Donation;
  return {
    subscriptionId: row.id,
    // Incomplete rows (a Stripe subscription being created) are not read out through the API; one that
    // reaches here is a creation whose first payment Stripe has not confirmed yet.
    status: row.status === 'incomplete' ? 'past_due' : row.status,
    startDate: row.start_date.toISOString(),
    endDate: iso(row.ended_at),
    currentPeriodEnd: row.current_period_end.toISOString(),
    cancelAtPeriodEnd: row.cancel_at_period_end,
    cancelAt: iso(row.cancel_at),
    customerId: row.customer_id,
    paused: row.paused,
    resumes: iso(row.resumes_at),
    amount: Number(row.amount),
    currency: row.currency,
    interval: row.interval,
    tip: row.tip_interval ? Number(row.tip) : 0,
    tipInterval: row.tip_interval,
    tipCurrency: row.tip_interval ? row.currency : null,
    oneTimeTip: Number(row.one_time_tip),
    oneTimeTipCurrency: row.one_time_tip > 0n ? row.currency : null,
    charityId: d.charityId,
    subaccountNumber: d.subaccountNumber,
    givingaAccountNumber: d.givingaAccountNumber,
    masterAccountUsername: d.masterAccountUsername,
    subscriptionItems: row.items.map((i) => ({ priceId: i.priceId, productId: i.productId, unitAmount: i.unitAmount, quantity: i.quantity, currency: i.currency, interval: i.interval })),
    paymentMethodId: row.payment_method_id,
    notes: d.notes,
    activityId: d.activityId,
    activityId2: d.activityId2,
    activityId3: d.activityId3,
    anonymity: d.anonymity,
  };
}
