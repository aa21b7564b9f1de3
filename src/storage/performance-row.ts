// The stored metrics row's schema, shared by the two reads of it.
import { z } from 'zod';
import type { AccountKey, BalanceSnapshot } from '../domain/types.js';
import { StorageSchemaError } from './errors.js';
import { sql } from './pool.js';
import type { SealedAmounts } from './sealed-amounts.js';

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
  // The snapshot's sealed box (sql/016); null for a plaintext row or no snapshot.
  snapshotKeyId: z.number().int().nullable(),
  snapshotIv: z.instanceof(Buffer).nullable(),
  snapshotTag: z.instanceof(Buffer).nullable(),
  snapshotCiphertext: z.instanceof(Buffer).nullable(),
});

type PerformanceRow = z.infer<typeof performanceRow>;
/** The row's metrics alone, without the joined snapshot columns. */
export type PerformanceOfRow = Omit<PerformanceRow, 'computedUntil' | 'snapshotBalance' | 'snapshotEquity' | 'snapshotKeyId' | 'snapshotIv' | 'snapshotTag' | 'snapshotCiphertext'>;

/**
 * Splits a joined row into the metrics and the exact snapshot at `computed_until`: opened from its
 * box through `amounts` (sealed-amounts.ts) when sealed, read in clear only in the plaintext layout
 * (a plaintext row where the store seals is refused as tamper by `open`).
 */
export function splitPerformanceRow(row: PerformanceRow, account: AccountKey, amounts: SealedAmounts | undefined): { computedUntil: number; stats: PerformanceOfRow; snapshot: BalanceSnapshot | null } {
  const { computedUntil, snapshotBalance, snapshotEquity, snapshotKeyId, snapshotIv, snapshotTag, snapshotCiphertext, ...stats } = row;
  const present = snapshotCiphertext !== null || (snapshotBalance !== null && snapshotEquity !== null);
  if (!present) return { computedUntil, stats, snapshot: null };
  if (amounts !== undefined) {
    const [balance, equity] = amounts.open(account, 'snapshot_amounts', computedUntil, { keyId: snapshotKeyId, iv: snapshotIv, tag: snapshotTag, ciphertext: snapshotCiphertext });
    return { computedUntil, stats, snapshot: { at: computedUntil, balance, equity } };
  }
  if (snapshotBalance === null || snapshotEquity === null) throw new StorageSchemaError(['sealed snapshot read without the account keys']);
  return { computedUntil, stats, snapshot: { at: computedUntil, balance: snapshotBalance, equity: snapshotEquity } };
}

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
  b.balance AS "snapshotBalance", b.equity AS "snapshotEquity", b.key_id AS "snapshotKeyId", b.iv AS "snapshotIv",
  b.tag AS "snapshotTag", b.ciphertext AS "snapshotCiphertext"`;
