// Data-quality flags a published hour carries (issue 17). Stored as a bit mask (hourly_returns.flags),
// carried as names everywhere else. Pure.

/**
 * - estimated-mark: an asset without any mark was valued from its acquisition cost, or a valuation
 *   at a flow's instant used the hour mark for want of the minute's bar (IBKR, a minute without trades);
 * - stale-mark: no candle closed at the boundary, the last mark was carried forward;
 * - missing-mark: an asset deposited without any mark (value unknown until its first price);
 * - unexplained-adjustment: holdings were corrected to the venue's balances (reconciliation);
 * - oversold: more was sold or withdrawn than held (incomplete history);
 * - revalued-at-flow: a large flow split the hour; the portfolio was valued at the flow's instant;
 * - venue-history-cut: the venue's history does not reach back this far for some stream;
 * - unvalued: no return could be computed (equity or the Dietz denominator not positive).
 */
export const HOUR_FLAGS = [
  'estimated-mark',
  'stale-mark',
  'missing-mark',
  'unexplained-adjustment',
  'oversold',
  'revalued-at-flow',
  'venue-history-cut',
  'unvalued',
] as const;
export type HourFlag = (typeof HOUR_FLAGS)[number];

export const FLAG_BIT: Readonly<Record<HourFlag, number>> = Object.fromEntries(HOUR_FLAGS.map((f, i) => [f, 1 << i])) as Record<HourFlag, number>;

export function isHourFlag(name: string): name is HourFlag {
  return (HOUR_FLAGS as readonly string[]).includes(name);
}

export function flagsToMask(flags: readonly HourFlag[]): number {
  let mask = 0;
  for (const f of flags) mask |= FLAG_BIT[f];
  return mask;
}

/** Names in HOUR_FLAGS order; unknown bits (a newer writer) are ignored. */
export function maskToFlags(mask: number): HourFlag[] {
  return HOUR_FLAGS.filter((f) => (mask & FLAG_BIT[f]) !== 0);
}
