// A Bitget v2 mix (USDT-FUTURES) account end to end: the real ccxt client against the Bitget fake's
// mix routes (signed ACCESS-* headers, 7-day fill-history spans and 30-day bill spans with
// idLessThan/endId paging, history mark candles, the futures wallets), the real connector,
// supervisor → actor → sync → engine, and PostgreSQL. Spot deposits are the external flows; the
// spot → futures bills (trans_from_exchange) are internal.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { AccountKey } from '../../../src/domain/types.js';
import { createBitgetFake } from '../../../testkit/fakes/bitget-fake.js';
import type { BitgetBillRow, BitgetFillRow, BitgetMixHistory } from '../../../testkit/fakes/bitget-mix-routes.js';
import { addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';
import { createActorHarness } from '../../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const M = 60_000;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
const credential = { apiKey: 'mix-key', secret: 'mix-secret', passphrase: 'mix-pass' };

test('a Bitget USDT-FUTURES history (a long, a short, funding paid and received, a liquidation, spot→futures transfers, deposits) publishes the hand-computed returns', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  // Everything was moved to the futures wallet: the spot wallet is empty.
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '0' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: T0 });
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '500', fee: '0', time: T0 + 3 * H + 45 * M });
  let id = 1_103_122_437_000;
  const fill = (tradeSide: string, price: string, baseVolume: string, fee: string, at: number): BitgetFillRow =>
    ({ tradeId: ++id, raw: 'BTCUSDT', productType: 'USDT-FUTURES', tradeSide, price, baseVolume, fee, time: at });
  const bill = (businessType: string, at: number, amount: string, fee = '0'): BitgetBillRow =>
    ({ billId: ++id, raw: 'BTCUSDT', productType: 'USDT-FUTURES', businessType, amount, fee, coin: 'USDT', time: at });
  const marks: Record<number, string> = { [T0]: '110', [T0 + H]: '120', [T0 + 2 * H]: '112' };
  const mix: BitgetMixHistory = {
    contracts: [
      { raw: 'BTCUSDT', productType: 'USDT-FUTURES', base: 'BTC', quote: 'USDT' },
      { raw: 'BTCUSD', productType: 'COIN-FUTURES', base: 'BTC', quote: 'USD' },
    ],
    fills: [
      fill('open_long', '100', '1', '-0.06', T0 + 10 * M),
      fill('close_long', '115', '1', '-0.05', T0 + 2 * H + 30 * M),
      fill('open_short', '115', '2', '-0.1', T0 + 2 * H + 31 * M),
      fill('burst_close_short', '130', '2', '-1', T0 + 3 * H + 30 * M),
    ],
    bills: [
      bill('trans_from_exchange', T0 + 5 * M, '1000'), // spot → futures: internal
      bill('open_long', T0 + 10 * M, '0', '-0.06'),
      bill('contract_settle_fee', T0 + H + M, '-1'), // paid by the long
      bill('close_long', T0 + 2 * H + 30 * M, '15', '-0.05'),
      bill('open_short', T0 + 2 * H + 31 * M, '0', '-0.1'),
      bill('contract_settle_fee', T0 + 3 * H + M, '0.5'), // received by the short
      bill('burst_short_loss_query', T0 + 3 * H + 30 * M, '-30', '-1'),
      bill('append_margin', T0 + 3 * H + 40 * M, '-5'), // margin moved inside the futures wallet: not a record
      bill('trans_from_exchange', T0 + 3 * H + 50 * M, '500'),
    ],
    wallets: { 'USDT-FUTURES': { USDT: '1483.29' } },
    markClose: (_raw, openTime) => marks[openTime] ?? '131',
  };
  const fake = createBitgetFake({ account, ...credential, mix });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());

  const alice: AccountKey = { userUid: 'mix-trader', exchange: 'bitget' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('bitget', credential, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(alice);
  const result = await h.supervisor.sync(alice, 'full');
  t.is(result.fillsIngested, 4);

  const hours = await h.store.loadHourlyReturns(alice, 0, T0 + 6 * H);
  // Hour 0: deposit 1000, fee −0.06, long 1 @ 100 marked at 110: +10 → E = 1009.94.
  // Hour 1: funding −1, mark 120: unrealized +20 → E = 1018.94.
  // Hour 2: close +15, fees −0.15, short 2 @ 115 marked at 112: +6 → wallet 1013.79, E = 1019.79.
  // Hour 3: funding +0.5, liquidation −30 and its fee −1 → 983.29 at 45 min, when the 500 deposit
  // splits the hour (true time-weighted): (983.29 − 1019.79) / 1019.79; then flat (0).
  const expected = [(1009.94 - 1000) / 1000, (1018.94 - 1009.94) / 1009.94, (1019.79 - 1018.94) / 1018.94, (983.29 - 1019.79) / 1019.79, 0, 0];
  t.deepEqual(hours.map((x) => x.hourStart), expected.map((_, k) => T0 + k * H));
  hours.forEach((x, k) => t.true(near(x.return, expected[k]!), `hour ${k}: ${x.return} vs ${expected[k]}`));
  t.true(near(hours[5]!.equityEnd, 1483.29));
  t.deepEqual(hours.map((x) => x.netFlow), [1000, 0, 0, 500, 0, 0], 'only the deposits are flows, not the spot→futures transfers');

  const published = await h.store.loadDerivatives!(alice);
  t.is(published?.liquidations, 1, 'the burst_close_short fill is a liquidation');
  t.true(near(published!.maxLeverage, 224 / 1019.79));
  t.true(near(published!.fundingShare!, -0.5 / -16.71));
  t.is(published!.coverageStart, T0 - 24 * H);
  // Spot (empty) + the futures wallet reconcile with the rebuilt holdings.
  t.is((await h.store.loadReconciliation(alice))?.status, 'reconciled');
  // Every product type is read, in spans the venue accepts.
  t.deepEqual([...new Set(fake.requestsTo('/api/v2/mix/order/fill-history').map((r) => r.params['productType']))].sort(), ['COIN-FUTURES', 'USDC-FUTURES', 'USDT-FUTURES']);
  t.true(fake.requestsTo('/api/v2/mix/order/fill-history').every((r) => Number(r.params['endTime']) - Number(r.params['startTime']) <= 7 * 24 * H));
  t.true(fake.requestsTo('/api/v2/mix/account/bill').every((r) => Number(r.params['endTime']) - Number(r.params['startTime']) <= 30 * 24 * H));
  t.deepEqual([...new Set(fake.requestsTo('/api/v2/mix/market/history-mark-candles').map((r) => r.params['symbol']))], ['BTCUSDT']);
});

test('Bitget fill pages are walked back with idLessThan = endId until a short page', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 3 * H;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '0' }, nextId: 1 };
  const fills: BitgetFillRow[] = [];
  // 250 round trips of 0.01 in one hour: 250 fills, three pages of at most 100.
  for (let k = 0; k < 250; k += 1) {
    fills.push({ tradeId: 5_000 + k, raw: 'BTCUSDT', productType: 'USDT-FUTURES', tradeSide: k % 2 === 0 ? 'open_long' : 'close_long', price: '100', baseVolume: '0.01', fee: '0', time: T0 + 10 * M + k });
  }
  const fake = createBitgetFake({
    account, ...credential,
    mix: { contracts: [{ raw: 'BTCUSDT', productType: 'USDT-FUTURES', base: 'BTC', quote: 'USDT' }], fills, bills: [], wallets: {}, markClose: () => '100' },
  });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const connector = createCcxtConnector('bitget', credential, { enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - H, settleLagMs: 1000, derivatives: true, now: () => T0 + 3 * H });
  t.teardown(() => connector.close());
  const ids = new Set<string>();
  for await (const page of connector.fetchFills(null)) for (const f of page.items) ids.add(f.exchangeTradeId);
  t.is(ids.size, 250);
  const pages = fake.requestsTo('/api/v2/mix/order/fill-history').filter((r) => r.params['productType'] === 'USDT-FUTURES');
  t.deepEqual(pages.map((r) => r.params['idLessThan'] ?? ''), ['', '5150', '5050']);
});

test('Bitget coin-M and one-way fills: named BTC/USD:BTC with coin sizes turned into USD, directions from tradeSide, bills in the coin, transfers skipped', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 3 * H;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '0' }, nextId: 1 };
  const coin = (tradeId: number, tradeSide: string, at: number): BitgetFillRow => ({ tradeId, raw: 'BTCUSD', productType: 'COIN-FUTURES', tradeSide, price: '50000', baseVolume: '0.02', fee: '-0.000001', time: at });
  const fake = createBitgetFake({
    account, ...credential,
    mix: {
      contracts: [{ raw: 'BTCUSD', productType: 'COIN-FUTURES', base: 'BTC', quote: 'USD' }, { raw: 'ETHPERP', productType: 'USDC-FUTURES', base: 'ETH', quote: 'USDC' }],
      fills: [
        coin(11, 'sell_single', T0 + 10 * M), coin(12, 'burst_buy_single', T0 + 20 * M),
        { tradeId: 13, raw: 'ETHPERP', productType: 'USDC-FUTURES', tradeSide: 'offset_close_long', price: '3000', baseVolume: '0.5', fee: '0', time: T0 + 30 * M },
      ],
      bills: [
        { billId: 21, raw: 'BTCUSD', productType: 'COIN-FUTURES', businessType: 'sell', amount: '0', fee: '-0.000001', coin: 'BTC', time: T0 + 10 * M },
        { billId: 22, raw: 'BTCUSD', productType: 'COIN-FUTURES', businessType: 'contract_settle_fee', amount: '0.0000004', fee: '0', coin: 'BTC', time: T0 + 15 * M },
        { billId: 23, raw: 'BTCUSD', productType: 'COIN-FUTURES', businessType: 'trans_to_exchange', amount: '-0.01', fee: '0', coin: 'BTC', time: T0 + 16 * M },
        { billId: 24, raw: 'BTCUSD', productType: 'COIN-FUTURES', businessType: 'burst_buy', amount: '-0.0004', fee: '-0.00002', coin: 'BTC', time: T0 + 20 * M },
      ],
      wallets: {}, markClose: () => '50000',
    },
  });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const connector = createCcxtConnector('bitget', credential, { enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - H, settleLagMs: 1000, derivatives: true, now: () => T0 + 3 * H });
  t.teardown(() => connector.close());
  const fills = [];
  for await (const page of connector.fetchFills(null)) fills.push(...page.items);
  t.deepEqual(fills.map((f) => [f.exchangeTradeId, f.symbol, f.side, f.quantity]).sort(), [
    ['drv:adl:USDC-FUTURES:13', 'ETH/USDC:USDC', 'sell', '0.5'],
    ['drv:liquidation:COIN-FUTURES:12', 'BTC/USD:BTC', 'buy', '1000'],
    ['drv:trade:COIN-FUTURES:11', 'BTC/USD:BTC', 'sell', '1000'],
  ]);
  const flows = [];
  for await (const page of connector.fetchCashFlows(null)) flows.push(...page.items);
  t.deepEqual(flows.map((c) => [c.exchangeFlowId, c.kind, c.asset, c.amount]).sort(), [
    ['drv:fee:COIN-FUTURES:21:fee', 'expense', 'BTC', '0.000001'],
    ['drv:funding:COIN-FUTURES:22', 'income', 'BTC', '0.0000004'],
    ['drv:liquidation:COIN-FUTURES:24:fee', 'expense', 'BTC', '0.00002'],
    ['drv:realized-pnl:COIN-FUTURES:24', 'expense', 'BTC', '0.0004'],
  ]);
});

test('a Bitget key without futures read access (mix calls answer 40014) still syncs its spot history, with no derivatives', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 3 * H;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '250' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '250', fee: '0', time: T0 + 10 * M });
  const fake = createBitgetFake({ account, ...credential, mix: 'denied' });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const bob: AccountKey = { userUid: 'bitget-spot-only', exchange: 'bitget' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 3 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: () => createCcxtConnector('bitget', credential, {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
      retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
    }),
  });
  t.teardown(() => h.close());
  await h.addAccount(bob);
  await h.supervisor.sync(bob, 'full');
  t.deepEqual((await h.store.loadHourlyReturns(bob, 0, T0 + 3 * H)).map((x) => x.netFlow), [250, 0, 0]);
  t.is(await h.store.loadDerivatives!(bob), null);
  t.is((await h.store.loadReconciliation(bob))?.status, 'reconciled');
  t.true(fake.requestsTo('/api/v2/mix/account/accounts').length >= 1, 'the futures account was asked for');
  t.is(fake.requestsTo('/api/v2/mix/order/fill-history').length + fake.requestsTo('/api/v2/mix/account/bill').length, 0, 'and nothing more once it refused');
});
