// Reconciliation: after every sync, the holdings rebuilt from recorded events are compared with
// the balances the venue reports. A difference beyond tolerance becomes one explicit adjustment
// (adjustment-in / adjustment-out, an external flow at the mark: see events.ts) at the time it was
// found, flagged `unreconciled`; nothing is corrected silently. A difference is booked only once
// the sync before saw it too, with the same sign (the smaller of the two amounts): a fill the venue
// has not yet served to its history endpoint (settle lag) must not become an adjustment and then
// count a second time when it arrives. Until then it is reported and flagged, not booked. The published figure is the share
// of the venue-reported equity that recorded events explain.
import type { DataGap } from './aggregation.js';
import { decimalToNumber } from './decimal.js';
import { directionOf } from './events.js';
import { numberToDecimal } from './decimal-string.js';
import type { Balance, CashFlow, EpochMs, Fill } from './types.js';

const HOUR_MS = 3_600_000;

export const UNRECONCILED_TREATMENT = 'the holdings rebuilt from recorded events differed from the balances the venue reports: the difference was booked as an adjustment (an external flow at the mark, so it creates no return) at the hour it was found';

export interface ReconcileInput {
  /** Holdings at the engine's last boundary (its saved positions). */
  readonly positions: readonly { readonly asset: string; readonly quantity: number }[];
  /** Records stored after that boundary (not yet valued): their effect is added. */
  readonly pendingFills: readonly Fill[];
  readonly pendingFlows: readonly CashFlow[];
  /** What the venue reports now. */
  readonly balances: readonly Balance[];
  /** Last known marks in the base currency (the base currency itself is 1). */
  readonly marks: ReadonlyMap<string, number>;
  readonly baseCurrency: string;
  readonly foundAt: EpochMs;
  /** Differences the previous reconciliation reported (none on a first sync). */
  readonly previous: readonly AssetDifference[];
  /** Differences worth less than this in the base currency are dust, not adjustments. */
  readonly valueTolerance?: number;
  /** Relative quantity tolerance (float and venue rounding). */
  readonly relativeTolerance?: number;
}

export interface AssetDifference {
  readonly asset: string;
  /** Venue balance − rebuilt holding (units). */
  readonly difference: number;
  /** |difference| at its mark; null when the asset has no mark. */
  readonly value: number | null;
}

export interface Reconciliation {
  readonly at: EpochMs;
  readonly differences: readonly AssetDifference[];
  /** One per asset whose difference persisted since the previous sync; store them like any cash flow. */
  readonly adjustments: readonly CashFlow[];
  /** Share of the venue-reported equity explained by recorded events, in [0, 1] (1 when equity is 0 and nothing differs). */
  readonly explainedShare: number;
  /** Equity from the venue's balances at the known marks. */
  readonly venueEquity: number;
  readonly gaps: readonly DataGap[];
}

/** Quantities per asset after applying fills (legs and fee) and flows to `start`. */
export function applyRecords(start: Map<string, number>, fills: readonly Fill[], flows: readonly CashFlow[]): Map<string, number> {
  const held = new Map(start);
  const add = (asset: string, q: number): void => { held.set(asset, (held.get(asset) ?? 0) + q); };
  for (const f of fills) {
    const q = decimalToNumber(f.quantity);
    const notional = q * decimalToNumber(f.price);
    if (f.baseAsset !== f.quoteAsset) {
      add(f.baseAsset, f.side === 'buy' ? q : -q);
      add(f.quoteAsset, f.side === 'buy' ? -notional : notional);
    }
    add(f.feeAsset, -decimalToNumber(f.fee));
  }
  for (const c of flows) add(c.asset, directionOf(c.kind) * decimalToNumber(c.amount));
  return held;
}

export function reconcile(input: ReconcileInput): Reconciliation {
  const valueTolerance = input.valueTolerance ?? 0.01;
  const relativeTolerance = input.relativeTolerance ?? 1e-6;
  const rebuilt = applyRecords(new Map(input.positions.map((p) => [p.asset, p.quantity])), input.pendingFills, input.pendingFlows);
  const venue = new Map<string, number>();
  for (const b of input.balances) venue.set(b.asset, (venue.get(b.asset) ?? 0) + decimalToNumber(b.total));
  const markOf = (asset: string): number | undefined => (asset === input.baseCurrency ? 1 : input.marks.get(asset));
  const assets = [...new Set([...rebuilt.keys(), ...venue.keys()])].sort();
  const differences: AssetDifference[] = [];
  const adjustments: CashFlow[] = [];
  let venueEquity = 0;
  let unexplained = 0;
  for (const asset of assets) {
    const expected = rebuilt.get(asset) ?? 0;
    const reported = venue.get(asset) ?? 0;
    const mark = markOf(asset);
    if (mark !== undefined) venueEquity += reported * mark;
    const difference = reported - expected;
    const scale = Math.max(Math.abs(expected), Math.abs(reported));
    if (Math.abs(difference) <= relativeTolerance * scale + 1e-12) continue;
    const value = mark === undefined ? null : Math.abs(difference) * mark;
    if (value !== null && value < valueTolerance) continue;
    differences.push({ asset, difference, value });
    if (value !== null) unexplained += value;
    const before = input.previous.find((d) => d.asset === asset);
    if (before === undefined || Math.sign(before.difference) !== Math.sign(difference)) continue;
    const booked = Math.min(Math.abs(before.difference), Math.abs(difference));
    adjustments.push({
      exchangeFlowId: `reconcile:${asset}:${input.foundAt}`,
      kind: difference > 0 ? 'adjustment-in' : 'adjustment-out',
      asset,
      amount: numberToDecimal(booked),
      occurredAt: input.foundAt,
    });
  }
  const explainedShare = venueEquity > 0 ? Math.max(0, Math.min(1, 1 - unexplained / venueEquity)) : differences.length === 0 ? 1 : 0;
  const hourStart = Math.floor(input.foundAt / HOUR_MS) * HOUR_MS;
  const gaps: DataGap[] = differences.map((d) => ({ kind: 'unreconciled', asset: d.asset, hourStart, treatment: UNRECONCILED_TREATMENT }));
  return { at: input.foundAt, differences, adjustments, explainedShare, venueEquity, gaps };
}
