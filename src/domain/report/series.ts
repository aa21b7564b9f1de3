// The series a report works on: one row per calendar hour, valued or not, in one currency.
// Built from published hours (which carry no flow times: those stay private), converted between
// currencies, and combined across accounts. Pure.
import type { HourFlag } from '../hour-flags.js';
import type { HourlyReturn } from '../types.js';

export const HOUR_MS = 3_600_000;

export interface ReportHour {
  readonly hourStart: number;
  /** Time-weighted return of the hour; null when it could not be valued (flag `unvalued`). */
  readonly return: number | null;
  /** Equity at the hour's start, before its flows. */
  readonly equityStart: number;
  readonly equityEnd: number;
  /** Net external flow in the hour (deposits positive). */
  readonly netFlow: number;
  readonly flags: readonly HourFlag[];
}

/**
 * Published hours → report hours. Equity at an hour's start is the previous hour's end; for the
 * first hour (or after a hole) it is solved from the hour's own return with the flow at mid-hour,
 * the one timing the published data allows (exact flow times are private).
 */
export function reportHoursOf(published: readonly HourlyReturn[]): ReportHour[] {
  const out: ReportHour[] = [];
  let previous: HourlyReturn | undefined;
  for (const h of published) {
    const flags = h.flags ?? [];
    const valued = !flags.includes('unvalued');
    let equityStart: number;
    if (previous !== undefined && previous.hourStart === h.hourStart - HOUR_MS) equityStart = previous.equityEnd;
    else if (valued && h.return !== -1) equityStart = (h.equityEnd - h.netFlow - (h.return * h.netFlow) / 2) / (1 + h.return);
    else equityStart = h.equityEnd - h.netFlow;
    out.push({ hourStart: h.hourStart, return: valued ? h.return : null, equityStart, equityEnd: h.equityEnd, netFlow: h.netFlow, flags });
    previous = h;
  }
  return out;
}

/**
 * Expresses a series in another currency. `rateAt(t)` is the price of one unit of the series'
 * currency in the target currency at boundary t (e.g. 1 / BTCUSDT close for USDT → BTC); null
 * when unknown. Returns convert exactly as (1 + r)·rate(end)/rate(start) − 1; equities at their
 * boundary's rate, flows at the hour start's rate. An hour whose rates are unknown becomes unvalued.
 */
export function convertSeries(hours: readonly ReportHour[], rateAt: (boundary: number) => number | null): ReportHour[] {
  return hours.map((h) => {
    const start = rateAt(h.hourStart);
    const end = rateAt(h.hourStart + HOUR_MS);
    if (start === null || end === null || !(start > 0) || !(end > 0)) {
      return { ...h, return: null, flags: withFlag(h.flags, 'unvalued') };
    }
    return {
      hourStart: h.hourStart,
      return: h.return === null ? null : (1 + h.return) * (end / start) - 1,
      equityStart: h.equityStart * start,
      equityEnd: h.equityEnd * end,
      netFlow: h.netFlow * start,
      flags: h.flags,
    };
  });
}

export interface Composite {
  readonly hours: ReportHour[];
  /** Hours in which flows of opposite sign in different accounts offset (transfers between the user's own accounts). */
  readonly nettedTransferHours: number;
}

/**
 * Asset-weighted composite of several accounts (one currency). Each hour's return is the
 * capital-weighted mean of the accounts' returns, weight = equity at the start + half the hour's
 * net flow (the Modified Dietz average capital with the published mid-hour timing); with one
 * account it is that account's return exactly. Equities and flows add up, so a transfer between
 * two of the user's accounts in the same hour nets out of the composite's flows (internal);
 * flows that do not offset within the hour stay external. Flags are the union over accounts; an
 * account that could not value the hour is left out of that hour's weights and flags it.
 */
export function compositeOf(accounts: readonly (readonly ReportHour[])[]): Composite {
  const byHour = new Map<number, ReportHour[]>();
  for (const series of accounts) for (const h of series) {
    const list = byHour.get(h.hourStart);
    if (list === undefined) byHour.set(h.hourStart, [h]);
    else list.push(h);
  }
  const hours: ReportHour[] = [];
  let nettedTransferHours = 0;
  for (const hourStart of [...byHour.keys()].sort((a, b) => a - b)) {
    const members = byHour.get(hourStart)!;
    let weighted = 0;
    let capital = 0;
    let equityStart = 0;
    let equityEnd = 0;
    let netFlow = 0;
    let grossFlow = 0;
    let inflow = false;
    let outflow = false;
    const flags = new Set<HourFlag>();
    for (const m of members) {
      equityStart += m.equityStart;
      equityEnd += m.equityEnd;
      netFlow += m.netFlow;
      grossFlow += Math.abs(m.netFlow);
      if (m.netFlow > 0) inflow = true;
      if (m.netFlow < 0) outflow = true;
      for (const f of m.flags) flags.add(f);
      if (m.return === null) continue;
      const weight = m.equityStart + m.netFlow / 2;
      if (!(weight > 0)) continue;
      weighted += weight * m.return;
      capital += weight;
    }
    if (inflow && outflow && Math.abs(netFlow) < grossFlow) nettedTransferHours++;
    const valued = capital > 0;
    if (!valued) flags.add('unvalued');
    hours.push({ hourStart, return: valued ? weighted / capital : null, equityStart, equityEnd, netFlow, flags: [...flags] });
  }
  return { hours, nettedTransferHours };
}

function withFlag(flags: readonly HourFlag[], flag: HourFlag): HourFlag[] {
  return flags.includes(flag) ? [...flags] : [...flags, flag];
}
