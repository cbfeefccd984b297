// ISO-4217 minor-unit digits: how many decimal places an amount in that currency may carry, and therefore the
// scale of its integer minor units (USD 49.99 -> 4999, JPY 500 -> 500, KWD 1.250 -> 1250).
//
// The table is deliberately a closed list: an unknown code is refused rather than guessed at, because guessing
// two digits for a zero- or three-digit currency would misprice every amount by a factor of 100 or 10.
// HUF and ISK follow ISO-4217 (HUF 2, ISK 0) even though HUF cash has no fillér; card processors settle HUF
// with two digits, so this matches what payment providers accept.
const MINOR_UNIT_DIGITS: ReadonlyMap<string, number> = new Map<string, number>([
  // two digits
  ['USD', 2], ['EUR', 2], ['GBP', 2], ['CAD', 2], ['AUD', 2], ['NZD', 2], ['CHF', 2], ['SEK', 2], ['NOK', 2],
  ['DKK', 2], ['PLN', 2], ['CZK', 2], ['HUF', 2], ['INR', 2], ['BRL', 2], ['MXN', 2], ['ZAR', 2], ['SGD', 2],
  ['HKD', 2], ['CNY', 2], ['ILS', 2], ['AED', 2], ['SAR', 2], ['TRY', 2], ['RON', 2], ['BGN', 2], ['THB', 2],
  ['MYR', 2], ['PHP', 2], ['IDR', 2], ['TWD', 2], ['ARS', 2], ['COP', 2], ['PEN', 2], ['NGN', 2], ['KES', 2],
  ['EGP', 2], ['PKR', 2], ['UAH', 2], ['QAR', 2], ['MAD', 2],
  // no minor unit
  ['JPY', 0], ['KRW', 0], ['CLP', 0], ['ISK', 0], ['VND', 0], ['UGX', 0], ['PYG', 0], ['RWF', 0], ['XAF', 0],
  ['XOF', 0],
  // three digits
  ['KWD', 3], ['BHD', 3], ['JOD', 3], ['OMR', 3], ['TND', 3], ['IQD', 3], ['LYD', 3],
]);

// Only ASCII letters are upper-cased: String#toUpperCase maps some non-ASCII letters onto ASCII ones
// (e.g. 'ß' -> 'SS', dotless 'ı' -> 'I'), which would let a non-code spell a real code.
const CODE_SHAPE = /^[A-Za-z]{3}$/;

/** The upper-case ISO-4217 code for `code` (any letter case), or undefined when the code is not in the table. */
export function normalizeCurrency(code: string): string | undefined {
  if (!CODE_SHAPE.test(code)) return undefined;
  const upper = code.toUpperCase();
  return MINOR_UNIT_DIGITS.has(upper) ? upper : undefined;
}

/** Minor-unit digits of `code` (any letter case), or undefined for a code this service does not accept. */
export function currencyDigits(code: string): number | undefined {
  const upper = normalizeCurrency(code);
  return upper === undefined ? undefined : MINOR_UNIT_DIGITS.get(upper);
}

/** Every accepted code, upper-case, for documentation and schema enums. */
export function supportedCurrencies(): string[] {
  return [...MINOR_UNIT_DIGITS.keys()].sort();
}
