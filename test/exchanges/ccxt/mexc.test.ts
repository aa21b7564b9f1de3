import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import { venueSuite } from './venue-suite.js';

venueSuite({
  venue: 'mexc',
  createFake: (o) => createBinanceLikeFake('mexc', o),
  paths: { fills: '/api/v3/myTrades', balance: '/api/v3/account', deposits: '/capital/deposit/hisrec', markets: '/api/v3/exchangeInfo' },
  minFillPages: 100,
  faults: [
    ['rate-limit', 'rate-limited'], ['ip-ban', 'rate-limited'], ['clock-skew', 'clock-skew'],
    ['server-error', 'unavailable'], ['hang', 'timeout'], ['malformed', 'bad-response'],
  ],
});
