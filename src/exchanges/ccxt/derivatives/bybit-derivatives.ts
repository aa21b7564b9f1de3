// Bybit v5 derivatives of a unified trading account (UTA).
//
// Which calls and why (ccxt 4.5.84):
// - Executions: `GET /v5/execution/list` with category=linear and category=inverse, 7-day windows,
//   limit 100, nextPageCursor paging, two years back — through ccxt's implicit
//   `privateGetV5ExecutionList`. The unified `fetchMyTrades` needs the contract markets loaded (a
//   request per instrument category on every load) and drops `execType`, which tells a liquidation
//   (BustTrade), an auto-deleveraging (AdlTrade) or a delivery (Delivery/Settle) from a trade.
// - Ledger: `GET /v5/account/transaction-log` (7-day windows, limit 50, cursor) through
//   `privateGetV5AccountTransactionLog`. ccxt's `fetchLedger` maps the same endpoint but keeps only
//   `change` (= cashFlow + funding − fee), losing which part was funding: the split is needed for
//   the funding share and to book funding, fees and realized P&L each as what they are.
// - Instruments: `GET /v5/market/instruments-info` per category (raw: base, quote, settle coin,
//   contract type, delivery time) to name contracts as ccxt's unified symbols.
// - Marks: `GET /v5/market/mark-price-kline` (interval 60, limit 1000): ccxt's `fetchMarkOHLCV`
//   would need the contract markets loaded as well.
// - Positions: `GET /v5/position/list` (category linear per settle coin USDT and USDC, inverse
//   without one; limit 200, cursor) through `privateGetV5PositionList`, checked against the book at
//   each sync (https://bybit-exchange.github.io/docs/v5/position: size ≥ 0, side Buy/Sell). ccxt's
//   `fetchPositions` would load the contract markets first.
// Field meanings (signs!): https://bybit-exchange.github.io/docs/v5/account/transaction-log
// (funding > 0 received, fee > 0 paid / < 0 rebate, cashFlow: realized P&L or settlement, without
// fees or funding) and https://bybit-exchange.github.io/docs/v5/order/execution.
import type { bybit } from 'ccxt';
import { executionId, ledgerFlow, type ExecutionKind, type LedgerKind } from '../../../domain/derivatives/records.js';
import { contractSymbol } from '../../../domain/derivatives/instrument.js';
import type { VenuePosition } from '../../../domain/derivatives/positions.js';
import type { Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { WindowState } from '../ccxt-cursor.js';
import { sharedUntilFailure, type DerivativesSource, type VenueCall, type WalkWindows, type WindowPage } from './derivatives-source.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const BYBIT_DERIVATIVES_LOOKBACK_MS = 730 * DAY_MS;
const WINDOW_MS = 7 * DAY_MS;
const EXECUTION_LIMIT = 100;
const LEDGER_LIMIT = 50;
const CATEGORIES = ['linear', 'inverse'] as const;
type Category = (typeof CATEGORIES)[number];

/** Bybit execType → the book's execution kind; Funding rows are ledger entries, not executions. */
const EXEC_TYPES: Readonly<Record<string, ExecutionKind>> = {
  Trade: 'trade', BlockTrade: 'trade', MovePosition: 'trade', BustTrade: 'liquidation', AdlTrade: 'adl', Delivery: 'settlement', Settle: 'settlement',
};
/** Transaction-log types that carry derivatives P&L; TRANSFER_IN/OUT move money between the account's own wallets (internal, never a flow). */
const LEDGER_TYPES = new Set(['TRADE', 'SETTLEMENT', 'DELIVERY', 'LIQUIDATION', 'ADL', 'FEE_REFUND']);

interface Instrument { readonly symbol: string; readonly raw: string; readonly category: Category }

type Row = Readonly<Record<string, unknown>>;
const text = (row: Row, key: string): string => {
  const v = row[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
};
function listOf(response: unknown): { list: Row[]; next: string } {
  const result = (response as { result?: { list?: unknown; nextPageCursor?: unknown } } | undefined)?.result;
  if (result === undefined || !Array.isArray(result.list)) throw new VenueError('bybit', 'bad-response', { errorClass: 'MalformedList' });
  return { list: result.list as Row[], next: typeof result.nextPageCursor === 'string' ? result.nextPageCursor : '' };
}


/** A signed decimal string (Bybit's own text), negated; '' stays ''. */
function negate(value: string): string {
  if (value === '' || !/[1-9]/.test(value)) return value;
  return value.startsWith('-') ? value.slice(1) : `-${value}`;
}

export class BybitDerivatives implements DerivativesSource {
  readonly executionStreams: readonly string[] = CATEGORIES;
  readonly lookbackMs = BYBIT_DERIVATIVES_LOOKBACK_MS;

  constructor(private readonly client: bybit, private readonly call: VenueCall, private readonly walk: WalkWindows) {}

  /** Contracts by raw venue symbol and by unified symbol (one request per category and page): loaded once, and again after a failure. */
  private readonly loadInstruments = sharedUntilFailure(async (signal: AbortSignal | undefined): Promise<Map<string, Instrument>> => {
    const map = new Map<string, Instrument>();
    for (const category of CATEGORIES) {
      let cursor = '';
      do {
        const params = { category, limit: 1000, ...(cursor === '' ? {} : { cursor }) };
        const { list, next } = listOf(await this.call('fetchInstruments', async () => await this.client.publicGetV5MarketInstrumentsInfo(params), signal));
        for (const row of list) {
          const base = text(row, 'baseCoin');
          const quote = text(row, 'quoteCoin');
          const settle = text(row, 'settleCoin');
          const delivery = Number(text(row, 'deliveryTime'));
          if (base === '' || quote === '' || settle === '') continue;
          const symbol = contractSymbol(base, quote, settle, delivery > 0 ? delivery : null);
          const instrument = { symbol, raw: text(row, 'symbol'), category };
          map.set(`${category}:${instrument.raw}`, instrument);
          map.set(symbol, instrument);
        }
        cursor = next;
      } while (cursor !== '');
    }
    return map;
  });

  async *walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    const category = CATEGORIES.find((c) => c === stream);
    if (category === undefined) throw new VenueError('bybit', 'rejected', { errorClass: 'CursorMismatch' });
    const instruments = await this.loadInstruments(signal);
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> => {
      const out: Fill[] = [];
      let cursor = '';
      do {
        const params = { category, startTime: from, endTime: to, limit: EXECUTION_LIMIT, ...(cursor === '' ? {} : { cursor }) };
        const { list, next } = listOf(await this.call('fetchExecutions', async () => await this.client.privateGetV5ExecutionList(params), signal));
        for (const row of list) {
          const fill = this.toFill(category, row, instruments);
          if (fill !== null) out.push(fill);
        }
        cursor = next;
      } while (cursor !== '');
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (f) => ({ id: f.exchangeTradeId, timestamp: f.executedAt }));
  }

  private toFill(category: Category, row: Row, instruments: Map<string, Instrument>): Fill | null {
    const kind = EXEC_TYPES[text(row, 'execType')];
    if (kind === undefined) return null; // Funding executions: the ledger books them.
    const instrument = instruments.get(`${category}:${text(row, 'symbol')}`);
    const side = text(row, 'side');
    const time = Number(text(row, 'execTime'));
    const id = text(row, 'execId');
    if (instrument === undefined || (side !== 'Buy' && side !== 'Sell') || !Number.isSafeInteger(time) || id === '') {
      throw new VenueError('bybit', 'bad-response', { errorClass: 'MalformedExecution' });
    }
    const [base = '', rest = ''] = instrument.symbol.split('/');
    const quote = rest.split(':')[0] ?? '';
    const settle = (rest.split(':')[1] ?? '').split('-')[0] ?? '';
    return {
      exchangeTradeId: executionId(kind, id), symbol: instrument.symbol, baseAsset: base, quoteAsset: quote,
      side: side === 'Buy' ? 'buy' : 'sell', quantity: text(row, 'execQty'), price: text(row, 'execPrice'),
      // The fee is booked from the ledger (its source of truth); kept here for the record only at 0.
      fee: '0', feeAsset: settle, executedAt: time,
    };
  }

  async *walkLedger(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<CashFlow>> {
    const fetchWindow = async (from: number, to: number): Promise<CashFlow[]> => {
      const out: CashFlow[] = [];
      let cursor = '';
      do {
        const params = { accountType: 'UNIFIED', startTime: from, endTime: to, limit: LEDGER_LIMIT, ...(cursor === '' ? {} : { cursor }) };
        const { list, next } = listOf(await this.call('fetchTransactionLog', async () => await this.client.privateGetV5AccountTransactionLog(params), signal));
        for (const row of list) out.push(...this.toFlows(row));
        cursor = next;
      } while (cursor !== '');
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (c) => ({ id: c.exchangeFlowId, timestamp: c.occurredAt }));
  }

  /** One transaction-log row → up to three ledger flows (its cashFlow, funding and fee parts). */
  private toFlows(row: Row): CashFlow[] {
    const category = text(row, 'category');
    const type = text(row, 'type');
    if ((category !== 'linear' && category !== 'inverse') || !LEDGER_TYPES.has(type)) return [];
    const id = text(row, 'id');
    const asset = text(row, 'currency');
    const at = Number(text(row, 'transactionTime'));
    if (id === '' || asset === '' || !Number.isSafeInteger(at)) throw new VenueError('bybit', 'bad-response', { errorClass: 'MalformedLedgerEntry' });
    const cashKind: LedgerKind = type === 'SETTLEMENT' || type === 'DELIVERY' ? 'settlement' : 'realized-pnl';
    const feeKind: LedgerKind = type === 'LIQUIDATION' || type === 'ADL' ? 'liquidation' : 'fee';
    const parts: [LedgerKind, string][] = [[cashKind, text(row, 'cashFlow')], ['funding', text(row, 'funding')], [feeKind, negate(text(row, 'fee'))]];
    const flows: CashFlow[] = [];
    for (const [kind, amount] of parts) {
      if (amount === '') continue;
      const flow = ledgerFlow(kind, id, asset, amount, at);
      if (flow !== null) flows.push(flow);
    }
    return flows;
  }

  async fetchMarkCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal: AbortSignal | undefined): Promise<readonly Candle[]> {
    const instrument = (await this.loadInstruments(signal)).get(symbol);
    if (instrument === undefined) return [];
    const candles: Candle[] = [];
    let from = Math.ceil(fromMs / HOUR_MS) * HOUR_MS;
    while (from < toMs) {
      const params = { category: instrument.category, symbol: instrument.raw, interval: '60', start: from, end: toMs - 1, limit: 1000 };
      const { list } = listOf(await this.call('fetchMarkCandles', async () => await this.client.publicGetV5MarketMarkPriceKline(params), signal));
      let last = -1;
      // Newest first: [startTime, open, high, low, close].
      for (const row of [...list].reverse()) {
        const cells = row as unknown as readonly unknown[];
        const [t, open, high, low, close] = cells.map((c) => (typeof c === 'string' ? c : ''));
        const openTime = Number(t);
        if (!Number.isSafeInteger(openTime) || open === undefined || close === undefined || open === '' || close === '') throw new VenueError('bybit', 'bad-response', { errorClass: 'MalformedCandle' });
        if (openTime < from || openTime >= toMs || openTime % HOUR_MS !== 0 || openTime <= last) continue;
        last = openTime;
        candles.push({ symbol, openTime, open, high: high ?? close, low: low ?? close, close, volume: '0' });
      }
      if (last < 0) break;
      from = last + HOUR_MS;
    }
    return candles;
  }

  /** Open linear and inverse positions (inverse sizes are USD contracts of 1 USD: quote units). */
  async fetchPositions(signal: AbortSignal | undefined): Promise<readonly VenuePosition[]> {
    const instruments = await this.loadInstruments(signal);
    const out: VenuePosition[] = [];
    for (const [category, settleCoin] of [['linear', 'USDT'], ['linear', 'USDC'], ['inverse', '']] as const) {
      let cursor = '';
      do {
        const params = { category, limit: 200, ...(settleCoin === '' ? {} : { settleCoin }), ...(cursor === '' ? {} : { cursor }) };
        const { list, next } = listOf(await this.call('fetchPositions', async () => await this.client.privateGetV5PositionList(params), signal));
        for (const row of list) {
          const size = Number(text(row, 'size'));
          const side = text(row, 'side');
          if (!Number.isFinite(size)) throw new VenueError('bybit', 'bad-response', { errorClass: 'MalformedPositions' });
          if (size === 0 || (side !== 'Buy' && side !== 'Sell')) continue;
          const raw = text(row, 'symbol');
          out.push({ symbol: instruments.get(`${category}:${raw}`)?.symbol ?? raw, quantity: side === 'Buy' ? size : -size });
        }
        cursor = next;
      } while (cursor !== '');
    }
    return out;
  }
}
