// Venue lookback (issue 16, item 7). Bitget serves 90 days of fills, MEXC 30, Bybit 2 years: a
// position opened before that is not in the recorded history. Without a rule, its later sale looks
// like an oversold (an unrecorded deposit at the sale price, an external flow), and the quote the
// missing buy paid is still counted: equity comes out high by the missing buy's cost.
//
// The rule: on the first sync of a stream whose coverage starts at C, what the venue reports now
// and the recorded history (every fill and flow, before and after C) cannot explain is the
// opening position the history is missing. It is booked at C itself, valued at the mark at C,
// as adjustment-in / adjustment-out (external flows: they make up the opening equity and create no
// return), never as performance. Hours up to C (and the hour containing C) carry the
// `venue-history-cut` flag (the engine sets it from `historyCutAt`).
//
// Why the amount is balances − effect(all records), whatever C is: the holdings at C are
// balances − effect(records ≥ C); the history explains effect(records < C) of them; their
// difference is balances − effect(all records). Only where it is booked depends on C.
//
// Hours published before any stream's coverage start (derivatives streams included) are flagged
// the same way by `withHistoryCut`, whoever valued them.
import { applyRecords } from './reconcile.js';
import { decimalToNumber } from './decimal.js';
import { numberToDecimal } from './decimal-string.js';
import type { Balance, CashFlow, EpochMs, Fill, HourlyReturn } from './types.js';
import { flagsToMask, maskToFlags } from './hour-flags.js';

/** exchangeFlowId prefix of an opening position booked at a history cut. */
export const HISTORY_CUT_PREFIX = 'history-cut:';

export interface HistoryCutInput {
  /** What the venue reports now (first sync). */
  readonly balances: readonly Balance[];
  /** Every recorded fill and flow of the account so far. */
  readonly fills: readonly Fill[];
  readonly flows: readonly CashFlow[];
  /** Where the venue's history of the cut stream starts. */
  readonly coverageStart: EpochMs;
  /** Relative quantity tolerance (float and venue rounding). */
  readonly relativeTolerance?: number;
}

export function isHistoryCutFlow(flow: CashFlow): boolean {
  return flow.exchangeFlowId.startsWith(HISTORY_CUT_PREFIX);
}

/**
 * The opening position missing at the coverage start, as flows at that instant (oldest-first
 * order does not matter: they share one time). Empty when the history explains every balance.
 */
export function openingAtHistoryCut(input: HistoryCutInput): CashFlow[] {
  const tolerance = input.relativeTolerance ?? 1e-6;
  const rebuilt = applyRecords(new Map(), input.fills, input.flows.filter((f) => !isHistoryCutFlow(f)));
  const venue = new Map<string, number>();
  for (const b of input.balances) venue.set(b.asset, (venue.get(b.asset) ?? 0) + decimalToNumber(b.total));
  const out: CashFlow[] = [];
  for (const asset of [...new Set([...rebuilt.keys(), ...venue.keys()])].sort()) {
    const expected = rebuilt.get(asset) ?? 0;
    const reported = venue.get(asset) ?? 0;
    const difference = reported - expected;
    if (!Number.isFinite(difference)) continue;
    if (Math.abs(difference) <= tolerance * Math.max(Math.abs(expected), Math.abs(reported)) + 1e-12) continue;
    out.push({
      exchangeFlowId: `${HISTORY_CUT_PREFIX}${asset}:${input.coverageStart}`,
      kind: difference > 0 ? 'adjustment-in' : 'adjustment-out',
      asset,
      amount: numberToDecimal(Math.abs(difference)),
      occurredAt: input.coverageStart,
    });
  }
  return out;
}

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
