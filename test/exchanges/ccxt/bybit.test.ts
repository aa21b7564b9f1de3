import { createBybitFake } from '../../../testkit/fakes/bybit-fake.js';
import { venueSuite } from './venue-suite.js';

venueSuite({
  venue: 'bybit',
  createFake: (o) => createBybitFake(o),
  paths: { fills: '/v5/execution/list', balance: '/v5/account/wallet-balance', deposits: '/v5/asset/deposit/query-record', markets: '/v5/market/instruments-info' },
  minFillPages: 100,
  faults: [
    ['rate-limit', 'rate-limited'], ['ip-ban', 'rate-limited'], ['venue-rate-limit', 'rate-limited'], ['clock-skew', 'clock-skew'],
    ['server-error', 'unavailable'], ['hang', 'timeout'], ['malformed', 'bad-response'],
  ],
});
