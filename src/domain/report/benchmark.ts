// A benchmark built from public candles, and the account's comparison with it over the same hours.
// Pure.
import type { Candle } from '../types.js';
import { HOURS_PER_YEAR } from '../performance.js';
import { decimalToNumber } from '../decimal.js';
import { HOUR_MS, type ReportHour } from './series.js';

/** Hourly returns of holding `weights` of assets (rebalanced every hour; one asset: simply held). */
export function benchmarkReturns(candles: readonly Candle[], symbols: readonly string[], from: number, to: number): Map<number, number> {
  const close = new Map<string, number>();
  for (const c of candles) close.set(`${c.symbol}@${c.openTime}`, decimalToNumber(c.close));
  const out = new Map<number, number>();
  for (let h = from; h < to; h += HOUR_MS) {
    let sum = 0;
    let ok = true;
    for (const s of symbols) {
      // Close of [h − 1h, h) is the price at h; close of [h, h + 1h) the price at h + 1h.
      const start = close.get(`${s}@${h - HOUR_MS}`);
      const end = close.get(`${s}@${h}`);
      if (start === undefined || end === undefined || !(start > 0)) { ok = false; break; }
      sum += end / start - 1;
    }
    if (ok && symbols.length > 0) out.set(h, sum / symbols.length);
  }
  return out;
}

export interface BenchmarkComparison {
  readonly name: string;
  /** Hours where both the account and the benchmark have a return. */
  readonly hours: number;
  readonly benchmarkReturn: number;
  /** Account cumulative return minus the benchmark's, same hours. */
  readonly excessReturn: number;
  readonly beta: number | null;
  readonly correlation: number | null;
  /** Standard deviation of hourly active returns × √8760. */
  readonly trackingError: number | null;
  /** Mean hourly active return × 8760 / tracking error. */
  readonly informationRatio: number | null;
  /** Mean account return over mean benchmark return, in hours the benchmark rose (fell). */
  readonly upCapture: number | null;
  readonly downCapture: number | null;
}

export function compareWithBenchmark(name: string, hours: readonly ReportHour[], benchmark: ReadonlyMap<number, number>): BenchmarkComparison {
  const p: number[] = [];
  const b: number[] = [];
  for (const h of hours) {
    const rb = benchmark.get(h.hourStart);
    if (h.return === null || rb === undefined) continue;
    p.push(h.return);
    b.push(rb);
  }
  const n = p.length;
  const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const growth = (xs: readonly number[]): number => xs.reduce((g, x) => g * (1 + x), 1) - 1;
  let beta: number | null = null;
  let correlation: number | null = null;
  let trackingError: number | null = null;
  let informationRatio: number | null = null;
  if (n > 1) {
    const mp = mean(p);
    const mb = mean(b);
    let cov = 0;
    let vp = 0;
    let vb = 0;
    let va = 0;
    const active = p.map((x, i) => x - b[i]!);
    const ma = mean(active);
    for (let i = 0; i < n; i++) {
      cov += (p[i]! - mp) * (b[i]! - mb);
      vp += (p[i]! - mp) ** 2;
      vb += (b[i]! - mb) ** 2;
      va += (active[i]! - ma) ** 2;
    }
    beta = vb > 0 ? cov / vb : null;
    correlation = vb > 0 && vp > 0 ? cov / Math.sqrt(vp * vb) : null;
    const te = Math.sqrt(va / (n - 1)) * Math.sqrt(HOURS_PER_YEAR);
    trackingError = te;
    informationRatio = te > 0 ? (ma * HOURS_PER_YEAR) / te : null;
  }
  const capture = (sign: 1 | -1): number | null => {
    const ps: number[] = [];
    const bs: number[] = [];
    for (let i = 0; i < n; i++) if (Math.sign(b[i]!) === sign) { ps.push(p[i]!); bs.push(b[i]!); }
    return bs.length === 0 ? null : mean(ps) / mean(bs);
  };
  return {
    name, hours: n, benchmarkReturn: growth(b), excessReturn: growth(p) - growth(b),
    beta, correlation, trackingError, informationRatio, upCapture: capture(1), downCapture: capture(-1),
  };
}
