// One bad record must not block an account. Records are screened one by one with the rules the
// engine applies (encodeInput in columnar.ts refuses a whole input); a record that fails is kept
// out, counted and flagged at its hour, and everything else is stored and valued.
import type { DataGap } from './aggregation.js';
import { decimalToNumber } from './decimal.js';
import { isCashFlowKind } from './events.js';
import type { CashFlow, EpochMs, Fill } from './types.js';

const HOUR_MS = 3_600_000;

export const QUARANTINE_TREATMENT = 'a record the engine cannot value (malformed amount, time, side, kind or asset) was left out of this hour; everything else was valued';

/** Why one record was kept out: a field name, never a value. */
export interface QuarantinedRecord {
  readonly record: 'fill' | 'cash flow';
  readonly field: string;
  /** Its time when readable (the hour it is flagged at), else null. */
  readonly at: EpochMs | null;
}

const isTime = (t: unknown): t is number => typeof t === 'number' && Number.isSafeInteger(t) && t >= 0;
const isAsset = (a: unknown): boolean => typeof a === 'string' && a !== '';
function finite(text: unknown): number {
  const value = typeof text === 'string' ? decimalToNumber(text) : NaN;
  return Number.isFinite(value) ? value : NaN;
}

/** The field that makes a fill unusable, or null when the engine can value it. */
export function fillDefect(f: Fill): string | null {
  if (typeof f.exchangeTradeId !== 'string' || f.exchangeTradeId === '') return 'exchangeTradeId';
  if (!isTime(f.executedAt)) return 'executedAt';
  if (f.side !== 'buy' && f.side !== 'sell') return 'side';
  if (!isAsset(f.baseAsset)) return 'baseAsset';
  if (!isAsset(f.quoteAsset)) return 'quoteAsset';
  if (!isAsset(f.feeAsset)) return 'feeAsset';
  if (!(finite(f.quantity) > 0)) return 'quantity';
  if (!(finite(f.price) >= 0)) return 'price';
  if (Number.isNaN(finite(f.fee))) return 'fee';
  return null;
}

export function cashFlowDefect(c: CashFlow): string | null {
  if (typeof c.exchangeFlowId !== 'string' || c.exchangeFlowId === '') return 'exchangeFlowId';
  if (!isTime(c.occurredAt)) return 'occurredAt';
  if (!isCashFlowKind(c.kind)) return 'kind';
  if (!isAsset(c.asset)) return 'asset';
  if (!(finite(c.amount) > 0)) return 'amount';
  return null;
}

export interface Screened<T> {
  readonly kept: T[];
  readonly quarantined: QuarantinedRecord[];
}

export function screenFills(fills: readonly Fill[]): Screened<Fill> {
  const kept: Fill[] = [];
  const quarantined: QuarantinedRecord[] = [];
  for (const f of fills) {
    const field = fillDefect(f);
    if (field === null) kept.push(f);
    else quarantined.push({ record: 'fill', field, at: isTime(f.executedAt) ? f.executedAt : null });
  }
  return { kept, quarantined };
}

export function screenCashFlows(flows: readonly CashFlow[]): Screened<CashFlow> {
  const kept: CashFlow[] = [];
  const quarantined: QuarantinedRecord[] = [];
  for (const c of flows) {
    const field = cashFlowDefect(c);
    if (field === null) kept.push(c);
    else quarantined.push({ record: 'cash flow', field, at: isTime(c.occurredAt) ? c.occurredAt : null });
  }
  return { kept, quarantined };
}

/** One `quarantined` gap per hour with quarantined records (a record without a time: at `fallbackHour`). */
export function quarantineGaps(records: readonly QuarantinedRecord[], fallbackHour: EpochMs): DataGap[] {
  const hours = new Set<number>();
  for (const r of records) hours.add(r.at === null ? fallbackHour : Math.floor(r.at / HOUR_MS) * HOUR_MS);
  return [...hours].sort((a, b) => a - b).map((hourStart) => ({ kind: 'quarantined', asset: '', hourStart, treatment: QUARANTINE_TREATMENT }));
}
