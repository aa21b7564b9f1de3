import test from 'ava';
import type { CashFlow } from '../../../src/domain/types.js';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import { DAY_MS, addTransfer, syntheticAccount } from '../../../testkit/fakes/history.js';
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

test('bybit: internal (off-chain) withdrawals are asked for (withdrawType 2) and a withdrawal fee leaves the account with the amount', async (t) => {
  const now = Date.now();
  const account = syntheticAccount({ fills: 5, fromMs: now - 5 * DAY_MS, toMs: now - DAY_MS });
  account.transfers.length = 0;
  // Bybit's v5 "Get Withdrawal Records" example row: amount "77", withdrawFee "10" (USDT, on-chain).
  addTransfer(account, { kind: 'withdrawal', asset: 'USDT', amount: '77', fee: '10', time: now - 3 * DAY_MS });
  account.transfers.push({ id: '990001', kind: 'withdrawal', asset: 'USDT', amount: '250', fee: '0', time: Math.floor((now - 2 * DAY_MS) / 1000) * 1000, status: 'ok', offChain: true });
  const fake = createBybitFake({ account, apiKey: 'BYBITKEY000000000001', secret: 'BYBITSECRET00000000000000001', repeatBorderFill: false });
  const baseUrl = await fake.start();
  const connector = createCcxtConnector('bybit', { apiKey: 'BYBITKEY000000000001', secret: 'BYBITSECRET00000000000000001' }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 10 * DAY_MS, settleLagMs: 1000,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });
  const flows: CashFlow[] = [];
  for await (const page of connector.fetchCashFlows(null)) flows.push(...page.items);
  t.deepEqual(flows.map((c) => [c.kind, c.amount]), [['withdrawal', '87'], ['withdrawal', '250']]);
  t.true(fake.requestsTo('/v5/asset/withdraw/query-record').every((r) => r.params['withdrawType'] === '2'));
});
