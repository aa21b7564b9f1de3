// Valuation at a flow's instant (issue 17, item 1): the portfolio is valued from the one-minute
// candles of the flow's minute; without them the hour's mark stands in, the hour is flagged
// estimated-mark and the engine names the minute bars it lacked, so the caller can fetch them once
// and run again.
import test from 'ava';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { balance, candle, deposit, H, input, T0 } from './history.js';

const at = T0 + 30 * 60_000;
// 1,000 USDT and 1 BTC marked 100 at 00:00 and 120 at 01:00; 2,000 USDT arrive at 00:30.
const holding = input({
  openingBalances: [balance('USDT', '1000'), balance('BTC', '1')],
  cashFlows: [deposit(at, 'USDT', '2000')],
  candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '120')],
  largeFlowShare: 0.1,
});

test('a large flow is valued at the open of its minute: the two sub-periods are linked', (t) => {
  const result = aggregate({ ...holding, minuteCandles: [candle('BTC/USDT', at, '110', '110')] });
  const hour = result.hourlyReturns[0]!;
  // 1,100 → 1,110 at 00:30 (BTC at 110), then 3,110 → 3,120.
  const expected = (1 + 10 / 1100) * (1 + 10 / 3110) - 1;
  t.true(Math.abs(hour.return - expected) < 1e-12, String(hour.return));
  t.deepEqual(hour.flags, ['revalued-at-flow']);
  t.deepEqual(result.minuteMarksWanted, []);
});

test('without the minute bar the hour mark stands in, the hour is flagged estimated-mark and the bar is asked for', (t) => {
  const result = aggregate(holding);
  const hour = result.hourlyReturns[0]!;
  // BTC at its 00:00 mark (100) at the flow: 1,100 → 1,100, then 3,100 → 3,120.
  t.true(Math.abs(hour.return - 20 / 3100) < 1e-12, String(hour.return));
  t.deepEqual(hour.flags, ['estimated-mark', 'revalued-at-flow']);
  t.deepEqual(result.minuteMarksWanted, [{ symbol: 'BTC/USDT', minute: at }]);
});

test('a flow inside a minute asks for the bar that opens at the start of that minute', (t) => {
  const result = aggregate({ ...holding, cashFlows: [deposit(at + 42_123, 'USDT', '2000')] });
  t.deepEqual(result.minuteMarksWanted, [{ symbol: 'BTC/USDT', minute: at }]);
  const fixed = aggregate({ ...holding, cashFlows: [deposit(at + 42_123, 'USDT', '2000')], minuteCandles: [candle('BTC/USDT', at, '110', '110')] });
  t.deepEqual(fixed.minuteMarksWanted, []);
  t.deepEqual(fixed.hourlyReturns[0]!.flags, ['revalued-at-flow']);
});

test('a small flow in the base currency needs no minute bar and flags nothing', (t) => {
  const result = aggregate({ ...holding, cashFlows: [deposit(at, 'USDT', '10')] });
  t.deepEqual(result.minuteMarksWanted, []);
  t.is(result.hourlyReturns[0]!.flags, undefined);
});

test('a deposit in kind is valued at its own minute even when small: without the bar it is estimated', (t) => {
  const small = { ...holding, cashFlows: [deposit(at, 'BTC', '0.01')] };
  const without = aggregate(small);
  t.deepEqual(without.minuteMarksWanted, [{ symbol: 'BTC/USDT', minute: at }]);
  t.deepEqual(without.hourlyReturns[0]!.flags, ['estimated-mark']);
  const priced = aggregate({ ...small, minuteCandles: [candle('BTC/USDT', at, '110', '110')] });
  t.is(priced.hourlyReturns[0]!.flags, undefined);
  t.true(Math.abs(priced.hourlyReturns[0]!.netFlow - 0.01 * 110) < 1e-12);
});

test('Modified Dietz only (no large-flow share): no minute bar is asked for', (t) => {
  const result = aggregate({ ...holding, largeFlowShare: null });
  t.deepEqual(result.minuteMarksWanted, []);
  t.is(result.hourlyReturns[0]!.flags, undefined);
});
