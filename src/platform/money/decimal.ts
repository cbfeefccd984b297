// Exact conversion between decimal text and integer minor units. Amounts arrive as JSON number literals
// ("amount": 49.99); reading them through a double would turn 0.29 into 0.28999999999999998 and lose a cent
// on truncation, so the literal text is parsed digit by digit into a bigint instead.

export type DecimalParse = { ok: true; minor: bigint } | { ok: false; reason: string };

// The grammar of a JSON number without its exponent part. Leading zeros ("007") are not JSON and are refused.
const PLAIN_DECIMAL = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

// BigInt parsing is super-linear in the digit count (a million digits costs ~0.3 s), and no amount, multiplier
// or token count this service handles comes near 10^30, so longer integer parts are refused before parsing.
export const MAX_INTEGER_DIGITS = 30;

/**
 * Parses a plain decimal literal such as "49.99" into minor units with `digits` decimal places (4999n for 2).
 *
 * Trailing zeros beyond `digits` are accepted ("49.990" with 2 digits is 4999n): the value is still exact, and
 * serializers commonly print a fixed number of places. Only a non-zero digit beyond `digits` is refused, since
 * it would have to be rounded away. "-0" and "-0.00" are 0n.
 */
export function parseDecimalToMinor(literal: string, digits: number): DecimalParse {
  if (!Number.isSafeInteger(digits) || digits < 0) {
    throw new RangeError(`digits must be a non-negative integer, got ${digits}`);
  }
  const match = PLAIN_DECIMAL.exec(literal);
  if (match === null) {
    if (/^-?[0-9.]+[eE][+-]?[0-9]+$/.test(literal)) {
      return { ok: false, reason: 'exponent notation is not accepted; write a plain decimal such as 49.99' };
    }
    return { ok: false, reason: 'not a plain decimal number' };
  }
  const negative = match[1] === '-';
  const whole = match[2] ?? '0';
  const fraction = match[3] ?? '';
  if (whole.length > MAX_INTEGER_DIGITS) {
    return { ok: false, reason: `too many digits (at most ${MAX_INTEGER_DIGITS} before the decimal point)` };
  }
  const kept = fraction.slice(0, digits);
  if (!/^0*$/.test(fraction.slice(digits))) {
    const places = digits === 1 ? 'place' : 'places';
    return { ok: false, reason: `at most ${digits} decimal ${places}` };
  }
  const magnitude = BigInt(whole + kept.padEnd(digits, '0'));
  return { ok: true, minor: negative ? -magnitude : magnitude };
}

/** Decimal text of `minor` with exactly `digits` places: 4999n -> "49.99", -5n -> "-0.05", 50n (0 digits) -> "50". */
export function formatMinor(minor: bigint, digits: number): string {
  if (!Number.isSafeInteger(digits) || digits < 0) {
    throw new RangeError(`digits must be a non-negative integer, got ${digits}`);
  }
  const sign = minor < 0n ? '-' : '';
  const magnitude = (minor < 0n ? -minor : minor).toString();
  if (digits === 0) return sign + magnitude;
  const padded = magnitude.padStart(digits + 1, '0');
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

// A double round-trips every decimal of at most 15 significant digits (DBL_DIG), so below 10^15 minor units
// the number that JSON.stringify prints is the exact decimal. The tempting bound 2^53 is not enough once a
// fraction is involved: 86607462750938.76 prints as 86607462750938.77.
export const MAX_EXACT_JSON_MINOR = 10n ** 15n;

/**
 * `minor` as a JSON number in major units (4999n, 2 -> 49.99), for response bodies. The number is the double
 * nearest the exact decimal, and JSON.stringify prints that exact decimal whenever |minor| < 10^15; beyond it
 * this throws rather than emit a silently rounded amount.
 */
export function minorToJsonNumber(minor: bigint, digits: number): number {
  const magnitude = minor < 0n ? -minor : minor;
  if (magnitude >= MAX_EXACT_JSON_MINOR) {
    throw new RangeError(`${formatMinor(minor, digits)} cannot be shown exactly as a JSON number`);
  }
  // Below 10^15 both operands are exact doubles, so the division rounds once, to the double nearest the
  // exact decimal: the same double Number() of the decimal text gives, without building the text.
  return Number(minor) / 10 ** digits;
}
