// The performance report of a period (issue 17): time- and money-weighted returns, honest
// annualization, the calendar table, GIPS risk figures, drawdown with recovery, benchmark
// comparison, flag shares. Pure: the caller loads the hours and candles. Conventions are in the
// README ("Performance reports"); every figure that is not defined for the period is null with
// the reason in `notes`.
import { HOUR_FLAGS, type HourFlag } from '../hour-flags.js';
import { HOURS_PER_YEAR } from '../performance.js';
import { monthlyReturns, yearlyReturns, type CalendarReturn } from './calendar.js';

export type { CalendarReturn } from './calendar.js';
import { internalRateOfReturn } from './irr.js';
import { compareWithBenchmark, type BenchmarkComparison } from './benchmark.js';
import type { Period } from './periods.js';
import { HOUR_MS, type ReportHour } from './series.js';
import type { TradeStatistics } from './trade-statistics.js';

export const MONTHS_PER_YEAR = 12;
/** GIPS: the three-year ex-post standard deviation uses 36 monthly returns. */
export const GIPS_MONTHS = 36;

export interface ReportOptions {
  /** Annual risk-free rate for Sharpe, as a fraction (default 0). */
  readonly riskFreeRate: number;
  /** Annual minimum acceptable return for Sortino, as a fraction (default 0). */
  readonly sortinoTarget: number;
}

export const DEFAULT_REPORT_OPTIONS: ReportOptions = { riskFreeRate: 0, sortinoTarget: 0 };

export interface FlagShare {
  readonly flag: HourFlag;
  /** Share of the period's hours carrying it. */
  readonly share: number;
}

export interface Drawdown {
  /** Largest fall of the growth index from a running peak, as a positive fraction. */
  readonly depth: number;
  /** Hour boundaries of the peak and the trough. */
  readonly peakAt: number | null;
  readonly troughAt: number | null;
  /** First boundary after the trough where the index is back at the peak; null: not recovered. */
  readonly recoveredAt: number | null;
  /** recoveredAt − troughAt in hours; null when not recovered. */
  readonly recoveryHours: number | null;
}

export interface PerformanceReport {
  /** Currency every amount and return is expressed in. */
  readonly currency: string;
  readonly period: Period;
  /** Calendar hours in the period with a published row (valued or not). */
  readonly hours: number;
  readonly valuedHours: number;
  readonly flaggedHourShare: number;
  readonly flagShares: readonly FlagShare[];
  /** Time-weighted: Π(1 + r) − 1 over the valued hours. */
  readonly timeWeightedReturn: number;
  /** (1 + TWR)^(8760 / hours) − 1, only when the period spans at least 8,760 hours. */
  readonly annualizedReturn: number | null;
  /** Money-weighted (IRR) over the period, not annualized. */
  readonly moneyWeightedReturn: number | null;
  readonly annualizedMoneyWeightedReturn: number | null;
  /** Sample standard deviation of hourly returns × √8760. */
  readonly annualizedVolatility: number | null;
  /** GIPS: population standard deviation of the last 36 complete monthly returns × √12. */
  readonly threeYearStandardDeviation: number | null;
  readonly sharpe: number | null;
  readonly sortino: number | null;
  readonly calmar: number | null;
  /** Months the Calmar ratio was computed over (36, or the period's when 12–35). */
  readonly calmarMonths: number | null;
  readonly drawdown: Drawdown;
  readonly bestMonth: CalendarReturn | null;
  readonly worstMonth: CalendarReturn | null;
  /** Share of the table's months with a positive return. */
  readonly positiveMonthShare: number | null;
  readonly monthly: readonly CalendarReturn[];
  readonly yearly: readonly CalendarReturn[];
  readonly benchmark: BenchmarkComparison | null;
  readonly tradeStatistics: TradeStatistics | null;
  readonly riskFreeRate: number;
  readonly sortinoTarget: number;
  /** Fixed sentences: why a figure is absent, which conventions apply. No amounts, no ids. */
  readonly notes: readonly string[];
}

export const NOTE_NOT_ANNUALIZED = 'annualized figures are absent: the period is shorter than one year (8,760 hours), and GIPS forbids annualizing it';
export const NOTE_NO_GIPS_SD = 'the three-year standard deviation is absent: fewer than 36 complete monthly returns';
export const NOTE_CALMAR_PERIOD = 'Calmar uses the whole period: fewer than 36 complete months';
export const NOTE_NO_CALMAR = 'Calmar is absent: it needs at least 12 complete months and a drawdown';
export const NOTE_NO_BENCHMARK = 'the benchmark is absent: no public candles cover the period';
export const NOTE_NO_TRADES = 'trade statistics are absent: too few closed positions to publish without describing them';
export const NOTE_MWR = 'money-weighted return: the IRR of the period\'s flows, each placed at the middle of its hour (exact flow times are private)';

export interface ReportInput {
  readonly currency: string;
  readonly period: Period;
  /** The period's hours, sorted, in `currency`. */
  readonly hours: readonly ReportHour[];
  readonly options?: ReportOptions;
  /** Benchmark hourly returns by hour start, with its name. */
  readonly benchmark?: { readonly name: string; readonly returns: ReadonlyMap<number, number> } | null;
  readonly tradeStatistics?: TradeStatistics | null;
}

/** Largest drawdown of the growth index over the hours (G = 1 at the period start). */
export function drawdownOf(hours: readonly ReportHour[], from: number): Drawdown {
  let growth = 1;
  let peak = 1;
  let peakAt = from;
  let depth = 0;
  let ddPeakAt: number | null = null;
  let troughAt: number | null = null;
  let ddPeak = 1;
  let recoveredAt: number | null = null;
  for (const h of hours) {
    if (h.return !== null) growth *= 1 + h.return;
    const at = h.hourStart + HOUR_MS;
    if (growth >= peak) {
      if (troughAt !== null && recoveredAt === null && growth >= ddPeak) recoveredAt = at;
      if (growth > peak) { peak = growth; peakAt = at; }
    } else {
      const dd = 1 - growth / peak;
      if (dd > depth) {
        depth = dd;
        ddPeakAt = peakAt;
        troughAt = at;
        ddPeak = peak;
        recoveredAt = null;
      }
    }
  }
  return { depth, peakAt: ddPeakAt, troughAt, recoveredAt, recoveryHours: recoveredAt !== null && troughAt !== null ? (recoveredAt - troughAt) / HOUR_MS : null };
}

const growthOf = (rs: readonly number[]): number => rs.reduce((g, r) => g * (1 + r), 1);

/** Annualizes a period return over `spanHours`, or null below one year. */
export function annualize(periodReturn: number, spanHours: number): number | null {
  if (spanHours < HOURS_PER_YEAR) return null;
  const g = 1 + periodReturn;
  return g <= 0 ? -1 : g ** (HOURS_PER_YEAR / spanHours) - 1;
}

/**
 * The money-weighted return of the hours over the whole period (not annualized): the rate that
 * discounts equity at the start (in), each hour's net flow at mid-hour, and equity at the end (out)
 * to zero, with time measured in periods (so short periods need no annual rate).
 */
export function moneyWeightedOf(hours: readonly ReportHour[]): number | null {
  if (hours.length === 0) return null;
  const first = hours[0]!;
  const last = hours.at(-1)!;
  const span = last.hourStart + HOUR_MS - first.hourStart;
  const flows = [{ years: 0, amount: -first.equityStart }];
  for (const h of hours) if (h.netFlow !== 0) flows.push({ years: (h.hourStart + HOUR_MS / 2 - first.hourStart) / span, amount: -h.netFlow });
  flows.push({ years: 1, amount: last.equityEnd });
  return internalRateOfReturn(flows);
}

export function buildPerformanceReport(input: ReportInput): PerformanceReport {
  const { period, hours } = input;
  const options = input.options ?? DEFAULT_REPORT_OPTIONS;
  const notes: string[] = [];
  const spanHours = (period.to - period.from) / HOUR_MS;
  const r = hours.flatMap((h) => (h.return === null ? [] : [h.return]));
  const n = r.length;
  const twr = growthOf(r) - 1;
  const annualizedReturn = annualize(twr, spanHours);
  if (annualizedReturn === null) notes.push(NOTE_NOT_ANNUALIZED);

  const counts = new Map<HourFlag, number>();
  let flagged = 0;
  for (const h of hours) {
    if (h.flags.length > 0) flagged++;
    for (const f of h.flags) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  const flagShares = HOUR_FLAGS.filter((f) => counts.has(f)).map((flag) => ({ flag, share: counts.get(flag)! / hours.length }));

  // Hourly dispersion; Sharpe and Sortino scale the hourly ratio by √8760 (a ratio, not a return).
  const mean = n > 0 ? r.reduce((s, x) => s + x, 0) / n : 0;
  const sd = n > 1 ? Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const rfHour = (1 + options.riskFreeRate) ** (1 / HOURS_PER_YEAR) - 1;
  const targetHour = (1 + options.sortinoTarget) ** (1 / HOURS_PER_YEAR) - 1;
  const downside = n > 0 ? Math.sqrt(r.reduce((s, x) => s + Math.min(x - targetHour, 0) ** 2, 0) / n) : 0;
  const scale = Math.sqrt(HOURS_PER_YEAR);

  const monthly = monthlyReturns(hours);
  const yearly = yearlyReturns(hours);
  const complete = monthly.filter((m) => !m.partial);
  let threeYearStandardDeviation: number | null = null;
  if (complete.length >= GIPS_MONTHS) {
    const last = complete.slice(-GIPS_MONTHS).map((m) => m.return);
    const m = last.reduce((s, x) => s + x, 0) / GIPS_MONTHS;
    threeYearStandardDeviation = Math.sqrt(last.reduce((s, x) => s + (x - m) ** 2, 0) / GIPS_MONTHS) * Math.sqrt(MONTHS_PER_YEAR);
  } else notes.push(NOTE_NO_GIPS_SD);

  const drawdown = drawdownOf(hours, period.from);
  let calmar: number | null = null;
  let calmarMonths: number | null = null;
  if (complete.length >= GIPS_MONTHS) {
    const window = complete.slice(-GIPS_MONTHS);
    const windowHours = hours.filter((h) => h.hourStart >= window[0]!.from && h.hourStart < window.at(-1)!.to);
    const dd = drawdownOf(windowHours, window[0]!.from).depth;
    const ann = annualize(growthOf(window.map((m) => m.return)) - 1, (window.at(-1)!.to - window[0]!.from) / HOUR_MS);
    if (dd > 0 && ann !== null) { calmar = ann / dd; calmarMonths = GIPS_MONTHS; }
  } else if (complete.length >= 12 && annualizedReturn !== null && drawdown.depth > 0) {
    calmar = annualizedReturn / drawdown.depth;
    calmarMonths = complete.length;
    notes.push(NOTE_CALMAR_PERIOD);
  }
  if (calmar === null) notes.push(NOTE_NO_CALMAR);

  const best = monthly.reduce<CalendarReturn | null>((b, m) => (b === null || m.return > b.return ? m : b), null);
  const worst = monthly.reduce<CalendarReturn | null>((w, m) => (w === null || m.return < w.return ? m : w), null);

  const mwr = moneyWeightedOf(hours);
  notes.push(NOTE_MWR);

  let benchmark: BenchmarkComparison | null = null;
  if (input.benchmark !== undefined && input.benchmark !== null) {
    benchmark = compareWithBenchmark(input.benchmark.name, hours, input.benchmark.returns);
    if (benchmark.hours === 0) { benchmark = null; notes.push(NOTE_NO_BENCHMARK); }
  }
  const tradeStatistics = input.tradeStatistics ?? null;
  if (input.tradeStatistics === null) notes.push(NOTE_NO_TRADES);

  return {
    currency: input.currency,
    period,
    hours: hours.length,
    valuedHours: n,
    flaggedHourShare: hours.length > 0 ? flagged / hours.length : 0,
    flagShares,
    timeWeightedReturn: twr,
    annualizedReturn,
    moneyWeightedReturn: mwr,
    annualizedMoneyWeightedReturn: mwr === null ? null : annualize(mwr, spanHours),
    annualizedVolatility: n > 1 ? sd * scale : null,
    threeYearStandardDeviation,
    sharpe: sd > 0 ? ((mean - rfHour) / sd) * scale : null,
    sortino: downside > 0 ? ((mean - targetHour) / downside) * scale : null,
    calmar,
    calmarMonths,
    drawdown,
    bestMonth: best,
    worstMonth: worst,
    positiveMonthShare: monthly.length > 0 ? monthly.filter((m) => m.return > 0).length / monthly.length : null,
    monthly,
    yearly,
    benchmark,
    tradeStatistics,
    riskFreeRate: options.riskFreeRate,
    sortinoTarget: options.sortinoTarget,
    notes,
  };
}
