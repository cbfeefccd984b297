import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currencyDigits, normalizeCurrency, supportedCurrencies } from './currencies.js';

test('minor-unit digits follow ISO-4217 for the currencies the contract names', () => {
  const expected: Record<string, number> = {
    USD: 2, EUR: 2, GBP: 2, CAD: 2, AUD: 2, NZD: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2, HUF: 2,
    JPY: 0, KRW: 0, CLP: 0, ISK: 0, VND: 0,
    INR: 2, BRL: 2, MXN: 2, ZAR: 2, SGD: 2, HKD: 2, CNY: 2, ILS: 2, AED: 2, SAR: 2, TRY: 2,
    KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3,
  };
  for (const [code, digits] of Object.entries(expected)) {
    assert.equal(currencyDigits(code), digits, code);
  }
});

test('codes are matched without regard to letter case and normalized to upper case', () => {
  assert.equal(currencyDigits('usd'), 2);
  assert.equal(currencyDigits('jPy'), 0);
  assert.equal(normalizeCurrency('kwd'), 'KWD');
  assert.equal(normalizeCurrency('Eur'), 'EUR');
});

test('unknown or malformed codes are refused, not guessed', () => {
  for (const code of ['', 'US', 'USDX', ' USD', 'USD ', 'XYZ', 'ABC', '123', 'usd\n']) {
    assert.equal(currencyDigits(code), undefined, JSON.stringify(code));
    assert.equal(normalizeCurrency(code), undefined, JSON.stringify(code));
  }
});

test('object-prototype names and look-alike letters are not codes', () => {
  for (const code of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    assert.equal(currencyDigits(code), undefined, code);
  }
  // 'ı' (dotless i) upper-cases to 'I' and 'ſ' (long s) to 'S'; neither may reach 'INR' or 'SEK'.
  assert.equal(normalizeCurrency('ınr'), undefined);
  assert.equal(normalizeCurrency('ſek'), undefined);
});

test('the list of supported codes is upper-case, sorted and consistent with the lookup', () => {
  const codes = supportedCurrencies();
  assert.deepEqual(codes, [...codes].sort());
  for (const code of codes) {
    assert.match(code, /^[A-Z]{3}$/);
    assert.equal(normalizeCurrency(code.toLowerCase()), code);
    assert.notEqual(currencyDigits(code), undefined);
  }
});
