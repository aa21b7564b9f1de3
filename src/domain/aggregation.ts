// The contract between the account actor and the returns engine (which runs in the worker pool).
// The engine's implementation may add fields; the actor, storage and gRPC layers rely on these.
import type { Balance, BalanceSnapshot, Candle, CashFlow, EpochMs, Fill, HourlyReturn } from './types.js';
import type { HourFlag } from './hour-flags.js';

export type CostMethod = 'average' | 'fifo';

/** A flow above this share of equity splits its hour (true time-weighted return); what syncs use. */
export const DEFAULT_LARGE_FLOW_SHARE = 0.1;

export interface AggregationInput {
  /** Currency equity is measured in; an asset's mark comes from the `ASSET/BASE` candles. */
  readonly baseCurrency: string;
  readonly costMethod: CostMethod;
  /** State saved by the previous run (null: start from nothing, or from `openingBalances`). */
  readonly state: unknown;
  /** Holdings at the start when there is no state (e.g. from the first balance snapshot). */
  readonly openingBalances: readonly Balance[];
  /** Fills and flows not yet covered by `state`, oldest first. */
  readonly fills: readonly Fill[];
  readonly cashFlows: readonly CashFlow[];
  readonly candles: readonly Candle[];
  /** Compute hours up to (excluding) this aligned hour boundary. */
  readonly untilHour: EpochMs;
  /**
   * First hour to compute when `state` is null (aligned; default: the hour of the earliest fill or
   * flow). Ignored when there is a state: it resumes at the hour it was saved for.
   */
  readonly startHour?: EpochMs | null;
  /**
   * True time-weighted valuation (GIPS): a cash flow larger than this share of equity at its
   * instant splits its hour (the portfolio is valued at the flow and the sub-periods linked), flows
   * in kind are valued at their own instant (`minuteCandles`), and an asset deposited without any
   * mark enters as a flow when its first price appears instead of as a gain. Null or absent:
   * Modified Dietz for every flow (the engine's original rules).
   */
  readonly largeFlowShare?: number | null;
  /** One-minute candles (openTime minute-aligned) around large flows: the open of a flow's minute is its instant's mark. */
  readonly minuteCandles?: readonly Candle[];
  /**
   * Where a venue's history of some stream starts (history-cut.ts): hours starting at or before it
   * carry the `venue-history-cut` flag. Null or absent: the history is complete.
   */
  readonly historyCutAt?: EpochMs | null;
}

/** Why part of the history could not be valued as given; reported, never hidden. */
export interface DataGap {
  /**
   * quarantined: a record left out (quarantine.ts); unreconciled: holdings differed from the
   * venue's balances and an adjustment was booked (reconcile.ts), or a contract position differed
   * from the venue's (derivatives/positions.ts: reported only, asset = the contract symbol).
   */
  readonly kind: 'oversold' | 'stale-mark' | 'missing-mark' | 'non-positive-equity' | 'quarantined' | 'unreconciled';
  readonly asset: string;
  readonly hourStart: EpochMs;
  /** How the engine treated it, in words (no amounts, no ids). */
  readonly treatment: string;
}

/** Formulas: see `performanceStatsFrom` in ./performance.ts (hourly returns, annualized with 8760 hours). */
export interface PerformanceStats {
  readonly hours: number;
  readonly cumulativeReturn: number;
  /** Null below one year of hours (GIPS: no annualizing of shorter periods). */
  readonly annualizedReturn: number | null;
  readonly annualizedVolatility: number;
  readonly maxDrawdown: number;
  readonly maxDrawdownPeakHour: EpochMs | null;
  readonly maxDrawdownTroughHour: EpochMs | null;
  readonly sharpe: number | null;
  readonly sortino: number | null;
  readonly calmar: number | null;
  readonly positiveHourShare: number;
  readonly bestHour: number | null;
  readonly worstHour: number | null;
  readonly totalFees: number;
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  /**
   * Share of the published hours (unvalued included) carrying any flag, and per flag (HOUR_FLAGS
   * order, flags present only). Filled by the read side from the stored hours; absent from the engine.
   */
  readonly flaggedHourShare?: number;
  readonly flagShares?: readonly { readonly flag: HourFlag; readonly share: number }[];
}

export interface AggregationResult {
  /** New or recomputed hours, oldest first. */
  readonly hourlyReturns: readonly HourlyReturn[];
  /** Equity at `untilHour` (null when nothing could be valued). */
  readonly snapshot: BalanceSnapshot | null;
  /** Resumable state after `untilHour`; stored by the caller, opaque to it. */
  readonly state: unknown;
  readonly gaps: readonly DataGap[];
  /** Hours that could not be valued (flag `unvalued`, return 0, cumulative carried): published with their flags, never dropped. */
  readonly unvaluedHours?: readonly HourlyReturn[];
  /**
   * One-minute candles a valuation at a flow's instant needed and was not given (the hour's mark
   * stood in and the hour is flagged estimated-mark). Fetch them and run the same input again.
   */
  readonly minuteMarksWanted?: readonly { readonly symbol: string; readonly minute: EpochMs }[];
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
  /**
   * Metrics over every hour up to `untilHour`: the hours of `state` as given plus this run's,
   * with this run's P&L totals (a run resumed from a saved state still covers the whole record).
   */
  readonly metrics: PerformanceStats;
}

/** Runs the engine (in the worker pool in production, in-process in unit tests). */
export interface Aggregator {
  aggregate(input: AggregationInput, signal?: AbortSignal): Promise<AggregationResult>;
}
