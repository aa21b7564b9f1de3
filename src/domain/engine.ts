// The returns engine: position book, P&L, equity at every hour boundary, Modified Dietz hourly
// returns chained time-weighted. Pure and synchronous; runs on columns (see columnar.ts).
//
// Numbers: float64 throughout. Inputs are parsed once from decimal strings (≤ ½ ulp each); every
// later step is a handful of correctly rounded operations per fill, so errors stay near 1e-15
// relative to the amounts involved. test/domain/precision.test.ts bounds equity, growth (1 + r)
// and P&L against an exact decimal reference at ≤ 1e-9 on random histories. Sums whose order
// could depend on input order (equity over assets) run in asset-name order, so results are
// bit-identical however the input was batched or ordered within a millisecond.
//
// Treatments (each reported as a DataGap, never hidden):
// - A fill, fee or withdrawal that takes more of an asset than is held: the shortfall is an
//   unrecorded deposit at the trade's unit value just before it, counted as an external flow.
// - No candle closed at a boundary: the last mark is carried forward (counted as stale).
// - An asset never marked: valued at its cost basis (price paid; 0 if deposited), never at 1.
// - Starting equity ≤ 0 and no flow, or a Dietz denominator ≤ 0: no return for that hour.
//
// Valuation: every asset is valued in the base currency at its mark (the close of the `ASSET/BASE`
// candle that ends at the boundary). A fill moves two legs (base and quote asset) at the fill price
// times the quote's mark at the hour start; a fee is an expense at its value (quote, base, or its
// own mark for a third asset) and also disposes of the fee asset. A deposit enters at its mark as
// cost basis; a withdrawal disposes at its mark (realizing the gain). Thus at every boundary
// realized + unrealized = equity − opening equity − net flows.
import type { DataGap } from './aggregation.js';
import { HOUR_MS, RETURN_STRIDE, type ColumnarInput, type ColumnarResult, type EngineGap } from './columnar.js';
import { FLAG_BIT } from './hour-flags.js';
import { AggregationInputError } from './errors.js';
import { ENGINE_STATE_VERSION, type EngineState, type MarkState, type PositionState } from './engine-state.js';
import { EMPTY_PERFORMANCE, addHour, draftOf, performanceStatsFrom } from './performance.js';

/** Gap kinds the engine itself reports (quarantine and reconciliation are flagged by the sync). */
type EngineGapKind = Exclude<DataGap['kind'], 'quarantined' | 'unreconciled'>;

const TREATMENT: Record<EngineGapKind, string> = {
  oversold: 'more was sold, spent or withdrawn than held (incomplete history): the shortfall is treated as an unrecorded deposit at the trade value just before it, counted as an external flow so it creates no return',
  'stale-mark': 'no candle closed at this hour boundary: the last known mark is carried forward',
  'missing-mark': 'no mark has ever been seen for this asset: it is valued at its cost basis (0 when deposited or held at the start), never at 1',
  'non-positive-equity': 'starting equity is zero or negative without a flow (or the Dietz denominator is not positive): no return for this hour, the cumulative return carries over',
};

interface MutableGap {
  kind: DataGap['kind'];
  asset: string;
  hourStart: number;
  untilHour: number;
  count: number;
  treatment: string;
}

/** Quantities this close to what is held count as "all of it" (float64 noise, not a data gap). */
const CLOSE_TOLERANCE = 1e-9;

export function runEngine(c: ColumnarInput): ColumnarResult {
  const nA = c.assets.length;
  if (nA === 0 || c.assets[0] !== c.baseCurrency) throw new AggregationInputError('asset dictionary must start with the base currency');
  const assetIndex = new Map<string, number>();
  c.assets.forEach((name, i) => assetIndex.set(name, i));
  // Asset-name order: the only order sums over assets use.
  const byName = Array.from({ length: nA }, (_, i) => i).sort((a, b) => (c.assets[a]! < c.assets[b]! ? -1 : c.assets[a]! > c.assets[b]! ? 1 : 0));
  const rank = new Int32Array(nA);
  byName.forEach((a, r) => { rank[a] = r; });
  const others = byName.filter((a) => a !== 0);

  const qty = new Float64Array(nA);
  const cost = new Float64Array(nA);
  const mark = new Float64Array(nA).fill(NaN);
  mark[0] = 1;
  const fifo = c.costMethod === 'fifo';
  // FIFO lots per asset: parallel arrays with a moving head.
  const lotQty: number[][] = [];
  const lotCost: number[][] = [];
  const lotHead = new Int32Array(nA);
  if (fifo) for (let a = 0; a < nA; a++) { lotQty.push([]); lotCost.push([]); }

  const state = c.state;
  let growth = 1;
  let realized = 0;
  let fees = 0;
  let equityStart = 0;
  // The metrics' running sums: taken over from the saved state, advanced hour by hour below.
  const performance = draftOf(state?.performance ?? EMPTY_PERFORMANCE);
  let start: number;
  if (state !== null) {
    start = state.hour;
    growth = state.growth;
    realized = state.realizedPnl;
    fees = state.totalFees;
    equityStart = state.equity;
    for (const p of state.positions) {
      const a = assetIndex.get(p.asset);
      if (a === undefined) throw new AggregationInputError('asset dictionary is missing a saved position');
      qty[a] = p.quantity;
      cost[a] = p.costBasis;
      if (fifo && p.lots !== undefined) {
        for (let k = 0; k < p.lots.length; k += 2) { lotQty[a]!.push(p.lots[k]!); lotCost[a]!.push(p.lots[k + 1]!); }
      }
    }
    for (const m of state.marks) {
      const a = assetIndex.get(m.asset);
      if (a === undefined) throw new AggregationInputError('asset dictionary is missing a saved mark');
      mark[a] = m.price;
    }
  } else if (c.startHour !== null) {
    start = c.startHour;
  } else {
    let first = Infinity;
    for (let i = 0; i < c.fillTime.length; i++) if (c.fillTime[i]! < first) first = c.fillTime[i]!;
    for (let i = 0; i < c.flowTime.length; i++) if (c.flowTime[i]! < first) first = c.flowTime[i]!;
    if (first === Infinity) for (let i = 0; i < c.candleTime.length; i++) if (c.candleTime[i]! < first) first = c.candleTime[i]!;
    start = first === Infinity ? c.untilHour : Math.min(c.untilHour, Math.floor(first / HOUR_MS) * HOUR_MS);
  }
  const until = c.untilHour;
  if (until < start) throw new AggregationInputError('untilHour is before the hour the saved state or startHour begins at');
  const nH = (until - start) / HOUR_MS;

  // ---- Event order: by time; within a millisecond by content, so input order never matters. ----
  const fillOrder = orderEvents(c.fillTime, until, start, 'fill', (i, j) =>
    c.fillSide[i]! - c.fillSide[j]! ||
    rank[c.fillBase[i]!]! - rank[c.fillBase[j]!]! ||
    rank[c.fillQuote[i]!]! - rank[c.fillQuote[j]!]! ||
    c.fillQuantity[i]! - c.fillQuantity[j]! ||
    c.fillPrice[i]! - c.fillPrice[j]! ||
    rank[c.fillFeeAsset[i]!]! - rank[c.fillFeeAsset[j]!]! ||
    c.fillFee[i]! - c.fillFee[j]!);
  const flowOrder = orderEvents(c.flowTime, until, start, 'cash flow', (i, j) =>
    c.flowAmount[j]! - c.flowAmount[i]! || rank[c.flowAsset[i]!]! - rank[c.flowAsset[j]!]!);

  // ---- Marks: close of the candle [T − 1h, T) is the mark at boundary T. ----
  const symbolAsset = c.symbols.map((symbol) => {
    const slash = symbol.indexOf('/');
    if (slash <= 0 || symbol.slice(slash + 1) !== c.baseCurrency) return -1;
    return assetIndex.get(symbol.slice(0, slash)) ?? -1;
  });
  const closeAt = new Float64Array((nH + 1) * nA).fill(NaN);
  const openAtStart = new Float64Array(nA).fill(NaN);
  for (let i = 0; i < c.candleTime.length; i++) {
    const a = symbolAsset[c.candleSymbol[i]!]!;
    if (a <= 0) continue;
    const t = c.candleTime[i]!;
    const j = (t + HOUR_MS - start) / HOUR_MS;
    if (j >= 0 && j <= nH) closeAt[j * nA + a] = c.candleClose[i]!;
    if (t === start) openAtStart[a] = c.candleOpen[i]!;
  }
  // Resuming: an asset first seen in this run (an airdrop, an adjustment) takes its mark at the
  // start boundary from the candle closing there, not its cost basis (0 would make its value a return).
  if (state !== null) for (const a of others) if (mark[a] !== mark[a] && closeAt[a] === closeAt[a]) mark[a] = closeAt[a]!;

  // ---- Gaps, merged into runs per (kind, asset). ----
  const gaps: MutableGap[] = [];
  const KINDS: readonly EngineGapKind[] = ['oversold', 'stale-mark', 'missing-mark', 'non-positive-equity'];
  const openGap: (MutableGap | undefined)[] = new Array<MutableGap | undefined>(KINDS.length * nA);
  const gap = (kind: 0 | 1 | 2 | 3, a: number, hour: number): void => {
    hourFlags |= kind === OVERSOLD ? FLAG_BIT.oversold : kind === STALE ? FLAG_BIT['stale-mark'] : kind === NON_POSITIVE ? FLAG_BIT.unvalued
      : qty[a]! > 0 && cost[a]! > 0 ? FLAG_BIT['estimated-mark'] : FLAG_BIT['missing-mark'];
    const key = kind * nA + a;
    const last = openGap[key];
    if (last !== undefined && hour <= last.untilHour) {
      last.count++;
      if (hour + HOUR_MS > last.untilHour) last.untilHour = hour + HOUR_MS;
      return;
    }
    const k = KINDS[kind]!;
    const g: MutableGap = { kind: k, asset: c.assets[a]!, hourStart: hour, untilHour: hour + HOUR_MS, count: 1, treatment: TREATMENT[k] };
    gaps.push(g);
    openGap[key] = g;
  };
  const OVERSOLD = 0;
  const STALE = 1;
  const MISSING = 2;
  const NON_POSITIVE = 3;

  // ---- The book. `hour` is the current hour start; flows accumulate for Modified Dietz. ----
  let hour = start;
  let flowSum = 0;
  let flowWeighted = 0;
  let flowCount = 0;
  /** Flag bits of the hour being valued (hour-flags.ts). */
  let hourFlags = 0;
  // ---- True time-weighted valuation (largeFlowShare set): sub-periods inside the hour. ----
  const largeFlowShare = c.largeFlowShare;
  /** Start of the current sub-period (the hour start until a large flow splits it). */
  let subStart = start;
  /** Growth of the hour's closed sub-periods, and the net flow of the whole hour. */
  let subGrowth = 1;
  let hourFlowSum = 0;
  /** Units of each asset deposited without any price: valued when its first price appears (as a flow, not a gain). */
  const unpriced = new Float64Array(nA);
  // Minute marks: open of the minute containing an instant, per asset.
  const minuteMark = new Map<number, number>();
  for (let i = 0; i < c.minuteTime.length; i++) {
    const symbol = c.symbols[c.minuteSymbol[i]!]!;
    const slash = symbol.indexOf('/');
    if (slash <= 0 || symbol.slice(slash + 1) !== c.baseCurrency) continue;
    const a = assetIndex.get(symbol.slice(0, slash));
    if (a !== undefined && a > 0) minuteMark.set(c.minuteTime[i]! * nA + a, c.minuteOpen[i]!);
  }
  // Minute marks a valuation needed and did not have (asset, minute): the caller fetches them and runs again.
  const wanted = new MinuteWants(nA);
  /**
   * Mark of `a` at instant t: the open of its minute. Without a minute bar the hour's mark stands in;
   * when that value enters the result (`valued`) the hour is flagged estimated-mark and the minute wanted.
   */
  const markAtInstant = (a: number, t: number, valued: boolean): number => {
    if (a === 0) return 1;
    const minute = Math.floor(t / 60_000) * 60_000;
    const m = minuteMark.get(minute * nA + a);
    if (m !== undefined) return m;
    if (valued) { hourFlags |= FLAG_BIT['estimated-mark']; wanted.add(a, minute); }
    return unitValue(a);
  };
  /** Equity at instant t (between events) at the instant's marks. */
  const equityNow = (t: number, valued: boolean): number => {
    let e = qty[0]!;
    for (const a of others) if (qty[a] !== 0) e += qty[a]! * markAtInstant(a, t, valued);
    return e;
  };
  /** A first price for units deposited unpriced: they enter as an external flow at that value. */
  const pricePending = (a: number, unit: number, t: number): void => {
    const q = unpriced[a]!;
    if (q === 0 || !(unit > 0)) return;
    unpriced[a] = 0;
    cost[a]! += q * unit;
    if (fifo) { const lc = lotCost[a]!; for (let k = lotHead[a]!; k < lc.length; k++) if (lc[k] === 0) lc[k] = unit; }
    flow(q * unit, t);
  };
  /** Closes the sub-period [subStart, t) at a large flow: links its Modified Dietz growth. */
  const closeSubPeriod = (t: number): void => {
    if (t <= subStart) return;
    const e = equityNow(t, true);
    const denominator = equityStart + (flowWeighted * HOUR_MS - flowSum * (hour + HOUR_MS - t)) / (t - subStart);
    if (denominator > 0) subGrowth *= 1 + (e - equityStart - flowSum) / denominator;
    hourFlowSum += flowSum;
    subStart = t;
    equityStart = e;
    flowSum = 0;
    flowWeighted = 0;
    flowCount = 0;
    hourFlags |= FLAG_BIT['revalued-at-flow'];
  };

  /** Value of one unit of `a` during the current hour: its mark at the hour start, else average cost. */
  const unitValue = (a: number): number => {
    const m = mark[a]!;
    if (m === m) return m;
    gap(MISSING, a, hour);
    return qty[a]! > 0 ? cost[a]! / qty[a]! : 0;
  };
  const flow = (value: number, t: number): void => {
    flowSum += value;
    flowWeighted += (value * (hour + HOUR_MS - t)) / HOUR_MS;
    flowCount++;
  };
  const increase = (a: number, q: number, unit: number): void => {
    qty[a]! += q;
    if (a === 0) return;
    cost[a]! += q * unit;
    if (fifo) { lotQty[a]!.push(q); lotCost[a]!.push(unit); }
  };
  /** Takes q units out at `unit` value each; realizes (unit − cost) × q. */
  const decrease = (a: number, q: number, unit: number, t: number): void => {
    let held = qty[a]!;
    if (q - held > CLOSE_TOLERANCE * q) {
      // Incomplete history: the shortfall arrived unrecorded before this trade.
      const shortfall = q - held;
      gap(OVERSOLD, a, hour);
      increase(a, shortfall, unit);
      flow(shortfall * unit, t);
      held = q;
    }
    if (a === 0) {
      qty[0] = held - q;
      return;
    }
    let removed: number;
    if (held - q <= CLOSE_TOLERANCE * q) {
      removed = cost[a]!;
      qty[a] = 0;
      cost[a] = 0;
      if (fifo) { lotQty[a]!.length = 0; lotCost[a]!.length = 0; lotHead[a] = 0; }
    } else if (fifo) {
      const lq = lotQty[a]!;
      const lc = lotCost[a]!;
      let h = lotHead[a]!;
      let left = q;
      removed = 0;
      while (left > 0 && h < lq.length) {
        const take = Math.min(left, lq[h]!);
        removed += take * lc[h]!;
        left -= take;
        if (take === lq[h]!) h++;
        else lq[h] = lq[h]! - take;
      }
      if (h > 1024 && h * 2 > lq.length) { lq.splice(0, h); lc.splice(0, h); h = 0; }
      lotHead[a] = h;
      qty[a] = held - q;
      cost[a] = cost[a]! - removed;
    } else {
      removed = (cost[a]! * q) / held;
      qty[a] = held - q;
      cost[a] = cost[a]! - removed;
    }
    // Units waiting for a first price are units still held: what left needs no price any more.
    if (unpriced[a]! > qty[a]!) unpriced[a] = qty[a]!;
    realized += q * unit - removed;
  };
  /**
   * A split changes the quantity held by `delta`, not its value or cost basis: average cost per
   * unit (and every FIFO lot's unit cost) scales by the inverse factor. A split of an asset not
   * held changes nothing.
   */
  const applySplit = (a: number, delta: number): void => {
    const held = qty[a]!;
    if (a === 0 || held <= 0) return;
    const factor = Math.max(0, held + delta) / held;
    qty[a] = held * factor;
    if (qty[a] === 0) { realized -= cost[a]!; cost[a] = 0; }
    if (fifo) {
      const lq = lotQty[a]!;
      const lc = lotCost[a]!;
      for (let k = lotHead[a]!; k < lq.length; k++) { lq[k] = lq[k]! * factor; lc[k] = factor === 0 ? 0 : lc[k]! / factor; }
    }
  };
  /**
   * Equity at boundary j after its marks are applied. Stale and missing marks are reported against
   * `gapHour`: the hour whose return the valuation feeds (the hour ending at the boundary).
   */
  const equityAt = (j: number, gapHour: number, useOpen: boolean): number => {
    let e = qty[0]!;
    const row = j * nA;
    for (const a of others) {
      const close = closeAt[row + a]!;
      let fresh = false;
      if (close === close) { mark[a] = close; fresh = true; }
      else if (useOpen && openAtStart[a]! === openAtStart[a]!) { mark[a] = openAtStart[a]!; fresh = true; }
      if (qty[a] === 0) continue;
      const m = mark[a]!;
      if (m !== m) {
        gap(MISSING, a, gapHour);
        e += cost[a]!;
      } else {
        if (!fresh) { gap(STALE, a, gapHour); staleMarks++; }
        e += qty[a]! * m;
      }
    }
    return e;
  };
  let staleMarks = 0;

  if (state === null) {
    // Marks at the first boundary, then the opening balances valued at them.
    equityAt(0, start, true);
    for (let i = 0; i < c.openingAsset.length; i++) {
      const a = c.openingAsset[i]!;
      const amount = c.openingAmount[i]!;
      if (amount === 0) continue;
      increase(a, amount, a === 0 ? 1 : unitValue(a));
    }
    equityStart = equityAt(0, start, true);
    staleMarks = 0;
  }
  // Held at no cost and never priced (deposited or opening units): still waiting for a first price.
  if (largeFlowShare !== null) for (let a = 1; a < nA; a++) if (qty[a]! > 0 && cost[a] === 0 && mark[a] !== mark[a]) unpriced[a] = qty[a]!;

  const rows = new Float64Array(nH * RETURN_STRIDE);
  const rowFlags = new Uint16Array(nH);
  const unvaluedRows: number[] = [];
  let nRows = 0;
  let fp = 0;
  let wp = 0;
  const nFills = fillOrder.length;
  const nFlows = flowOrder.length;
  // Columns as locals: the loop calls closures, so V8 would otherwise reload them from `c`.
  const { fillTime, fillSide, fillBase, fillQuote, fillFeeAsset, fillQuantity, fillPrice, fillFee, flowTime, flowAsset, flowAmount, flowTreatment, flowFlags } = c;
  for (let j = 0; j < nH; j++) {
    hour = start + j * HOUR_MS;
    const hourEnd = hour + HOUR_MS;
    flowSum = 0;
    flowWeighted = 0;
    flowCount = 0;
    subStart = hour;
    subGrowth = 1;
    hourFlowSum = 0;
    // The venue's history does not reach back to (or fully into) this hour: history-cut.ts.
    if (c.historyCutAt !== null && hour <= c.historyCutAt) hourFlags |= FLAG_BIT['venue-history-cut'];
    for (;;) {
      const fi = fp < nFills ? fillOrder[fp]! : -1;
      const wi = wp < nFlows ? flowOrder[wp]! : -1;
      const ft = fi >= 0 ? fillTime[fi]! : Infinity;
      const wt = wi >= 0 ? flowTime[wi]! : Infinity;
      if (ft >= hourEnd && wt >= hourEnd) break;
      if (wt <= ft) {
        // Deposits first within a millisecond: flows sort before fills at equal times.
        const a = flowAsset[wi]!;
        const amount = flowAmount[wi]!;
        const treatment = flowTreatment[wi]!;
        hourFlags |= flowFlags[wi]!;
        if (treatment === 2) {
          applySplit(a, amount);
        } else {
          let unit: number;
          // Income and expense are performance, never a sub-period boundary: valued at the hour's mark.
          if (largeFlowShare === null || treatment !== 0) unit = a === 0 ? 1 : unitValue(a);
          else {
            // In kind at its own instant; a large flow first values the portfolio and closes the sub-period.
            unit = markAtInstant(a, wt, true);
            const value = Math.abs(amount * unit);
            // Deciding whether the flow is large may use the hour's marks; valuing at it may not.
            const before = equityNow(wt, false);
            if (value > largeFlowShare * Math.max(before, 0)) closeSubPeriod(wt);
            if (amount > 0 && unit === 0 && a !== 0) unpriced[a]! += amount;
          }
          if (amount > 0) increase(a, amount, unit);
          else decrease(a, -amount, unit, wt);
          // External flows count in Modified Dietz; income and expense are performance (events.ts).
          if (treatment === 0) flow(amount * unit, wt);
          else realized += amount * unit;
        }
        wp++;
      } else {
        const base = fillBase[fi]!;
        const quote = fillQuote[fi]!;
        const q = fillQuantity[fi]!;
        const price = fillPrice[fi]!;
        const quoteUnit = quote === 0 ? 1 : unitValue(quote);
        const baseUnit = price * quoteUnit;
        const notional = q * price;
        if (largeFlowShare !== null) { pricePending(base, baseUnit, ft); pricePending(quote, quoteUnit, ft); }
        // base = quote (an auto-FX in the base currency): nothing changes hands but the fee.
        if (base === quote) {
          // no legs
        } else if (fillSide[fi] === 0) {
          increase(base, q, baseUnit);
          decrease(quote, notional, quoteUnit, ft);
        } else {
          decrease(base, q, baseUnit, ft);
          increase(quote, notional, quoteUnit);
        }
        const fee = fillFee[fi]!;
        if (fee !== 0) {
          const fa = fillFeeAsset[fi]!;
          const feeUnit = fa === 0 ? 1 : fa === quote ? quoteUnit : fa === base ? baseUnit : unitValue(fa);
          const feeValue = fee * feeUnit;
          fees += feeValue;
          realized -= feeValue;
          // A negative fee is a maker rebate: the venue pays the asset in (net fees go down).
          if (fee > 0) decrease(fa, fee, feeUnit, ft);
          else increase(fa, -fee, feeUnit);
        }
        // Units a fill handed over at no price (its quote never priced) wait for a first price like
        // deposited ones, as a later run would find them (the rule at the run's start above).
        if (largeFlowShare !== null) for (const a of [base, quote]) if (a !== 0 && qty[a]! > 0 && cost[a] === 0 && mark[a] !== mark[a]) unpriced[a] = qty[a]!;
        fp++;
      }
    }
    const equityEnd = equityAt(j + 1, hour, false);
    if (largeFlowShare !== null) for (const a of others) if (unpriced[a]! > 0 && mark[a] === mark[a]) pricePending(a, mark[a]!, hourEnd);
    const split = subStart !== hour;
    // After a split the last sub-period's flows are weighted over [subStart, hourEnd).
    const denominator = split ? equityStart + (flowWeighted * HOUR_MS) / (hourEnd - subStart) : equityStart + flowWeighted;
    // A split hour is valued by its sub-periods even when the last one holds nothing.
    if (!split && ((flowCount === 0 && equityStart <= 0) || !(denominator > 0))) {
      gap(NON_POSITIVE, 0, hour);
      unvaluedRows.push(hour, growth - 1, equityEnd, hourFlowSum + flowSum, hourFlags);
    } else {
      /** Modified Dietz: r = (E_end − E_start − ΣF) / (E_start + Σ wᵢFᵢ), wᵢ = share of the hour left. */
      const last = denominator > 0 ? (equityEnd - equityStart - flowSum) / denominator : 0;
      const r = split ? subGrowth * (1 + last) - 1 : last;
      growth *= 1 + r;
      const o = nRows * RETURN_STRIDE;
      rows[o] = hour;
      rows[o + 1] = r;
      rows[o + 2] = growth - 1;
      rows[o + 3] = equityEnd;
      rows[o + 4] = hourFlowSum + flowSum;
      rowFlags[nRows] = hourFlags;
      nRows++;
      addHour(performance, hour, r);
    }
    hourFlags = 0;
    equityStart = equityEnd;
  }

  // ---- Totals and the state to resume from. ----
  let unrealized = 0;
  const positions: PositionState[] = [];
  const marks: MarkState[] = [];
  for (const a of byName) {
    if (a !== 0 && qty[a] !== 0) {
      const m = mark[a]!;
      if (m === m) unrealized += qty[a]! * m - cost[a]!;
    }
    if (qty[a] !== 0 || cost[a] !== 0) {
      const p: { asset: string; quantity: number; costBasis: number; lots?: number[] } = { asset: c.assets[a]!, quantity: qty[a]!, costBasis: cost[a]! };
      if (fifo && a !== 0) {
        const lots: number[] = [];
        const lq = lotQty[a]!;
        const lc = lotCost[a]!;
        for (let k = lotHead[a]!; k < lq.length; k++) lots.push(lq[k]!, lc[k]!);
        p.lots = lots;
      }
      positions.push(p);
    }
    if (a !== 0 && mark[a] === mark[a]) marks.push({ asset: c.assets[a]!, price: mark[a]! });
  }
  const nextState: EngineState = {
    version: ENGINE_STATE_VERSION, baseCurrency: c.baseCurrency, costMethod: c.costMethod, hour: until,
    equity: equityStart, growth, realizedPnl: realized, totalFees: fees, positions, marks, performance: { ...performance },
  };
  const returns = rows.slice(0, nRows * RETURN_STRIDE);
  const hourFlagColumn = rowFlags.slice(0, nRows);
  const totals = { realizedPnl: realized, unrealizedPnl: unrealized, totalFees: fees };
  // Equity at untilHour (with no hours to compute: the opening valuation).
  const snapshot = { at: until, balance: qty[0]!, equity: equityStart };
  return {
    returns,
    snapshot,
    state: nextState,
    gaps: gaps.map((g): EngineGap => ({ ...g })),
    ...totals,
    metrics: performanceStatsFrom(performance, totals),
    deferredFills: c.fillTime.length - nFills,
    deferredFlows: c.flowTime.length - nFlows,
    staleMarks,
    hourFlags: hourFlagColumn,
    unvalued: Float64Array.from(unvaluedRows),
    minuteMarksWanted: wanted.symbols(c.assets, c.baseCurrency),
  };
}

/** Distinct (asset, minute) pairs, in the order first needed. */
class MinuteWants {
  private readonly seen = new Set<number>();
  private readonly pairs: number[] = [];
  constructor(private readonly nA: number) {}
  add(a: number, minute: number): void {
    const key = minute * this.nA + a;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.pairs.push(a, minute);
  }
  symbols(assets: readonly string[], base: string): { symbol: string; minute: number }[] {
    const out: { symbol: string; minute: number }[] = [];
    for (let k = 0; k < this.pairs.length; k += 2) out.push({ symbol: `${assets[this.pairs[k]!]!}/${base}`, minute: this.pairs[k + 1]! });
    return out;
  }
}

/**
 * Indices of the events in [start, until), ordered by time and then by `tieBreak`. Events before
 * `start` are an error (they belong to hours already computed); events at or after `until` wait.
 */
function orderEvents(time: Float64Array, until: number, start: number, what: string, tieBreak: (i: number, j: number) => number): Int32Array {
  let kept = 0;
  let sorted = true;
  let last = -Infinity;
  let early = 0;
  for (let i = 0; i < time.length; i++) {
    const t = time[i]!;
    if (t < start) early++;
    else if (t < until) {
      kept++;
      if (t < last) sorted = false;
      last = t;
    }
  }
  if (early > 0) throw new AggregationInputError(`${early} ${what}(s) fall before the first hour to compute (already covered by the saved state or before startHour): recompute from the start`);
  const order = new Int32Array(kept);
  let k = 0;
  for (let i = 0; i < time.length; i++) if (time[i]! < until) order[k++] = i;
  if (!sorted) order.sort((i, j) => time[i]! - time[j]!);
  // Canonical order inside each run of equal times.
  for (let s = 0; s < kept;) {
    let e = s + 1;
    const t = time[order[s]!]!;
    while (e < kept && time[order[e]!] === t) e++;
    if (e - s > 1) order.subarray(s, e).sort(tieBreak);
    s = e;
  }
  return order;
}
