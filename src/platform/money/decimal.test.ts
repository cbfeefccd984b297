import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  formatMinor,
  MAX_EXACT_JSON_MINOR,
  MAX_INTEGER_DIGITS,
  minorToJsonNumber,
  parseDecimalToMinor,
} from './decimal.js';

function minorOf(literal: string, digits: number): bigint {
  const parsed = parseDecimalToMinor(literal, digits);
  assert.ok(parsed.ok, `${literal} should parse, got ${parsed.ok ? '' : parsed.reason}`);
  return parsed.minor;
}

function reasonOf(literal: string, digits: number): string {
  const parsed = parseDecimalToMinor(literal, digits);
  assert.ok(!parsed.ok, `${literal} should be refused`);
  return parsed.reason;
}

test('decimal literals become exact minor units', () => {
  assert.equal(minorOf('49.99', 2), 4999n);
  assert.equal(minorOf('0.29', 2), 29n); // 0.29 * 100 is 28.999999999999996 in floating point
  assert.equal(minorOf('1.1', 2), 110n);
  assert.equal(minorOf('50', 2), 5000n);
  assert.equal(minorOf('0', 2), 0n);
  assert.equal(minorOf('500', 0), 500n);
  assert.equal(minorOf('1.250', 3), 1250n);
  assert.equal(minorOf('-12.5', 2), -1250n);
  assert.equal(minorOf('1.5', 4), 15000n);
  assert.equal(minorOf('90071992547409.93', 2), 9007199254740993n); // beyond 2^53, still exact
});

test('negative zero is zero', () => {
  assert.equal(minorOf('-0', 2), 0n);
  assert.equal(minorOf('-0.00', 2), 0n);
  assert.ok(Object.is(Number(minorOf('-0', 0)), 0));
});

test('trailing zeros beyond the currency digits are accepted because the value stays exact', () => {
  assert.equal(minorOf('49.990', 2), 4999n);
  assert.equal(minorOf('49.9900000', 2), 4999n);
  assert.equal(minorOf('500.00', 0), 500n);
});

test('a non-zero digit beyond the currency digits is refused, naming the limit', () => {
  assert.match(reasonOf('4.999', 2), /at most 2 decimal places/);
  assert.match(reasonOf('49.9901', 2), /at most 2 decimal places/);
  assert.match(reasonOf('0.5', 0), /at most 0 decimal places/);
  assert.match(reasonOf('1.0005', 3), /at most 3 decimal places/);
  assert.match(reasonOf('1.25', 1), /at most 1 decimal place$/);
});

test('exponent notation is refused with a reason that says so', () => {
  for (const literal of ['1e2', '4.999E1', '1E+2', '5e-1', '-1e2']) {
    assert.match(reasonOf(literal, 2), /exponent notation/, literal);
  }
});

test('text that is not a plain JSON decimal is refused', () => {
  for (const literal of ['007', '00.5', '-01', '.5', '5.', '+5', '', '-', ' 5', '5 ', '1_000', '0x10',
    'NaN', 'Infinity', '1,5', '١٢', '--1', '1.2.3']) {
    assert.match(reasonOf(literal, 2), /not a plain decimal number/, JSON.stringify(literal));
  }
});

test('absurdly long integer parts are refused before any big-integer work', () => {
  assert.equal(minorOf('9'.repeat(MAX_INTEGER_DIGITS), 0), 10n ** BigInt(MAX_INTEGER_DIGITS) - 1n);
  assert.match(reasonOf('9'.repeat(MAX_INTEGER_DIGITS + 1), 0), /too many digits/);
  assert.match(reasonOf('1'.repeat(1_000_000), 2), /too many digits/);
});

test('a nonsensical digit count is a programming error', () => {
  assert.throws(() => parseDecimalToMinor('1', -1), RangeError);
  assert.throws(() => parseDecimalToMinor('1', 1.5), RangeError);
  assert.throws(() => formatMinor(1n, -2), RangeError);
});

test('minor units format with exactly the currency digits', () => {
  assert.equal(formatMinor(4999n, 2), '49.99');
  assert.equal(formatMinor(-5n, 2), '-0.05');
  assert.equal(formatMinor(50n, 0), '50');
  assert.equal(formatMinor(5000n, 2), '50.00');
  assert.equal(formatMinor(0n, 2), '0.00');
  assert.equal(formatMinor(7n, 3), '0.007');
  assert.equal(formatMinor(-1250n, 3), '-1.250');
});

test('JSON numbers print the exact decimal', () => {
  assert.equal(JSON.stringify({ a: minorToJsonNumber(4999n, 2) }), '{"a":49.99}');
  assert.equal(JSON.stringify(minorToJsonNumber(29n, 2)), '0.29');
  assert.equal(JSON.stringify(minorToJsonNumber(-5n, 2)), '-0.05');
  assert.equal(JSON.stringify(minorToJsonNumber(5000n, 2)), '50');
  assert.equal(JSON.stringify(minorToJsonNumber(MAX_EXACT_JSON_MINOR - 1n, 2)), '9999999999999.99');
  assert.throws(() => minorToJsonNumber(MAX_EXACT_JSON_MINOR, 2), RangeError);
  assert.throws(() => minorToJsonNumber(-MAX_EXACT_JSON_MINOR, 0), RangeError);
});

const digitsArb = fc.integer({ min: 0, max: 6 });

test('property: parsing the formatted text gives back the same minor units', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 30n) + 1n, max: 10n ** 30n - 1n }), digitsArb, (minor, digits) => {
      assert.equal(minorOf(formatMinor(minor, digits), digits), minor);
    }),
  );
});

test('property: the JSON text of a minor amount parses back to the same minor units', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -MAX_EXACT_JSON_MINOR + 1n, max: MAX_EXACT_JSON_MINOR - 1n }), digitsArb,
      (minor, digits) => {
        const text = JSON.stringify(minorToJsonNumber(minor, digits));
        // JSON.stringify drops trailing zeros ("50"), which the parser accepts; with at most 6 digits the
        // smallest non-zero amount is 0.000001, still above where JSON.stringify switches to an exponent.
        assert.equal(minorOf(text, digits), minor);
      }),
  );
});

test('property: the JSON number is the double nearest the exact decimal (as Number() of its text)', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -MAX_EXACT_JSON_MINOR + 1n, max: MAX_EXACT_JSON_MINOR - 1n }), digitsArb, (minor, digits) => {
      assert.ok(Object.is(minorToJsonNumber(minor, digits), Number(formatMinor(minor, digits))));
    }),
    { numRuns: 20_000 },
  );
});

test('property: appending zeros to the fraction never changes the value', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), digitsArb, fc.integer({ min: 1, max: 8 }),
      (minor, digits, zeros) => {
        const text = formatMinor(minor, digits);
        const padded = digits === 0 ? `${text}.${'0'.repeat(zeros)}` : text + '0'.repeat(zeros);
        assert.equal(minorOf(padded, digits), minor);
      }),
  );
});
