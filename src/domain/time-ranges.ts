// Half-open time ranges [from, to) in epoch ms: which stretches of a public series are stored
// (issue 19). Pure arithmetic, no I/O.
import type { EpochMs } from './types.js';

export interface TimeRange {
  readonly from: EpochMs;
  readonly to: EpochMs;
}

/** Sorted, non-overlapping, non-adjacent ranges covering the same instants as `ranges`. */
export function mergeRanges(ranges: readonly TimeRange[]): TimeRange[] {
  const sorted = ranges.filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
  const merged: { from: EpochMs; to: EpochMs }[] = [];
  for (const r of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && r.from <= last.to) last.to = Math.max(last.to, r.to);
    else merged.push({ from: r.from, to: r.to });
  }
  return merged;
}

/** The parts of [from, to) that no range of `covered` includes, oldest first. */
export function missingRanges(from: EpochMs, to: EpochMs, covered: readonly TimeRange[]): TimeRange[] {
  const missing: TimeRange[] = [];
  let cursor = from;
  for (const r of mergeRanges(covered)) {
    if (r.to <= cursor) continue;
    if (r.from >= to) break;
    if (r.from > cursor) missing.push({ from: cursor, to: Math.min(r.from, to) });
    cursor = Math.max(cursor, r.to);
    if (cursor >= to) break;
  }
  if (cursor < to) missing.push({ from: cursor, to });
  return missing;
}
