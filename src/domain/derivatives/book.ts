// The derivatives book: signed positions per contract (long > 0, short < 0) with their average
// entry, rebuilt from contract fills, and the mark-to-market that puts their unrealized P&L into
// equity at every hour boundary. Pure.
//
// Cash comes from the venue's ledger (realized P&L, funding, fees, settlements as income/expense in
// the margin asset, records.ts); the book adds what no ledger holds: unrealized P&L at the venue's
// mark price. It does so with performance events the engine already understands, two per hour and
// margin asset while a position is open: at the hour's start the unrealized P&L of the previous
// boundary is released (−U(T−1h)), at its last millisecond the unrealized P&L at the boundary's
// mark is booked (+U(T)). So at every boundary the engine's margin-asset holding is
// wallet + U(T) (equity at mark), inside the hour it is the bare wallet (a realized loss booked by
// the ledger never drives it below zero), and neither is an external flow: Modified Dietz is
// untouched.
import type { DataGap } from '../aggregation.js';
import type { Candle, CashFlow, EpochMs, Fill } from '../types.js';
import { AggregationInputError } from '../errors.js';
import { decimalToNumber } from '../decimal.js';
import { contractNotional, contractPnl, deliveryTime, parseContract, type Contract } from './instrument.js';
import { executionKindOf, isBookRealized, ledgerId } from './records.js';

const HOUR = 3_600_000;

export interface Position {
  readonly contract: Contract;
  /** Signed, in base units (linear) or quote units (inverse): + long, − short. */
  quantity: number;
  /** Average entry price (harmonic for inverse contracts); NaN while flat. */
  entry: number;
}

/** Open positions by contract symbol. */
export type Book = Map<string, Position>;

export function emptyBook(): Book {
  return new Map();
}

/**
 * Applies one contract fill; returns the P&L it realizes in the settle asset (0 when it only opens
 * or adds). Reducing closes at the fill price against the average entry; crossing zero opens the
 * rest at the fill price. Fees are not here: the ledger books them.
 */
export function applyContractFill(book: Book, fill: Pick<Fill, 'symbol' | 'side' | 'quantity' | 'price'>): number {
  let p = book.get(fill.symbol);
  if (p === undefined) {
    p = { contract: parseContract(fill.symbol), quantity: 0, entry: NaN };
    book.set(fill.symbol, p);
  }
  const q = decimalToNumber(fill.quantity);
  const price = decimalToNumber(fill.price);
  if (!(q > 0) || !(price > 0)) throw new AggregationInputError('contract fill quantity or price is not positive');
  const delta = fill.side === 'buy' ? q : -q;
  const held = p.quantity;
  if (held === 0 || Math.sign(held) === Math.sign(delta)) {
    const size = Math.abs(held);
    p.entry = held === 0 ? price
      : p.contract.kind === 'linear' ? (size * p.entry + q * price) / (size + q)
      : (size + q) / (size / p.entry + q / price);
    p.quantity = held + delta;
    return 0;
  }
  const closed = Math.min(q, Math.abs(held));
  const realized = contractPnl(p.contract.kind, Math.sign(held) * closed, p.entry, price);
  const left = held + delta;
  if (Math.abs(left) <= 1e-12 * q) { p.quantity = 0; p.entry = NaN; }
  else if (Math.sign(left) !== Math.sign(held)) { p.quantity = left; p.entry = price; }
  else p.quantity = left;
  return realized;
}

/** Unrealized P&L of one position at `mark`, in its settle asset (0 when flat). */
export function unrealizedPnl(p: Position, mark: number): number {
  return p.quantity === 0 ? 0 : contractPnl(p.contract.kind, p.quantity, p.entry, mark);
}

/** Mark-price candles by contract symbol; the mark at boundary T is the close of the candle [T−1h, T), carried forward. */
export class MarkSeries {
  private readonly closes = new Map<string, { readonly time: Float64Array; readonly close: Float64Array }>();

  constructor(candles: readonly Candle[]) {
    const by = new Map<string, Candle[]>();
    for (const c of candles) {
      let list = by.get(c.symbol);
      if (list === undefined) by.set(c.symbol, (list = []));
      list.push(c);
    }
    for (const [symbol, list] of by) {
      list.sort((a, b) => a.openTime - b.openTime);
      this.closes.set(symbol, {
        time: Float64Array.from(list, (c) => c.openTime + HOUR),
        close: Float64Array.from(list, (c) => decimalToNumber(c.close)),
      });
    }
  }

  /** The latest mark at or before boundary `t`; NaN when none. */
  at(symbol: string, t: EpochMs): number {
    const s = this.closes.get(symbol);
    if (s === undefined) return NaN;
    let lo = 0;
    let hi = s.time.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.time[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? NaN : s.close[lo - 1]!;
  }
}

/** Unrealized P&L per settle asset at boundary t (a position without any mark yet counts 0: valued at entry). */
export function unrealizedBySettle(book: Book, marks: MarkSeries, t: EpochMs): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of book.values()) {
    if (p.quantity === 0) continue;
    const m = marks.at(p.contract.symbol, t);
    const u = m === m ? unrealizedPnl(p, m) : 0;
    out.set(p.contract.settle, (out.get(p.contract.settle) ?? 0) + u);
  }
  return out;
}

/** Gross exposure at boundary t in the quote asset (Σ |notional| at mark, entry when unmarked). */
export function grossExposure(book: Book, marks: MarkSeries, t: EpochMs): number {
  let e = 0;
  for (const p of book.values()) {
    if (p.quantity === 0) continue;
    const m = marks.at(p.contract.symbol, t);
    e += contractNotional(p.contract.kind, p.quantity, m === m ? m : p.entry);
  }
  return e;
}

export interface MarkToMarketInput {
  /** Every contract fill of the account (the book is rebuilt from the first), oldest first. */
  readonly fills: readonly Fill[];
  readonly marks: MarkSeries;
  /** First hour the engine computes in this run (its state already holds the earlier hours). */
  readonly startHour: EpochMs;
  readonly untilHour: EpochMs;
}

/** The first hour boundary after a dated future's delivery; null for a perpetual. */
function closeBoundary(contract: Contract): EpochMs | null {
  const delivery = deliveryTime(contract);
  return delivery === null ? null : Math.floor(delivery / HOUR) * HOUR + HOUR;
}

/**
 * A dated future still open past its delivery with no settlement execution (Binance serves none:
 * delivery is only an income row): the book closes it at the first hour boundary after delivery,
 * valued until then at its last mark (the mark candles stop at delivery). The cash of the delivery
 * comes from the ledger (DELIVERED_SETTELMENT, Bybit DELIVERY); without the close the position would
 * count twice (its unrealized P&L at the carried mark beside the settled cash). Returns the symbols closed.
 */
function closeDelivered(book: Book, boundary: EpochMs): string[] {
  const closed: string[] = [];
  for (const [symbol, p] of book) {
    if (p.quantity === 0) continue;
    const close = closeBoundary(p.contract);
    if (close === null || close > boundary) continue;
    p.quantity = 0;
    p.entry = NaN;
    closed.push(symbol);
  }
  return closed;
}

/** Applies the fills before `t` from index `i`, closing delivered futures at each boundary passed; returns the next index. */
function advance(
  book: Book, fills: readonly Fill[], i: number, t: EpochMs, closed: { readonly symbol: string; readonly at: EpochMs }[],
  onFill?: (f: Fill) => void, applyFill: (f: Fill) => void = (f) => { applyContractFill(book, f); },
): number {
  while (i < fills.length && fills[i]!.executedAt < t) {
    const f = fills[i++]!;
    // A close happens at its boundary: before any fill at or after it.
    const boundary = Math.floor(f.executedAt / HOUR) * HOUR;
    for (const symbol of closeDelivered(book, boundary)) closed.push({ symbol, at: boundary });
    onFill?.(f);
    // A row of a delivered contract after its close (a late settlement record) moves nothing: it is closed.
    const close = closeBoundary(book.get(f.symbol)?.contract ?? parseContract(f.symbol));
    if (close !== null && f.executedAt >= close) continue;
    applyFill(f);
  }
  for (const symbol of closeDelivered(book, t)) closed.push({ symbol, at: t });
  return i;
}

export const DELIVERED_TREATMENT = 'a dated future was still open after its delivery with no settlement execution: closed at the first hour boundary after delivery, valued at its last mark until then (the ledger books the delivery cash)';

/** One stale-mark gap per delivered future the book closed, against the hour that ends at the close. */
export function deliveredGaps(delivered: MarkToMarket['delivered']): DataGap[] {
  return delivered.map((d) => ({ kind: 'stale-mark', asset: d.symbol, hourStart: d.at - HOUR, treatment: DELIVERED_TREATMENT }));
}

/** The book after the fills before `t` (oldest first), dated futures delivered by then closed. */
export function bookAt(fills: readonly Fill[], t: EpochMs): Book {
  const book = emptyBook();
  advance(book, fills, 0, t, []);
  return book;
}

export interface MarkToMarket {
  /** Performance events to hand the engine with the run's other cash flows (never stored). */
  readonly flows: CashFlow[];
  /** Gross exposure (quote units) at each boundary startHour + (k+1)h, k = 0 … hours−1. */
  readonly exposure: Float64Array;
  /** Unrealized P&L per settle asset at untilHour. */
  readonly unrealizedAtEnd: ReadonlyMap<string, number>;
  /** Liquidation and ADL fills in [startHour, untilHour). */
  readonly liquidations: number;
  /**
   * Realized P&L and fees the book booked for book-realized fills (records.ts) before untilHour,
   * summed per asset as ledger entries (`drv:realized-pnl:book:<asset>`, `drv:fee:book:<asset>`), so
   * the published aggregates see them like a venue ledger's; never stored.
   */
  readonly bookLedger: CashFlow[];
  /** Dated futures the book closed in [startHour, untilHour] for want of a settlement execution (closeDelivered). */
  readonly delivered: readonly { readonly symbol: string; readonly at: EpochMs }[];
}

function mtmFlow(id: string, asset: string, amount: number, at: EpochMs): CashFlow | null {
  if (amount === 0 || !Number.isFinite(amount)) return null;
  // The engine reads decimal text; a float's shortest round-trip form is exact for it.
  const text = Math.abs(amount).toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
  if (!/[1-9]/.test(text)) return null;
  return { exchangeFlowId: id, kind: amount > 0 ? 'income' : 'expense', asset, amount: text, occurredAt: at };
}

const REALIZED_PREFIX = 'drv-mtm:realized:';

/**
 * Applies a contract fill to the book; for a book-realized fill (records.ts: a venue without a P&L
 * ledger) also returns the cash it moves, as performance events at the fill's time: the P&L it
 * realizes in the settle asset and its fee in the fee asset (a negative fee is a rebate).
 */
function applyAndRealize(book: Book, f: Fill): CashFlow[] {
  const realized = applyContractFill(book, f);
  if (!isBookRealized(f.exchangeTradeId)) return [];
  const out: CashFlow[] = [];
  const r = mtmFlow(`${REALIZED_PREFIX}${f.exchangeTradeId}`, book.get(f.symbol)!.contract.settle, realized, f.executedAt);
  if (r !== null) out.push(r);
  const c = mtmFlow(`drv-mtm:fee:${f.exchangeTradeId}`, f.feeAsset, -decimalToNumber(f.fee), f.executedAt);
  if (c !== null) out.push(c);
  return out;
}

/**
 * The realized P&L and fees of every book-realized fill among `fills` (all the account's contract
 * fills, oldest first: the book needs each earlier one) executed at or after `fromMs`, as the
 * performance events the engine run books (so reconciliation and the history cut can explain the
 * wallet with them). Empty for venues whose ledger holds that cash.
 */
export function bookRealizedFlows(fills: readonly Fill[], fromMs: EpochMs = Number.NEGATIVE_INFINITY): CashFlow[] {
  if (!fills.some((f) => isBookRealized(f.exchangeTradeId))) return [];
  const book = emptyBook();
  const out: CashFlow[] = [];
  for (const f of fills) {
    const flows = applyAndRealize(book, f);
    if (f.executedAt >= fromMs) out.push(...flows);
  }
  return out;
}

/**
 * The unrealized-P&L events for the hours [startHour, untilHour), plus exposure per boundary and
 * the liquidation count. The unrealized P&L released at startHour is the one the previous run
 * booked at that boundary (same fills, same marks), so resuming from a saved state is exact.
 */
export function markToMarket(input: MarkToMarketInput): MarkToMarket {
  const { fills, marks, startHour, untilHour } = input;
  if (untilHour < startHour || (untilHour - startHour) % HOUR !== 0) throw new AggregationInputError('mark-to-market hours are not whole hours');
  const book = emptyBook();
  // Fills of venues without a P&L ledger: realized P&L and fee per fill, and their totals.
  const totals = { 'realized-pnl': new Map<string, number>(), fee: new Map<string, number>() };
  const apply = (f: Fill, flows: CashFlow[] | null): void => {
    for (const c of applyAndRealize(book, f)) {
      const sums = c.exchangeFlowId.startsWith(REALIZED_PREFIX) ? totals['realized-pnl'] : totals.fee;
      sums.set(c.asset, (sums.get(c.asset) ?? 0) + (c.kind === 'income' ? 1 : -1) * decimalToNumber(c.amount));
      flows?.push(c);
    }
  };
  // Closes before the first hour were reported by the run that valued their hour.
  let i = advance(book, fills, 0, startHour, [], undefined, (f) => { apply(f, null); });
  const delivered: { symbol: string; at: EpochMs }[] = [];
  const hours = (untilHour - startHour) / HOUR;
  const flows: CashFlow[] = [];
  const exposure = new Float64Array(hours);
  let liquidations = 0;
  let previous = unrealizedBySettle(book, marks, startHour);
  for (let k = 0; k < hours; k++) {
    const hour = startHour + k * HOUR;
    const end = hour + HOUR;
    for (const [asset, u] of previous) {
      const f = mtmFlow(`drv-mtm:release:${asset}:${hour}`, asset, -u, hour);
      if (f !== null) flows.push(f);
    }
    i = advance(book, fills, i, end, delivered, (f) => {
      const kind = executionKindOf(f.exchangeTradeId);
      if (kind === 'liquidation' || kind === 'adl') liquidations++;
    }, (f) => { apply(f, flows); });
    previous = unrealizedBySettle(book, marks, end);
    for (const [asset, u] of previous) {
      const f = mtmFlow(`drv-mtm:book:${asset}:${end}`, asset, u, end - 1);
      if (f !== null) flows.push(f);
    }
    exposure[k] = grossExposure(book, marks, end);
  }
  flows.sort((a, b) => a.occurredAt - b.occurredAt);
  const bookLedger: CashFlow[] = [];
  for (const kind of ['realized-pnl', 'fee'] as const) {
    for (const [asset, total] of totals[kind]) {
      const f = mtmFlow(ledgerId(kind, `book:${asset}`), asset, total, untilHour - 1);
      if (f !== null) bookLedger.push(f);
    }
  }
  return { flows, exposure, unrealizedAtEnd: previous, liquidations, bookLedger, delivered };
}
