import test from 'ava';
import { computePerformanceStats } from '../../src/domain/performance.js';
import type { HourlyReturn } from '../../src/domain/types.js';
import { H, T0 } from './history.js';

const series = (rs: readonly number[]): HourlyReturn[] => rs.map((r, i) => ({ hourStart: T0 + i * H, return: r, cumulativeReturn: 0, equityEnd: 0, netFlow: 0 }));
const pnl = { realizedPnl: 12.5, unrealizedPnl: -3, totalFees: 0.75 };
const near = (a: number | null, b: number): boolean => a !== null && Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));

test('metrics of +10%, −20%, +5% match the hand computation', (t) => {
  const m = computePerformanceStats(series([0.1, -0.2, 0.05]), pnl);
  const mean = -0.05 / 3;
  const sd = Math.sqrt(((0.1 - mean) ** 2 + (-0.2 - mean) ** 2 + (0.05 - mean) ** 2) / 2);
  t.is(m.hours, 3);
  t.true(near(m.cumulativeReturn, 1.1 * 0.8 * 1.05 - 1));
  // GIPS: three hours are not annualized (nor is Calmar, which divides an annualized return).
  t.is(m.annualizedReturn, null);
  t.true(near(m.annualizedVolatility, sd * Math.sqrt(8760)));
  // Peak after hour 0 (index 1.1), trough after hour 1 (0.88): 20%.
  t.true(near(m.maxDrawdown, 0.2));
  t.is(m.maxDrawdownPeakHour, T0 + H);
  t.is(m.maxDrawdownTroughHour, T0 + 2 * H);
  t.true(near(m.sharpe, (mean / sd) * Math.sqrt(8760)));
  t.true(near(m.sortino, (mean / Math.sqrt(0.04 / 3)) * Math.sqrt(8760)));
  t.is(m.calmar, null);
  t.true(near(m.positiveHourShare, 2 / 3));
  t.is(m.bestHour, 0.1);
  t.is(m.worstHour, -0.2);
  t.like(m, pnl);
});

test('metrics of no hours are zeros and nulls, never NaN', (t) => {
  const m = computePerformanceStats([], pnl);
  t.like(m, { hours: 0, cumulativeReturn: 0, annualizedReturn: null, annualizedVolatility: 0, maxDrawdown: 0, sharpe: null, sortino: null, calmar: null, bestHour: null, worstHour: null, maxDrawdownPeakHour: null });
  t.false(Object.values(m).some((v) => typeof v === 'number' && Number.isNaN(v)));
});

test('a series that only rises has no drawdown and no Sortino or Calmar', (t) => {
  const m = computePerformanceStats(series([0.01, 0.02, 0.01]), pnl);
  t.is(m.maxDrawdown, 0);
  t.is(m.sortino, null);
  t.is(m.calmar, null);
  t.is(m.positiveHourShare, 1);
});
