import test from 'ava';
import { decimalOf, parseJsonKeepingNumberText, parseTimeCursor, timeCursorPages } from '../../src/exchanges/broker-common.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { CursorError } from '../../src/exchanges/errors.js';
import { VenueConfigError } from '../../src/exchanges/errors.js';
import { resolveVenueUrl } from '../../src/exchanges/venue-url.js';

test('JSON numbers keep the exact text the venue sent', (t) => {
  t.deepEqual(parseJsonKeepingNumberText('{"o":187.10,"v":123456789012345678901,"x":[1e-7]}'), { o: '187.10', v: '123456789012345678901', x: ['1e-7'] });
  t.is(decimalOf('187.10'), '187.1');
  t.is(decimalOf('1e-7'), '0.0000001');
  t.is(decimalOf(185.25), '185.25');
  t.is(decimalOf('NaN'), undefined);
  t.is(decimalOf(null), undefined);
  t.is(decimalOf(1.234567e-17), '0.00000000000000001234567');
  t.is(decimalOf('2.5e21'), '2500000000000000000000');
  t.is(decimalOf('1e400'), undefined);
});

test('venue URLs: overrides outside enclave mode only, and HTTPS only inside it', (t) => {
  t.is(resolveVenueUrl('alpaca', 'https://api.alpaca.markets', { enclaveMode: true }), 'https://api.alpaca.markets');
  t.is(resolveVenueUrl('alpaca', 'https://api.alpaca.markets', { enclaveMode: false, baseUrl: 'http://127.0.0.1:1234/' }), 'http://127.0.0.1:1234');
  t.throws(() => resolveVenueUrl('alpaca', 'http://api.alpaca.markets', { enclaveMode: true }), { instanceOf: VenueConfigError, message: /non-HTTPS/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: true, baseUrl: 'http://127.0.0.1:1' }), { instanceOf: VenueConfigError, message: /non-HTTPS/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: true, baseUrl: 'https://127.0.0.1:1' }), { instanceOf: VenueConfigError, message: /override refused/u });
  t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: false, baseUrl: 'file:///etc/passwd' }), { instanceOf: VenueConfigError });
  const error = t.throws(() => resolveVenueUrl('ibkr', 'https://x', { enclaveMode: false, baseUrl: 'not a url with-secret-token' }), { instanceOf: VenueConfigError });
  t.false(error.message.includes('secret-token'));
});

test('time cursors resume after the last record, including others in the same millisecond', (t) => {
  const items = [{ t: 1, id: 'a' }, { t: 2, id: 'b' }, { t: 2, id: 'c' }, { t: 3, id: 'd' }];
  const pages = [...timeCursorPages(items, null, (x) => x.t, (x) => x.id, 2)];
  t.deepEqual(pages.map((p) => p.items.map((x) => x.id)), [['a', 'b'], ['c', 'd']]);
  const mid = parseTimeCursor('ibkr', pages[0]?.cursor ?? '');
  t.deepEqual(mid, { v: 1, t: 2, ids: ['b'] });
  t.deepEqual([...timeCursorPages(items, mid, (x) => x.t, (x) => x.id, 10)].flatMap((p) => p.items.map((x) => x.id)), ['c', 'd']);
  for (const bad of ['{"v":1,"t":"x","ids":[]}', 'garbage']) {
    const error = t.throws(() => parseTimeCursor('ibkr', bad), { instanceOf: CursorError });
    t.true(error instanceof VenueError);
    t.is(error.kind, 'rejected');
  }
});
