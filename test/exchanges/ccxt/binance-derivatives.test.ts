// A USDⓈ-M futures account on Binance end to end: the real ccxt client against the Binance fake's
// fapi routes (signed queries, symbol-required 7-day userTrades, income history, forced orders,
// mark-price klines, the futures wallet), the real connector, supervisor → actor → sync → engine, and
// PostgreSQL. Spot deposits are the external flows; the spot → futures TRANSFERs are internal.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { AccountKey } from '../../../src/domain/types.js';
import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import type { BinanceFuturesHistory, BinanceIncomeRow } from '../../../testkit/fakes/binance-futures-routes.js';
import { addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';
import { createActorHarness } from '../../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const M = 60_000;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

test('a Binance USDⓈ-M history (a long, a short, funding paid and received, a liquidation, spot→futures transfers, deposits) publishes the hand-computed returns', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  // Everything was moved to the futures wallet: the spot wallet is empty.
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '0' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: T0 });
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '500', fee: '0', time: T0 + 3 * H + 45 * M });
  let tran = 9000;
  const income = (incomeType: string, at: number, amount: string, symbol = 'BTCUSDT'): BinanceIncomeRow => ({ symbol, incomeType, income: amount, asset: 'USDT', time: at, tranId: ++tran });
  const marks: Record<number, string> = { [T0]: '110', [T0 + H]: '120', [T0 + 2 * H]: '112' };
  const futures: BinanceFuturesHistory = {
    contracts: [{ raw: 'BTCUSDT', category: 'linear', base: 'BTC', quote: 'USDT', settle: 'USDT', deliveryTime: 0 }],
    trades: [
      { id: '1', raw: 'BTCUSDT', category: 'linear', side: 'Buy', qty: '1', price: '100', execType: 'Trade', fee: '0.06', time: T0 + 10 * M },
      { id: '2', raw: 'BTCUSDT', category: 'linear', side: 'Sell', qty: '1', price: '115', execType: 'Trade', fee: '0.05', time: T0 + 2 * H + 30 * M },
      { id: '3', raw: 'BTCUSDT', category: 'linear', side: 'Sell', qty: '2', price: '115', execType: 'Trade', fee: '0.1', time: T0 + 2 * H + 31 * M },
      { id: '4', raw: 'BTCUSDT', category: 'linear', side: 'Buy', qty: '2', price: '130', execType: 'BustTrade', fee: '0', time: T0 + 3 * H + 30 * M },
    ],
    income: [
      income('TRANSFER', T0 + 5 * M, '1000', ''), // spot → futures: internal
      income('COMMISSION', T0 + 10 * M, '-0.06'),
      income('FUNDING_FEE', T0 + H + M, '-1'), // paid by the long
      income('REALIZED_PNL', T0 + 2 * H + 30 * M, '15'),
      income('COMMISSION', T0 + 2 * H + 30 * M, '-0.05'),
      income('COMMISSION', T0 + 2 * H + 31 * M, '-0.1'),
      income('FUNDING_FEE', T0 + 3 * H + M, '0.5'), // received by the short
      income('REALIZED_PNL', T0 + 3 * H + 30 * M, '-30'),
      income('INSURANCE_CLEAR', T0 + 3 * H + 30 * M, '-1'),
      income('TRANSFER', T0 + 3 * H + 50 * M, '500', ''),
    ],
    wallet: { USDT: '1483.29' },
    markClose: (_raw, openTime) => marks[openTime] ?? '131',
  };
  const fake = createBinanceLikeFake('binance', { account, apiKey: 'usdm-key', secret: 'usdm-secret', futures });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());

  const alice: AccountKey = { userUid: 'usdm-trader', exchange: 'binance' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('binance', { apiKey: 'usdm-key', secret: 'usdm-secret' }, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(alice);
  const result = await h.supervisor.sync(alice, 'full');
  t.is(result.fillsIngested, 4);

  const hours = await h.store.loadHourlyReturns(alice, 0, T0 + 6 * H);
  // The same hand computation as the Bybit test (same marks, P&L, funding, fees, deposits):
  // E = 1009.94, 1018.94, 1019.79; hour 3 split at the 500 deposit: (983.29 − 1019.79) / 1019.79; then flat.
  const expected = [(1009.94 - 1000) / 1000, (1018.94 - 1009.94) / 1009.94, (1019.79 - 1018.94) / 1018.94, (983.29 - 1019.79) / 1019.79, 0, 0];
  t.deepEqual(hours.map((x) => x.hourStart), expected.map((_, k) => T0 + k * H));
  hours.forEach((x, k) => t.true(near(x.return, expected[k]!), `hour ${k}: ${x.return} vs ${expected[k]}`));
  t.true(near(hours[5]!.equityEnd, 1483.29));
  t.deepEqual(hours.map((x) => x.netFlow), [1000, 0, 0, 500, 0, 0], 'only the deposits are flows, not the spot→futures transfers');

  const published = await h.store.loadDerivatives!(alice);
  t.is(published?.liquidations, 1, 'the forced order of the INSURANCE_CLEAR window marks its fill a liquidation');
  t.true(near(published!.maxLeverage, 224 / 1019.79));
  t.true(near(published!.fundingShare!, -0.5 / -16.71));
  // Spot (empty) + futures wallet reconcile with the rebuilt holdings.
  t.like(await h.store.loadReconciliation(alice), { status: 'reconciled', differingPositions: 0 });
  t.true(fake.requestsTo('/fapi/v3/positionRisk').length >= 1, 'the USDⓈ-M positions were checked');
  t.true(fake.requestsTo('/fapi/v1/userTrades').every((r) => r.params['symbol'] === 'BTCUSDT'));
  t.is(fake.requestsTo('/fapi/v1/forceOrders').length, 1, 'forced orders asked only where the income shows a liquidation');
});

test('a Binance key whose account never opened futures (fapi answers -2015) still syncs its spot history, with no derivatives', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 3 * H;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '250' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '250', fee: '0', time: T0 + 10 * M });
  const fake = createBinanceLikeFake('binance', { account, apiKey: 'spot-key', secret: 'spot-secret', futures: 'not-opened' });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const bob: AccountKey = { userUid: 'spot-only', exchange: 'binance' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 3 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('binance', { apiKey: 'spot-key', secret: 'spot-secret' }, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(bob);
  await h.supervisor.sync(bob, 'full');
  const hours = await h.store.loadHourlyReturns(bob, 0, T0 + 3 * H);
  t.deepEqual(hours.map((x) => x.netFlow), [250, 0, 0]);
  t.is(await h.store.loadDerivatives!(bob), null);
  t.is((await h.store.loadReconciliation(bob))?.status, 'reconciled');
  t.true(fake.requestsTo('/fapi/v2/balance').length >= 1, 'the futures account was asked for');
  t.is(fake.requestsTo('/fapi/v1/income').length, 0, 'and nothing more once it said there is none');
});
