import { createBitgetFake } from '../../../testkit/fakes/bitget-fake.js';
import { venueSuite } from './venue-suite.js';

venueSuite({
  venue: 'bitget',
  createFake: (o) => createBitgetFake(o),
  paths: { fills: '/api/v2/spot/trade/fills', balance: '/api/v2/spot/account/assets', deposits: '/api/v2/spot/wallet/deposit-records', markets: '/api/v2/spot/public/symbols' },
  minFillPages: 100,
  faults: [
    ['rate-limit', 'rate-limited'], ['clock-skew', 'clock-skew'],
    ['server-error', 'unavailable'], ['hang', 'timeout'], ['malformed', 'bad-response'],
  ],
});
