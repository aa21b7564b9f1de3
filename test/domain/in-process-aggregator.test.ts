import test from 'ava';
import { aggregate, inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import { encodeInput } from '../../src/domain/columnar.js';
import { AggregationInputError } from '../../src/domain/errors.js';
import { H, T0, balance, candle, deposit, fill, input, withdrawal } from './history.js';

const close = (t: { is: (a: unknown, b: unknown) => void; true: (v: boolean, m?: string) => void }, actual: number, expected: number, what = ''): void => {
  t.true(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${what}: ${actual} ≠ ${expected}`);
};

test('a buy/sell round trip with fees realizes the price gain minus both fees', (t) => {
  const result = aggregate(input({
    untilHour: T0 + 2 * H,
    cashFlows: [deposit(T0, 'USDT', '1000')],
    fills: [fill(T0 + 600_000, 'buy', 'BTC/USDT', '1', '100', '0.1'), fill(T0 + H + 60_000, 'sell', 'BTC/USDT', '1', '120', '0.12')],
    candles: [candle('BTC/USDT', T0, '110'), candle('BTC/USDT', T0 + H, '115')],
  }));
  t.is(result.hourlyReturns.length, 2);
  const [h0, h1] = result.hourlyReturns;
  // Hour 0: E_start 0, deposit 1000 at the start (weight 1); E_end = 899.9 cash + 1 BTC × 110.
  close(t, h0!.return, (1009.9 - 1000) / 1000, 'r0');
  close(t, h0!.equityEnd, 1009.9, 'E0');
  t.is(h0!.netFlow, 1000);
  // Hour 1: sold at 120 less 0.12 fee: E_end = 1019.78.
  close(t, h1!.return, (1019.78 - 1009.9) / 1009.9, 'r1');
  close(t, h1!.cumulativeReturn, 0.01978, 'cumulative');
  close(t, result.realizedPnl, 20 - 0.1 - 0.12, 'realized');
  close(t, result.totalFees, 0.22, 'fees');
  t.is(result.unrealizedPnl, 0);
  t.deepEqual(result.gaps, []);
  close(t, result.snapshot!.equity, 1019.78, 'snapshot');
  t.is(result.snapshot!.at, T0 + 2 * H);
});

const held = { openingBalances: [balance('USDT', '1000'), balance('BTC', '1')], candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '110')] };

test('a deposit half-way through the hour is weighted by the half hour left', (t) => {
  const result = aggregate(input({ ...held, cashFlows: [deposit(T0 + H / 2, 'USDT', '500')] }));
  // E_start 1100, E_end 1610, F = 500 with weight ½.
  close(t, result.hourlyReturns[0]!.return, 10 / 1350);
  t.is(result.hourlyReturns[0]!.netFlow, 500);
});

test('a withdrawal is a negative flow weighted by the time left', (t) => {
  const result = aggregate(input({ ...held, cashFlows: [withdrawal(T0 + (3 * H) / 4, 'USDT', '200')] }));
  close(t, result.hourlyReturns[0]!.return, (910 - 1100 + 200) / (1100 - 50));
  t.is(result.hourlyReturns[0]!.netFlow, -200);
});

test('a fee paid in a third asset is valued at that asset’s mark', (t) => {
  const result = aggregate(input({
    openingBalances: [balance('USDT', '1000'), balance('BNB', '1')],
    fills: [fill(T0 + 60_000, 'buy', 'BTC/USDT', '1', '100', '0.01', 'BNB')],
    candles: [candle('BNB/USDT', T0 - H, '300'), candle('BNB/USDT', T0, '310'), candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '100')],
  }));
  close(t, result.totalFees, 3, 'fee at the BNB mark 300');
  close(t, result.realizedPnl, -3, 'realized');
  // BNB 0.99 left, up from 300 to 310.
  close(t, result.unrealizedPnl, 9.9, 'unrealized');
  close(t, result.hourlyReturns[0]!.equityEnd, 900 + 100 + 0.99 * 310, 'equity');
  close(t, result.hourlyReturns[0]!.return, 6.9 / 1300, 'return');
});

test('a flat hour has a return of exactly zero', (t) => {
  const result = aggregate(input({ openingBalances: [balance('USDT', '1000')], untilHour: T0 + 2 * H }));
  t.deepEqual(result.hourlyReturns.map((h) => h.return), [0, 0]);
  t.is(result.metrics.cumulativeReturn, 0);
});

test('an hour starting at zero equity without a flow has no return and says why', (t) => {
  const result = aggregate(input({ untilHour: T0 + 3 * H, cashFlows: [deposit(T0 + 2 * H, 'USDT', '100')] }));
  t.deepEqual(result.hourlyReturns.map((h) => [h.hourStart, h.return]), [[T0 + 2 * H, 0]]);
  t.is(result.gaps.length, 1);
  t.like(result.gaps[0], { kind: 'non-positive-equity', hourStart: T0, untilHour: T0 + 2 * H, count: 2 });
  t.false(Number.isNaN(result.metrics.cumulativeReturn));
});

test('selling more than held is reported and treated as an unrecorded deposit, not a gain', (t) => {
  const result = aggregate(input({
    openingBalances: [balance('BTC', '0.5')],
    fills: [fill(T0 + H / 2, 'sell', 'BTC/USDT', '1', '100')],
    candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '100')],
  }));
  t.is(result.gaps.length, 1);
  t.like(result.gaps[0], { kind: 'oversold', asset: 'BTC', hourStart: T0 });
  t.regex(result.gaps[0]!.treatment, /unrecorded deposit/u);
  t.is(result.hourlyReturns[0]!.return, 0);
  t.is(result.hourlyReturns[0]!.netFlow, 50);
});

test('a missing candle carries the last mark forward and counts it as stale', (t) => {
  const result = aggregate(input({
    untilHour: T0 + 3 * H,
    openingBalances: [balance('BTC', '1')],
    candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '110'), candle('BTC/USDT', T0 + 2 * H, '121')],
  }));
  t.deepEqual(result.hourlyReturns.map((h) => h.equityEnd), [110, 110, 121]);
  t.is(result.staleMarks, 1);
  // The candle of hour T0 + 1h is missing: that hour's closing equity uses the carried mark.
  t.like(result.gaps[0], { kind: 'stale-mark', asset: 'BTC', hourStart: T0 + H, untilHour: T0 + 2 * H, count: 1 });
});

test('an asset never marked is reported and valued at cost, never at 1', (t) => {
  const result = aggregate(input({
    openingBalances: [balance('USDT', '1000')],
    fills: [fill(T0 + 60_000, 'buy', 'XYZ/USDT', '10', '5')],
  }));
  t.is(result.hourlyReturns[0]!.equityEnd, 1000);
  t.true(result.gaps.some((g) => g.kind === 'missing-mark' && g.asset === 'XYZ'));
});

test('FIFO realizes against the oldest lot, average cost against the mean', (t) => {
  const fills = [fill(T0 + 1, 'buy', 'BTC/USDT', '1', '100'), fill(T0 + 2, 'buy', 'BTC/USDT', '1', '200'), fill(T0 + 3, 'sell', 'BTC/USDT', '1', '250')];
  const base = { openingBalances: [balance('USDT', '1000')], fills, candles: [candle('BTC/USDT', T0, '250')] };
  const fifo = aggregate(input({ ...base, costMethod: 'fifo' }));
  const average = aggregate(input({ ...base }));
  t.is(fifo.realizedPnl, 150);
  t.is(average.realizedPnl, 100);
  t.is(fifo.unrealizedPnl, 50);
  t.is(average.unrealizedPnl, 100);
  t.is(fifo.hourlyReturns[0]!.return, average.hourlyReturns[0]!.return);
});

test('a cross pair moves both legs and values them through the quote asset’s mark', (t) => {
  const result = aggregate(input({
    openingBalances: [balance('BTC', '1')],
    fills: [fill(T0 + 60_000, 'buy', 'ETH/BTC', '10', '0.05')],
    candles: [candle('BTC/USDT', T0 - H, '1000'), candle('BTC/USDT', T0, '1000'), candle('ETH/USDT', T0, '60')],
  }));
  // 10 ETH for 0.5 BTC: cost 500; marked at 60 → 600; BTC 0.5 × 1000.
  t.is(result.hourlyReturns[0]!.equityEnd, 1100);
  t.is(result.unrealizedPnl, 100);
  t.is(result.realizedPnl, 0);
});

test('bad input is refused with an error that names the field, not the value', (t) => {
  const error = t.throws(() => aggregate(input({ fills: [fill(T0, 'buy', 'BTC/USDT', '1e5', '100')] })), { instanceOf: AggregationInputError });
  t.is(error.message, 'fill 0: quantity is not a decimal string');
  t.throws(() => aggregate(input({ untilHour: T0 + 5 })), { instanceOf: AggregationInputError });
  t.throws(() => aggregate(input({ state: { version: 2 } })), { instanceOf: AggregationInputError, message: /saved state is invalid/u });
});

test('fills after untilHour are deferred, and fills before the saved state are refused', (t) => {
  const first = aggregate(input({ openingBalances: [balance('USDT', '10')], fills: [fill(T0 + H + 5, 'buy', 'BTC/USDT', '1', '1')] }));
  t.is(first.deferredFills, 1);
  t.is(first.state.hour, T0 + H);
  t.throws(() => aggregate(input({ state: first.state, untilHour: T0 + 2 * H, fills: [fill(T0 + 5, 'buy', 'BTC/USDT', '1', '1')] })), { instanceOf: AggregationInputError, message: /before the first hour/u });
});

test('the saved state survives JSON', (t) => {
  const result = aggregate(input({ ...held, costMethod: 'fifo', fills: [fill(T0 + 60_000, 'buy', 'BTC/USDT', '0.3', '105', '0.01')] }));
  t.deepEqual(JSON.parse(JSON.stringify(result.state)), result.state);
});

test('fill ids and symbols never enter the columns that cross to a worker', (t) => {
  const canary = fill(T0 + 1, 'buy', 'BTC/USDT', '1', '100');
  const columns = encodeInput(input({ fills: [{ ...canary, exchangeTradeId: 'canary-trade-id-9137' }], cashFlows: [{ ...deposit(T0, 'USDT', '5'), exchangeFlowId: 'canary-flow-id-5521' }] }));
  const text = JSON.stringify(columns, (_key, value: unknown) => (ArrayBuffer.isView(value) ? Array.from(value as Float64Array) : value));
  t.false(text.includes('canary'));
  t.deepEqual(columns.assets, ['USDT', 'BTC']);
});

test('the in-process aggregator honours the contract and an aborted signal', async (t) => {
  const run = input({ openingBalances: [balance('USDT', '1')] });
  t.deepEqual(await inProcessAggregator.aggregate(run), aggregate(run));
  await t.throwsAsync(inProcessAggregator.aggregate(run, AbortSignal.abort()), { name: 'AbortError' });
});

test('a state saved by the engine before the metrics were kept in it is refused, so the history is recomputed', (t) => {
  const first = aggregate({ baseCurrency: 'USDT', costMethod: 'average', state: null, startHour: T0, untilHour: T0 + 2 * H, openingBalances: [{ asset: 'USDT', total: '100' }], fills: [], cashFlows: [], candles: [] });
  const { performance: _dropped, ...older } = first.state;
  const resume = (state: unknown) => aggregate({ baseCurrency: 'USDT', costMethod: 'average', state, untilHour: T0 + 3 * H, openingBalances: [], fills: [], cashFlows: [], candles: [] });
  t.throws(() => resume({ ...older, version: 1 }), { instanceOf: AggregationInputError, message: /unknown version/u });
  t.throws(() => resume({ ...older }), { instanceOf: AggregationInputError, message: /performance accumulator/u });
  t.is(resume(JSON.parse(JSON.stringify(first.state))).metrics.hours, 3);
});
