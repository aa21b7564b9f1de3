import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import { venueSuite } from './venue-suite.js';

venueSuite({
  venue: 'binance',
  createFake: (o) => createBinanceLikeFake('binance', o),
  paths: { fills: '/api/v3/myTrades', balance: '/api/v3/account', deposits: '/capital/deposit/hisrec', markets: '/api/v3/exchangeInfo' },
  minFillPages: 10,
  faults: [
    ['rate-limit', 'rate-limited'], ['ip-ban', 'rate-limited'], ['venue-rate-limit', 'rate-limited'], ['clock-skew', 'clock-skew'],
    ['server-error', 'unavailable'], ['hang', 'timeout'], ['malformed', 'bad-response'],
  ],
});
