// Monthly and yearly returns, geometrically linked from hours on the UTC calendar. Pure.
import type { ReportHour } from './series.js';
import { HOUR_MS } from './series.js';

export interface CalendarReturn {
  /** "2026-03" for a month, "2026" for a year. */
  readonly label: string;
  readonly from: number;
  readonly to: number;
  /** Π(1 + r) − 1 over the valued hours. */
  readonly return: number;
  /** The period covers only part of the calendar month or year. */
  readonly partial: boolean;
  /** Share of its hours carrying any flag (unvalued hours included). */
  readonly flaggedShare: number;
}

function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
function nextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
function yearStart(t: number): number {
  return Date.UTC(new Date(t).getUTCFullYear(), 0, 1);
}
function nextYear(t: number): number {
  return Date.UTC(new Date(t).getUTCFullYear() + 1, 0, 1);
}

function table(hours: readonly ReportHour[], start: (t: number) => number, next: (t: number) => number, label: (t: number) => string): CalendarReturn[] {
  const out: CalendarReturn[] = [];
  let i = 0;
  while (i < hours.length) {
    const from = start(hours[i]!.hourStart);
    const to = next(from);
    let growth = 1;
    let flagged = 0;
    let n = 0;
    while (i < hours.length && hours[i]!.hourStart < to) {
      const h = hours[i]!;
      if (h.return !== null) growth *= 1 + h.return;
      if (h.flags.length > 0) flagged++;
      n++;
      i++;
    }
    const expected = (to - from) / HOUR_MS;
    out.push({ label: label(from), from, to, return: growth - 1, partial: n < expected, flaggedShare: n > 0 ? flagged / n : 0 });
  }
  return out;
}

const iso = (t: number): string => new Date(t).toISOString();

/** One row per calendar month the hours touch, oldest first (`hours` sorted, hour-aligned). */
export function monthlyReturns(hours: readonly ReportHour[]): CalendarReturn[] {
  return table(hours, monthStart, nextMonth, (t) => iso(t).slice(0, 7));
}

export function yearlyReturns(hours: readonly ReportHour[]): CalendarReturn[] {
  return table(hours, yearStart, nextYear, (t) => iso(t).slice(0, 4));
}
