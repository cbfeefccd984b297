import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatMinor } from '../../platform/money/decimal.js';
import { distribute, type Split, splitLargestRemainder, type Stakeholder, validateSplits } from './distribution.js';

/** How a reward is split: largest remainders, split percents, and shares by stakeholder type. */

test('largest remainder gives ties to the earlier index', () => {
  assert.deepEqual(splitLargestRemainder(100n, [1n, 1n, 1n]), [34n, 33n, 33n]);
  assert.deepEqual(splitLargestRemainder(2n, [1n, 1n, 1n]), [1n, 1n, 0n]);
  assert.deepEqual(splitLargestRemainder(5000n, [80n, 20n]), [4000n, 1000n]);
  assert.deepEqual(splitLargestRemainder(101n, [3333n, 3333n, 3334n]), [34n, 33n, 34n]);
  assert.deepEqual(splitLargestRemainder(1n, [0n, 1n, 0n]), [0n, 1n, 0n]);
  assert.deepEqual(splitLargestRemainder(0n, [0n, 0n]), [0n, 0n]);
  assert.throws(() => splitLargestRemainder(1n, [0n, 0n]), RangeError);
  assert.throws(() => splitLargestRemainder(1n, []), RangeError);
  assert.throws(() => splitLargestRemainder(-1n, [1n]), RangeError);
  assert.throws(() => splitLargestRemainder(1n, [2n, -1n]), RangeError);
});

const splitInput = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 10n ** 15n }),
    fc.array(fc.bigInt({ min: 0n, max: 10_000n }), { minLength: 1, maxLength: 12 }),
  )
  .filter(([, weights]) => weights.some((w) => w > 0n));

test('property: parts sum to the total and each is the floor or floor + 1 of its exact share', () => {
  fc.assert(
    fc.property(splitInput, ([total, weights]) => {
      const parts = splitLargestRemainder(total, weights);
      const weightSum = weights.reduce((a, b) => a + b, 0n);
      assert.equal(parts.length, weights.length);
      assert.equal(parts.reduce((a, b) => a + b, 0n), total);
      parts.forEach((part, i) => {
        const floor = (total * weights[i]!) / weightSum;
        assert.ok(part === floor || part === floor + 1n, `part ${i}`);
        assert.ok(part >= 0n);
      });
    }),
  );
});

test('property: the extra units go to the largest remainders, and a heavier weight never gets less', () => {
  fc.assert(
    fc.property(splitInput, ([total, weights]) => {
      const parts = splitLargestRemainder(total, weights);
      const weightSum = weights.reduce((a, b) => a + b, 0n);
      const remainder = (i: number) => (total * weights[i]!) % weightSum;
      const bumped = parts.map((p, i) => p > (total * weights[i]!) / weightSum);
      for (let i = 0; i < parts.length; i++) {
        for (let j = 0; j < parts.length; j++) {
          if (bumped[i] && !bumped[j]) {
            assert.ok(remainder(i) > remainder(j) || (remainder(i) === remainder(j) && i < j), `${i} over ${j}`);
          }
          if (weights[i]! > weights[j]!) assert.ok(parts[i]! >= parts[j]!, `weight ${i} > ${j}`);
        }
      }
      assert.deepEqual(splitLargestRemainder(total, [...weights]), parts);
    }),
  );
});

test('split percents: integers or 2 decimals, positive, unique codes, exactly 100', () => {
  assert.deepEqual(validateSplits([{ stakeholderTypeCode: 'CUSTOMER', percent: 80 },
    { stakeholderTypeCode: 'REFERRER', percent: 20 }]), []);
  assert.deepEqual(validateSplits([{ stakeholderTypeCode: 'A', percent: 33.33 },
    { stakeholderTypeCode: 'B', percent: 33.33 }, { stakeholderTypeCode: 'C', percent: 33.34 }]), []);
  // 0.1 + 0.2 !== 0.3 in floating point; exact decimals must still accept it.
  assert.deepEqual(validateSplits([{ stakeholderTypeCode: 'A', percent: 0.1 },
    { stakeholderTypeCode: 'B', percent: 0.2 }, { stakeholderTypeCode: 'C', percent: 99.7 }]), []);
  assert.deepEqual(validateSplits([]), []);
  assert.deepEqual(validateSplits([{ stakeholderTypeCode: 'A', percent: 33.33 },
    { stakeholderTypeCode: 'B', percent: 66.66 }]), ['percents must add up to exactly 100, not 99.99']);
  assert.deepEqual(validateSplits([
    { stakeholderTypeCode: 'A', percent: 50.005 },
    { stakeholderTypeCode: 'A', percent: 0 },
    { stakeholderTypeCode: '', percent: -5 },
    { stakeholderTypeCode: 'B', percent: Number.NaN },
  ]), [
    'splits[0]: percent must have at most 2 decimal places',
    'splits[1]: stakeholderTypeCode A is already used by splits[0]',
    'splits[1]: percent must be greater than 0',
    'splits[2]: stakeholderTypeCode must not be empty',
    'splits[2]: percent must be greater than 0',
    'splits[3]: percent must be a number',
  ]);
  assert.deepEqual(validateSplits([{ stakeholderTypeCode: 'A', percent: 1e-7 },
    { stakeholderTypeCode: 'B', percent: 100 }]),
    ['splits[0]: percent must have at most 2 decimal places']);
});

const customer = { stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'user_42' };
const referrer = { stakeholderTypeCode: 'REFERRER', partnerUserId: 'user_7' };
const eightyTwenty: Split[] = [{ stakeholderTypeCode: 'CUSTOMER', percent: 80 },
  { stakeholderTypeCode: 'REFERRER', percent: 20 }];

test('splits send each share to the stakeholders of its type', () => {
  const result = distribute({ totalUnits: 5000n, stakeholders: [referrer, customer], splits: eightyTwenty });
  assert.deepEqual(result, {
    allocations: [{ ...referrer, units: 1000n }, { ...customer, units: 4000n }],
    distributedUnits: 5000n,
    undistributedUnits: 0n,
  });
});

test('a split type with nobody present leaves its share undistributed', () => {
  const result = distribute({ totalUnits: 5000n, stakeholders: [customer], splits: eightyTwenty });
  assert.deepEqual(result.allocations, [{ ...customer, units: 4000n }]);
  assert.equal(result.distributedUnits, 4000n);
  assert.equal(result.undistributedUnits, 1000n);
});

test('several stakeholders of one type share its part equally; types without a split get 0', () => {
  const other = { stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'user_43' };
  const charity = { stakeholderTypeCode: 'NONPROFIT', partnerUserId: 'np_1' };
  const stakeholders = [customer, charity, other, referrer];
  const result = distribute({ totalUnits: 101n, stakeholders, splits: eightyTwenty });
  assert.deepEqual(result.allocations.map((a) => a.units), [41n, 0n, 40n, 20n]);
  assert.equal(result.allocations[1]!.partnerUserId, 'np_1');
  assert.equal(result.undistributedUnits, 0n);
});

test('without splits every stakeholder gets an equal part', () => {
  const three = [customer, referrer, { stakeholderTypeCode: 'CUSTOMER', partnerUserId: 'user_9' }];
  assert.deepEqual(distribute({ totalUnits: 100n, stakeholders: three }).allocations.map((a) => a.units),
    [34n, 33n, 33n]);
  assert.deepEqual(distribute({ totalUnits: 100n, stakeholders: three, splits: [] }).allocations.map((a) => a.units),
    [34n, 33n, 33n]);
  assert.deepEqual(distribute({ totalUnits: 100n, stakeholders: [] }),
    { allocations: [], distributedUnits: 0n, undistributedUnits: 100n });
});

test('invalid splits and negative totals are refused', () => {
  assert.throws(() => distribute({ totalUnits: 100n, stakeholders: [customer],
    splits: [{ stakeholderTypeCode: 'CUSTOMER', percent: 90 }] }), /add up to exactly 100/);
  assert.throws(() => distribute({ totalUnits: -1n, stakeholders: [customer] }), RangeError);
});

const codes = fc.constantFrom<string>('CUSTOMER', 'REFERRER', 'NONPROFIT', 'EMPLOYEE');
const stakeholdersArb = fc.array(fc.record({ stakeholderTypeCode: codes, partnerUserId: fc.string() }),
  { maxLength: 6 });
// Valid splits: distinct codes whose percents, in hundredths, are positive and sum to 10000. The hundredths
// travel beside the splits so the expected shares are not derived the way the code under test derives them.
const splitsArb = fc.uniqueArray(codes, { minLength: 1, maxLength: 4 }).chain((types) =>
  fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: types.length, maxLength: types.length }).map((raw) => {
    const hundredths = splitLargestRemainder(10_000n - BigInt(types.length), raw.map(BigInt)).map((h) => h + 1n);
    const splits = types.map((code, i) =>
      ({ stakeholderTypeCode: code, percent: Number(formatMinor(hundredths[i]!, 2)) }));
    return { splits, hundredths };
  }));

test('property: allocations and the undistributed rest always add up to the total', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), stakeholdersArb, fc.option(splitsArb, { nil: undefined }),
      (totalUnits, stakeholders: Stakeholder[], generated) => {
        const splits = generated?.splits;
        assert.deepEqual(validateSplits(splits ?? []), []);
        const result = distribute({ totalUnits, stakeholders, splits });
        assert.equal(result.distributedUnits + result.undistributedUnits, totalUnits);
        assert.equal(result.allocations.reduce((sum, a) => sum + a.units, 0n), result.distributedUnits);
        assert.deepEqual(result.allocations.map(({ stakeholderTypeCode, partnerUserId }) =>
          ({ stakeholderTypeCode, partnerUserId })), stakeholders.map(({ stakeholderTypeCode, partnerUserId }) =>
          ({ stakeholderTypeCode, partnerUserId })));
        assert.ok(result.allocations.every((a) => a.units >= 0n));
        const present = new Set(stakeholders.map((s) => s.stakeholderTypeCode));
        if (splits === undefined) {
          assert.equal(result.undistributedUnits, stakeholders.length === 0 ? totalUnits : 0n);
          return;
        }
        const splitCodes = new Set(splits.map((s) => s.stakeholderTypeCode));
        result.allocations.forEach((a) => { if (!splitCodes.has(a.stakeholderTypeCode)) assert.equal(a.units, 0n); });
        if (splits.every((s) => present.has(s.stakeholderTypeCode))) assert.equal(result.undistributedUnits, 0n);
        // Each type's total is the largest-remainder share of its percent.
        const shares = splitLargestRemainder(totalUnits, generated!.hundredths);
        splits.forEach((split, i) => {
          const got = result.allocations.filter((a) => a.stakeholderTypeCode === split.stakeholderTypeCode)
            .reduce((sum, a) => sum + a.units, 0n);
          assert.equal(got, present.has(split.stakeholderTypeCode) ? shares[i] : 0n);
        });
      }),
  );
});
