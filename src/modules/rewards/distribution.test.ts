import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatMinor } from '../../platform/money/decimal.js';
import {
  distribute,
  formatMultiplier,
  formatTokens,
  MULTIPLIER_SCALE,
  parseMultiplier,
  parseTokens,
  rewardTokens,
  type Split,
  splitLargestRemainder,
  type Stakeholder,
  type Tier,
  tierFor,
  TOKEN_SCALE,
  validateSplits,
  validateTiers,
} from './distribution.js';

const ONE = MULTIPLIER_SCALE;

function usdReward(amountMinor: bigint, multiplierBp = ONE, tierMultiplierBp = ONE, tokensPerUnitBp = ONE): bigint {
  return rewardTokens({ amountMinor, currencyDigits: 2, multiplierBp, tierMultiplierBp, tokensPerUnitBp });
}

test('rewards round half up to a whole token, as in the contract example', () => {
  assert.equal(usdReward(4999n), 50n * TOKEN_SCALE); // 49.99 USD -> 50 tokens
  assert.equal(usdReward(4949n), 49n * TOKEN_SCALE);
  assert.equal(usdReward(4950n), 50n * TOKEN_SCALE);
  assert.equal(usdReward(50n), 1n * TOKEN_SCALE); // 0.50 -> 1 (half up)
  assert.equal(usdReward(49n), 0n);
  assert.equal(usdReward(0n), 0n);
});

test('multipliers, tier multipliers and tokens per unit compose before the single rounding', () => {
  assert.equal(usdReward(4999n, 20_000n), 100n * TOKEN_SCALE); // 99.98
  assert.equal(usdReward(10_000n, ONE, 15_000n), 150n * TOKEN_SCALE);
  // 0.30 x 1.5 x 1.1111 = 0.499995, which rounds down; rounding each factor first would give 1.
  assert.equal(usdReward(30n, 15_000n, 11_111n), 0n);
  assert.equal(usdReward(30n, 15_000n, 11_112n), 1n * TOKEN_SCALE); // 0.50004
  assert.equal(usdReward(4999n, ONE, ONE, 100n), 0n); // 0.01 token per dollar: 0.4999 tokens
  assert.equal(rewardTokens({ amountMinor: 500n, currencyDigits: 0, multiplierBp: ONE, tierMultiplierBp: ONE,
    tokensPerUnitBp: ONE }), 500n * TOKEN_SCALE); // JPY 500
  assert.equal(rewardTokens({ amountMinor: 1500n, currencyDigits: 3, multiplierBp: ONE, tierMultiplierBp: ONE,
    tokensPerUnitBp: ONE }), 2n * TOKEN_SCALE); // KWD 1.500
});

test('negative reward inputs are refused', () => {
  assert.throws(() => usdReward(-1n), RangeError);
  assert.throws(() => usdReward(1n, -1n), RangeError);
  assert.throws(() => rewardTokens({ amountMinor: 1n, currencyDigits: -1, multiplierBp: ONE, tierMultiplierBp: ONE,
    tokensPerUnitBp: ONE }), RangeError);
});

test('property: the reward is the exact product rounded half up to a whole token', () => {
  const bp = fc.bigInt({ min: 0n, max: 1000n * ONE });
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 3 }), bp, bp, bp,
      (amountMinor, currencyDigits, multiplierBp, tierMultiplierBp, tokensPerUnitBp) => {
        const units = rewardTokens({ amountMinor, currencyDigits, multiplierBp, tierMultiplierBp, tokensPerUnitBp });
        assert.equal(units % TOKEN_SCALE, 0n);
        const tokens = units / TOKEN_SCALE;
        // exact = num / den; half up means tokens - 1/2 <= exact < tokens + 1/2.
        const num = 2n * amountMinor * multiplierBp * tierMultiplierBp * tokensPerUnitBp;
        const den = 10n ** BigInt(currencyDigits) * ONE ** 3n;
        assert.ok((2n * tokens - 1n) * den <= num && num < (2n * tokens + 1n) * den);
      }),
  );
});

test('property: a larger amount never earns fewer tokens', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.bigInt({ min: 0n, max: 10n ** 6n }),
      fc.bigInt({ min: 1n, max: 1000n * ONE }), (amount, extra, multiplier) => {
        assert.ok(usdReward(amount + extra, multiplier) >= usdReward(amount, multiplier));
      }),
  );
});

test('multipliers parse with 4 decimals within (0, 1000]', () => {
  assert.deepEqual(parseMultiplier('1.5'), { ok: true, multiplierBp: 15_000n });
  assert.deepEqual(parseMultiplier('1.0'), { ok: true, multiplierBp: ONE });
  assert.deepEqual(parseMultiplier('0.0001'), { ok: true, multiplierBp: 1n });
  assert.deepEqual(parseMultiplier('1000'), { ok: true, multiplierBp: 10_000_000n });
  for (const bad of ['0', '-1', '1000.0001', '0.00001', '1e1', 'abc']) {
    assert.equal(parseMultiplier(bad).ok, false, bad);
  }
  assert.equal(formatMultiplier(15_000n), 1.5);
});

const tiers: Tier[] = [
  { minAmountMinor: 0n, maxAmountMinor: 10_000n, multiplierBp: ONE },
  { minAmountMinor: 10_000n, maxAmountMinor: null, multiplierBp: 15_000n },
];

test('tiers are half-open: the boundary amount belongs to the upper tier', () => {
  assert.equal(tierFor(0n, tiers), tiers[0]);
  assert.equal(tierFor(9_999n, tiers), tiers[0]);
  assert.equal(tierFor(10_000n, tiers), tiers[1]);
  assert.equal(tierFor(10n ** 20n, tiers), tiers[1]);
  assert.equal(tierFor(-1n, tiers), undefined);
  assert.equal(tierFor(5n, [{ minAmountMinor: 10n, maxAmountMinor: 20n, multiplierBp: ONE }]), undefined);
  assert.deepEqual(validateTiers(tiers), []);
  assert.deepEqual(validateTiers([]), []);
});

test('tier problems name the tier index', () => {
  assert.deepEqual(validateTiers([
    { minAmountMinor: -1n, maxAmountMinor: 5n, multiplierBp: ONE },
    { minAmountMinor: 5n, maxAmountMinor: 5n, multiplierBp: 0n },
  ]), [
    'tiers[0]: minAmount must not be negative',
    'tiers[1]: maxAmount must be greater than minAmount',
    'tiers[1]: multiplier must be greater than 0 and at most 1000',
  ]);
  assert.deepEqual(validateTiers([
    { minAmountMinor: 0n, maxAmountMinor: 100n, multiplierBp: ONE },
    { minAmountMinor: 200n, maxAmountMinor: null, multiplierBp: ONE },
    { minAmountMinor: 99n, maxAmountMinor: 150n, multiplierBp: ONE },
  ]), ['tiers[0] and tiers[2] overlap']);
  assert.deepEqual(validateTiers([
    { minAmountMinor: 50n, maxAmountMinor: null, multiplierBp: ONE },
    { minAmountMinor: 1000n, maxAmountMinor: null, multiplierBp: ONE },
  ]), ['tiers[0] and tiers[1] overlap']);
});

test('property: when tiers validate, at most one tier holds any amount and tierFor finds it', () => {
  const tierArb = fc.record({
    minAmountMinor: fc.bigInt({ min: 0n, max: 50n }),
    maxAmountMinor: fc.option(fc.bigInt({ min: 1n, max: 60n }), { nil: null }),
    multiplierBp: fc.constant(ONE),
  });
  fc.assert(
    fc.property(fc.array(tierArb, { maxLength: 4 }), fc.bigInt({ min: 0n, max: 70n }), (list, amount) => {
      const holding = list.filter((t) => t.minAmountMinor <= amount && (t.maxAmountMinor ?? amount + 1n) > amount);
      if (validateTiers(list).length === 0) assert.ok(holding.length <= 1);
      if (holding.length >= 2) assert.ok(validateTiers(list).some((p) => p.includes('overlap')));
      assert.equal(tierFor(amount, list), holding[0]);
    }),
  );
});

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

test('tokens show as JSON numbers with up to 2 decimals and parse exactly', () => {
  assert.equal(formatTokens(5000n), 50);
  assert.equal(formatTokens(3333n), 33.33);
  assert.equal(JSON.stringify(formatTokens(1n)), '0.01');
  assert.deepEqual(parseTokens('12.5'), { ok: true, units: 1250n });
  assert.deepEqual(parseTokens('0'), { ok: true, units: 0n });
  assert.equal(parseTokens('-1').ok, false);
  assert.equal(parseTokens('0.001').ok, false);
  assert.equal(parseTokens('1e3').ok, false);
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 14n }), (units) => {
    assert.deepEqual(parseTokens(JSON.stringify(formatTokens(units))), { ok: true, units });
  }));
});
