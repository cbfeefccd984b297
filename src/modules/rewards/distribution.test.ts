import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  formatMultiplier,
  formatTokens,
  MULTIPLIER_SCALE,
  parseMultiplier,
  parseTokens,
  rewardTokens,
  type Tier,
  tierFor,
  TOKEN_SCALE,
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
