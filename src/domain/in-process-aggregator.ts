// The engine as the contract shows it: AggregationInput in, AggregationResult out, in-process.
// The worker pool runs the same three steps with the columns crossing threads in between.
import type { AggregationInput, AggregationResult, Aggregator } from './aggregation.js';
import { RETURN_STRIDE, UNVALUED_STRIDE, encodeInput, type ColumnarResult, type EngineGap } from './columnar.js';
import { maskToFlags } from './hour-flags.js';
import { runEngine } from './engine.js';
import type { EngineState } from './engine-state.js';
import type { HourlyReturn } from './types.js';

/** The contract's input (kept as a name for the engine's callers). */
export type EngineInput = AggregationInput;

export interface EngineResult extends AggregationResult {
  readonly state: EngineState;
  readonly gaps: readonly EngineGap[];
  /** Fills and flows at or after `untilHour`, not applied: pass them again next run. */
  readonly deferredFills: number;
  readonly deferredFlows: number;
  /** Asset-hours valued with a carried-forward mark. */
  readonly staleMarks: number;
}

/** Rebuilds the contract's result from the engine's columns. */
export function decodeResult(c: ColumnarResult): EngineResult {
  const n = c.returns.length / RETURN_STRIDE;
  const hourlyReturns: HourlyReturn[] = new Array<HourlyReturn>(n);
  for (let i = 0; i < n; i++) {
    const o = i * RETURN_STRIDE;
    hourlyReturns[i] = {
      hourStart: c.returns[o]!, return: c.returns[o + 1]!, cumulativeReturn: c.returns[o + 2]!,
      equityEnd: c.returns[o + 3]!, netFlow: c.returns[o + 4]!,
    };
    // Flags only where there are some: rows without any stay as they always were.
    const mask = c.hourFlags[i]!;
    if (mask !== 0) hourlyReturns[i] = { ...hourlyReturns[i]!, flags: maskToFlags(mask) };
  }
  const unvaluedHours: HourlyReturn[] = [];
  for (let o = 0; o < c.unvalued.length; o += UNVALUED_STRIDE) {
    unvaluedHours.push({
      hourStart: c.unvalued[o]!, return: 0, cumulativeReturn: c.unvalued[o + 1]!, equityEnd: c.unvalued[o + 2]!,
      netFlow: c.unvalued[o + 3]!, flags: maskToFlags(c.unvalued[o + 4]!),
    });
  }
  return {
    hourlyReturns, unvaluedHours, snapshot: c.snapshot, state: c.state, gaps: c.gaps,
    realizedPnl: c.realizedPnl, unrealizedPnl: c.unrealizedPnl, totalFees: c.totalFees,
    metrics: c.metrics, deferredFills: c.deferredFills, deferredFlows: c.deferredFlows, staleMarks: c.staleMarks,
    minuteMarksWanted: c.minuteMarksWanted,
  };
}

/** Runs the engine in-process (unit tests, small accounts). Throws AggregationInputError on bad input. */
export function aggregate(input: EngineInput): EngineResult {
  return decodeResult(runEngine(encodeInput(input)));
}

/** The Aggregator contract on the calling thread (actor tests, tiny accounts); the pool is the default. */
export const inProcessAggregator: Aggregator & { aggregate(input: EngineInput, signal?: AbortSignal): Promise<EngineResult> } = {
  aggregate(input, signal) {
    return new Promise((resolve) => {
      signal?.throwIfAborted();
      resolve(aggregate(input));
    });
  },
};
