// MEXC futures (the contract API, a wallet beside spot).
//
// MEXC keeps no futures ledger of realized P&L or fees. Realized P&L follows from the book: each
// deal is a book-realized execution (records.ts), so the book closes it at the deal's price
// against the position's average entry (quantity = vol × contractSize) and books its `fee` in
// `feeCurrency` (book.ts). The deals' own `profit` field is not read: one rule for every venue.
// Funding is the only ledger stream (`funding_records`). Transfers between the spot and futures
// wallets (`account/transfer_record`) are internal and not read at all.
//
// Which calls and why (ccxt 4.5.84, implicit contract methods):
// - Executions: `GET /api/v1/private/order/list/order_deals` needs a symbol, start_time/end_time at
//   most 90 days apart, page_num/page_size (≤ 100) — `contractPrivateGetOrderListOrderDeals`. The
//   symbols of a window are those of the account's orders in it (`GET …/order/list/history_orders`,
//   symbol optional, same window and paging): every deal belongs to an order, so a window costs
//   the order pages plus the deal pages of the symbols traded, not a request per listed contract.
//   ccxt's `fetchMyTrades` needs the swap markets loaded (the connector loads spot only) and turns
//   `vol` into contracts without the category (2: liquidation take-over, 4: ADL).
// - Funding: `GET /api/v1/private/position/funding_records` (symbol optional, page_num/page_size,
//   start_time/end_time) — `contractPrivateGetPositionFundingRecords`; ccxt's
//   `fetchFundingHistory` takes no time window.
// - Contracts: `GET /api/v1/contract/detail` (base, quote, settle coin, contractSize). Marks:
//   `GET /api/v1/contract/kline/fair_price/{symbol}` interval Min60 (seconds). Wallet:
//   `GET /api/v1/private/account/assets`.
// Docs: https://www.mexc.com/api-docs/futures/account-and-trading-endpoints (get-all-transaction-details-of-the-user-s-order,
// get-all-of-the-user-s-historical-orders, get-funding-fee-details, get-all-informations-of-user-s-asset),
// https://www.mexc.com/api-docs/futures/market-endpoints (get-contract-info, get-fair-price-candlestick-data).
import type { mexc } from 'ccxt';
import { addDecimal, multiplyDecimal, negateDecimal, numberToDecimal } from '../../../domain/decimal-string.js';
import { bookRealizedExecutionId, ledgerFlow, type ExecutionKind } from '../../../domain/derivatives/records.js';
import type { Balance, Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { WindowState } from '../ccxt-cursor.js';
import { accessProbe, sharedUntilFailure, type DerivativesSource, type VenueCall, type WalkWindows, type WindowPage } from './derivatives-source.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** MEXC documents no retention for futures deals and funding; a first sync asks for a year. */
export const MEXC_DERIVATIVES_LOOKBACK_MS = 365 * DAY_MS;
const WINDOW_MS = 90 * DAY_MS;
const PAGE_SIZE = 100;
const MARK_LIMIT = 2000;

interface Contract { readonly symbol: string; readonly raw: string; readonly base: string; readonly quote: string; readonly settle: string; readonly size: string }
type Row = Readonly<Record<string, unknown>>;
/** MEXC sends most numbers as JSON numbers: their exact decimal text (no exponent). */
const text = (row: Row, key: string): string => {
  const v = row[key];
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : numberToDecimal(v)) : '';
};
function dataOf(response: unknown, errorClass: string): unknown {
  const body = response as { success?: unknown; data?: unknown } | undefined;
  if (body === undefined || body.success !== true) throw new VenueError('mexc', 'bad-response', { errorClass });
  return body.data;
}
function listOf(response: unknown, errorClass: string): Row[] {
  const data = dataOf(response, errorClass);
  if (!Array.isArray(data)) throw new VenueError('mexc', 'bad-response', { errorClass });
  return data as Row[];
}

/** Deal side 1 open long, 2 close short (buys); 3 open short, 4 close long (sells). */
const SIDES: Readonly<Record<string, 'buy' | 'sell'>> = { 1: 'buy', 2: 'buy', 3: 'sell', 4: 'sell' };
/** Deal/order category 2: the system took a liquidated position over; 4: ADL reduction. */
const KINDS: Readonly<Record<string, ExecutionKind>> = { 2: 'liquidation', 4: 'adl' };

export class MexcDerivatives implements DerivativesSource {
  readonly executionStreams: readonly string[] = ['futures'];
  readonly lookbackMs = MEXC_DERIVATIVES_LOOKBACK_MS;
  /** Whether the key may read the futures account (accessProbe: a key without futures read access syncs spot only). */
  private readonly readable: (signal: AbortSignal | undefined) => Promise<boolean>;

  constructor(private readonly client: mexc, private readonly call: VenueCall, private readonly walk: WalkWindows) {
    this.readable = accessProbe(async (signal) => await this.call('probeFutures', async () => await this.client.contractPrivateGetAccountAssets(), signal));
  }

  /** The venue's contracts by raw and unified name: loaded once, and again after a failure. */
  private readonly loadContracts = sharedUntilFailure(async (signal: AbortSignal | undefined): Promise<Map<string, Contract>> => {
    const map = new Map<string, Contract>();
    for (const row of listOf(await this.call('fetchFuturesContracts', async () => await this.client.contractPublicGetDetail(), signal), 'MalformedContracts')) {
      const raw = text(row, 'symbol');
      const base = text(row, 'baseCoin');
      const quote = text(row, 'quoteCoin');
      const settle = text(row, 'settleCoin');
      const size = text(row, 'contractSize');
      if (raw === '' || base === '' || quote === '' || settle === '' || !/[1-9]/u.test(size)) continue;
      const contract = { symbol: `${base}/${quote}:${settle}`, raw, base, quote, settle, size };
      map.set(raw, contract);
      map.set(contract.symbol, contract);
    }
    return map;
  });

  /** Every row of a page_num-paged list in [from, to] (pages until a short one). */
  private async pages(operation: string, params: Record<string, unknown>, signal: AbortSignal | undefined, fetch: (p: Record<string, unknown>) => Promise<unknown>,
    rowsOf: (response: unknown) => Row[]): Promise<Row[]> {
    const out: Row[] = [];
    for (let page = 1; ; page += 1) {
      const rows = rowsOf(await this.call(operation, async () => await fetch({ ...params, page_num: page, page_size: PAGE_SIZE }), signal));
      out.push(...rows);
      if (rows.length < PAGE_SIZE) return out;
    }
  }

  async *walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    if (stream !== 'futures') throw new VenueError('mexc', 'rejected', { errorClass: 'CursorMismatch' });
    if (!await this.readable(signal)) return;
    const contracts = await this.loadContracts(signal);
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> => {
      const window = { start_time: from, end_time: to };
      const orders = await this.pages('fetchFuturesOrders', window, signal, async (p) => await this.client.contractPrivateGetOrderListHistoryOrders(p), (r) => listOf(r, 'MalformedOrders'));
      const symbols = [...new Set(orders.filter((o) => /[1-9]/u.test(text(o, 'dealVol'))).map((o) => text(o, 'symbol')))].filter((s) => s !== '').sort();
      const out: Fill[] = [];
      for (const raw of symbols) {
        const contract = contracts.get(raw);
        if (contract === undefined) continue; // a delisted contract
        const deals = await this.pages('fetchFuturesDeals', { symbol: raw, ...window }, signal, async (p) => await this.client.contractPrivateGetOrderListOrderDeals(p), (r) => listOf(r, 'MalformedDeals'));
        for (const row of deals) out.push(this.toFill(contract, row));
      }
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (f) => ({ id: f.exchangeTradeId, timestamp: f.executedAt }));
  }

  private toFill(contract: Contract, row: Row): Fill {
    const id = text(row, 'id');
    const side = SIDES[text(row, 'side')];
    const time = Number(text(row, 'timestamp'));
    const vol = text(row, 'vol');
    const price = text(row, 'price');
    const feeAsset = text(row, 'feeCurrency') || contract.settle;
    if (id === '' || side === undefined || !Number.isSafeInteger(time) || vol === '' || price === '') throw new VenueError('mexc', 'bad-response', { errorClass: 'MalformedDeal' });
    return {
      exchangeTradeId: bookRealizedExecutionId(KINDS[text(row, 'category')] ?? 'trade', `${contract.raw}:${id}`),
      symbol: contract.symbol, baseAsset: contract.base, quoteAsset: contract.quote, side,
      // vol is in contracts: base units (linear) or quote units (inverse) per contractSize.
      quantity: multiplyDecimal(vol, contract.size), price,
      // The book books this fee (no ledger holds it).
      fee: text(row, 'fee') || '0', feeAsset, executedAt: time,
    };
  }

  async *walkLedger(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<CashFlow>> {
    if (!await this.readable(signal)) return;
    const contracts = await this.loadContracts(signal);
    const fetchWindow = async (from: number, to: number): Promise<CashFlow[]> => {
      const rowsOf = (response: unknown): Row[] => {
        const data = dataOf(response, 'MalformedFunding') as { resultList?: unknown } | null;
        if (data === null || !Array.isArray(data.resultList)) throw new VenueError('mexc', 'bad-response', { errorClass: 'MalformedFunding' });
        return data.resultList as Row[];
      };
      const out: CashFlow[] = [];
      for (const row of await this.pages('fetchFundingRecords', { start_time: from, end_time: to }, signal, async (p) => await this.client.contractPrivateGetPositionFundingRecords(p), rowsOf)) {
        const id = text(row, 'id');
        const at = Number(text(row, 'settleTime'));
        const settle = contracts.get(text(row, 'symbol'))?.settle;
        if (id === '' || !Number.isSafeInteger(at)) throw new VenueError('mexc', 'bad-response', { errorClass: 'MalformedFunding' });
        if (settle === undefined) continue; // a delisted contract whose settle coin is no longer listed
        // funding > 0: received.
        const flow = ledgerFlow('funding', id, settle, text(row, 'funding'), at);
        if (flow !== null) out.push(flow);
      }
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (c) => ({ id: c.exchangeFlowId, timestamp: c.occurredAt }));
  }

  async fetchMarkCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal: AbortSignal | undefined): Promise<readonly Candle[]> {
    const contract = (await this.loadContracts(signal)).get(symbol);
    if (contract === undefined) return [];
    const candles: Candle[] = [];
    let from = Math.ceil(fromMs / HOUR_MS) * HOUR_MS;
    while (from < toMs) {
      const end = Math.min(toMs - HOUR_MS, from + (MARK_LIMIT - 1) * HOUR_MS);
      if (end < from) break;
      // Times in seconds; columns as arrays (time, open, close, high, low, vol, amount).
      const params = { symbol: contract.raw, interval: 'Min60', start: from / 1000, end: end / 1000 };
      const data = dataOf(await this.call('fetchMarkCandles', async () => await this.client.contractPublicGetKlineFairPriceSymbol(params), signal), 'MalformedCandle') as Record<string, unknown> | null;
      const column = (key: string): unknown[] => (Array.isArray(data?.[key]) ? (data[key] as unknown[]) : []);
      const [time, open, high, low, close] = ['time', 'open', 'high', 'low', 'close'].map(column) as [unknown[], unknown[], unknown[], unknown[], unknown[]];
      if (data === null || time.length !== close.length || time.length !== open.length) throw new VenueError('mexc', 'bad-response', { errorClass: 'MalformedCandle' });
      let last = -1;
      for (let k = 0; k < time.length; k += 1) {
        const openTime = Number(time[k]) * 1000;
        const cell = (values: unknown[]): string => text({ v: values[k] }, 'v');
        const c = cell(close);
        if (!Number.isSafeInteger(openTime) || c === '' || cell(open) === '') throw new VenueError('mexc', 'bad-response', { errorClass: 'MalformedCandle' });
        if (openTime < from || openTime >= toMs || openTime % HOUR_MS !== 0 || openTime <= last) continue;
        last = openTime;
        candles.push({ symbol, openTime, open: cell(open), high: cell(high) || c, low: cell(low) || c, close: c, volume: '0' });
      }
      from = last < 0 ? end + HOUR_MS : last + HOUR_MS;
    }
    return candles;
  }

  /** The futures wallet: equity minus unrealized P&L per currency. */
  async fetchWalletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    if (!await this.readable(signal)) return [];
    const out: Balance[] = [];
    for (const row of listOf(await this.call('fetchFuturesBalance', async () => await this.client.contractPrivateGetAccountAssets(), signal), 'MissingBalances')) {
      const asset = text(row, 'currency');
      const equity = text(row, 'equity');
      const unrealized = text(row, 'unrealized') || '0';
      if (asset === '' || !/^-?\d+(\.\d+)?$/u.test(equity) || !/^-?\d+(\.\d+)?$/u.test(unrealized)) throw new VenueError('mexc', 'bad-response', { errorClass: 'MissingBalances' });
      const total = addDecimal(equity, negateDecimal(unrealized));
      if (/[1-9]/u.test(total)) out.push({ asset, total });
    }
    return out;
  }
}
