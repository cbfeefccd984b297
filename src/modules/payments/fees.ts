/**
 * Who gets what from one donation, in integer minor units (contract B4, issue: money ledger).
 *
 * The donor pays `gross`. From it the processor keeps `fee`, the partner's connected account gets
 * `partnerCut` (a share of the donation amount, not of the tip), the platform gets the `tip`, and the
 * destination (charity, giving account, ...) gets the rest. Without cover the destination bears the
 * fee and the cut. `customerCoveringFee` grosses the charge up until what is left after the fee is
 * everything the donor meant to give; `customerCoveringPartnerCut` adds the cut on top of the amount.
 * Either way the destination never receives less than the fee-free share it was promised, and the
 * parts always add up to the gross.
 */

export interface FeeRate {
  /** Percentage part in basis points (2.9 % = 290). */
  bps: bigint;
  /** Fixed part in the currency's minor units. */
  fixed: bigint;
  /** Upper bound of the whole fee, or null. */
  cap: bigint | null;
}

export interface FeeSchedule {
  card: FeeRate;
  ach: FeeRate;
}

/** Defaults: cards 2.9 % + 30 cents, ACH 0.8 % capped at $5. */
export const DEFAULT_FEES: FeeSchedule = {
  card: { bps: 290n, fixed: 30n, cap: null },
  ach: { bps: 80n, fixed: 0n, cap: 500n },
};

/**
 * The fixed part and the cap are set for two-digit currencies (cents); other currencies scale them
 * by their minor-unit digits (JPY has none: 30 cents become 0 yen; KWD has three: 300 fils).
 */
export function rateFor(rate: FeeRate, currencyDigits: number): FeeRate {
  const scale = (v: bigint) => (currencyDigits >= 2 ? v * 10n ** BigInt(currencyDigits - 2) : v / 10n ** BigInt(2 - currencyDigits));
  return { bps: rate.bps, fixed: scale(rate.fixed), cap: rate.cap === null ? null : scale(rate.cap) };
}

/** Half-up rounding of value × bps / 10 000. */
export const percentOf = (value: bigint, bps: bigint) => (value * bps + 5_000n) / 10_000n;

export function feeOf(gross: bigint, rate: FeeRate): bigint {
  const fee = percentOf(gross, rate.bps) + rate.fixed;
  return rate.cap !== null && fee > rate.cap ? rate.cap : fee;
}

/**
 * The smallest gross whose remainder after the fee is at least `net`. gross − fee(gross) never
 * decreases as gross grows (the fee rises by at most one unit per unit), so the first gross that
 * reaches `net` is found by bisection.
 */
export function grossUp(net: bigint, rate: FeeRate): bigint {
  if (rate.bps >= 10_000n) throw new Error('a fee of 100 % or more cannot be covered');
  let lo = net;
  let hi = ((net + rate.fixed) * 10_000n) / (10_000n - rate.bps) + 2n;
  while (hi - feeOf(hi, rate) < net) hi *= 2n;
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    if (mid - feeOf(mid, rate) >= net) hi = mid;
    else lo = mid + 1n;
  }
  return lo;
}

export interface SplitInput {
  amount: bigint;
  tip: bigint;
  rate: FeeRate;
  /** The connected account's cut in basis points, 0 without one. */
  cutBps: bigint;
  coverFee: boolean;
  coverCut: boolean;
}

export interface Split {
  gross: bigint;
  fee: bigint;
  partnerCut: bigint;
  tip: bigint;
  destination: bigint;
}

export function splitDonation(input: SplitInput): Split {
  const partnerCut = percentOf(input.amount, input.cutBps);
  const asked = input.amount + input.tip + (input.coverCut ? partnerCut : 0n);
  const gross = input.coverFee ? grossUp(asked, input.rate) : asked;
  const fee = feeOf(gross, input.rate);
  const destination = gross - fee - partnerCut - input.tip;
  return { gross, fee, partnerCut, tip: input.tip, destination };
}
