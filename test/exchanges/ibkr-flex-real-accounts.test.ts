// IBKR Flex records that used to block an account or go missing, through the real connector
// (fake Flex Web Service speaking the v3 wire format) and the engine.
import test from 'ava';
import { createIbkrFlexConnector, type IbkrFlexConnectorOptions } from '../../src/exchanges/ibkr/flex-connector.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import type { CashFlow, Fill } from '../../src/domain/types.js';
import type { Page } from '../../src/exchanges/connector.js';
import { flexCash, flexCashOfType, flexCorporateAction, flexTrade, flexTransfer, startFlexFake } from '../../testkit/fakes/flex-fake.js';

const TOKEN = '123456789012345678901234-token';
const QUERY = '987654-query';
const credential = { apiKey: TOKEN, secret: QUERY };
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 3 };
const ET = 5 * 3_600_000;
const H = 3_600_000;

function options(url: string, extra: Partial<IbkrFlexConnectorOptions> = {}): IbkrFlexConnectorOptions {
  return { enclaveMode: false, baseUrl: url, retry: fastRetry, pollIntervalMs: 5, throttleBackoffMs: 5, statementTtlMs: 0, ...extra };
}

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; cursor: string | null }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for await (const page of pages) { items.push(...page.items); cursor = page.cursor; }
  return { items, cursor };
}

/** A trade row as IB writes it when the query leaves out the id columns. */
function withoutIds(row: Readonly<Record<string, string>>): Record<string, string> {
  const { tradeID: _t, ibExecID: _e, transactionID: _x, ...rest } = row;
  return rest;
}

test('a trade row without ids gets a deterministic synthetic id instead of failing the statement', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    trades: [withoutIds(flexTrade({ tradeID: '1', dateTime: '20250102;093000' })), withoutIds(flexTrade({ tradeID: '1', dateTime: '20250102;093000' })), flexTrade({ tradeID: '7', dateTime: '20250102;100000' })],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const first = await collect<Fill>(connector.fetchFills(null));
  const again = await collect<Fill>(connector.fetchFills(null));
  t.is(first.items.length, 3);
  const synthetic = first.items.filter((f) => f.exchangeTradeId.startsWith('syn:trade:')).map((f) => f.exchangeTradeId);
  t.is(new Set(synthetic).size, 2, 'two identical id-less rows stay two fills');
  t.deepEqual(again.items.map((f) => f.exchangeTradeId), first.items.map((f) => f.exchangeTradeId));
});

test('a deposit without transactionID is kept; dividends, withholding tax, interest and fees become income and expense', async (t) => {
  const { transactionID: _drop, ...deposit } = flexCash({ transactionID: 'x', dateTime: '20250102;080000', amount: '10000' });
  const fake = await startFlexFake(TOKEN, QUERY, {
    cashTransactions: [
      deposit,
      flexCashOfType('Dividends', { transactionID: '501', dateTime: '20250103;000000', amount: '24' }),
      flexCashOfType('Withholding Tax', { transactionID: '502', dateTime: '20250103;000000', amount: '-3.6' }),
      flexCashOfType('Broker Interest Received', { transactionID: '503', dateTime: '20250103', amount: '1.25', symbol: '' }),
      flexCashOfType('Other Fees', { transactionID: '504', dateTime: '20250103', amount: '-10', symbol: '' }),
      flexCashOfType('Other Fees', { transactionID: '505', dateTime: '20250104', amount: '10', symbol: '' }),
    ],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const { items } = await collect<CashFlow>(connector.fetchCashFlows(null));
  t.deepEqual(items.map((c) => [c.kind, c.amount]), [['deposit', '10000'], ['income', '24'], ['expense', '3.6'], ['income', '1.25'], ['expense', '10'], ['income', '10']]);
  t.true(items[0]!.exchangeFlowId.startsWith('syn:cash:'));
  // A row with a date only is placed at the close (16:00 ET), not at midnight.
  t.is(items[3]!.occurredAt, Date.UTC(2025, 0, 3, 16) + ET);
  const valued = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills: [], cashFlows: items, candles: [], untilHour: Date.UTC(2025, 0, 5) });
  t.true(Math.abs(valued.realizedPnl - (24 - 3.6 + 1.25 - 10 + 10)) < 1e-9);
  t.is(valued.hourlyReturns.reduce((sum, h) => sum + h.netFlow, 0), 10000);
});

test('an option expiry at price 0 and an auto-FX trade in the base currency go through the connector and the engine', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    cashTransactions: [flexCash({ transactionID: '1', dateTime: '20250102;080000', amount: '10000' })],
    trades: [
      flexTrade({ tradeID: '11', dateTime: '20250102;100000', assetCategory: 'OPT', symbol: 'AAPL  250103C00250000', multiplier: '100', quantity: '1', tradePrice: '1.5' }),
      flexTrade({ tradeID: '12', dateTime: '20250103;162000', assetCategory: 'OPT', symbol: 'AAPL  250103C00250000', multiplier: '100', quantity: '-1', tradePrice: '0', buySell: 'SELL', notes: 'Ep', transactionType: 'BookTrade', ibCommission: '0' }),
      flexTrade({ tradeID: '13', dateTime: '20250103;170000', assetCategory: 'CASH', symbol: 'USD.USD', quantity: '250', tradePrice: '1', ibCommission: '-2', notes: 'AFx' }),
    ],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const fills = (await collect<Fill>(connector.fetchFills(null))).items;
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  t.like(fills[1], { price: '0', side: 'sell', quantity: '100' });
  t.like(fills[2], { baseAsset: 'USD', quoteAsset: 'USD' });
  const r = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills, cashFlows: flows, candles: [], untilHour: Date.UTC(2025, 0, 4) + ET });
  t.true(Math.abs(r.realizedPnl - (-150 - 1 - 2)) < 1e-9);
  t.true(Math.abs(r.snapshot!.equity - (10000 - 150 - 1 - 2)) < 1e-9);
});

test('a cancellation reported days after the trade is not skipped by the cursor, and a re-booking under the same id replaces the trade', async (t) => {
  const original = flexTrade({ tradeID: '21', dateTime: '20250102;100000', quantity: '10', tradePrice: '185.5', reportDate: '20250102' });
  const fake = await startFlexFake(TOKEN, QUERY, {
    cashTransactions: [flexCash({ transactionID: '1', dateTime: '20250102;080000', amount: '10000' })],
    trades: [original, flexTrade({ tradeID: '22', dateTime: '20250103;100000', reportDate: '20250103' })],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const first = await collect<Fill>(connector.fetchFills(null));
  t.is(first.items.length, 2);
  // Reported on 6 January: the cancellation of trade 21 (dated 2 January) and its re-booking at another price.
  fake.state.trades.push(
    { ...original, quantity: '-10', buySell: 'SELL (Ca.)', notes: 'Ca', reportDate: '20250106' },
    flexTrade({ tradeID: '21', dateTime: '20250102;100000', quantity: '10', tradePrice: '184.5', reportDate: '20250106' }),
  );
  const second = await collect<Fill>(connector.fetchFills(first.cursor));
  t.deepEqual(second.items.map((f) => f.exchangeTradeId).sort(), ['21:cancel', `21:rebook:${second.items.find((f) => f.exchangeTradeId.startsWith('21:rebook:'))!.exchangeTradeId.split(':')[2]}`].sort());
  const all = [...first.items, ...second.items];
  t.is(new Set(all.map((f) => f.exchangeTradeId)).size, 4);
  // Net: 10 held (not 0, not 20), at the re-booked price.
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  const r = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills: all, cashFlows: flows, candles: [], untilHour: Date.UTC(2025, 0, 4) });
  const aapl = r.state.positions.find((p) => p.asset === 'AAPL')!;
  t.is(aapl.quantity, 20); // trade 22 (10) + re-booked 21 (10); the cancelled original nets out
  // Three records at the same instant are applied buys first (the engine's canonical order), so
  // average cost blends the original and the re-booking: within one price step of the exact figure.
  t.true(Math.abs(aapl.costBasis - (185.5 * 10 + 184.5 * 10)) <= 10 * (185.5 - 184.5));
});

test('an ACATS transfer in kind is an external flow and a forward split changes quantity only', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    transfers: [flexTransfer({ transactionID: '31', date: '20250102', quantity: '5' })],
    corporateActions: [flexCorporateAction({ type: 'FS', dateTime: '20250103;202500', quantity: '45', symbol: 'MSFT' })],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  t.deepEqual(flows.map((c) => [c.kind, c.asset, c.amount]), [['deposit', 'MSFT', '5'], ['split-in', 'MSFT', '45']]);
  const start = Date.UTC(2025, 0, 2, 21);
  const candles = Array.from({ length: 30 }, (_, i) => {
    const openTime = start - H + i * H;
    const close = openTime < flows[1]!.occurredAt - H ? '400' : '40';
    return { symbol: 'MSFT/USD', openTime, open: close, high: close, low: close, close, volume: '1' };
  });
  const r = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills: [], cashFlows: flows, candles, untilHour: start + 28 * H });
  t.true(r.hourlyReturns.every((h) => Math.abs(h.return) < 1e-12), 'no −90 % hour at the split');
  t.true(Math.abs(r.snapshot!.equity - 2000) < 1e-9);
});

test('a statement whose accounts have different base currencies is refused, not guessed', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { secondAccountCurrency: 'EUR' });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const error = await t.throwsAsync(collect<Fill>(connector.fetchFills(null)));
  t.true(error instanceof VenueError);
  t.is((error as VenueError).kind, 'rejected');
});

test('a statement that states no base currency is refused unless the connection names one; a stated base other than the configured one is refused', async (t) => {
  const trades = [flexTrade({ tradeID: '61', dateTime: '20250102;100000' })];
  const silent = await startFlexFake(TOKEN, QUERY, { baseCurrency: '', trades });
  t.teardown(() => silent.close());
  const error = await t.throwsAsync(collect<Fill>(createIbkrFlexConnector(credential, options(silent.url)).fetchFills(null)));
  t.true(error instanceof VenueError);
  t.is((error as VenueError).kind, 'rejected');
  t.is((await collect<Fill>(createIbkrFlexConnector(credential, options(silent.url, { baseCurrency: 'USD' })).fetchFills(null))).items.length, 1, 'named by the connection: read in it');
  const eur = await startFlexFake(TOKEN, QUERY, { baseCurrency: 'EUR', trades });
  t.teardown(() => eur.close());
  t.is((await t.throwsAsync(collect<Fill>(createIbkrFlexConnector(credential, options(eur.url)).fetchFills(null))) as VenueError).kind, 'rejected');
  t.is((await collect<Fill>(createIbkrFlexConnector(credential, options(eur.url, { baseCurrency: 'EUR' })).fetchFills(null))).items[0]!.quoteAsset, 'EUR');
});

// OptionEAE rows of csingley/capgains' Flex reader test (tests/test_flex_reader.py,
// OptionsExercisTestCase: VXX 05AUG11 20 C, 20 contracts, 2,000 shares delivered at the strike,
// tradeIDs 590365479/590365480), moved to January 2025 and turned from the assignment of short
// calls into the exercise of long ones (quantities and Buy/Sell mirrored; the engine holds no
// short positions). The Trades rows IBKR books for the same events (notes "Ex", the same tradeID,
// the option at price 0, the shares at the strike) follow ibflex's Trade fields.
const VXX_OPTION = 'VXX   250103C00020000';
function eaeRows(): Record<string, string>[] {
  const common = { accountId: 'U1234567', acctAlias: 'Test Alias', model: '', currency: 'USD', fxRateToBase: '1', securityID: '', securityIDType: '', cusip: '', isin: '', issuer: '', principalAdjustFactor: '', date: '2025-01-03' };
  return [
    { ...common, assetCategory: 'OPT', symbol: VXX_OPTION, description: 'VXX 03JAN25 20.0 C', conid: '91900358', underlyingConid: '80789235', underlyingSymbol: 'VXX', multiplier: '100', strike: '20', expiry: '2025-01-03', putCall: 'C', transactionType: 'Exercise', quantity: '-20', tradePrice: '0.0000', markPrice: '0.0000', proceeds: '0.00', commisionsAndTax: '0.00', costBasis: '-1,000.00', realizedPnl: '0.00', fxPnl: '0.00', mtmPnl: '20,620.00', tradeID: '590365479' },
    { ...common, assetCategory: 'STK', symbol: 'VXX', description: 'IPATH S&P 500 VIX S/T FU ETN', conid: '80789235', underlyingConid: '', underlyingSymbol: '', multiplier: '1', strike: '', expiry: '', putCall: '', transactionType: 'Buy', quantity: '2000', tradePrice: '20.0000', markPrice: '34.7800', proceeds: '-40000.00', commisionsAndTax: '-0.77', costBasis: '40000.77', realizedPnl: '0.00', fxPnl: '0.00', mtmPnl: '29560.00', tradeID: '590365480' },
  ];
}

test('an option exercise read from OptionEAE converts the calls into 2,000 shares bought at the strike; a statement that also books it in Trades counts it once', async (t) => {
  const before = [flexTrade({ tradeID: '590365002', dateTime: '20250102;100500', assetCategory: 'OPT', symbol: VXX_OPTION, conid: '91900358', multiplier: '100', quantity: '20', tradePrice: '0.5', ibCommission: '-2' })];
  const bookedInTrades = [
    flexTrade({ tradeID: '590365479', dateTime: '20250103;162000', assetCategory: 'OPT', symbol: VXX_OPTION, conid: '91900358', multiplier: '100', quantity: '-20', tradePrice: '0', buySell: 'SELL', notes: 'Ex', transactionType: 'BookTrade', ibCommission: '0' }),
    flexTrade({ tradeID: '590365480', dateTime: '20250103;162000', symbol: 'VXX', conid: '80789235', quantity: '2000', tradePrice: '20', buySell: 'BUY', notes: 'Ex', transactionType: 'BookTrade', ibCommission: '-0.77' }),
  ];
  const run = async (trades: Record<string, string>[], optionEAE: Record<string, string>[]) => {
    const fake = await startFlexFake(TOKEN, QUERY, { cashTransactions: [flexCash({ transactionID: '1', dateTime: '20250102;080000', amount: '50000' })], trades, optionEAE });
    t.teardown(() => fake.close());
    const connector = createIbkrFlexConnector(credential, options(fake.url));
    const fills = (await collect<Fill>(connector.fetchFills(null))).items;
    const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
    return { fills, r: aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills, cashFlows: flows, candles: [], untilHour: Date.UTC(2025, 0, 4) + ET }) };
  };
  const both = await run([...before, ...bookedInTrades], eaeRows());
  const eaeOnly = await run(before, eaeRows());
  const withoutIds = await run([...before, ...bookedInTrades], eaeRows().map(({ tradeID: _drop, ...row }) => row));
  for (const [name, { fills, r }] of [['Trades and OptionEAE', both], ['OptionEAE only', eaeOnly], ['OptionEAE without ids', withoutIds]] as const) {
    t.deepEqual(fills.map((f) => [f.exchangeTradeId, f.baseAsset, f.side, f.quantity, f.price]),
      [['590365002', VXX_OPTION, 'buy', '2000', '0.5'], ['590365479', VXX_OPTION, 'sell', '2000', '0'], ['590365480', 'VXX', 'buy', '2000', '20']], name);
    // The calls are gone, the shares arrived at the strike, the cash paid it once.
    const held = Object.fromEntries(r.state.positions.filter((p) => Math.abs(p.quantity) > 1e-9).map((p) => [p.asset, Number(p.quantity.toFixed(6))]));
    t.deepEqual(held, { USD: 50000 - 1000 - 2 - 40000 - 0.77, VXX: 2000 }, name);
    t.true(Math.abs(r.realizedPnl - (-1000 - 2 - 0.77)) < 1e-6, `${name}: the premium is realized as the option closes at 0, fees included (${r.realizedPnl})`);
  }
});

test('an expiry known only from OptionEAE (no id) closes the contracts at 0 under a stable synthetic id', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    cashTransactions: [flexCash({ transactionID: '1', dateTime: '20250102;080000', amount: '10000' })],
    trades: [flexTrade({ tradeID: '41', dateTime: '20250102;100000', assetCategory: 'OPT', symbol: 'SPY   250103P00622000', multiplier: '100', quantity: '1', tradePrice: '1.5' })],
    // The Expiration row shape of an OptionEAE section (SPY put, quantity, tradePrice 0) as recorded in public Flex samples.
    optionEAE: [{ accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', assetCategory: 'OPT', symbol: 'SPY   250103P00622000', description: 'SPY 03JAN25 622 P', strike: '622', expiry: '20250103', putCall: 'P', multiplier: '100', date: '20250103', transactionType: 'Expiration', quantity: '-1', tradePrice: '0' }],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const fills = (await collect<Fill>(connector.fetchFills(null))).items;
  t.is(fills.length, 2);
  t.like(fills[1], { side: 'sell', quantity: '100', price: '0' });
  t.true(fills[1]!.exchangeTradeId.startsWith('syn:eae:'), 'no id in the row: a synthetic one from its content');
  const again = (await collect<Fill>(connector.fetchFills(null))).items;
  t.is(again[1]!.exchangeTradeId, fills[1]!.exchangeTradeId);
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  const r = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills, cashFlows: flows, candles: [], untilHour: Date.UTC(2025, 0, 4) + ET });
  t.true(Math.abs(r.realizedPnl - (-150 - 1)) < 1e-9, 'the premium paid is lost, with the commission');
});

test('shares delivered at the strike by an exercise are not a market price: the hour\'s candle comes from the ordinary trade only', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    trades: [
      flexTrade({ tradeID: '71', dateTime: '20250103;100500', symbol: 'VXX', conid: '80789235', quantity: '10', tradePrice: '34.5' }),
      flexTrade({ tradeID: '72', dateTime: '20250103;102000', symbol: 'VXX', conid: '80789235', quantity: '2000', tradePrice: '20', buySell: 'BUY', notes: 'Ex', transactionType: 'BookTrade', ibCommission: '0' }),
    ],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const hour = Date.UTC(2025, 0, 3, 15); // 10:00 ET
  const candles = await connector.fetchHourlyCandles('VXX/USD', hour, hour + H);
  const first = candles.find((c) => c.openTime === hour);
  t.truthy(first);
  t.is(Number(first!.low), 34.5, 'the strike (20) is not in the candle');
  t.is(Number(first!.close), 34.5);
});
