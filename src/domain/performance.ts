// Performance metrics from a series of hourly returns. Pure; works on stored returns too.
import type { PerformanceStats } from './aggregation.js';
import type { HourlyReturn } from './types.js';

export const HOURS_PER_YEAR = 8760;
const HOUR_MS = 3_600_000;

export interface PnlTotals {
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
}

/** Metrics of `returns` (oldest first; hours without a return are simply absent). */
export function computePerformanceStats(returns: readonly HourlyReturn[], pnl: PnlTotals): PerformanceStats {
  const r = new Float64Array(returns.length);
  const hourStart = new Float64Array(returns.length);
  let n = 0;
  for (const h of returns) {
    // An hour published without a return (flag unvalued) is not a 0 % hour.
    if (h.flags?.includes('unvalued') === true) continue;
    r[n] = h.return;
    hourStart[n] = h.hourStart;
    n++;
  }
  return performanceStatsOf(r.subarray(0, n), hourStart.subarray(0, n), pnl);
}

/** computePerformanceStats on columns: `r[i]` is the return of the hour starting at `hourStart[i]`. */
export function performanceStatsOf(r: Float64Array, hourStart: Float64Array, pnl: PnlTotals): PerformanceStats {
  const n = r.length;
  let growth = 1;
  let sum = 0;
  let positive = 0;
  let downsideSq = 0;
  let best = -Infinity;
  let worst = Infinity;
  // Drawdown on the growth index G (G = 1 before the first hour); times are hour boundaries.
  let peak = 1;
  let peakAt = n > 0 ? hourStart[0]! : 0;
  let maxDrawdown = 0;
  let ddPeakAt: number | null = null;
  let ddTroughAt: number | null = null;
  for (let i = 0; i < n; i++) {
    const x = r[i]!;
    growth *= 1 + x;
    sum += x;
    if (x > 0) positive++;
    if (x < 0) downsideSq += x * x;
    if (x > best) best = x;
    if (x < worst) worst = x;
    const at = hourStart[i]! + HOUR_MS;
    if (growth > peak) {
      peak = growth;
      peakAt = at;
    } else if (peak > 0) {
      const dd = 1 - growth / peak;
      if (dd > maxDrawdown) {
        maxDrawdown = dd;
        ddPeakAt = peakAt;
        ddTroughAt = at;
      }
    }
  }
  const mean = n > 0 ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (r[i]! - mean) ** 2;
  /** Sample standard deviation of hourly returns (n − 1); 0 below two hours. */
  const sd = n > 1 ? Math.sqrt(sq / (n - 1)) : 0;
  /** Downside deviation: √(Σ min(r, 0)² / n), target 0. */
  const downside = n > 0 ? Math.sqrt(downsideSq / n) : 0;
  const annualFactor = Math.sqrt(HOURS_PER_YEAR);
  /** Cumulative (time-weighted): Π(1 + r) − 1. */
  const cumulativeReturn = growth - 1;
  /**
   * Annualized: (1 + cumulative)^(8760 / hours) − 1 (−1 once the index is at or below 0), only over
   * at least one year (8,760 hours): GIPS forbids annualizing a shorter period, so it is null then.
   */
  const annualizedReturn = n < HOURS_PER_YEAR ? null : growth <= 0 ? -1 : growth ** (HOURS_PER_YEAR / n) - 1;
  return {
    hours: n,
    cumulativeReturn,
    annualizedReturn,
    /** Annualized volatility: sample stdev of hourly returns × √8760. */
    annualizedVolatility: sd * annualFactor,
    /** Max drawdown: max over t of 1 − G_t / max_{s≤t} G_s, as a positive fraction. */
    maxDrawdown,
    maxDrawdownPeakHour: ddPeakAt,
    maxDrawdownTroughHour: ddTroughAt,
    /** Sharpe (risk-free 0): mean(r) / stdev(r) × √8760; null when stdev is 0. */
    sharpe: sd > 0 ? (mean / sd) * annualFactor : null,
    /** Sortino (target 0): mean(r) / downside deviation × √8760; null without a losing hour. */
    sortino: downside > 0 ? (mean / downside) * annualFactor : null,
    /** Calmar: annualized return / max drawdown; null without a drawdown or below one year. */
    calmar: maxDrawdown > 0 && annualizedReturn !== null ? annualizedReturn / maxDrawdown : null,
    /** Share of hours with r > 0. */
    positiveHourShare: n > 0 ? positive / n : 0,
    bestHour: n > 0 ? best : null,
    worstHour: n > 0 ? worst : null,
    totalFees: pnl.totalFees,
    realizedPnl: pnl.realizedPnl,
    unrealizedPnl: pnl.unrealizedPnl,
  };
}
