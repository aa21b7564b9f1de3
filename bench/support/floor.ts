// A minimal single-pass floor for the engine's work (issue 19, item 5): the same input (fills,
// flows, hourly candles as decimal strings), one pass in time order, floating point only: parse
// each amount with Number, keep holdings and average cost per asset, value the portfolio at every
// hour boundary from the latest candle close, Modified Dietz return per hour, and running sums
// for the metrics (mean, variance, drawdown). No exactness, no flags, no state to resume, no gap
// handling: whatever the engine costs above this is the price of those.
import type { AggregationInput } from '../../src/domain/aggregation.js';

const H = 3_600_000;

export interface FloorResult {
  readonly hours: number;
  readonly cumulativeReturn: number;
  readonly maxDrawdown: number;
  readonly realizedPnl: number;
}

export function floorAggregate(input: AggregationInput): FloorResult {
  const base = input.baseCurrency;
  const held = new Map<string, number>();
  const cost = new Map<string, number>();
  const mark = new Map<string, number>();
  mark.set(base, 1);
  for (const b of input.openingBalances) held.set(b.asset, (held.get(b.asset) ?? 0) + Number(b.total));
  const { fills, cashFlows: flows, candles } = input;
  const first = input.startHour ?? Math.floor(Math.min(fills[0]?.executedAt ?? Infinity, flows[0]?.occurredAt ?? Infinity) / H) * H;
  const until = input.untilHour;
  const suffix = `/${base}`;
  let fi = 0;
  let ci = 0;
  let ki = 0;
  let realized = 0;
  const equity = (): number => {
    let e = 0;
    for (const [asset, q] of held) e += q * (mark.get(asset) ?? 0);
    return e;
  };
  const advanceMarks = (limit: number): void => {
    // A candle opening at t closes at t + 1 h: its close is the mark from then on.
    while (ki < candles.length && candles[ki]!.openTime + H <= limit) {
      const c = candles[ki]!;
      mark.set(c.symbol.endsWith(suffix) ? c.symbol.slice(0, -suffix.length) : c.symbol, Number(c.close));
      ki += 1;
    }
  };
  advanceMarks(first);
  let previous = equity();
  let growth = 1;
  let peak = 1;
  let maxDrawdown = 0;
  let sum = 0;
  let sumSq = 0;
  let hours = 0;
  for (let h = first; h < until; h += H) {
    const end = h + H;
    let flow = 0;
    let weighted = 0;
    while (fi < fills.length && fills[fi]!.executedAt < end) {
      const f = fills[fi]!;
      const q = Number(f.quantity);
      const p = Number(f.price);
      const fee = Number(f.fee);
      const asset = f.baseAsset;
      const before = held.get(asset) ?? 0;
      if (f.side === 'buy') {
        held.set(asset, before + q);
        cost.set(asset, (cost.get(asset) ?? 0) + q * p);
        held.set(f.quoteAsset, (held.get(f.quoteAsset) ?? 0) - q * p);
      } else {
        const avg = before > 0 ? (cost.get(asset) ?? 0) / before : p;
        realized += q * (p - avg);
        cost.set(asset, (cost.get(asset) ?? 0) - q * avg);
        held.set(asset, before - q);
        held.set(f.quoteAsset, (held.get(f.quoteAsset) ?? 0) + q * p);
      }
      held.set(f.feeAsset, (held.get(f.feeAsset) ?? 0) - fee);
      fi += 1;
    }
    while (ci < flows.length && flows[ci]!.occurredAt < end) {
      const c = flows[ci]!;
      const signed = (c.kind === 'withdrawal' ? -1 : 1) * Number(c.amount);
      held.set(c.asset, (held.get(c.asset) ?? 0) + signed);
      const value = signed * (mark.get(c.asset) ?? 0);
      flow += value;
      weighted += (value * (end - c.occurredAt)) / H;
      ci += 1;
    }
    advanceMarks(end);
    const now = equity();
    const denominator = previous + weighted;
    const r = denominator === 0 ? 0 : (now - previous - flow) / denominator;
    growth *= 1 + r;
    peak = Math.max(peak, growth);
    maxDrawdown = Math.max(maxDrawdown, 1 - growth / peak);
    sum += r;
    sumSq += r * r;
    hours += 1;
    previous = now;
  }
  if (hours > 0 && !Number.isFinite(sum + sumSq)) throw new Error('floor: non-finite returns');
  return { hours, cumulativeReturn: growth - 1, maxDrawdown, realizedPnl: realized };
}
