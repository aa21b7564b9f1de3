// Disclosure levels (issue 14, part 2): what an account publishes beyond its returns. Pure: the
// store applies `publishedAmounts`/`publishedSnapshot` before a row reaches a table the gateway reads,
// and the read side applies the `disclose…` functions to every reply, so both follow one rule.
//
// - returns (default): hourly return, cumulative return and flags; no amounts at all;
// - equity: adds the equity rounded to two significant figures at daily resolution (the hour that
//   ends a UTC day); no flows, no cash balance;
// - full: exact equity, flows and balances.
import type { PerformanceStats } from './aggregation.js';
import type { PublishedDerivatives } from './derivatives/aggregates.js';
import type { BalanceSnapshot, EpochMs, HourlyReturn, SyncProgress } from './types.js';

export const DISCLOSURE_LEVELS = ['returns', 'equity', 'full'] as const;
export type DisclosureLevel = (typeof DISCLOSURE_LEVELS)[number];
export const DEFAULT_DISCLOSURE_LEVEL: DisclosureLevel = 'returns';

export function isDisclosureLevel(value: string): value is DisclosureLevel {
  return (DISCLOSURE_LEVELS as readonly string[]).includes(value);
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** `value` rounded to `digits` significant figures (0, ±Infinity and NaN unchanged). */
export function roundSignificant(value: number, digits = 2): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}

/** True for the hour whose end is a UTC midnight: the one hour per day that shows equity at `equity`. */
export function endsDay(hourStart: EpochMs): boolean {
  return (hourStart + HOUR) % DAY === 0;
}

/** The amounts of an hour as published at `level` (null: withheld). */
export interface PublishedAmounts {
  readonly equityEnd: number | null;
  readonly netFlow: number | null;
}

export function publishedAmounts(hour: Pick<HourlyReturn, 'hourStart' | 'equityEnd' | 'netFlow'>, level: DisclosureLevel): PublishedAmounts {
  switch (level) {
    case 'full':
      return { equityEnd: hour.equityEnd, netFlow: hour.netFlow };
    case 'equity':
      return { equityEnd: endsDay(hour.hourStart) ? roundSignificant(hour.equityEnd) : null, netFlow: null };
    case 'returns':
      return { equityEnd: null, netFlow: null };
  }
}

/** A snapshot as published at `level` (null: withheld). */
export interface PublishedSnapshot {
  readonly balance: number | null;
  readonly equity: number | null;
}

export function publishedSnapshot(snapshot: BalanceSnapshot, level: DisclosureLevel): PublishedSnapshot {
  switch (level) {
    case 'full':
      return { balance: snapshot.balance, equity: snapshot.equity };
    case 'equity':
      return { balance: null, equity: endsDay(snapshot.at - HOUR) ? roundSignificant(snapshot.equity) : null };
    case 'returns':
      return { balance: null, equity: null };
  }
}

/** An hour as replied at `level`: a withheld amount is 0 (the reply names its level). */
export function discloseHour(hour: HourlyReturn, level: DisclosureLevel): HourlyReturn {
  if (level === 'full') return hour;
  const shown = publishedAmounts(hour, level);
  return { ...hour, equityEnd: shown.equityEnd ?? 0, netFlow: shown.netFlow ?? 0 };
}

/** Snapshots as replied at `level`: below `full` only the daily rounded equity (at `equity`), nothing at `returns`. */
export function discloseSnapshots(snapshots: readonly BalanceSnapshot[], level: DisclosureLevel): BalanceSnapshot[] {
  if (level === 'full') return [...snapshots];
  if (level === 'returns') return [];
  const out: BalanceSnapshot[] = [];
  for (const s of snapshots) {
    const shown = publishedSnapshot(s, level);
    if (shown.equity !== null) out.push({ at: s.at, balance: 0, equity: shown.equity });
  }
  return out;
}

/** A sync's latest snapshot as replied at `level` (null below `full`: a sync runs at any hour). */
export function discloseLatestSnapshot(snapshot: BalanceSnapshot | null, level: DisclosureLevel): BalanceSnapshot | null {
  return level === 'full' ? snapshot : null;
}

/** A count as replied at `level`: exact at `full`, otherwise 1 when anything arrived and 0 when nothing did. */
export function discloseCount(count: number, level: DisclosureLevel): number {
  return level === 'full' ? count : Math.min(count, 1);
}

/**
 * Metrics as replied at `level`: below `full` the amounts (fees, realized and unrealized P&L) are
 * ratios to the equity at the end of the record (0 when there is no positive equity to divide by).
 */
export function disclosePerformance(stats: PerformanceStats, level: DisclosureLevel, equity: number | null): PerformanceStats {
  if (level === 'full') return stats;
  const ratio = (amount: number): number => (equity !== null && equity > 0 && Number.isFinite(amount) ? amount / equity : 0);
  return { ...stats, totalFees: ratio(stats.totalFees), realizedPnl: ratio(stats.realizedPnl), unrealizedPnl: ratio(stats.unrealizedPnl) };
}

/**
 * Derivatives aggregates as replied at any level: the same at every level, so no level is needed
 * (nor read). Leverage, funding share and the coverage start are ratios or times, and the
 * liquidation count says how often, not how much (issue 15: counts, no amounts, at `returns`);
 * nothing in them gives an amount back.
 */
export function discloseDerivatives(derivatives: PublishedDerivatives): PublishedDerivatives {
  return derivatives;
}

/** Sync progress as replied at `level`: below `full` page and record counts are 0 or 1. */
export function discloseProgress(progress: SyncProgress, level: DisclosureLevel): SyncProgress {
  if (level === 'full') return progress;
  return {
    ...progress,
    fillPages: discloseCount(progress.fillPages, level), fillsFetched: discloseCount(progress.fillsFetched, level),
    cashFlowPages: discloseCount(progress.cashFlowPages, level), cashFlowsFetched: discloseCount(progress.cashFlowsFetched, level),
  };
}
