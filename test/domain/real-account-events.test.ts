import test from 'ava';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { quarantineGaps, screenCashFlows, screenFills } from '../../src/domain/quarantine.js';
import type { CashFlow, CashFlowKind } from '../../src/domain/types.js';
import { H, T0, candle, deposit, fill, input } from './history.js';

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
let seq = 0;
const event = (at: number, kind: CashFlowKind, asset: string, amount: string): CashFlow => ({ exchangeFlowId: `e${++seq}`, kind, asset, amount, occurredAt: at });

test('a maker rebate (negative fee) is accepted: the rebate is paid in and net fees go negative', (t) => {
  const r = aggregate(input({
    cashFlows: [deposit(T0, 'USDT', '1000')],
    fills: [fill(T0 + 60_000, 'buy', 'BTC/USDT', '0.01', '50000', '-0.1')],
    candles: [candle('BTC/USDT', T0, '50000')],
  }));
  t.true(near(r.snapshot!.balance, 1000 - 500 + 0.1));
  t.true(near(r.totalFees, -0.1));
  t.true(near(r.snapshot!.equity, 1000.1));
  t.true(near(r.hourlyReturns[0]!.return, 0.1 / 1000));
});

test('an option expiring worthless (a fill at price 0) realizes the premium as a loss instead of refusing the fill', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD', untilHour: T0 + 2 * H,
    cashFlows: [deposit(T0, 'USD', '1000')],
    fills: [fill(T0 + 60_000, 'buy', 'SPY250117C600/USD', '100', '2'), fill(T0 + H + 60_000, 'sell', 'SPY250117C600/USD', '100', '0')],
  }));
  t.true(near(r.realizedPnl, -200));
  t.true(near(r.snapshot!.equity, 800));
  t.is(r.gaps.filter((g) => g.kind === 'oversold').length, 0);
});

test('an auto-FX fill in the base currency (USD for USD) moves nothing but its fee', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD',
    cashFlows: [deposit(T0, 'USD', '1000')],
    fills: [fill(T0 + 60_000, 'buy', 'USD/USD', '250', '1', '0.5', 'USD')],
  }));
  t.true(near(r.snapshot!.equity, 999.5));
  t.true(near(r.totalFees, 0.5));
});

test('a dividend is performance, not a flow; withholding tax is a loss', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD', untilHour: T0 + 2 * H,
    cashFlows: [deposit(T0, 'USD', '1000'), event(T0 + H + 1000, 'income', 'USD', '10'), event(T0 + H + 2000, 'expense', 'USD', '1.5')],
  }));
  const second = r.hourlyReturns[1]!;
  t.is(second.netFlow, 0);
  t.true(near(second.return, 8.5 / 1000));
  t.true(near(r.realizedPnl, 8.5));
});

test('a 10-for-1 split on unadjusted marks changes quantity, not value: no −90 % hour', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD', untilHour: T0 + 3 * H,
    cashFlows: [deposit(T0, 'USD', '5000')],
    fills: [fill(T0 + 60_000, 'buy', 'AAPL/USD', '10', '500')],
    candles: [candle('AAPL/USD', T0, '500'), candle('AAPL/USD', T0 + H, '50', '500'), candle('AAPL/USD', T0 + 2 * H, '50')],
  }));
  // Without the split event the second hour loses 90 %.
  t.true(r.hourlyReturns[1]!.return < -0.89);
  const split = aggregate(input({
    baseCurrency: 'USD', untilHour: T0 + 3 * H,
    cashFlows: [deposit(T0, 'USD', '5000'), event(T0 + H + 30 * 60_000, 'split-in', 'AAPL', '90')],
    fills: [fill(T0 + 60_000, 'buy', 'AAPL/USD', '10', '500')],
    candles: [candle('AAPL/USD', T0, '500'), candle('AAPL/USD', T0 + H, '50', '500'), candle('AAPL/USD', T0 + 2 * H, '50')],
  }));
  t.true(near(split.hourlyReturns[1]!.return, 0));
  t.true(near(split.snapshot!.equity, 5000));
  const aapl = split.state.positions.find((p) => p.asset === 'AAPL')!;
  t.true(near(aapl.quantity, 100));
  t.true(near(aapl.costBasis, 5000));
});

test('a split keeps FIFO lots whole: cost per unit scales', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD', costMethod: 'fifo', untilHour: T0 + 2 * H,
    cashFlows: [deposit(T0, 'USD', '5000'), event(T0 + H, 'split-in', 'AAPL', '10')],
    fills: [fill(T0 + 60_000, 'buy', 'AAPL/USD', '5', '500'), fill(T0 + 120_000, 'buy', 'AAPL/USD', '5', '400'), fill(T0 + H + 60_000, 'sell', 'AAPL/USD', '10', '250')],
    candles: [candle('AAPL/USD', T0, '500'), candle('AAPL/USD', T0 + H, '250')],
  }));
  // The first lot (5 @ 500 → 10 @ 250) is sold at 250: nothing realized.
  t.true(near(r.realizedPnl, 0));
});

test('a merger as expense of the old position and income of the new at their marks leaves the hour flat', (t) => {
  const r = aggregate(input({
    baseCurrency: 'USD', untilHour: T0 + 2 * H,
    cashFlows: [deposit(T0, 'USD', '1000'), event(T0 + H + 1000, 'expense', 'OLD', '10'), event(T0 + H + 1000, 'income', 'NEW', '5'), event(T0 + H + 1000, 'income', 'USD', '100')],
    fills: [fill(T0 + 60_000, 'buy', 'OLD/USD', '10', '100')],
    candles: [candle('OLD/USD', T0, '100'), candle('NEW/USD', T0, '180'), candle('NEW/USD', T0 + H, '180')],
  }));
  t.true(near(r.hourlyReturns[1]!.return, 0));
  t.true(near(r.snapshot!.equity, 1000));
});

test('screening keeps good records and quarantines each bad one, flagged at its hour', (t) => {
  const good = fill(T0 + 60_000, 'buy', 'BTC/USDT', '1', '10');
  const bad = { ...fill(T0 + H + 5, 'buy', 'BTC/USDT', '1', '10'), quantity: 'NaN' };
  const fills = screenFills([good, bad]);
  t.deepEqual(fills.kept, [good]);
  t.deepEqual(fills.quarantined, [{ record: 'fill', field: 'quantity', at: T0 + H + 5 }]);
  const flows = screenCashFlows([{ ...deposit(T0, 'USDT', '5'), kind: 'gift' as CashFlowKind }, deposit(T0, 'USDT', '5')]);
  t.is(flows.kept.length, 1);
  t.is(flows.quarantined[0]!.field, 'kind');
  const gaps = quarantineGaps([...fills.quarantined, ...flows.quarantined], T0 + 5 * H);
  t.deepEqual(gaps.map((g) => [g.kind, g.hourStart]), [['quarantined', T0], ['quarantined', T0 + H]]);
});
