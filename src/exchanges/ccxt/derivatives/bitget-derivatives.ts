// Bitget v2 mix (futures) accounts: USDT-FUTURES, COIN-FUTURES and USDC-FUTURES, each its own
// wallet beside the spot account.
//
// Which calls and why (ccxt 4.5.84, implicit mix methods):
// - Executions: `GET /api/v2/mix/order/fill-history` per product type, startTime/endTime at most
//   7 days apart (the venue's limit), limit 100, newest first, older pages by idLessThan = the
//   page's endId, 90 days back — `privateMixGetV2MixOrderFillHistory`. ccxt's `fetchMyTrades`
//   needs the swap markets loaded (the connector loads spot only), takes one product type per call
//   without the window walk, and drops `tradeSide`, which tells a liquidation (burst_*), an
//   auto-deleveraging (offset_*) or a delivery from a trade and, in hedge mode, which way the fill
//   moved the position (`side` is the position's side there, not the fill's direction).
// - Ledger: `GET /api/v2/mix/account/bill` per product type, 30-day windows, limit 100, idLessThan
//   paging, 90 days back — `privateMixGetV2MixAccountBill`. ccxt's `fetchLedger` folds
//   businessType into coarse types and drops the amount/fee split (funding, realized P&L and fees
//   must each be booked as what they are). trans_from_exchange / trans_to_exchange (and the other
//   trans_* rows) move money between the account's own wallets: internal, never a flow; margin
//   adjustments stay inside the futures wallet and are not records either.
// - Contracts: `GET /api/v2/mix/market/contracts` per product type (base, quote, margin coins,
//   perpetual or delivery). Marks: `GET /api/v2/mix/market/history-mark-candles` granularity 1H
//   (limit 200). Wallets: `GET /api/v2/mix/account/accounts` per product type.
// Docs: https://www.bitget.com/api-doc/contract/trade/Get-Fill-History,
// https://www.bitget.com/api-doc/contract/account/Get-Account-Bill,
// https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts,
// https://www.bitget.com/api-doc/contract/market/Get-History-Mark-Candle-Data,
// https://www.bitget.com/api-doc/contract/account/Get-Account-List.
import type { bitget } from 'ccxt';
import { addDecimal, multiplyDecimal, negateDecimal } from '../../../domain/decimal-string.js';
import { executionId, ledgerFlow, type ExecutionKind, type LedgerKind } from '../../../domain/derivatives/records.js';
import { contractSymbol } from '../../../domain/derivatives/instrument.js';
import type { Balance, Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { WindowState } from '../ccxt-cursor.js';
import { accessProbe, sharedUntilFailure, type DerivativesSource, type VenueCall, type WalkWindows, type WindowPage } from './derivatives-source.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Fills and bills are served 90 days back. */
export const BITGET_DERIVATIVES_LOOKBACK_MS = 90 * DAY_MS;
const FILL_WINDOW_MS = 7 * DAY_MS;
const BILL_WINDOW_MS = 30 * DAY_MS;
const PAGE_LIMIT = 100;
const MARK_LIMIT = 200;
export const BITGET_PRODUCT_TYPES = ['USDT-FUTURES', 'COIN-FUTURES', 'USDC-FUTURES'] as const;
type ProductType = (typeof BITGET_PRODUCT_TYPES)[number];

/** Bill businessType → ledger kinds of its `amount` and its `fee`; absent: not a P&L record (transfers, margin moves, coupons). */
const BILL_TYPES: Readonly<Record<string, readonly [LedgerKind, LedgerKind]>> = {
  open_long: ['realized-pnl', 'fee'], open_short: ['realized-pnl', 'fee'], close_long: ['realized-pnl', 'fee'], close_short: ['realized-pnl', 'fee'],
  buy: ['realized-pnl', 'fee'], sell: ['realized-pnl', 'fee'],
  contract_settle_fee: ['funding', 'fee'],
  force_close_long: ['realized-pnl', 'liquidation'], force_close_short: ['realized-pnl', 'liquidation'],
  burst_long_loss_query: ['realized-pnl', 'liquidation'], burst_short_loss_query: ['realized-pnl', 'liquidation'],
  force_buy: ['realized-pnl', 'liquidation'], force_sell: ['realized-pnl', 'liquidation'], burst_buy: ['realized-pnl', 'liquidation'], burst_sell: ['realized-pnl', 'liquidation'],
  delivery_long: ['settlement', 'fee'], delivery_short: ['settlement', 'fee'],
};

interface Contract { readonly symbol: string; readonly raw: string; readonly productType: ProductType; readonly base: string; readonly quote: string; readonly settle: string; readonly inverse: boolean }
type Row = Readonly<Record<string, unknown>>;
const text = (row: Row, key: string): string => {
  const v = row[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
};
function dataOf(response: unknown, errorClass: string): unknown {
  const body = response as { code?: unknown; data?: unknown } | undefined;
  if (body === undefined || body.code !== '00000') throw new VenueError('bitget', 'bad-response', { errorClass });
  return body.data;
}
/** A `{<list>: [...], endId}` page. */
function pageOf(response: unknown, listKey: string, errorClass: string): { list: Row[]; endId: string } {
  const data = dataOf(response, errorClass) as Record<string, unknown> | null;
  const list = data?.[listKey];
  // Bitget answers an empty window with `fillList: null`.
  if (data === null || (list !== null && list !== undefined && !Array.isArray(list))) throw new VenueError('bitget', 'bad-response', { errorClass });
  return { list: Array.isArray(list) ? (list as Row[]) : [], endId: typeof data['endId'] === 'string' ? data['endId'] : '' };
}

/**
 * The fill's direction and kind from `tradeSide`: open_long / close_short buy, close_long /
 * open_short sell (hedge mode); buy_single / sell_single (one-way mode); burst_* liquidation,
 * offset_* auto-deleveraging, delivery_* settlement. null for an unknown value.
 */
export function bitgetTradeSide(tradeSide: string): { side: 'buy' | 'sell'; kind: ExecutionKind } | null {
  const kind: ExecutionKind = tradeSide.includes('burst') ? 'liquidation' : tradeSide.includes('offset') ? 'adl' : tradeSide.includes('delivery') ? 'settlement' : 'trade';
  if (tradeSide.endsWith('open_long') || tradeSide.endsWith('close_short')) return { side: 'buy', kind };
  if (tradeSide.endsWith('close_long') || tradeSide.endsWith('open_short')) return { side: 'sell', kind };
  if (/(^|_)buy(_single)?$/u.test(tradeSide)) return { side: 'buy', kind };
  if (/(^|_)sell(_single)?$/u.test(tradeSide)) return { side: 'sell', kind };
  return null;
}

export class BitgetDerivatives implements DerivativesSource {
  readonly executionStreams: readonly string[] = BITGET_PRODUCT_TYPES;
  readonly lookbackMs = BITGET_DERIVATIVES_LOOKBACK_MS;
  /** Whether the key may read the mix accounts (accessProbe: a key without futures read access syncs spot only). */
  private readonly readable: (signal: AbortSignal | undefined) => Promise<boolean>;

  constructor(private readonly client: bitget, private readonly call: VenueCall, private readonly walk: WalkWindows) {
    this.readable = accessProbe(async (signal) => await this.call('probeFutures', async () => await this.client.privateMixGetV2MixAccountAccounts({ productType: 'USDT-FUTURES' }), signal));
  }

  /** Contracts by `productType:raw` and by unified symbol (one request per product type). */
  /** The venue's contracts by raw and unified name: loaded once, and again after a failure. */
  private readonly loadContracts = sharedUntilFailure(async (signal: AbortSignal | undefined): Promise<Map<string, Contract>> => {
    const map = new Map<string, Contract>();
    for (const productType of BITGET_PRODUCT_TYPES) {
      const list = dataOf(await this.call('fetchFuturesContracts', async () => await this.client.publicMixGetV2MixMarketContracts({ productType }), signal), 'MalformedContracts');
      if (!Array.isArray(list)) throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedContracts' });
      for (const row of list as Row[]) {
        const raw = text(row, 'symbol');
        const base = text(row, 'baseCoin');
        const quote = text(row, 'quoteCoin');
        if (raw === '' || base === '' || quote === '') continue;
        const inverse = productType === 'COIN-FUTURES';
        const settle = inverse ? base : quote;
        const delivery = Number(text(row, 'deliveryTime'));
        const dated = text(row, 'symbolType') === 'delivery' && delivery > 0;
        const contract = { symbol: contractSymbol(base, quote, settle, dated ? delivery : null), raw, productType, base, quote, settle, inverse };
        map.set(`${productType}:${raw}`, contract);
        map.set(contract.symbol, contract);
      }
    }
    return map;
  });

  /** Every row of one product type in [from, to], walked back page by page with idLessThan. */
  private async pages(operation: string, listKey: string, productType: ProductType, from: number, to: number, signal: AbortSignal | undefined,
    fetch: (params: Record<string, unknown>) => Promise<unknown>): Promise<Row[]> {
    const out: Row[] = [];
    let idLessThan = '';
    for (;;) {
      const params = { productType, startTime: from, endTime: to, limit: PAGE_LIMIT, ...(idLessThan === '' ? {} : { idLessThan }) };
      const { list, endId } = pageOf(await this.call(operation, async () => await fetch(params), signal), listKey, `Malformed${operation}`);
      out.push(...list);
      if (list.length < PAGE_LIMIT || endId === '' || endId === idLessThan) return out;
      idLessThan = endId;
    }
  }

  async *walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    const productType = BITGET_PRODUCT_TYPES.find((p) => p === stream);
    if (productType === undefined) throw new VenueError('bitget', 'rejected', { errorClass: 'CursorMismatch' });
    if (!await this.readable(signal)) return;
    const contracts = await this.loadContracts(signal);
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> => {
      const rows = await this.pages('FillHistory', 'fillList', productType, from, to, signal, async (p) => await this.client.privateMixGetV2MixOrderFillHistory(p));
      return rows.map((row) => this.toFill(productType, row, contracts)).filter((f): f is Fill => f !== null);
    };
    yield* this.walk(state, FILL_WINDOW_MS, signal, fetchWindow, (f) => ({ id: f.exchangeTradeId, timestamp: f.executedAt }));
  }

  private toFill(productType: ProductType, row: Row, contracts: Map<string, Contract>): Fill | null {
    const contract = contracts.get(`${productType}:${text(row, 'symbol')}`);
    if (contract === undefined) return null; // a delisted contract: its bills still count
    const direction = bitgetTradeSide(text(row, 'tradeSide'));
    const id = text(row, 'tradeId');
    const time = Number(text(row, 'cTime'));
    const size = text(row, 'baseVolume');
    const price = text(row, 'price');
    if (direction === null || id === '' || !Number.isSafeInteger(time) || size === '' || price === '') throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedFill' });
    return {
      exchangeTradeId: executionId(direction.kind, `${productType}:${id}`), symbol: contract.symbol, baseAsset: contract.base, quoteAsset: contract.quote,
      side: direction.side,
      // The book takes inverse quantities in quote units: Bitget sizes coin-M fills in the coin.
      quantity: contract.inverse ? multiplyDecimal(size, price) : size, price,
      // Fees are booked from the bills (the ledger), not here.
      fee: '0', feeAsset: contract.settle, executedAt: time,
    };
  }

  async *walkLedger(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<CashFlow>> {
    if (!await this.readable(signal)) return;
    const fetchWindow = async (from: number, to: number): Promise<CashFlow[]> => {
      const out: CashFlow[] = [];
      for (const productType of BITGET_PRODUCT_TYPES) {
        const rows = await this.pages('AccountBill', 'bills', productType, from, to, signal, async (p) => await this.client.privateMixGetV2MixAccountBill(p));
        for (const row of rows) out.push(...this.toFlows(productType, row));
      }
      return out;
    };
    yield* this.walk(state, BILL_WINDOW_MS, signal, fetchWindow, (c) => ({ id: c.exchangeFlowId, timestamp: c.occurredAt }));
  }

  /** One bill → its amount and fee parts (fee < 0: paid). */
  private toFlows(productType: ProductType, row: Row): CashFlow[] {
    const kinds = BILL_TYPES[text(row, 'businessType')];
    if (kinds === undefined) return [];
    const id = text(row, 'billId');
    const coin = text(row, 'coin');
    const at = Number(text(row, 'cTime'));
    if (id === '' || coin === '' || !Number.isSafeInteger(at)) throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedBill' });
    const flows: CashFlow[] = [];
    const [amountKind, feeKind] = kinds;
    const amount = text(row, 'amount');
    const fee = text(row, 'fee');
    if (amount !== '') { const f = ledgerFlow(amountKind, `${productType}:${id}`, coin, amount, at); if (f !== null) flows.push(f); }
    if (fee !== '') { const f = ledgerFlow(feeKind, `${productType}:${id}:fee`, coin, fee, at); if (f !== null) flows.push(f); }
    return flows;
  }

  async fetchMarkCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal: AbortSignal | undefined): Promise<readonly Candle[]> {
    const contract = (await this.loadContracts(signal)).get(symbol);
    if (contract === undefined) return [];
    const candles: Candle[] = [];
    let from = Math.ceil(fromMs / HOUR_MS) * HOUR_MS;
    while (from < toMs) {
      const end = Math.min(toMs - 1, from + MARK_LIMIT * HOUR_MS - 1);
      const params = { symbol: contract.raw, productType: contract.productType, granularity: '1H', startTime: from, endTime: end, limit: MARK_LIMIT };
      const list = dataOf(await this.call('fetchMarkCandles', async () => await this.client.publicMixGetV2MixMarketHistoryMarkCandles(params), signal), 'MalformedCandle');
      if (!Array.isArray(list)) throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedCandle' });
      let last = -1;
      // [ts, open, high, low, close, base volume, quote volume], oldest first.
      for (const cells of list as unknown[][]) {
        const [t, open, high, low, close] = cells.map((c) => (typeof c === 'string' ? c : ''));
        const openTime = Number(t);
        if (!Number.isSafeInteger(openTime) || open === undefined || close === undefined || open === '' || close === '') throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedCandle' });
        if (openTime < from || openTime >= toMs || openTime % HOUR_MS !== 0 || openTime <= last) continue;
        last = openTime;
        candles.push({ symbol, openTime, open, high: high || close, low: low || close, close, volume: '0' });
      }
      // An empty chunk (no candles yet, or a gap) moves on to the next one.
      from = last < 0 ? end + 1 : last + HOUR_MS;
    }
    return candles;
  }

  /** The futures wallets: equity minus unrealized P&L per margin coin and product type. */
  async fetchWalletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    if (!await this.readable(signal)) return [];
    const sums = new Map<string, string>();
    for (const productType of BITGET_PRODUCT_TYPES) {
      const list = dataOf(await this.call('fetchFuturesBalance', async () => await this.client.privateMixGetV2MixAccountAccounts({ productType }), signal), 'MissingBalances');
      if (!Array.isArray(list)) throw new VenueError('bitget', 'bad-response', { errorClass: 'MissingBalances' });
      for (const row of list as Row[]) {
        const coin = text(row, 'marginCoin');
        const equity = text(row, 'accountEquity');
        const unrealized = text(row, 'unrealizedPL') || '0';
        if (coin === '' || !/^-?\d+(\.\d+)?$/u.test(equity) || !/^-?\d+(\.\d+)?$/u.test(unrealized)) throw new VenueError('bitget', 'bad-response', { errorClass: 'MissingBalances' });
        sums.set(coin, addDecimal(sums.get(coin) ?? '0', addDecimal(equity, negateDecimal(unrealized))));
      }
    }
    return [...sums].filter(([, total]) => /[1-9]/u.test(total)).map(([asset, total]) => ({ asset, total }));
  }
}
