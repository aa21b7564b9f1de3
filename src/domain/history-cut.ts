// The `venue-history-cut` hour flag (hour-flags.ts): an hour before the coverage start of any stream
// was valued without that stream's records, because the venue no longer serves them (Bybit 2 years,
// Bitget 90 days, MEXC 30 days of fills). Pure.
import { flagsToMask, maskToFlags } from './hour-flags.js';
import type { EpochMs, HourlyReturn } from './types.js';

/** The hours starting before the latest of the given coverage starts (null: that stream is complete) gain the flag. */
export function withHistoryCut(hours: readonly HourlyReturn[], coverageStarts: readonly (EpochMs | null)[]): readonly HourlyReturn[] {
  let cut = Number.NEGATIVE_INFINITY;
  for (const start of coverageStarts) if (start !== null && start > cut) cut = start;
  if (!Number.isFinite(cut)) return hours;
  return hours.map((h) => {
    if (h.hourStart >= cut || h.flags?.includes('venue-history-cut') === true) return h;
    return { ...h, flags: maskToFlags(flagsToMask([...(h.flags ?? []), 'venue-history-cut'])) };
  });
}
