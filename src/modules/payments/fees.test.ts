import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_FEES, feeOf, grossUp, rateFor, splitDonation } from './fees.js';

const card = DEFAULT_FEES.card;
const ach = DEFAULT_FEES.ach;

describe('fee table (defaults: card 2.9 % + 30, ACH 0.8 % capped at 500)', () => {
  // amount, tip, cut %, cover fee, cover cut, method -> gross, fee, cut, destination (all cents)
  const rows: [number, number, number, boolean, boolean, 'card' | 'ach', number, number, number, number][] = [
    [2000, 0, 0, false, false, 'card', 2000, 88, 0, 1912], // 58 + 30
    [2000, 0, 0, true, false, 'card', 2091, 91, 0, 2000], // (2000 + 30) / 0.971 = 2090.6 -> 2091; fee 61 + 30
    [5000, 0, 20, false, false, 'card', 5000, 175, 1000, 3825],
    [5000, 0, 20, true, false, 'card', 5180, 180, 1000, 4000], // 5180 - (150 + 30) = 5000; 5179 leaves 4999
    [5000, 0, 20, true, true, 'card', 6210, 210, 1000, 5000], // the cut is added: 6000 after the fee
    [5000, 500, 0, true, false, 'card', 5695, 195, 0, 5000], // the tip rides on top: 5500 after the fee
    [1000, 0, 0, false, false, 'ach', 1000, 8, 0, 992],
    [1000, 0, 0, true, false, 'ach', 1008, 8, 0, 1000],
    [100000, 0, 0, false, false, 'ach', 100000, 500, 0, 99500], // 800 capped at 500
    [100000, 0, 0, true, false, 'ach', 100500, 500, 0, 100000],
    [62000, 0, 0, true, false, 'ach', 62500, 500, 0, 62000], // 62499 would leave 61999
    [50, 0, 0, false, false, 'card', 50, 31, 0, 19], // Stripe's minimum charge
  ];
  for (const [amount, tip, cut, coverFee, coverCut, method, gross, fee, partnerCut, destination] of rows) {
    test(`${amount} + tip ${tip}, cut ${cut} %, ${coverFee ? 'fee covered' : 'fee not covered'}${coverCut ? ', cut covered' : ''}, ${method}`, () => {
      const s = splitDonation({ amount: BigInt(amount), tip: BigInt(tip), rate: method === 'card' ? card : ach, cutBps: BigInt(cut * 100), coverFee, coverCut });
      assert.deepEqual(
        { gross: Number(s.gross), fee: Number(s.fee), partnerCut: Number(s.partnerCut), destination: Number(s.destination) },
        { gross, fee, partnerCut, destination },
      );
      assert.equal(s.gross, s.fee + s.partnerCut + s.tip + s.destination);
    });
  }
});

describe('gross-up', () => {
  test('is the smallest gross that leaves the net after the fee', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.constantFrom(card, ach, { bps: 360n, fixed: 0n, cap: null }), (net, rate) => {
        const g = grossUp(net, rate);
        assert.ok(g - feeOf(g, rate) >= net);
        assert.ok(g - 1n - feeOf(g - 1n, rate) < net);
      }),
    );
  });

  test('a covered fee leaves the destination at least the amount, and at most one unit more', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 50n, max: 99_999_999n }), fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 5_000n }), (amount, tip, cutBps) => {
        for (const rate of [card, ach]) {
          const s = splitDonation({ amount, tip, rate, cutBps, coverFee: true, coverCut: true });
          assert.equal(s.gross, s.fee + s.partnerCut + s.tip + s.destination);
          assert.ok(s.destination >= amount && s.destination <= amount + 1n, `${amount} -> ${s.destination}`);
        }
      }),
    );
  });
});

test('fixed parts follow the currency digits', () => {
  assert.deepEqual(rateFor(card, 0), { bps: 290n, fixed: 0n, cap: null });
  assert.deepEqual(rateFor(card, 3), { bps: 290n, fixed: 300n, cap: null });
  assert.deepEqual(rateFor(ach, 0), { bps: 80n, fixed: 0n, cap: 5n });
});
