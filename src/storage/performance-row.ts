// The stored metrics row's schema, shared by the two reads of it.
import { z } from 'zod';
import { sql } from './pool.js';

const epochMs = z.number().finite();
/** float8 as stored: ±Infinity is a legitimate annualized figure (zod's number refuses it). */
const float8 = z.custom<number>((v) => typeof v === 'number' && !Number.isNaN(v));
/** A performance_stats row joined with its snapshot (create-account-store.ts, published-performance.ts). */
export const performanceRow = z.object({
  computedUntil: epochMs,
  hours: z.number().int().nonnegative(),
  cumulativeReturn: float8,
  annualizedReturn: float8.nullable(),
  annualizedVolatility: float8,
  maxDrawdown: float8,
  maxDrawdownPeakHour: epochMs.nullable(),
  maxDrawdownTroughHour: epochMs.nullable(),
  sharpe: float8.nullable(),
  sortino: float8.nullable(),
  calmar: float8.nullable(),
  positiveHourShare: float8,
  bestHour: float8.nullable(),
  worstHour: float8.nullable(),
  totalFees: float8,
  realizedPnl: float8,
  unrealizedPnl: float8,
  snapshotBalance: z.number().nullable(),
  snapshotEquity: z.number().nullable(),
});

/**
 * The select list of `performanceRow` over `performance_stats p` joined with the exact snapshot
 * `snapshot_amounts b` at `computed_until`: both reads name the columns once, here.
 */
export const PERFORMANCE_COLUMNS = sql.fragment`
  p.computed_until AS "computedUntil", p.hours, p.cumulative_return AS "cumulativeReturn",
  p.annualized_return AS "annualizedReturn", p.annualized_volatility AS "annualizedVolatility",
  p.max_drawdown AS "maxDrawdown", p.max_drawdown_peak_hour AS "maxDrawdownPeakHour",
  p.max_drawdown_trough_hour AS "maxDrawdownTroughHour", p.sharpe, p.sortino, p.calmar,
  p.positive_hour_share AS "positiveHourShare", p.best_hour AS "bestHour", p.worst_hour AS "worstHour",
  p.total_fees AS "totalFees", p.realized_pnl AS "realizedPnl", p.unrealized_pnl AS "unrealizedPnl",
  b.balance AS "snapshotBalance", b.equity AS "snapshotEquity"`;
