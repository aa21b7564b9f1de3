// Published derivatives aggregates (counts and ratios only: no amounts, so they fit the `returns`
// disclosure level). Pure.
import type { CashFlow, EpochMs, HourlyReturn } from '../types.js';
import { ledgerKindOf } from './records.js';

export interface DerivativesStats {
  /** Gross exposure / equity at each hour end, same order as the returns given. */
  readonly leverage: readonly { readonly hourStart: number; readonly leverage: number }[];
  /** Highest hourly leverage of the period (0 without positions). */
  readonly maxLeverage: number;
  /**
   * Funding P&L / derivatives P&L (realized, funding, fees, settlements, liquidation charges, plus
   * the unrealized P&L at the end); null when that total is 0. Negative when funding and the rest
   * have opposite signs.
   */
  readonly fundingShare: number | null;
  /** Liquidation and ADL fills in the period. */
  readonly liquidations: number;
}

/**
 * What an account publishes of its derivatives (derivative_stats, derivative_hours; the API and
 * statements): ratios and counts only.
 */
export interface PublishedDerivatives {
  /** The end of the last valued hour these figures include. */
  readonly computedUntil: EpochMs;
  readonly maxLeverage: number;
  readonly fundingShare: number | null;
  readonly liquidations: number;
  /** From when the venue served derivatives history; null when unknown. */
  readonly coverageStart: EpochMs | null;
  /** Leverage per hour (only the hours asked for). */
  readonly hours: readonly { readonly hourStart: EpochMs; readonly leverage: number }[];
}

/** Leverage per hour: exposure (in the base currency) at the hour's end over the hour's closing equity (0 when equity ≤ 0). */
export function hourlyLeverage(returns: readonly Pick<HourlyReturn, 'hourStart' | 'equityEnd'>[], exposureAtEnd: (hourStart: number) => number): { hourStart: number; leverage: number }[] {
  return returns.map((h) => ({ hourStart: h.hourStart, leverage: h.equityEnd > 0 ? exposureAtEnd(h.hourStart) / h.equityEnd : 0 }));
}

/**
 * Sums the ledger's derivative entries valued in the base currency by `valueOf(asset)` (the margin
 * asset's mark; 1 for the base currency), splitting funding from the rest.
 */
export function derivativesStats(
  ledger: readonly CashFlow[], unrealizedInBase: number, leverage: readonly { hourStart: number; leverage: number }[], liquidations: number,
  valueOf: (asset: string, at: number) => number,
): DerivativesStats {
  let funding = 0;
  let total = unrealizedInBase;
  for (const c of ledger) {
    const kind = ledgerKindOf(c.exchangeFlowId);
    if (kind === null) continue;
    const signed = (c.kind === 'income' ? 1 : -1) * Number(c.amount) * valueOf(c.asset, c.occurredAt);
    total += signed;
    if (kind === 'funding') funding += signed;
  }
  let maxLeverage = 0;
  for (const l of leverage) if (l.leverage > maxLeverage) maxLeverage = l.leverage;
  return { leverage, maxLeverage, fundingShare: total === 0 ? null : funding / total, liquidations };
}
