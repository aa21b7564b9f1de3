// MinuteMarks.get: fetch once, keep the answer (a bar or the venue's "no bar"), never ask again;
// a "no bar" for a minute that may not be published yet is not kept; a venue without minute bars
// is never asked and nothing is kept.
import test from 'ava';
import { createMinuteMarks, SETTLE_MS } from '../../src/actors/minute-marks.js';
import type { Candle } from '../../src/domain/types.js';
import { createMinuteMarkStore } from '../../src/storage/minute-mark-store.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const M = 60_000;
const NOW = Date.UTC(2026, 1, 1, 12);

function source(bars: Map<number, string>): { exchange: 'bybit'; calls: number[]; fetchMinuteCandle: (symbol: string, minute: number) => Promise<Candle | null> } {
  const calls: number[] = [];
  return {
    exchange: 'bybit', calls,
    fetchMinuteCandle: async (symbol, minute) => {
      await Promise.resolve();
      calls.push(minute);
      const open = bars.get(minute);
      return open === undefined ? null : { symbol, openTime: minute, open, high: open, low: open, close: open, volume: '1' };
    },
  };
}

test('a bar and a settled "no bar" are each asked once; a recent "no bar" is asked again', async (t) => {
  const old = NOW - 60 * M;
  const recent = NOW - 2 * M;
  const venue = source(new Map([[old, '101.5']]));
  const marks = createMinuteMarks(createMinuteMarkStore(db().pool), venue, () => NOW);
  t.is((await marks.get('bybit', 'SOL/USDT', old))?.open, '101.5');
  t.is((await marks.get('bybit', 'SOL/USDT', old))?.open, '101.5');
  t.is(await marks.get('bybit', 'SOL/USDT', old + M), null);
  t.is(await marks.get('bybit', 'SOL/USDT', old + M), null);
  t.is(await marks.get('bybit', 'SOL/USDT', recent), null);
  t.is(await marks.get('bybit', 'SOL/USDT', recent), null);
  t.deepEqual(venue.calls, [old, old + M, recent, recent]);
  t.true(NOW - recent < SETTLE_MS);
  t.deepEqual((await marks.known('bybit', ['SOL/USDT'], old, NOW)).map((c) => c.openTime), [old]);
});

test('a venue without minute bars, or another venue than the source, is never asked and nothing is kept', async (t) => {
  const store = createMinuteMarkStore(db().pool);
  const none = createMinuteMarks(store, { exchange: 'ibkr' }, () => NOW);
  t.is(await none.get('ibkr', 'AAPL/USD', NOW - 60 * M), null);
  const venue = source(new Map());
  const other = createMinuteMarks(store, venue, () => NOW);
  t.is(await other.get('binance', 'SOL/USDT', NOW - 60 * M), null);
  t.deepEqual(venue.calls, []);
  t.deepEqual(await store.load('ibkr', ['AAPL/USD'], 0, NOW), []);
  await t.throwsAsync(other.get('bybit', 'SOL/USDT', NOW - 60 * M + 1), { instanceOf: RangeError });
});
