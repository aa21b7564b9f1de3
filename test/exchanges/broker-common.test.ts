import test from 'ava';
import fc from 'fast-check';
import {
  addDecimal,
  compareDecimal,
  decimalOf,
  multiplyDecimal,
  negateDecimal,
  normalizeDecimal,
  parseJsonKeepingNumberText,
  parseTimeCursor,
  resolveVenueUrl,
  timeCursorPages,
} from '../../src/exchanges/broker-common.js';
import { VenueError } from '../../src/exchanges/retry.js';

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

test('JSON numbers keep the exact text the venue sent', (t) => {
  t.deepEqual(parseJsonKeepingNumberText('{"o":187.10,"v":123456789012345678901,"x":[1e-7]}'), { o: '187.10', v: '123456789012345678901', x: ['1e-7'] });
  t.is(decimalOf('187.10'), '187.1');
  t.is(decimalOf('1e-7'), '0.0000001');
  t.is(decimalOf(185.25), '185.25');
  t.is(decimalOf('NaN'), undefined);
  t.is(decimalOf(null), undefined);
});

test('venue URLs: overrides outside enclave mode only, and HTTPS only inside it', (t) => {
  t.is(resolveVenueUrl('alpaca', 'https://api.alpaca.markets', { enclaveMode: true }), 'https://api.alpaca.markets');
  t.is(resolveVenueUrl('alpaca', 'https://api.alpaca.markets', { enclaveMode: false, baseUrl: 'http://127.0.0.1:1234/' }), 'http://127.0.0.1:1234');
  t.throws(() => resolveVenueUrl('alpaca', 'http://api.alpaca.markets', { enclaveMode: true }), { instanceOf: VenueError, message: /non-HTTPS/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: true, baseUrl: 'http://127.0.0.1:1' }), { instanceOf: VenueError, message: /non-HTTPS/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: true, baseUrl: 'https://127.0.0.1:1' }), { instanceOf: VenueError, message: /override refused/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: false, baseUrl: 'file:///etc/passwd' }), { instanceOf: VenueError });
  const error = t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: false, baseUrl: 'not a url with-secret-token' }), { instanceOf: VenueError });
  t.false(error.message.includes('secret-token'));
});

test('time cursors resume after the last record, including others in the same millisecond', (t) => {
  const items = [{ t: 1, id: 'a' }, { t: 2, id: 'b' }, { t: 2, id: 'c' }, { t: 3, id: 'd' }];
  const pages = [...timeCursorPages(items, null, (x) => x.t, (x) => x.id, 2)];
  t.deepEqual(pages.map((p) => p.items.map((x) => x.id)), [['a', 'b'], ['c', 'd']]);
  const mid = parseTimeCursor('ibkr', pages[0]?.cursor ?? '');
  t.deepEqual(mid, { v: 1, t: 2, ids: ['b'] });
  t.deepEqual([...timeCursorPages(items, mid, (x) => x.t, (x) => x.id, 10)].flatMap((p) => p.items.map((x) => x.id)), ['c', 'd']);
  t.throws(() => parseTimeCursor('ibkr', '{"v":1,"t":"x","ids":[]}'), { instanceOf: VenueError });
  t.throws(() => parseTimeCursor('ibkr', 'garbage'), { instanceOf: VenueError });
});
