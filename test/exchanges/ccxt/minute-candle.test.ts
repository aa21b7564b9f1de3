// fetchMinuteCandle through the real ccxt client against the Binance and MEXC fakes: GET
// /api/v3/klines with interval=1m, startTime = the minute, limit 1 (Binance Spot API "Kline/
// Candlestick data": rows [openTime, open, high, low, close, volume, closeTime, …], prices as
// strings). A minute without trades has no bar, and the next minute's bar must not stand in.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { CcxtVenue } from '../../../src/exchanges/ccxt/ccxt-client.js';
import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import { DAY_MS, candleAt, syntheticAccount } from '../../../testkit/fakes/history.js';

const M = 60_000;

for (const venue of ['binance', 'mexc'] as const satisfies readonly CcxtVenue[]) {
  test(`${venue}: the 1m bar opening at the minute, one request; a minute without a bar is null; an unlisted market is null without a request`, async (t) => {
    const now = Date.now();
    const minute = Math.floor((now - 3 * 3_600_000) / M) * M;
    const account = syntheticAccount({ fills: 5, fromMs: now - 5 * DAY_MS, toMs: now - DAY_MS });
    const fake = createBinanceLikeFake(venue, { account, apiKey: 'k', secret: 's', minutesWithoutBars: [minute + M] });
    const baseUrl = await fake.start();
    const connector = createCcxtConnector(venue, { apiKey: 'k', secret: 's' }, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 10 * DAY_MS, settleLagMs: 1000,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 2, attemptTimeoutMs: 5_000 },
    });
    t.teardown(async () => { await connector.close(); await fake.stop(); });

    const bar = await connector.fetchMinuteCandle('BTC/USDT', minute);
    const expected = candleAt({ base: 'BTC', quote: 'USDT' }, minute);
    t.deepEqual(bar, { symbol: 'BTC/USDT', openTime: minute, ...expected });
    const asked = fake.requestsTo('/api/v3/klines');
    t.is(asked.length, 1);
    t.like(asked[0]!.params, { interval: '1m', startTime: String(minute), limit: '1' });

    t.is(await connector.fetchMinuteCandle('BTC/USDT', minute + M), null);
    t.is(await connector.fetchMinuteCandle('DOGE/USDT', minute), null);
    t.is(fake.requestsTo('/api/v3/klines').length, 2);
  });
}
