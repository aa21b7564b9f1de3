// The reconstruction attack of issue 14, as an adversary with the gateway's database access runs
// it: equity/flow differencing against public hourly candles. For each hour whose starting and
// ending equity are both published, the change not explained by flows and by the mark-to-market of
// the holdings inferred so far is a fill's footprint; assuming the fill executed at the hour's open
// (the demo venue's rule, and a fair first guess anywhere) with a 0.1% fee, each asset and side
// gives one candidate quantity. The candidate closest to a whole lot (1e-6) wins, a one-hour
// look-ahead (the next hour left least unexplained) breaking ties; runs of quiet hours re-anchor
// the inferred holdings by least squares. Intervals longer than an hour (daily equity) yield a candidate for every hour,
// asset and side in them: the attacker is given every benefit of the doubt.
import type { EpochMs } from '../../src/domain/types.js';

const HOUR = 3_600_000;
const FEE = 0.001;

/** One published hour as the attacker reads it (null: withheld). */
export interface ObservedHour {
  readonly hourStart: EpochMs;
  readonly equityEnd: number | null;
  readonly netFlow: number | null;
}

/** Hourly candle open/close per asset, keyed by open time. */
export type PublicCandles = ReadonlyMap<string, ReadonlyMap<EpochMs, { readonly open: number; readonly close: number }>>;

export interface CandidateFill {
  readonly hourStart: EpochMs;
  readonly asset: string;
  readonly side: 'buy' | 'sell';
  readonly quantity: number;
}

export interface TrueFill {
  readonly executedAt: EpochMs;
  readonly asset: string;
  readonly side: 'buy' | 'sell';
  /** Exact decimal text, as the venue reported it. */
  readonly quantity: string;
}

function mtm(holdings: ReadonlyMap<string, number>, candles: PublicCandles, hourStart: EpochMs): number | null {
  let total = 0;
  for (const [asset, quantity] of holdings) {
    if (quantity === 0) continue;
    const c = candles.get(asset)?.get(hourStart);
    if (c === undefined) return null;
    total += quantity * (c.close - c.open);
  }
  return total;
}

function candidatesAt(residual: number, hourStart: EpochMs, candles: PublicCandles, holdings: ReadonlyMap<string, number>, endHour: EpochMs): CandidateFill[] {
  const out: CandidateFill[] = [];
  for (const [asset, series] of candles) {
    const at = series.get(hourStart);
    const end = series.get(endHour);
    if (at === undefined || end === undefined) continue;
    const p = at.open;
    const c = end.close;
    const buy = residual / (c - (1 + FEE) * p);
    if (Number.isFinite(buy) && buy > 0) out.push({ hourStart, asset, side: 'buy', quantity: buy });
    const sell = residual / ((1 - FEE) * p - c);
    if (Number.isFinite(sell) && sell > 0 && sell <= (holdings.get(asset) ?? 0) * (1 + 1e-9)) out.push({ hourStart, asset, side: 'sell', quantity: sell });
  }
  return out;
}

/** Distance of a quantity from the nearest multiple of 1e-6, in those units (0 … 0.5). */
function lotDistance(quantity: number): number {
  const units = quantity * 1e6;
  return Math.abs(units - Math.round(units));
}

/** Books a candidate at its whole-lot quantity (float noise would otherwise build up in the holdings). */
function apply(holdings: Map<string, number>, fill: CandidateFill): void {
  const lots = Math.round(fill.quantity * 1e6);
  const held = Math.round((holdings.get(fill.asset) ?? 0) * 1e6);
  holdings.set(fill.asset, (held + (fill.side === 'buy' ? lots : -lots)) / 1e6);
}

/** Solves the normal equations of a small least-squares problem (Gaussian elimination); null when singular. */
function leastSquares(rows: readonly number[][], targets: readonly number[]): number[] | null {
  const k = rows[0]?.length ?? 0;
  const a = Array.from({ length: k }, (_, i) => Array.from({ length: k + 1 }, (_, j) =>
    j < k ? rows.reduce((sum, r) => sum + r[i]! * r[j]!, 0) : rows.reduce((sum, r, n) => sum + r[i]! * targets[n]!, 0)));
  for (let col = 0; col < k; col += 1) {
    let pivot = col;
    for (let r = col + 1; r < k; r += 1) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    for (let r = 0; r < k; r += 1) {
      if (r === col) continue;
      const f = a[r]![col]! / a[col]![col]!;
      for (let c = col; c <= k; c += 1) a[r]![c]! -= f * a[col]![c]!;
    }
  }
  return a.map((row, i) => row[k]! / row[i]!);
}

/**
 * Candidate fills recovered from what the gateway can read. Holdings come from two sources: a run
 * of hours that a fixed portfolio explains exactly (least squares over the candle moves: such a
 * run has no fill, and the fit *is* the holdings, to the lot), and, between such runs, the
 * candidates booked hour by hour. A residual no whole-lot candidate explains means the holdings
 * are lost until the next quiet run.
 */
export function reconstructFills(observed: readonly ObservedHour[], candles: PublicCandles): CandidateFill[] {
  const known = observed.filter((h) => h.equityEnd !== null).sort((a, b) => a.hourStart - b.hourStart);
  const flowAt = new Map(observed.map((h) => [h.hourStart, h.netFlow ?? 0]));
  const assets = [...candles.keys()].sort();
  const found: CandidateFill[] = [];
  const residualOf = (from: ObservedHour, to: ObservedHour, held: ReadonlyMap<string, number>): number | null => {
    let explained = 0;
    for (let t = from.hourStart + HOUR; t <= to.hourStart; t += HOUR) {
      const move = mtm(held, candles, t);
      if (move === null) return null;
      explained += move + (flowAt.get(t) ?? 0);
    }
    return (to.equityEnd ?? 0) - (from.equityEnd ?? 0) - explained;
  };
  // Quiet runs: `window` consecutive hourly steps that one portfolio explains to float noise.
  const window = assets.length + 1;
  const quietFit = (i: number): Map<string, number> | null => {
    const rows: number[][] = [];
    const targets: number[] = [];
    for (let n = i; n < i + window; n += 1) {
      const from = known[n - 1];
      const to = known[n];
      if (from === undefined || to === undefined || to.hourStart !== from.hourStart + HOUR) return null;
      const moves = assets.map((a) => { const c = candles.get(a)?.get(to.hourStart); return c === undefined ? NaN : c.close - c.open; });
      if (moves.some((m) => Number.isNaN(m))) return null;
      rows.push(moves);
      targets.push((to.equityEnd ?? 0) - (from.equityEnd ?? 0) - (flowAt.get(to.hourStart) ?? 0));
    }
    const fit = leastSquares(rows, targets);
    if (fit === null) return null;
    const lots = fit.map((q) => Math.max(0, Math.round(q * 1e6) / 1e6));
    const worst = Math.max(...rows.map((r, n) => Math.abs(r.reduce((sum, m, j) => sum + m * lots[j]!, 0) - targets[n]!)));
    const scale = Math.max(1, Math.abs(known[i]?.equityEnd ?? 1));
    return worst <= 1e-7 * scale ? new Map(assets.map((a, j) => [a, lots[j]!])) : null;
  };

  let holdings: Map<string, number> | null = new Map();
  let quietUntil = -1;
  for (let i = 1; i < known.length; i += 1) {
    const from = known[i - 1]!;
    const to = known[i]!;
    if (i > quietUntil) {
      const fit = quietFit(i);
      if (fit !== null) { holdings = fit; quietUntil = i + window - 1; }
    }
    if (i <= quietUntil) continue;
    const hours: EpochMs[] = [];
    for (let t = from.hourStart + HOUR; t <= to.hourStart; t += HOUR) hours.push(t);
    if (hours.length > 1) {
      // No hour to pin it to (daily equity): every candidate of every hour counts; holdings are lost.
      const residual = residualOf(from, to, holdings ?? new Map());
      if (residual !== null && Math.abs(residual) > 1e-6 * Math.max(1, Math.abs(to.equityEnd ?? 0))) {
        found.push(...hours.flatMap((t) => candidatesAt(residual, t, candles, holdings ?? new Map(), to.hourStart)));
      }
      holdings = null;
      continue;
    }
    if (holdings === null) continue;
    const residual = residualOf(from, to, holdings);
    if (residual === null) { holdings = null; continue; }
    if (Math.abs(residual) <= 1e-6 * Math.max(1, Math.abs(to.equityEnd ?? 0))) continue;
    const candidates = candidatesAt(residual, to.hourStart, candles, holdings, to.hourStart);
    // Venues trade in lots: the true candidate is (to float noise) a whole number of 1e-6 units,
    // a wrong one almost never is. The next hour's leftover breaks what is left of a tie.
    const next = known[i + 1];
    let best: CandidateFill | null = null;
    let bestScore = Infinity;
    for (const candidate of candidates) {
      const distance = lotDistance(candidate.quantity);
      if (distance > 0.05) continue;
      let score = distance;
      if (next !== undefined && next.hourStart === to.hourStart + HOUR) {
        const trial = new Map(holdings);
        apply(trial, candidate);
        score += Math.min(1, Math.abs(residualOf(to, next, trial) ?? Infinity) / Math.max(1, Math.abs(next.equityEnd ?? 1))) * 1e-3;
      }
      if (score < bestScore) { bestScore = score; best = candidate; }
    }
    if (best === null) { holdings = null; continue; }
    apply(holdings, best);
    found.push(best);
  }
  return found;
}

/** True fills the candidates recover exactly: same hour, asset and side, quantity to its six decimals. */
export function matchFills(candidates: readonly CandidateFill[], truth: readonly TrueFill[]): TrueFill[] {
  const byKey = new Map<string, CandidateFill[]>();
  for (const c of candidates) {
    const key = `${c.hourStart}|${c.asset}|${c.side}`;
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  return truth.filter((f) => {
    const hour = Math.floor(f.executedAt / HOUR) * HOUR;
    return (byKey.get(`${hour}|${f.asset}|${f.side}`) ?? []).some((c) => Number(c.quantity.toFixed(6)) === Number(f.quantity));
  });
}
