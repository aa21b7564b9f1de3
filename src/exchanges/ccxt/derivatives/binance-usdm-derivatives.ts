// Binance USDⓈ-M futures (the futures wallet beside spot).
//
// Which calls and why (ccxt 4.5.84, implicit fapi methods):
// - Ledger: `GET /fapi/v1/income` (weight 30, limit 1000, 7-day windows here, ~3 months back):
//   REALIZED_PNL, FUNDING_FEE (signed: > 0 received), COMMISSION (< 0 paid) and the rebates,
//   INSURANCE_CLEAR (liquidation charge), DELIVERED_SETTELMENT. TRANSFER / INTERNAL_TRANSFER /
//   CROSS_COLLATERAL_TRANSFER move money between the account's own wallets: internal, never a flow.
//   ccxt's `fetchLedger` maps this endpoint but folds the types into its own coarse ones (funding and
//   realized P&L both become `trade`-like entries), so the raw rows are read.
// - Executions: `GET /fapi/v1/userTrades` needs a symbol and at most 7 days a query. The symbols
//   traded in a window are those with COMMISSION or REALIZED_PNL income in it (every trade pays or
//   earns commission), so a window costs one income call plus one userTrades call per traded symbol,
//   not one per listed contract. ccxt's `fetchMyTrades` would need the futures markets loaded and
//   gives the same rows; the raw call keeps `orderId` to match liquidation orders.
// - Liquidations: `GET /fapi/v1/forceOrders` (weight 50 without a symbol), asked only for windows
//   whose income holds an INSURANCE_CLEAR row; fills of those orders are liquidation (or ADL) fills.
// - Contracts: `GET /fapi/v1/exchangeInfo` (base, quote, margin asset, contract type, delivery date).
// - Marks: `GET /fapi/v1/markPriceKlines` (interval 1h, limit 1500). Wallet: `GET /fapi/v2/balance`.
// Field meanings: https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History,
// …/trade/rest-api/Account-Trade-List, …/trade/rest-api/Users-Force-Orders, …/market-data/rest-api/Mark-Price-Kline-Candlestick-Data.
import type { binance } from 'ccxt';
import { executionId, ledgerFlow, type ExecutionKind, type LedgerKind } from '../../../domain/derivatives/records.js';
import type { Balance, Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { WindowState } from '../ccxt-cursor.js';
import type { DerivativesSource, VenueCall, WalkWindows, WindowPage } from './derivatives-source.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Income history is served about 3 months back; executions are found through it (see above). */
export const BINANCE_USDM_LOOKBACK_MS = 90 * DAY_MS;
const WINDOW_MS = 7 * DAY_MS;
const INCOME_LIMIT = 1000;
const TRADES_LIMIT = 1000;

const LEDGER_TYPES: Readonly<Record<string, LedgerKind>> = {
  REALIZED_PNL: 'realized-pnl', FUNDING_FEE: 'funding', COMMISSION: 'fee', COMMISSION_REBATE: 'fee', API_REBATE: 'fee', REFERRAL_KICKBACK: 'fee',
  INSURANCE_CLEAR: 'liquidation', DELIVERED_SETTELMENT: 'settlement',
};

interface Contract { readonly symbol: string; readonly raw: string; readonly base: string; readonly quote: string; readonly settle: string }
type Row = Readonly<Record<string, unknown>>;
const text = (row: Row, key: string): string => {
  const v = row[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : typeof v === 'boolean' ? String(v) : '';
};
function rows(response: unknown, errorClass: string): Row[] {
  if (!Array.isArray(response)) throw new VenueError('binance', 'bad-response', { errorClass });
  return response as Row[];
}
function yymmdd(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export class BinanceUsdmDerivatives implements DerivativesSource {
  readonly executionStreams: readonly string[] = ['usdm'];
  readonly lookbackMs = BINANCE_USDM_LOOKBACK_MS;
  private contracts: Promise<Map<string, Contract>> | undefined;
  /** Set once the key turned out to read no futures account (see `probe`); kept for the connector's life. */
  private noFutures = false;

  constructor(private readonly client: binance, private readonly call: VenueCall, private readonly walk: WalkWindows) {}

  private async loadContracts(signal: AbortSignal | undefined): Promise<Map<string, Contract>> {
    this.contracts ??= (async () => {
      const info = await this.call('fetchFuturesContracts', async () => await this.client.fapiPublicGetExchangeInfo(), signal);
      const list = (info as { symbols?: unknown }).symbols;
      if (!Array.isArray(list)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedExchangeInfo' });
      const map = new Map<string, Contract>();
      for (const row of list as Row[]) {
        const raw = text(row, 'symbol');
        const base = text(row, 'baseAsset');
        const quote = text(row, 'quoteAsset');
        const settle = text(row, 'marginAsset');
        const delivery = Number(text(row, 'deliveryDate'));
        if (raw === '' || base === '' || quote === '' || settle === '') continue;
        const dated = text(row, 'contractType') !== 'PERPETUAL' && delivery > 0 && delivery < 4_000_000_000_000;
        const contract = { symbol: `${base}/${quote}:${settle}${dated ? `-${yymmdd(delivery)}` : ''}`, raw, base, quote, settle };
        map.set(raw, contract);
        map.set(contract.symbol, contract);
      }
      return map;
    })();
    try {
      return await this.contracts;
    } catch (error) {
      this.contracts = undefined;
      throw error;
    }
  }

  /** Every income row with a time in [from, to] (a full page halves the window). */
  private async incomeWindow(from: number, to: number, signal: AbortSignal | undefined): Promise<Row[]> {
    const page = rows(await this.call('fetchIncome', async () => await this.client.fapiPrivateGetIncome({ startTime: from, endTime: to, limit: INCOME_LIMIT }), signal), 'MalformedIncome');
    if (page.length < INCOME_LIMIT) return page;
    if (to <= from) throw new VenueError('binance', 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
    const mid = Math.floor((from + to) / 2);
    return [...await this.incomeWindow(from, mid, signal), ...await this.incomeWindow(mid + 1, to, signal)];
  }

  private async tradesWindow(raw: string, from: number, to: number, signal: AbortSignal | undefined): Promise<Row[]> {
    const page = rows(await this.call('fetchFuturesTrades', async () => await this.client.fapiPrivateGetUserTrades({ symbol: raw, startTime: from, endTime: to, limit: TRADES_LIMIT }), signal), 'MalformedTrade');
    if (page.length < TRADES_LIMIT) return page;
    if (to <= from) throw new VenueError('binance', 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
    const mid = Math.floor((from + to) / 2);
    return [...await this.tradesWindow(raw, from, mid, signal), ...await this.tradesWindow(raw, mid + 1, to, signal)];
  }

  /**
   * The futures wallet, or null when the key reads no futures account: Binance answers fapi calls
   * of an account that never opened one with -2015 (an auth refusal). The spot calls before it
   * already proved the key, so here that refusal means "no futures": nothing to sync, the stream
   * state stays where it is, and a new connector (after the actor's idle passivation) asks again.
   */
  private async probe(signal: AbortSignal | undefined): Promise<readonly Balance[] | null> {
    if (this.noFutures) return null;
    // ccxt 4.5.84 turns -2015 into DDoSProtection (a "temporary ban", retried as a rate limit) once
    // any spot private call succeeded (`options.hasAlreadyAuthenticatedSuccessfully`); for this one
    // call it must stay what Binance says: the key may not read futures.
    const options = this.client.options as Record<string, unknown>;
    const authenticated = options['hasAlreadyAuthenticatedSuccessfully'];
    options['hasAlreadyAuthenticatedSuccessfully'] = false;
    try {
      return await this.walletBalances(signal);
    } catch (error) {
      if (!(error instanceof VenueError) || error.kind !== 'auth') throw error;
      this.noFutures = true;
      return null;
    } finally {
      options['hasAlreadyAuthenticatedSuccessfully'] = authenticated;
    }
  }

  async *walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    if (stream !== 'usdm') throw new VenueError('binance', 'rejected', { errorClass: 'CursorMismatch' });
    if (await this.probe(signal) === null) return;
    const contracts = await this.loadContracts(signal);
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> => {
      const income = await this.incomeWindow(from, to, signal);
      const symbols = [...new Set(income.filter((r) => ['COMMISSION', 'REALIZED_PNL'].includes(text(r, 'incomeType'))).map((r) => text(r, 'symbol')))].filter((s) => s !== '').sort();
      const forced = income.some((r) => text(r, 'incomeType') === 'INSURANCE_CLEAR') ? await this.forcedOrders(from, to, signal) : new Map<string, ExecutionKind>();
      const out: Fill[] = [];
      for (const raw of symbols) {
        const contract = contracts.get(raw);
        if (contract === undefined) continue; // a delisted contract: its ledger still counts
        for (const row of await this.tradesWindow(raw, from, to, signal)) out.push(this.toFill(contract, row, forced));
      }
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (f) => ({ id: f.exchangeTradeId, timestamp: f.executedAt }));
  }

  /** Liquidation and ADL orders in [from, to], by `symbol:orderId`. */
  private async forcedOrders(from: number, to: number, signal: AbortSignal | undefined): Promise<Map<string, ExecutionKind>> {
    const list = rows(await this.call('fetchForceOrders', async () => await this.client.fapiPrivateGetForceOrders({ startTime: from, endTime: to, limit: 100 }), signal), 'MalformedForceOrders');
    const map = new Map<string, ExecutionKind>();
    for (const row of list) map.set(`${text(row, 'symbol')}:${text(row, 'orderId')}`, text(row, 'clientOrderId').startsWith('adl_autoclose') ? 'adl' : 'liquidation');
    return map;
  }

  private toFill(contract: Contract, row: Row, forced: Map<string, ExecutionKind>): Fill {
    const id = text(row, 'id');
    const side = text(row, 'side');
    const time = Number(text(row, 'time'));
    if (id === '' || (side !== 'BUY' && side !== 'SELL') || !Number.isSafeInteger(time)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedTrade' });
    const kind = forced.get(`${contract.raw}:${text(row, 'orderId')}`) ?? 'trade';
    return {
      exchangeTradeId: executionId(kind, `${contract.raw}:${id}`), symbol: contract.symbol, baseAsset: contract.base, quoteAsset: contract.quote,
      side: side === 'BUY' ? 'buy' : 'sell', quantity: text(row, 'qty'), price: text(row, 'price'),
      // Commission is booked from the income history (the ledger), not here.
      fee: '0', feeAsset: contract.settle, executedAt: time,
    };
  }

  async *walkLedger(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<CashFlow>> {
    if (await this.probe(signal) === null) return;
    const fetchWindow = async (from: number, to: number): Promise<CashFlow[]> => {
      const out: CashFlow[] = [];
      for (const row of await this.incomeWindow(from, to, signal)) {
        const kind = LEDGER_TYPES[text(row, 'incomeType')];
        if (kind === undefined) continue; // transfers between own wallets (internal), bonuses
        const asset = text(row, 'asset');
        const time = Number(text(row, 'time'));
        const id = text(row, 'tranId');
        if (asset === '' || id === '' || !Number.isSafeInteger(time)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedIncome' });
        const flow = ledgerFlow(kind, `${id}:${text(row, 'incomeType')}`, asset, text(row, 'income'), time);
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
      const params = { symbol: contract.raw, interval: '1h', startTime: from, endTime: toMs - 1, limit: 1500 };
      const list = rows(await this.call('fetchMarkCandles', async () => await this.client.fapiPublicGetMarkPriceKlines(params), signal), 'MalformedCandle');
      let last = -1;
      for (const row of list) {
        const cells = row as unknown as readonly unknown[];
        const openTime = Number(cells[0]);
        const [open, high, low, close] = [cells[1], cells[2], cells[3], cells[4]].map((c) => (typeof c === 'string' ? c : ''));
        if (!Number.isSafeInteger(openTime) || open === '' || close === '' || open === undefined || close === undefined) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedCandle' });
        if (openTime < from || openTime >= toMs || openTime % HOUR_MS !== 0 || openTime <= last) continue;
        last = openTime;
        candles.push({ symbol, openTime, open, high: high || close, low: low || close, close, volume: '0' });
      }
      if (last < 0) break;
      from = last + HOUR_MS;
    }
    return candles;
  }

  async fetchWalletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    return await this.probe(signal) ?? [];
  }

  private async walletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    const list = rows(await this.call('fetchFuturesBalance', async () => await this.client.fapiPrivateV2GetBalance(), signal), 'MissingBalances');
    const out: Balance[] = [];
    for (const row of list) {
      const asset = text(row, 'asset');
      const balance = text(row, 'balance');
      if (asset === '' || !/^-?\d+(\.\d+)?$/u.test(balance)) throw new VenueError('binance', 'bad-response', { errorClass: 'MissingBalances' });
      if (/[1-9]/u.test(balance)) out.push({ asset, total: balance });
    }
    return out;
  }
}
