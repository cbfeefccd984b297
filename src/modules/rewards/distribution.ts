// Token math for rewards: tier lookup, the reward for an action, and dividing it among stakeholders.
// Everything is bigint fixed-point so the parts of a reward always add up to the whole and no value drifts
// through floating point on its way to the ledger.
import { minorToJsonNumber, parseDecimalToMinor } from '../../platform/money/decimal.js';

/** Token amounts are integers of 1/100 token: 1 token = 100 units. JSON shows tokens with up to 2 decimals. */
export const TOKEN_SCALE = 100n;
const TOKEN_DIGITS = 2;

/** Multipliers carry 4 decimals: 1.5 is 15000n. */
export const MULTIPLIER_SCALE = 10_000n;
const MULTIPLIER_DIGITS = 4;
export const MAX_MULTIPLIER_BP = 1000n * MULTIPLIER_SCALE;

const PERCENT_DIGITS = 2;
const WHOLE_PERCENT = 100n * 10n ** BigInt(PERCENT_DIGITS);

export interface Tier {
  minAmountMinor: bigint;
  /** Exclusive upper bound; null means no upper bound. */
  maxAmountMinor: bigint | null;
  multiplierBp: bigint;
}

export interface Stakeholder {
  stakeholderTypeCode: string;
  partnerUserId: string;
}

export interface Split {
  stakeholderTypeCode: string;
  percent: number;
}

export interface Allocation extends Stakeholder {
  units: bigint;
}

export interface Distribution {
  /** One entry per input stakeholder, in input order. */
  allocations: Allocation[];
  distributedUnits: bigint;
  /** Shares of split types with no stakeholder present; the caller leaves them in the pool. */
  undistributedUnits: bigint;
}

export function parseMultiplier(literal: string): { ok: true; multiplierBp: bigint } | { ok: false; reason: string } {
  const parsed = parseDecimalToMinor(literal, MULTIPLIER_DIGITS);
  if (!parsed.ok) return parsed;
  if (parsed.minor <= 0n || parsed.minor > MAX_MULTIPLIER_BP) {
    return { ok: false, reason: 'multiplier must be greater than 0 and at most 1000' };
  }
  return { ok: true, multiplierBp: parsed.minor };
}

export function formatMultiplier(multiplierBp: bigint): number {
  return minorToJsonNumber(multiplierBp, MULTIPLIER_DIGITS);
}

/** The tier whose half-open range [min, max) holds the amount; undefined in a gap between tiers. */
export function tierFor(amountMinor: bigint, tiers: readonly Tier[]): Tier | undefined {
  return tiers.find(
    (tier) => tier.minAmountMinor <= amountMinor && (tier.maxAmountMinor === null || amountMinor < tier.maxAmountMinor),
  );
}

/** Problems with a tier list, in words naming the tier index; empty when the list is usable. Gaps are allowed. */
export function validateTiers(tiers: readonly Tier[]): string[] {
  const problems: string[] = [];
  const ranged: number[] = [];
  tiers.forEach((tier, i) => {
    let wellFormed = true;
    if (tier.minAmountMinor < 0n) {
      problems.push(`tiers[${i}]: minAmount must not be negative`);
      wellFormed = false;
    }
    if (tier.maxAmountMinor !== null && tier.maxAmountMinor <= tier.minAmountMinor) {
      problems.push(`tiers[${i}]: maxAmount must be greater than minAmount`);
      wellFormed = false;
    }
    if (tier.multiplierBp <= 0n || tier.multiplierBp > MAX_MULTIPLIER_BP) {
      problems.push(`tiers[${i}]: multiplier must be greater than 0 and at most 1000`);
    }
    if (wellFormed) ranged.push(i);
  });
  // Overlap is only meaningful between well-formed ranges; a broken range has already been reported.
  for (let a = 0; a < ranged.length; a++) {
    for (let b = a + 1; b < ranged.length; b++) {
      const x = tiers[ranged[a]!]!;
      const y = tiers[ranged[b]!]!;
      const xBeforeY = x.maxAmountMinor !== null && x.maxAmountMinor <= y.minAmountMinor;
      const yBeforeX = y.maxAmountMinor !== null && y.maxAmountMinor <= x.minAmountMinor;
      if (!xBeforeY && !yBeforeX) problems.push(`tiers[${ranged[a]}] and tiers[${ranged[b]}] overlap`);
    }
  }
  return problems;
}

/**
 * Token units earned by an action: amount (major units) x campaign multiplier x tier multiplier x tokens per
 * major unit, rounded half up to a whole token. Whole tokens follow the contract's example (49.99 USD at
 * multiplier 1 -> 50 tokens); the product is formed exactly over one common denominator and rounded once.
 */
export function rewardTokens(input: {
  amountMinor: bigint;
  currencyDigits: number;
  multiplierBp: bigint;
  tierMultiplierBp: bigint;
  tokensPerUnitBp: bigint;
}): bigint {
  const { amountMinor, currencyDigits, multiplierBp, tierMultiplierBp, tokensPerUnitBp } = input;
  if (!Number.isSafeInteger(currencyDigits) || currencyDigits < 0) {
    throw new RangeError(`currencyDigits must be a non-negative integer, got ${currencyDigits}`);
  }
  if (amountMinor < 0n || multiplierBp < 0n || tierMultiplierBp < 0n || tokensPerUnitBp < 0n) {
    throw new RangeError('reward inputs must not be negative');
  }
  const numerator = amountMinor * multiplierBp * tierMultiplierBp * tokensPerUnitBp;
  const denominator = 10n ** BigInt(currencyDigits) * MULTIPLIER_SCALE ** 3n;
  return roundHalfUp(numerator, denominator) * TOKEN_SCALE;
}

function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  return 2n * (numerator % denominator) >= denominator ? quotient + 1n : quotient;
}

/**
 * Splits `total` into parts proportional to `weights` by largest remainder: each part is the floor of its exact
 * share, and the units left over go one each to the largest remainders, earlier index first on ties, so the
 * result is deterministic and always sums to `total`.
 */
export function splitLargestRemainder(total: bigint, weights: readonly bigint[]): bigint[] {
  if (total < 0n) throw new RangeError('total must not be negative');
  if (weights.some((w) => w < 0n)) throw new RangeError('weights must not be negative');
  const weightSum = weights.reduce((sum, w) => sum + w, 0n);
  if (weightSum === 0n) {
    if (total === 0n) return weights.map(() => 0n);
    throw new RangeError('cannot split a non-zero total over zero weights');
  }
  const parts = weights.map((w) => (total * w) / weightSum);
  const remainders = weights.map((w) => (total * w) % weightSum);
  let leftover = total - parts.reduce((sum, p) => sum + p, 0n);
  const order = weights.map((_, i) => i);
  order.sort((a, b) => {
    const ra = remainders[a]!;
    const rb = remainders[b]!;
    return ra === rb ? a - b : ra > rb ? -1 : 1;
  });
  // leftover < weights.length, and at least leftover + 1 remainders are non-zero, so no zero weight gains a unit.
  for (const i of order) {
    if (leftover === 0n) break;
    parts[i]! += 1n;
    leftover -= 1n;
  }
  return parts;
}

// Percents arrive as JSON numbers. String() of a double is the shortest text that reads back as the same
// double, so a percent written with up to 2 decimals (33.33) comes back as that exact text and is parsed
// exactly; anything finer shows more decimals and is refused.
function percentHundredths(percent: number): bigint | undefined {
  if (!Number.isFinite(percent)) return undefined;
  const parsed = parseDecimalToMinor(String(percent), PERCENT_DIGITS);
  return parsed.ok ? parsed.minor : undefined;
}

/**
 * Problems with a split list, in words; empty when usable. Percents must be positive with at most 2 decimals,
 * codes unique and non-empty, and the percents must sum to exactly 100. An empty list means "no splits" (an
 * equal split) and is valid.
 */
export function validateSplits(splits: readonly Split[]): string[] {
  const problems: string[] = [];
  const firstIndex = new Map<string, number>();
  let sum = 0n;
  let summable = true;
  splits.forEach((split, i) => {
    const code = split.stakeholderTypeCode;
    if (typeof code !== 'string' || code === '') {
      problems.push(`splits[${i}]: stakeholderTypeCode must not be empty`);
    } else if (firstIndex.has(code)) {
      problems.push(`splits[${i}]: stakeholderTypeCode ${code} is already used by splits[${firstIndex.get(code)}]`);
    } else {
      firstIndex.set(code, i);
    }
    const percent: unknown = split.percent;
    const hundredths = typeof percent === 'number' ? percentHundredths(percent) : undefined;
    if (typeof percent !== 'number' || !Number.isFinite(percent)) {
      problems.push(`splits[${i}]: percent must be a number`);
    } else if (percent <= 0) {
      problems.push(`splits[${i}]: percent must be greater than 0`);
    } else if (hundredths === undefined) {
      problems.push(`splits[${i}]: percent must have at most 2 decimal places`);
    } else {
      sum += hundredths;
      return;
    }
    summable = false;
  });
  if (splits.length > 0 && summable && sum !== WHOLE_PERCENT) {
    problems.push(`percents must add up to exactly 100, not ${String(minorToJsonNumber(sum, PERCENT_DIGITS))}`);
  }
  return problems;
}

/**
 * Divides `totalUnits` among stakeholders. With splits, each split's share goes to the stakeholders of its
 * type, equally by largest remainder; a split type with nobody present keeps its share undistributed, and a
 * stakeholder whose type has no split gets 0. Without splits (absent or empty), all stakeholders share
 * equally. Invalid splits are a programming error here: campaigns are validated when they are saved.
 */
export function distribute(input: {
  totalUnits: bigint;
  stakeholders: readonly Stakeholder[];
  splits?: readonly Split[] | null;
}): Distribution {
  const { totalUnits, stakeholders } = input;
  if (totalUnits < 0n) throw new RangeError('totalUnits must not be negative');
  const units: bigint[] = stakeholders.map(() => 0n);
  let undistributedUnits = 0n;
  const splits = input.splits ?? [];
  if (splits.length === 0) {
    if (stakeholders.length === 0) {
      undistributedUnits = totalUnits;
    } else {
      splitLargestRemainder(totalUnits, stakeholders.map(() => 1n)).forEach((part, i) => (units[i] = part));
    }
  } else {
    const problems = validateSplits(splits);
    if (problems.length > 0) throw new RangeError(`invalid splits: ${problems.join('; ')}`);
    const shares = splitLargestRemainder(totalUnits, splits.map((s) => percentHundredths(s.percent)!));
    splits.forEach((split, s) => {
      const share = shares[s]!;
      const members = stakeholders.flatMap((h, i) => (h.stakeholderTypeCode === split.stakeholderTypeCode ? [i] : []));
      if (members.length === 0) {
        undistributedUnits += share;
        return;
      }
      splitLargestRemainder(share, members.map(() => 1n)).forEach((part, m) => (units[members[m]!] = part));
    });
  }
  const allocations = stakeholders.map((h, i) => ({
    stakeholderTypeCode: h.stakeholderTypeCode,
    partnerUserId: h.partnerUserId,
    units: units[i]!,
  }));
  return { allocations, distributedUnits: totalUnits - undistributedUnits, undistributedUnits };
}

/** Token units as a JSON number of tokens (5000n -> 50, 3333n -> 33.33). */
export function formatTokens(units: bigint): number {
  return minorToJsonNumber(units, TOKEN_DIGITS);
}

/** A token amount from request text (e.g. a partial reversal), up to 2 decimals, not negative. */
export function parseTokens(literal: string): { ok: true; units: bigint } | { ok: false; reason: string } {
  const parsed = parseDecimalToMinor(literal, TOKEN_DIGITS);
  if (!parsed.ok) return parsed;
  if (parsed.minor < 0n) return { ok: false, reason: 'token amounts must not be negative' };
  return { ok: true, units: parsed.minor };
}
