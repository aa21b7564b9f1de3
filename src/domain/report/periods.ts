// Report periods on the UTC calendar. Pure: "now" is an argument.
import { AggregationInputError } from '../errors.js';
import { HOUR_MS } from './series.js';

export const PERIODS = ['1D', '7D', '30D', '90D', 'YTD', '1Y', '3Y', 'SI', 'CUSTOM'] as const;
export type PeriodKind = (typeof PERIODS)[number];

export interface Period {
  readonly kind: PeriodKind;
  /** Half-open [from, to), hour-aligned epoch ms. */
  readonly from: number;
  readonly to: number;
}

const DAY_MS = 24 * HOUR_MS;
const floorHour = (t: number): number => Math.floor(t / HOUR_MS) * HOUR_MS;
const ceilHour = (t: number): number => Math.ceil(t / HOUR_MS) * HOUR_MS;

/** The same UTC date and time `years` earlier (29 February falls back to 28 February). */
function yearsBefore(t: number, years: number): number {
  const d = new Date(t);
  const month = d.getUTCMonth();
  const shifted = new Date(Date.UTC(d.getUTCFullYear() - years, month, d.getUTCDate(), d.getUTCHours()));
  if (shifted.getUTCMonth() !== month) shifted.setUTCDate(0);
  return shifted.getTime();
}

/**
 * The hours of a period ending at `end` (exclusive; usually the end of the last published hour).
 * `inception` is the first published hour (SI starts there); CUSTOM takes [custom.from, custom.to)
 * rounded outwards to whole hours. Every period is clipped to start no earlier than inception.
 */
export function resolvePeriod(kind: PeriodKind, end: number, inception: number, custom?: { readonly from: number; readonly to: number }): Period {
  const to = ceilHour(end);
  let from: number;
  switch (kind) {
    case '1D': from = to - DAY_MS; break;
    case '7D': from = to - 7 * DAY_MS; break;
    case '30D': from = to - 30 * DAY_MS; break;
    case '90D': from = to - 90 * DAY_MS; break;
    case 'YTD': from = Date.UTC(new Date(to - 1).getUTCFullYear(), 0, 1); break;
    case '1Y': from = yearsBefore(to, 1); break;
    case '3Y': from = yearsBefore(to, 3); break;
    case 'SI': from = inception; break;
    case 'CUSTOM': {
      if (custom === undefined || !(custom.to > custom.from)) throw new AggregationInputError('a custom period needs from < to');
      return { kind, from: Math.max(floorHour(custom.from), floorHour(inception)), to: ceilHour(custom.to) };
    }
  }
  return { kind, from: Math.max(from, floorHour(inception)), to };
}
