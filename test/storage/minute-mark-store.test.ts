// minute_marks (sql/015): one-minute bars kept once per venue, market and minute, with the venue's
// "no bar" kept too; a bar found later replaces "no bar", never the other way round.
import test from 'ava';
import { createMinuteMarkStore } from '../../src/storage/minute-mark-store.js';
import type { Candle } from '../../src/domain/types.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const M = 60_000;
const T = Date.UTC(2026, 0, 5, 3, 59);
const bar = (symbol: string, minute: number, open: string): Candle => ({ symbol, openTime: minute, open, high: open, low: open, close: open, volume: '0.5' });

test('bars and "no bar" answers are kept per venue, market and minute, and read back by range', async (t) => {
  const store = createMinuteMarkStore(db().pool);
  await store.save('binance', [
    { symbol: 'BTC/USDT', minute: T, candle: bar('BTC/USDT', T, '50123.45') },
    { symbol: 'ETH/USDT', minute: T, candle: null },
    { symbol: 'BTC/USDT', minute: T + M, candle: bar('BTC/USDT', T + M, '50200') },
  ]);
  await store.save('bybit', [{ symbol: 'BTC/USDT', minute: T, candle: bar('BTC/USDT', T, '1') }]);
  const kept = await store.load('binance', ['BTC/USDT', 'ETH/USDT'], T, T + M);
  t.deepEqual(kept, [
    { symbol: 'BTC/USDT', minute: T, candle: bar('BTC/USDT', T, '50123.45') },
    { symbol: 'ETH/USDT', minute: T, candle: null },
  ]);
  t.is((await store.load('binance', ['BTC/USDT'], T, T + 2 * M)).length, 2);
  t.deepEqual(await store.load('binance', ['SOL/USDT'], T, T + 2 * M), []);
});

test('a bar found later replaces "no bar"; a later "no bar" or another bar does not replace a kept bar', async (t) => {
  const store = createMinuteMarkStore(db().pool);
  const minute = T + 10 * M;
  await store.save('binance', [{ symbol: 'XRP/USDT', minute, candle: null }]);
  await store.save('binance', [{ symbol: 'XRP/USDT', minute, candle: bar('XRP/USDT', minute, '0.5') }]);
  await store.save('binance', [{ symbol: 'XRP/USDT', minute, candle: null }, { symbol: 'XRP/USDT', minute, candle: bar('XRP/USDT', minute, '0.7') }]);
  const [kept] = await store.load('binance', ['XRP/USDT'], minute, minute + M);
  t.is(kept?.candle?.open, '0.5');
});

test('a minute that is not minute-aligned is refused by the table', async (t) => {
  const store = createMinuteMarkStore(db().pool);
  await t.throwsAsync(store.save('binance', [{ symbol: 'BTC/USDT', minute: T + 1_000, candle: null }]));
});
