import test from 'ava';
import fc from 'fast-check';
import { decimalToNumber } from '../../src/domain/decimal.js';

test('decimal text parses to exactly the float64 Number() gives', (t) => {
  const text = fc.tuple(fc.boolean(), fc.stringMatching(/^\d{1,25}$/u), fc.option(fc.stringMatching(/^\d{0,30}$/u))).map(([neg, whole, frac]) => `${neg ? '-' : ''}${whole}${frac === null ? '' : `.${frac}`}`);
  fc.assert(fc.property(text, (s) => Object.is(decimalToNumber(s), Number(s))), { numRuns: 20_000 });
  t.is(decimalToNumber('0.1'), 0.1);
  t.is(decimalToNumber('.5'), 0.5);
  t.is(decimalToNumber('-3'), -3);
});

test('anything but plain decimal text is refused', (t) => {
  for (const bad of ['', '-', '.', '1e5', '0x10', ' 1', '1 ', '+1', '1.2.3', 'NaN', 'Infinity', '1,5']) {
    t.true(Number.isNaN(decimalToNumber(bad)), bad);
  }
});
