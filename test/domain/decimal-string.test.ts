import test from 'ava';
import fc from 'fast-check';
import {
  absDecimal,
  addDecimal,
  compareDecimal,
  isDecimal,
  isNegativeDecimal,
  isZeroDecimal,
  multiplyDecimal,
  negateDecimal,
  normalizeDecimal,
  numberToDecimal,
} from '../../src/domain/decimal-string.js';

test('decimal strings are multiplied and added exactly, without floats', (t) => {
  t.is(multiplyDecimal('200.5', '1.0852'), '217.5826');
  t.is(multiplyDecimal('0.1', '0.2'), '0.02');
  t.is(multiplyDecimal('-3', '100'), '-300');
  t.is(addDecimal('0.1', '0.2'), '0.3');
  t.is(addDecimal('10000.123456789012345678', '-0.000000000000000008'), '10000.12345678901234567');
  t.is(normalizeDecimal('+001.2300'), '1.23');
  t.is(normalizeDecimal('-0.000'), '0');
  t.is(compareDecimal('99', '102.5'), -1);
  t.is(compareDecimal('-1', '-2'), 1);
});

test('adds decimal strings exactly, dropping fraction zeros the sum no longer needs', (t) => {
  t.is(addDecimal('1000', '1'), '1001');
  t.is(addDecimal('0.1', '0.0005'), '0.1005');
  t.is(addDecimal('0.1', '0.9'), '1');
  t.is(addDecimal('0.000001', '0'), '0.000001');
});

test('sign helpers read the value, not the text', (t) => {
  t.is(absDecimal('-12.50'), '12.5');
  t.is(absDecimal('+3'), '3');
  t.true(isNegativeDecimal('-0.01'));
  t.false(isNegativeDecimal('-0.00'));
  t.true(isZeroDecimal('-0.000'));
  t.false(isZeroDecimal('0.001'));
  t.true(isDecimal(' 1.5 '));
  t.false(isDecimal('1e5'));
  t.false(isDecimal('.5'));
  t.false(isDecimal(1.5));
  t.throws(() => addDecimal('1e5', '1'), { instanceOf: TypeError });
});

test('a decimal minus itself is zero and comparison agrees with subtraction', (t) => {
  const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.nat({ max: 20 })).map(([units, scale]) => {
    const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
    const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    return units < 0n ? `-${text}` : text;
  });
  fc.assert(fc.property(decimal, decimal, (a, b) => {
    t.is(addDecimal(a, negateDecimal(a)), '0');
    t.is(compareDecimal(a, b), -compareDecimal(b, a));
    t.is(addDecimal(addDecimal(a, b), negateDecimal(b)), normalizeDecimal(a));
  }), { numRuns: 200 });
});

test('formats numbers as plain decimals, expanding exponent notation', (t) => {
  t.is(numberToDecimal(0.00012), '0.00012');
  t.is(numberToDecimal(1e-7), '0.0000001');
  t.is(numberToDecimal(1.5e-9), '0.0000000015');
  t.is(numberToDecimal(1.234567e-17), '0.00000000000000001234567');
  t.is(numberToDecimal(2.5e21), '2500000000000000000000');
  t.is(numberToDecimal(-0), '0');
  t.is(numberToDecimal(25000.75), '25000.75');
  t.throws(() => numberToDecimal(Number.NaN), { instanceOf: RangeError });
});

test('a number formatted as a decimal string reads back as the same number, in canonical form', (t) => {
  fc.assert(fc.property(fc.double({ min: -1e25, max: 1e25, noNaN: true }), (value) => {
    const text = numberToDecimal(value);
    return (Number(text) === value || Object.is(value, -0)) && normalizeDecimal(text) === text;
  }));
  t.pass();
});
