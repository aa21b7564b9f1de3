// The engine's own input and output: columns of typed arrays plus small string dictionaries.
// This is what crosses to a worker thread (the buffers are transferred, not copied), and what the
// engine reads in-process too, so both paths run exactly the same code. Fill ids never enter it.
import type { AggregationInput, CostMethod, DataGap, PerformanceStats } from './aggregation.js';
import { AggregationInputError } from './errors.js';
import { decimalToNumber } from './decimal.js';
import { parseEngineState, type EngineState } from './engine-state.js';
import { directionOf, isCashFlowKind, treatmentOf } from './events.js';
import { FLAG_BIT } from './hour-flags.js';
import type { BalanceSnapshot } from './types.js';

export const HOUR_MS = 3_600_000;

/**
 * Columnar input. Asset columns hold indices into `assets` (index 0 is always the base currency);
 * `candleSymbol` indexes `symbols`. Amounts are float64 parsed from the decimal strings.
 */
export interface ColumnarInput {
  readonly baseCurrency: string;
  readonly costMethod: CostMethod;
  readonly state: EngineState | null;
  /** First hour to compute when there is no state (null: the hour of the earliest fill or flow). */
  readonly startHour: number | null;
  readonly untilHour: number;
  readonly assets: readonly string[];
  readonly symbols: readonly string[];
  readonly openingAsset: Int32Array;
  readonly openingAmount: Float64Array;
  readonly fillTime: Float64Array;
  /** 0 = buy, 1 = sell. */
  readonly fillSide: Uint8Array;
  readonly fillBase: Int32Array;
  readonly fillQuote: Int32Array;
  readonly fillFeeAsset: Int32Array;
  readonly fillQuantity: Float64Array;
  readonly fillPrice: Float64Array;
  readonly fillFee: Float64Array;
  readonly flowTime: Float64Array;
  readonly flowAsset: Int32Array;
  /** Signed: into the account positive, out of it negative (events.ts directionOf). */
  readonly flowAmount: Float64Array;
  /** events.ts FLOW_TREATMENT: 0 external flow, 1 performance (income/expense), 2 quantity only (split). */
  readonly flowTreatment: Uint8Array;
  /** Hour flag bits (hour-flags.ts) a flow sets on its hour: unexplained-adjustment for reconciliation's adjustments. */
  readonly flowFlags: Uint16Array;
  readonly candleTime: Float64Array;
  readonly candleSymbol: Int32Array;
  readonly candleOpen: Float64Array;
  readonly candleClose: Float64Array;
  /** True time-weighted valuation at flows above this share of equity (null: Modified Dietz only). */
  readonly largeFlowShare: number | null;
  /** One-minute candles: start, symbol index, open. */
  readonly minuteTime: Float64Array;
  readonly minuteSymbol: Int32Array;
  readonly minuteOpen: Float64Array;
  /** Hours starting at or before this instant are flagged venue-history-cut (null: none). */
  readonly historyCutAt: number | null;
}

/** Fields of HourlyReturn per row in `ColumnarResult.returns` (row-major, stride 5). */
export const RETURN_STRIDE = 5;
export const RETURN_FIELDS = ['hourStart', 'return', 'cumulativeReturn', 'equityEnd', 'netFlow'] as const;

/** A DataGap as the engine reports it: runs of consecutive hours are merged. */
export interface EngineGap extends DataGap {
  /** End of the run (exclusive hour boundary). */
  readonly untilHour: number;
  /** Occurrences in the run (asset-hours, or fills for `oversold`). */
  readonly count: number;
}

export interface ColumnarResult {
  /** Rows of [hourStart, return, cumulativeReturn, equityEnd, netFlow], oldest first. */
  readonly returns: Float64Array;
  readonly snapshot: BalanceSnapshot | null;
  readonly state: EngineState;
  readonly gaps: readonly EngineGap[];
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
  /** Over every hour up to `untilHour` (the saved state's hours included). */
  readonly metrics: PerformanceStats;
  /** Fills and flows at or after `untilHour`: not applied; the next run gets them again. */
  readonly deferredFills: number;
  readonly deferredFlows: number;
  /** Asset-hours valued with a carried-forward mark. */
  readonly staleMarks: number;
  /** Flag bit mask (hour-flags.ts) of each row of `returns`. */
  readonly hourFlags: Uint16Array;
  /** Hours without a return: rows of [hourStart, cumulativeReturn, equityEnd, netFlow, flag mask]. */
  readonly unvalued: Float64Array;
  /** Minute marks (`ASSET/BASE`, minute start) a valuation at a flow's instant lacked; the hour mark stood in (flag estimated-mark). */
  readonly minuteMarksWanted: readonly MinuteMarkWanted[];
}

/** A one-minute candle the engine needed: the open of `symbol`'s minute starting at `minute`. */
export interface MinuteMarkWanted {
  readonly symbol: string;
  readonly minute: number;
}

/** Fields per row of `ColumnarResult.unvalued`. */
export const UNVALUED_STRIDE = 5;

class Dictionary {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();
  id(name: string): number {
    let id = this.index.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.index.set(name, id);
    }
    return id;
  }
}

// Error messages are built only on failure: the hot loops below run millions of times.
type Row = readonly [what: string, index: number];

function refuse(row: Row, field: string, problem: string): never {
  throw new AggregationInputError(`${row[0]} ${row[1]}: ${field} ${problem}`);
}

function checkAsset(name: unknown, what: string, index: number, field: string): string {
  if (typeof name !== 'string' || name === '') refuse([what, index], field, 'is not an asset name');
  return name;
}

function checkTime(value: unknown, what: string, index: number, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) refuse([what, index], field, 'is not an epoch millisecond');
  return value;
}

/** Any finite decimal string (a fee: negative for a maker rebate). */
function signedAmount(text: unknown, what: string, index: number, field: string): number {
  const value = typeof text === 'string' ? decimalToNumber(text) : NaN;
  if (value !== value) refuse([what, index], field, 'is not a decimal string');
  if (value === Infinity || value === -Infinity) refuse([what, index], field, 'is out of range');
  return value;
}

/** A decimal string ≥ 0 (> 0 when `positive`). */
function amount(text: unknown, positive: boolean, what: string, index: number, field: string): number {
  const value = typeof text === 'string' ? decimalToNumber(text) : NaN;
  if (value !== value) refuse([what, index], field, 'is not a decimal string');
  if (positive ? !(value > 0) : !(value >= 0)) refuse([what, index], field, positive ? 'must be positive' : 'must be non-negative');
  if (value === Infinity) refuse([what, index], field, 'is out of range');
  return value;
}

/** Validates and encodes the contract input into columns (one pass, no per-row objects kept). */
export function encodeInput(input: AggregationInput): ColumnarInput {
  if (typeof input.baseCurrency !== 'string' || input.baseCurrency === '') throw new AggregationInputError('baseCurrency is not an asset name');
  const baseCurrency = input.baseCurrency;
  if (input.costMethod !== 'average' && input.costMethod !== 'fifo') throw new AggregationInputError('costMethod must be average or fifo');
  if (!Number.isSafeInteger(input.untilHour)) throw new AggregationInputError('untilHour is not an epoch millisecond');
  const untilHour = input.untilHour;
  if (untilHour % HOUR_MS !== 0) throw new AggregationInputError('untilHour is not aligned to an hour');
  const startHour = input.startHour ?? null;
  if (startHour !== null && (!Number.isSafeInteger(startHour) || startHour % HOUR_MS !== 0)) throw new AggregationInputError('startHour is not an hour-aligned epoch millisecond');
  const state = input.state === null || input.state === undefined ? null : parseEngineState(input.state);
  if (state !== null && (state.baseCurrency !== baseCurrency || state.costMethod !== input.costMethod)) {
    throw new AggregationInputError('saved state was computed with another base currency or cost method');
  }

  const assets = new Dictionary();
  assets.id(baseCurrency);
  if (state !== null) {
    for (const p of state.positions) assets.id(p.asset);
    for (const m of state.marks) assets.id(m.asset);
  }

  const opening = input.openingBalances;
  const openingAsset = new Int32Array(opening.length);
  const openingAmount = new Float64Array(opening.length);
  for (let i = 0; i < opening.length; i++) {
    const b = opening[i]!;
    openingAsset[i] = assets.id(checkAsset(b.asset, 'opening balance', i, 'asset'));
    openingAmount[i] = amount(b.total, false, 'opening balance', i, 'total');
  }

  const fills = input.fills;
  const n = fills.length;
  const fillTime = new Float64Array(n);
  const fillSide = new Uint8Array(n);
  const fillBase = new Int32Array(n);
  const fillQuote = new Int32Array(n);
  const fillFeeAsset = new Int32Array(n);
  const fillQuantity = new Float64Array(n);
  const fillPrice = new Float64Array(n);
  const fillFee = new Float64Array(n);
  const none = Symbol('none');
  let lastBase: unknown = none;
  let lastQuote: unknown = none;
  let lastFee: unknown = none;
  let lastBaseId = -1;
  let lastQuoteId = -1;
  let lastFeeId = -1;
  for (let i = 0; i < n; i++) {
    const f = fills[i]!;
    fillTime[i] = checkTime(f.executedAt, 'fill', i, 'executedAt');
    if (f.side === 'buy') fillSide[i] = 0;
    else if (f.side === 'sell') fillSide[i] = 1;
    else refuse(['fill', i], 'side', 'must be buy or sell');
    // Consecutive fills mostly repeat their assets: compare with the previous row before hashing.
    const base = f.baseAsset;
    if (base !== lastBase) { lastBaseId = assets.id(checkAsset(base, 'fill', i, 'baseAsset')); lastBase = base; }
    const quote = f.quoteAsset;
    if (quote !== lastQuote) { lastQuoteId = assets.id(checkAsset(quote, 'fill', i, 'quoteAsset')); lastQuote = quote; }
    const feeAsset = f.feeAsset;
    if (feeAsset !== lastFee) { lastFeeId = assets.id(checkAsset(feeAsset, 'fill', i, 'feeAsset')); lastFee = feeAsset; }
    // base = quote (an auto-FX in the base currency): the engine moves only its fee (events.ts).
    fillBase[i] = lastBaseId;
    fillQuote[i] = lastQuoteId;
    fillFeeAsset[i] = lastFeeId;
    fillQuantity[i] = amount(f.quantity, true, 'fill', i, 'quantity');
    // Price 0: an assignment or expiry; a negative fee: a maker rebate (events.ts).
    fillPrice[i] = amount(f.price, false, 'fill', i, 'price');
    fillFee[i] = signedAmount(f.fee, 'fill', i, 'fee');
  }

  const flows = input.cashFlows;
  const flowTime = new Float64Array(flows.length);
  const flowAsset = new Int32Array(flows.length);
  const flowAmount = new Float64Array(flows.length);
  const flowTreatment = new Uint8Array(flows.length);
  const flowFlags = new Uint16Array(flows.length);
  for (let i = 0; i < flows.length; i++) {
    const f = flows[i]!;
    flowTime[i] = checkTime(f.occurredAt, 'cash flow', i, 'occurredAt');
    flowAsset[i] = assets.id(checkAsset(f.asset, 'cash flow', i, 'asset'));
    const value = amount(f.amount, true, 'cash flow', i, 'amount');
    if (!isCashFlowKind(f.kind)) refuse(['cash flow', i], 'kind', 'is not a known kind');
    flowAmount[i] = directionOf(f.kind) * value;
    flowTreatment[i] = treatmentOf(f.kind);
    // Reconciliation's explicit correction (reconcile.ts): its hour is flagged, never silent.
    if (f.kind === 'adjustment-in' || f.kind === 'adjustment-out') flowFlags[i] = FLAG_BIT['unexplained-adjustment'];
  }

  const symbols = new Dictionary();
  const quoteSuffix = `/${baseCurrency}`;
  const candles = input.candles;
  const candleTime = new Float64Array(candles.length);
  const candleSymbol = new Int32Array(candles.length);
  const candleOpen = new Float64Array(candles.length);
  const candleClose = new Float64Array(candles.length);
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i]!;
    candleTime[i] = checkTime(c.openTime, 'candle', i, 'openTime');
    if (candleTime[i]! % HOUR_MS !== 0) refuse(['candle', i], 'openTime', 'is not aligned to an hour');
    const symbol = checkAsset(c.symbol, 'candle', i, 'symbol');
    const before = symbols.names.length;
    candleSymbol[i] = symbols.id(symbol);
    // Every marked asset gets a slot, held or not: its mark must carry into the saved state.
    if (symbols.names.length > before && symbol.endsWith(quoteSuffix)) assets.id(symbol.slice(0, -quoteSuffix.length));
    candleOpen[i] = amount(c.open, true, 'candle', i, 'open');
    candleClose[i] = amount(c.close, true, 'candle', i, 'close');
  }

  const largeFlowShare = input.largeFlowShare ?? null;
  if (largeFlowShare !== null && !(largeFlowShare >= 0 && Number.isFinite(largeFlowShare))) throw new AggregationInputError('largeFlowShare must be a non-negative number');
  const minute = input.minuteCandles ?? [];
  const minuteTime = new Float64Array(minute.length);
  const minuteSymbol = new Int32Array(minute.length);
  const minuteOpen = new Float64Array(minute.length);
  for (let i = 0; i < minute.length; i++) {
    const c = minute[i]!;
    minuteTime[i] = checkTime(c.openTime, 'minute candle', i, 'openTime');
    if (minuteTime[i]! % 60_000 !== 0) refuse(['minute candle', i], 'openTime', 'is not aligned to a minute');
    minuteSymbol[i] = symbols.id(checkAsset(c.symbol, 'minute candle', i, 'symbol'));
    minuteOpen[i] = amount(c.open, true, 'minute candle', i, 'open');
  }

  const historyCutAt = input.historyCutAt ?? null;
  if (historyCutAt !== null && !Number.isSafeInteger(historyCutAt)) throw new AggregationInputError('historyCutAt is not an epoch millisecond');

  return {
    historyCutAt,
    baseCurrency, costMethod: input.costMethod, state, startHour, untilHour,
    assets: assets.names, symbols: symbols.names,
    openingAsset, openingAmount,
    fillTime, fillSide, fillBase, fillQuote, fillFeeAsset, fillQuantity, fillPrice, fillFee,
    flowTime, flowAsset, flowAmount, flowTreatment, flowFlags,
    candleTime, candleSymbol, candleOpen, candleClose,
    largeFlowShare, minuteTime, minuteSymbol, minuteOpen,
  };
}

/** The buffers of a columnar input, for a worker's transferList (each is owned by one column). */
export function inputBuffers(c: ColumnarInput): ArrayBuffer[] {
  return [
    c.openingAsset, c.openingAmount,
    c.fillTime, c.fillSide, c.fillBase, c.fillQuote, c.fillFeeAsset, c.fillQuantity, c.fillPrice, c.fillFee,
    c.flowTime, c.flowAsset, c.flowAmount, c.flowTreatment, c.flowFlags,
    c.candleTime, c.candleSymbol, c.candleOpen, c.candleClose,
    c.minuteTime, c.minuteSymbol, c.minuteOpen,
  ].map((column) => column.buffer as ArrayBuffer);
}

