// The engine's resumable state: plain JSON (stored as jsonb), enough to continue exactly where the
// previous run stopped. float64 values survive JSON and jsonb exactly (shortest round-trip text).
import type { CostMethod } from './aggregation.js';
import { AggregationInputError } from './errors.js';
import { parsePerformanceAccumulator, type PerformanceAccumulator } from './performance.js';

export interface PositionState {
  readonly asset: string;
  /** Units held (≥ 0). */
  readonly quantity: number;
  /** Cost basis of the units held, base currency (0 for the base currency itself). */
  readonly costBasis: number;
  /** FIFO only: open lots, oldest first, flattened as [quantity, unitCost, quantity, unitCost, …]. */
  readonly lots?: readonly number[];
}

export interface MarkState {
  readonly asset: string;
  /** Last known mark in the base currency. */
  readonly price: number;
}

/** Version 2 added `performance`; an older state is refused, so the history is recomputed once. */
export const ENGINE_STATE_VERSION = 2;

export interface EngineState {
  readonly version: typeof ENGINE_STATE_VERSION;
  readonly baseCurrency: string;
  readonly costMethod: CostMethod;
  /** Next hour to compute: the previous run's `untilHour`. */
  readonly hour: number;
  /** Equity at `hour` (the next hour's starting equity), base currency. */
  readonly equity: number;
  /** Time-weighted growth factor Π(1 + r) so far. */
  readonly growth: number;
  readonly realizedPnl: number;
  readonly totalFees: number;
  readonly positions: readonly PositionState[];
  readonly marks: readonly MarkState[];
  /** The performance metrics' running sums over every hour returned so far. */
  readonly performance: PerformanceAccumulator;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a stored state (it comes back from the database as `unknown`). */
export function parseEngineState(value: unknown): EngineState {
  const bad = (what: string): never => {
    throw new AggregationInputError(`saved state is invalid: ${what}`);
  };
  if (!isRecord(value)) return bad('not an object');
  if (value['version'] !== ENGINE_STATE_VERSION) return bad('unknown version');
  const { baseCurrency, costMethod, hour, equity, growth, realizedPnl, totalFees, positions, marks } = value;
  if (typeof baseCurrency !== 'string' || baseCurrency === '') return bad('baseCurrency');
  if (costMethod !== 'average' && costMethod !== 'fifo') return bad('costMethod');
  if (!isNum(hour) || hour % 3_600_000 !== 0) return bad('hour');
  if (!isNum(equity) || !isNum(growth) || !isNum(realizedPnl) || !isNum(totalFees)) return bad('totals');
  if (!Array.isArray(positions) || !Array.isArray(marks)) return bad('positions or marks');
  for (const p of positions as unknown[]) {
    if (!isRecord(p) || typeof p['asset'] !== 'string' || !isNum(p['quantity']) || !isNum(p['costBasis'])) return bad('position');
    const lots = p['lots'];
    if (lots !== undefined && (!Array.isArray(lots) || lots.length % 2 !== 0 || !(lots as unknown[]).every(isNum))) return bad('lots');
  }
  for (const m of marks as unknown[]) {
    if (!isRecord(m) || typeof m['asset'] !== 'string' || !isNum(m['price'])) return bad('mark');
  }
  parsePerformanceAccumulator(value['performance']);
  return value as unknown as EngineState;
}
