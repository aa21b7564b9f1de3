// A COIN-M-only account on Binance end to end: the real ccxt client against the Binance fake's dapi
// routes (userTrades by pair in 7-day windows, income history, forced orders, mark-price klines,
// exchangeInfo contract sizes, the COIN-M wallet), the real connector, supervisor → actor → sync →
// engine, and PostgreSQL. The account trades BTCUSD_PERP (100 USD a contract): inverse P&L is paid
// in BTC, and BTC is valued at its spot mark (BTC/USDT candles) like any holding.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { AccountKey } from '../../../src/domain/types.js';
import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import { coinmTrader } from '../../../testkit/fakes/binance-coinm-trader.js';
import { candleAt } from '../../../testkit/fakes/history.js';
import { createActorHarness } from '../../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const M = 60_000;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

test('a Binance COIN-M history (a long, a short, funding paid and received, a liquidation, a spot→COIN-M transfer, a BTC deposit) publishes the hand-computed returns', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const btc = { base: 'BTC', quote: 'USDT' };
  // The deposited BTC was moved to the COIN-M wallet: the spot wallet is empty.
  const { account, coinm, ledger, walletBefore, unrealized, exposure } = coinmTrader(T0);
  const fake = createBinanceLikeFake('binance', { account, apiKey: 'coinm-key', secret: 'coinm-secret', futures: 'not-opened', coinm });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());

  const alice: AccountKey = { userUid: 'coinm-trader', exchange: 'binance' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('binance', { apiKey: 'coinm-key', secret: 'coinm-secret' }, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(alice);
  const result = await h.supervisor.sync(alice, 'full');
  t.is(result.fillsIngested, 4);

  // Hand computation: equity at hour end k = (wallet + unrealized, in BTC) × BTC's spot mark (the
  // close of the BTC/USDT candle ending there); the deposit enters at the hour's spot mark (no minute
  // bar fetched in this sync: flagged estimated-mark).
  const spotClose = (end: number): number => Number(candleAt(btc, end - H).close);
  const deposit = spotClose(T0);
  const equity = unrealized.map((u, k) => (walletBefore(T0 + (k + 1) * H) + u) * spotClose(T0 + (k + 1) * H));
  const expected = equity.map((e, k) => (k === 0 ? (e - deposit) / deposit : (e - equity[k - 1]!) / equity[k - 1]!));
  const hours = await h.store.loadHourlyReturns(alice, 0, T0 + 6 * H);
  t.deepEqual(hours.map((x) => x.hourStart), expected.map((_, k) => T0 + k * H));
  hours.forEach((x, k) => t.true(near(x.return, expected[k]!), `hour ${k}: ${x.return} vs ${expected[k]}`));
  hours.forEach((x, k) => t.true(near(x.equityEnd, equity[k]!), `equity ${k}: ${x.equityEnd} vs ${equity[k]}`));
  t.true(hours[0]!.flags?.includes('estimated-mark'));
  t.true(near(hours[0]!.netFlow, deposit) && hours.slice(1).every((x) => x.netFlow === 0), 'only the deposit is a flow, not the spot→COIN-M transfer');

  const published = await h.store.loadDerivatives!(alice);
  t.is(published?.liquidations, 1, 'the forced order of the INSURANCE_CLEAR window marks its fill a liquidation');
  // Leverage: USD notional (at par with USDT) over equity at each hour end.
  t.true(near(published!.maxLeverage, Math.max(...exposure.map((x, k) => x / equity[k]!))));
  published!.hours.forEach((x, k) => t.true(near(x.leverage, exposure[k]! / equity[k]!), `leverage ${k}`));
  t.is(published!.hours.length, 6);
  // Funding share: every ledger amount is BTC valued at the same mark, so it cancels out.
  const pnl = ledger.filter((r) => r.incomeType !== 'TRANSFER').reduce((s, r) => s + Number(r.income), 0);
  t.true(near(published!.fundingShare!, (-0.000005 + 0.000004) / pnl));
  t.like(await h.store.loadReconciliation(alice), { status: 'reconciled', differingAssets: 0, differingPositions: 0 }, 'spot (empty) + the COIN-M wallet match the rebuilt holdings, the venue\'s positions the book');
  t.true(fake.requestsTo('/dapi/v1/positionRisk').length >= 1, 'the COIN-M positions were asked for');
  t.deepEqual([...new Set(fake.requestsTo('/dapi/v1/userTrades').map((r) => r.params['pair']))], ['BTCUSD'], 'COIN-M trades asked per pair');
  t.is(fake.requestsTo('/dapi/v1/forceOrders').length, 1, 'forced orders asked only where the income shows a liquidation');
  t.is(fake.requestsTo('/fapi/v1/income').length, 0, 'no USDⓈ-M account: nothing more asked of fapi');
});

test('a COIN-M position the venue reports but the executions do not add up to is a flagged, published reconciliation result; nothing is booked', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, coinm } = coinmTrader(T0);
  // The venue says long 5 contracts (500 USD) where the fills close every position.
  const fake = createBinanceLikeFake('binance', { account, apiKey: 'pos-key', secret: 'pos-secret', futures: 'not-opened', coinm: { ...coinm, positions: { BTCUSD_PERP: '5' } } });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const dave: AccountKey = { userUid: 'coinm-positions', exchange: 'binance' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('binance', { apiKey: 'pos-key', secret: 'pos-secret' }, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(dave);
  const first = await h.supervisor.sync(dave, 'full');
  t.true(first.gapKinds.includes('unreconciled'), 'the sync reports it');
  t.like(await h.store.loadReconciliation(dave), { status: 'unreconciled', differingAssets: 0, differingPositions: 1 }, 'published: one contract differs (a count, no size)');
  // A second sync still sees it, and still books nothing: positions are checked, never adjusted.
  await h.supervisor.sync(dave, 'incremental');
  t.like(await h.store.loadReconciliation(dave), { status: 'unreconciled', differingPositions: 1 });
  const flows = await h.store.loadCashFlows(dave, 0);
  t.false(flows.some((f) => f.kind === 'adjustment-in' || f.kind === 'adjustment-out'));
  t.deepEqual((await h.store.loadHourlyReturns(dave, 0, T0 + 6 * H)).map((x) => x.netFlow !== 0), [true, false, false, false, false, false], 'the deposit stays the only flow');
});
