// Positions the venue reports against the book rebuilt from executions (issue 15): at each sync the
// venue's position snapshot is compared, contract by contract, with what the stored contract fills
// add up to. A difference beyond tolerance is a reconciliation result, flagged and published (as a
// count), never corrected: the fills are the record, the snapshot only checks it. Pure.
import type { DataGap } from '../aggregation.js';
import type { EpochMs, Fill } from '../types.js';
import { bookAt } from './book.js';

const HOUR_MS = 3_600_000;

/** A position as the venue reports it, in the book's units (base for linear, quote for inverse): + long, − short. */
export interface VenuePosition {
  readonly symbol: string;
  readonly quantity: number;
}

export interface PositionDifference {
  readonly symbol: string;
  /** Signed quantity the fills add up to. */
  readonly book: number;
  /** Signed quantity the venue reports (hedge-mode legs summed). */
  readonly venue: number;
}

export const POSITION_MISMATCH_TREATMENT = 'the position the venue reports for a contract differs from the one its recorded executions add up to: reported as unreconciled, nothing is booked (missing or late executions, a delivery without a settlement record, or a contract kind not read)';

/** Signed quantity per contract at `now` after every fill (oldest first); delivered futures are closed (book.ts). */
export function bookPositions(fills: readonly Fill[], now: EpochMs): Map<string, number> {
  const book = bookAt(fills, now);
  const out = new Map<string, number>();
  for (const [symbol, p] of book) out.set(symbol, p.quantity);
  return out;
}

/**
 * Contracts whose venue-reported quantity differs from the book's by more than `relativeTolerance`
 * of the larger of the two (venue rounding and float noise), in symbol order.
 */
export function comparePositions(book: ReadonlyMap<string, number>, venue: readonly VenuePosition[], relativeTolerance = 1e-6): PositionDifference[] {
  const reported = new Map<string, number>();
  for (const p of venue) reported.set(p.symbol, (reported.get(p.symbol) ?? 0) + p.quantity);
  const out: PositionDifference[] = [];
  for (const symbol of [...new Set([...book.keys(), ...reported.keys()])].sort()) {
    const b = book.get(symbol) ?? 0;
    const v = reported.get(symbol) ?? 0;
    if (Math.abs(v - b) <= relativeTolerance * Math.max(Math.abs(b), Math.abs(v)) + 1e-12) continue;
    out.push({ symbol, book: b, venue: v });
  }
  return out;
}

/** One `unreconciled` gap per differing contract, at the hour it was found. */
export function positionGaps(differences: readonly PositionDifference[], foundAt: EpochMs): DataGap[] {
  const hourStart = Math.floor(foundAt / HOUR_MS) * HOUR_MS;
  return differences.map((d) => ({ kind: 'unreconciled', asset: d.symbol, hourStart, treatment: POSITION_MISMATCH_TREATMENT }));
}
