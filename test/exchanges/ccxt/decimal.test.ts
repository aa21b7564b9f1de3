import test from 'ava';
import fc from 'fast-check';
import { addDecimals, toDecimalString } from '../../../src/exchanges/ccxt/decimal.js';

test('formats numbers as plain decimals, expanding exponent notation', (t) => {
  t.is(toDecimalString(0.00012), '0.00012');
  t.is(toDecimalString(1e-7), '0.0000001');
  t.is(toDecimalString(1.5e-9), '0.0000000015');
  t.is(toDecimalString(2.5e21), '2500000000000000000000');
  t.is(toDecimalString(-0), '0');
  t.is(toDecimalString(25000.75), '25000.75');
  t.throws(() => toDecimalString(Number.NaN), { instanceOf: RangeError });
});

test('a decimal string read back gives the same number', (t) => {
  fc.assert(fc.property(fc.double({ min: -1e25, max: 1e25, noNaN: true }), (value) => Number(toDecimalString(value)) === value || Object.is(value, -0)));
  t.pass();
});

test('adds decimal strings exactly', (t) => {
  t.is(addDecimals('1000', '1'), '1001');
  t.is(addDecimals('0.1', '0.0005'), '0.1005');
  t.is(addDecimals('0.1', '0.9'), '1');
  t.is(addDecimals('0.000001', '0'), '0.000001');
});
