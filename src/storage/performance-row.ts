// The stored metrics row's schema, shared by the two reads of it.
import { z } from 'zod';

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
