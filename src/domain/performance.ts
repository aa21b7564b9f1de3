// Performance metrics from a series of hourly returns. Pure; works on stored returns too.
// The metrics are kept incrementally: a PerformanceAccumulator (plain JSON data, carried in the
// engine state) takes each new hour and turns into PerformanceStats at any point, so a run that
// resumes from a saved state yields exactly what one run over the whole history yields.
//
// Numbers: the sums (returns, squared downside) are Neumaier-compensated, and the squared
// deviations are Welford's update around the compensated mean, so the metrics stay within 1e-9
// (relative to the returns' own scale) of a two-pass computation however long the history is.
// Every update is one fixed sequence of float64 operations per hour: splitting the history at any
// hour and passing the accumulator through JSON gives bit-identical results.
import type { PerformanceStats } from './aggregation.js';
import { AggregationInputError } from './errors.js';
import type { HourlyReturn } from './types.js';

export const HOURS_PER_YEAR = 8760;
const HOUR_MS = 3_600_000;

export interface PnlTotals {
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
}

/** Everything the metrics need from the hours seen so far (JSON-safe: no ±Infinity, no NaN). */
export interface PerformanceAccumulator {
  readonly hours: number;
  readonly positiveHours: number;
  /** Σ r as a Neumaier pair: the value is sum + compensation. */
  readonly returnSum: number;
  readonly returnSumCompensation: number;
  /** Σ (r − mean)² by Welford's update, compensated the same way. */
  readonly squaredDeviations: number;
  readonly squaredDeviationsCompensation: number;
  /** Σ min(r, 0)², compensated. */
  readonly downsideSquares: number;
  readonly downsideSquaresCompensation: number;
  /** Growth index G = Π(1 + r) (1 before the first hour). */
  readonly growth: number;
  /** max G so far (1 before the first hour) and the hour boundary it was reached at. */
  readonly peak: number;
  readonly peakAt: number | null;
  readonly maxDrawdown: number;
  readonly maxDrawdownPeakAt: number | null;
  readonly maxDrawdownTroughAt: number | null;
  readonly best: number | null;
  readonly worst: number | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type PerformanceAccumulatorDraft = Mutable<PerformanceAccumulator>;

export const EMPTY_PERFORMANCE: PerformanceAccumulator = Object.freeze({
  hours: 0, positiveHours: 0, returnSum: 0, returnSumCompensation: 0, squaredDeviations: 0, squaredDeviationsCompensation: 0,
  downsideSquares: 0, downsideSquaresCompensation: 0, growth: 1, peak: 1, peakAt: null,
  maxDrawdown: 0, maxDrawdownPeakAt: null, maxDrawdownTroughAt: null, best: null, worst: null,
});

/** A working copy to update hour by hour (the saved accumulator is never changed in place). */
export function draftOf(accumulator: PerformanceAccumulator): PerformanceAccumulatorDraft {
  return { ...accumulator };
}

/** Takes one hour: `r` is the return of the hour starting at `hourStart` (hours oldest first). */
export function addHour(a: PerformanceAccumulatorDraft, hourStart: number, r: number): void {
  const n = a.hours + 1;
  const meanBefore = a.hours > 0 ? (a.returnSum + a.returnSumCompensation) / a.hours : 0;
  // Neumaier: the compensation keeps the low-order bits each addition rounds away.
  let sum = a.returnSum + r;
  a.returnSumCompensation += Math.abs(a.returnSum) >= Math.abs(r) ? (a.returnSum - sum) + r : (r - sum) + a.returnSum;
  a.returnSum = sum;
  const meanAfter = (a.returnSum + a.returnSumCompensation) / n;
  // Welford: Σ(x − mean)² grows by (x − mean before)(x − mean after), a non-negative term.
  const deviation = (r - meanBefore) * (r - meanAfter);
  sum = a.squaredDeviations + deviation;
  a.squaredDeviationsCompensation += Math.abs(a.squaredDeviations) >= Math.abs(deviation) ? (a.squaredDeviations - sum) + deviation : (deviation - sum) + a.squaredDeviations;
  a.squaredDeviations = sum;
  if (r < 0) {
    const square = r * r;
    sum = a.downsideSquares + square;
    a.downsideSquaresCompensation += a.downsideSquares >= square ? (a.downsideSquares - sum) + square : (square - sum) + a.downsideSquares;
    a.downsideSquares = sum;
  }
  if (r > 0) a.positiveHours += 1;
  if (a.best === null || r > a.best) a.best = r;
  if (a.worst === null || r < a.worst) a.worst = r;
  // Drawdown on the growth index; times are hour boundaries (the first peak is the first hour's start).
  if (a.peakAt === null) a.peakAt = hourStart;
  a.growth *= 1 + r;
  const at = hourStart + HOUR_MS;
  if (a.growth > a.peak) {
    a.peak = a.growth;
    a.peakAt = at;
  } else if (a.peak > 0) {
    const drawdown = 1 - a.growth / a.peak;
    if (drawdown > a.maxDrawdown) {
      a.maxDrawdown = drawdown;
      a.maxDrawdownPeakAt = a.peakAt;
      a.maxDrawdownTroughAt = at;
    }
  }
  a.hours = n;
}

/** The metrics of the hours an accumulator has taken, with the P&L totals at its last hour. */
export function performanceStatsFrom(a: PerformanceAccumulator, pnl: PnlTotals): PerformanceStats {
  const n = a.hours;
  const mean = n > 0 ? (a.returnSum + a.returnSumCompensation) / n : 0;
  /** Sample standard deviation of hourly returns (n − 1); 0 below two hours. */
  const sd = n > 1 ? Math.sqrt(Math.max(0, a.squaredDeviations + a.squaredDeviationsCompensation) / (n - 1)) : 0;
  /** Downside deviation: √(Σ min(r, 0)² / n), target 0. */
  const downside = n > 0 ? Math.sqrt((a.downsideSquares + a.downsideSquaresCompensation) / n) : 0;
  const annualFactor = Math.sqrt(HOURS_PER_YEAR);
  const growth = a.growth;
  /**
   * Annualized: (1 + cumulative)^(8760 / hours) − 1 (−1 once the index is at or below 0), only over
   * at least one year (8,760 hours): GIPS forbids annualizing a shorter period, so it is null then.
   */
  const annualizedReturn = n < HOURS_PER_YEAR ? null : growth <= 0 ? -1 : growth ** (HOURS_PER_YEAR / n) - 1;
  const maxDrawdown = a.maxDrawdown;
  return {
    hours: n,
    /** Cumulative (time-weighted): Π(1 + r) − 1. */
    cumulativeReturn: growth - 1,
    annualizedReturn,
    /** Annualized volatility: sample stdev of hourly returns × √8760. */
    annualizedVolatility: sd * annualFactor,
    /** Max drawdown: max over t of 1 − G_t / max_{s≤t} G_s, as a positive fraction. */
    maxDrawdown,
    maxDrawdownPeakHour: a.maxDrawdownPeakAt,
    maxDrawdownTroughHour: a.maxDrawdownTroughAt,
    /** Sharpe (risk-free 0): mean(r) / stdev(r) × √8760; null when stdev is 0. */
    sharpe: sd > 0 ? (mean / sd) * annualFactor : null,
    /** Sortino (target 0): mean(r) / downside deviation × √8760; null without a losing hour. */
    sortino: downside > 0 ? (mean / downside) * annualFactor : null,
    /** Calmar: annualized return / max drawdown; null without a drawdown or below one year. */
    calmar: maxDrawdown > 0 && annualizedReturn !== null ? annualizedReturn / maxDrawdown : null,
    /** Share of hours with r > 0. */
    positiveHourShare: n > 0 ? a.positiveHours / n : 0,
    bestHour: a.best,
    worstHour: a.worst,
    totalFees: pnl.totalFees,
    realizedPnl: pnl.realizedPnl,
    unrealizedPnl: pnl.unrealizedPnl,
  };
}

/** Metrics of `returns` (oldest first; hours without a return are simply absent). */
export function computePerformanceStats(returns: readonly HourlyReturn[], pnl: PnlTotals): PerformanceStats {
  const a = draftOf(EMPTY_PERFORMANCE);
  // An hour published without a return (flag unvalued) is not a 0 % hour.
  for (const h of returns) if (h.flags?.includes('unvalued') !== true) addHour(a, h.hourStart, h.return);
  return performanceStatsFrom(a, pnl);
}

/** computePerformanceStats on columns: `r[i]` is the return of the hour starting at `hourStart[i]`. */
export function performanceStatsOf(r: Float64Array, hourStart: Float64Array, pnl: PnlTotals): PerformanceStats {
  const a = draftOf(EMPTY_PERFORMANCE);
  for (let i = 0; i < r.length; i++) addHour(a, hourStart[i]!, r[i]!);
  return performanceStatsFrom(a, pnl);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);

/** Checks a saved accumulator (it comes back from storage inside the engine state as `unknown`). */
export function parsePerformanceAccumulator(value: unknown): PerformanceAccumulator {
  const bad = (what: string): never => {
    throw new AggregationInputError(`saved performance accumulator is invalid: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not an object');
  const v = value as Record<string, unknown>;
  const { hours, positiveHours } = v;
  if (!isNum(hours) || !Number.isSafeInteger(hours) || hours < 0) return bad('hours');
  if (!isNum(positiveHours) || !Number.isSafeInteger(positiveHours) || positiveHours < 0 || positiveHours > hours) return bad('positiveHours');
  for (const key of ['returnSum', 'returnSumCompensation', 'squaredDeviations', 'squaredDeviationsCompensation', 'downsideSquares', 'downsideSquaresCompensation', 'growth', 'peak', 'maxDrawdown'] as const) {
    if (!isNum(v[key])) return bad(key);
  }
  for (const key of ['peakAt', 'maxDrawdownPeakAt', 'maxDrawdownTroughAt', 'best', 'worst'] as const) {
    if (!isNumOrNull(v[key])) return bad(key);
  }
  if ((hours === 0) !== (v['best'] === null)) return bad('best');
  return value as PerformanceAccumulator;
}
