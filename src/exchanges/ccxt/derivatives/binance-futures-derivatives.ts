// Binance futures: USDⓈ-M (fapi, linear, margin in USDT/USDC) and COIN-M (dapi, inverse, margin in
// the coin), two wallets beside spot read by one reader parametrized by its API (`USDM_API`,
// `COINM_API`); `BinanceDerivatives` joins them into the venue's derivatives source.
//
// Which calls and why (ccxt 4.5.84, implicit fapi / dapi methods; the two APIs mirror each other):
// - Ledger: `GET /fapi/v1/income` / `GET /dapi/v1/income` (weight 30 / 20, limit 1000, 7-day windows
//   here, ~3 months back): REALIZED_PNL, FUNDING_FEE (signed: > 0 received), COMMISSION (< 0 paid)
//   and the rebates, INSURANCE_CLEAR (liquidation charge), DELIVERED_SETTELMENT. TRANSFER /
//   INTERNAL_TRANSFER / CROSS_COLLATERAL_TRANSFER move money between the account's own wallets:
//   internal, never a flow. ccxt's `fetchLedger` maps this endpoint but folds the types into its own
//   coarse ones (funding and realized P&L both become `trade`-like entries), so the raw rows are read.
// - Executions: `GET /fapi/v1/userTrades` needs a symbol, `GET /dapi/v1/userTrades` a symbol or a
//   pair (every contract of the pair: perpetual and quarterlies in one call), at most 7 days a query.
//   The contracts traded in a window are those with COMMISSION or REALIZED_PNL income in it (every
//   trade pays or earns commission), so a window costs one income call plus one userTrades call per
//   traded symbol (pair on COIN-M), not one per listed contract. ccxt's `fetchMyTrades` would need the
//   futures markets loaded and gives the same rows; the raw call keeps `orderId` to match liquidation
//   orders. COIN-M quantities are contracts: times `contractSize` (USD per contract, from
//   exchangeInfo: 100 for BTCUSD, 10 for the others) they become the quote units the book takes.
// - Liquidations: `GET /fapi/v1/forceOrders` / `/dapi/v1/forceOrders` (weight 50 without a symbol),
//   asked only for windows whose income holds an INSURANCE_CLEAR row; fills of those orders are
//   liquidation (or ADL) fills.
// - Contracts: `GET /fapi/v1/exchangeInfo` / `/dapi/v1/exchangeInfo` (base, quote, margin asset,
//   contract type, delivery date, COIN-M contract size).
// - Marks: `GET /fapi/v1/markPriceKlines` / `/dapi/v1/markPriceKlines` (interval 1h, limit 1500).
//   Wallet: `GET /fapi/v2/balance` / `GET /dapi/v1/balance`.
// - Positions: `GET /fapi/v3/positionRisk` / `GET /dapi/v1/positionRisk` (signed positionAmt; COIN-M
//   in contracts), checked against the book at each sync. ccxt's `fetchPositions` needs the futures
//   markets loaded; the raw rows are read (hedge-mode LONG/SHORT legs are summed).
// Field meanings: https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History,
// …/trade/rest-api/Account-Trade-List, …/trade/rest-api/Users-Force-Orders, …/market-data/rest-api/Mark-Price-Kline-Candlestick-Data,
// and the same pages under https://developers.binance.com/docs/derivatives/coin-margined-futures/.
import type { binance } from 'ccxt';
import { contractSymbol, parseContract } from '../../../domain/derivatives/instrument.js';
import type { VenuePosition } from '../../../domain/derivatives/positions.js';
import { executionId, ledgerFlow, type ExecutionKind, type LedgerKind } from '../../../domain/derivatives/records.js';
import { multiplyDecimal } from '../../../domain/decimal-string.js';
import type { Balance, Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { WindowState } from '../ccxt-cursor.js';
import { sharedUntilFailure, type DerivativesSource, type VenueCall, type WalkWindows, type WindowPage } from './derivatives-source.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Income history is served about 3 months back; executions are found through it (see above). */
export const BINANCE_FUTURES_LOOKBACK_MS = 90 * DAY_MS;
const WINDOW_MS = 7 * DAY_MS;
const INCOME_LIMIT = 1000;
const TRADES_LIMIT = 1000;

const LEDGER_TYPES: Readonly<Record<string, LedgerKind>> = {
  REALIZED_PNL: 'realized-pnl', FUNDING_FEE: 'funding', COMMISSION: 'fee', COMMISSION_REBATE: 'fee', API_REBATE: 'fee', REFERRAL_KICKBACK: 'fee',
  INSURANCE_CLEAR: 'liquidation', DELIVERED_SETTELMENT: 'settlement',
};

type Params = Record<string, string | number>;
type Row = Readonly<Record<string, unknown>>;

/** One of Binance's two futures APIs, as the reader calls it (ccxt implicit methods). */
export interface BinanceFuturesApi {
  /** The execution stream's name in the connector's cursor; also the ledger stream's for COIN-M. */
  readonly stream: 'usdm' | 'coinm';
  /** userTrades is asked per pair (COIN-M accepts `pair`: every contract of it in one call) or per symbol. */
  readonly tradesBy: 'symbol' | 'pair';
  /** Quote units per contract of an exchangeInfo row: 1 on USDⓈ-M (qty is already base units), contractSize on COIN-M. */
  contractSize(row: Row): string;
  exchangeInfo(): Promise<unknown>;
  income(params: Params): Promise<unknown>;
  userTrades(params: Params): Promise<unknown>;
  forceOrders(params: Params): Promise<unknown>;
  markKlines(params: Params): Promise<unknown>;
  balance(): Promise<unknown>;
  positionRisk(): Promise<unknown>;
}

export const USDM_API = (client: binance): BinanceFuturesApi => ({
  stream: 'usdm', tradesBy: 'symbol', contractSize: () => '1',
  exchangeInfo: async () => await client.fapiPublicGetExchangeInfo(),
  income: async (p) => await client.fapiPrivateGetIncome(p),
  userTrades: async (p) => await client.fapiPrivateGetUserTrades(p),
  forceOrders: async (p) => await client.fapiPrivateGetForceOrders(p),
  markKlines: async (p) => await client.fapiPublicGetMarkPriceKlines(p),
  balance: async () => await client.fapiPrivateV2GetBalance(),
  positionRisk: async () => await client.fapiPrivateV3GetPositionRisk(),
});

export const COINM_API = (client: binance): BinanceFuturesApi => ({
  stream: 'coinm', tradesBy: 'pair', contractSize: (row) => text(row, 'contractSize'),
  exchangeInfo: async () => await client.dapiPublicGetExchangeInfo(),
  income: async (p) => await client.dapiPrivateGetIncome(p),
  userTrades: async (p) => await client.dapiPrivateGetUserTrades(p),
  forceOrders: async (p) => await client.dapiPrivateGetForceOrders(p),
  markKlines: async (p) => await client.dapiPublicGetMarkPriceKlines(p),
  balance: async () => await client.dapiPrivateGetBalance(),
  positionRisk: async () => await client.dapiPrivateGetPositionRisk(),
});

interface Contract { readonly symbol: string; readonly raw: string; readonly pair: string; readonly base: string; readonly quote: string; readonly settle: string; readonly size: string }
const text = (row: Row, key: string): string => {
  const v = row[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : typeof v === 'boolean' ? String(v) : '';
};
function rows(response: unknown, errorClass: string): Row[] {
  if (!Array.isArray(response)) throw new VenueError('binance', 'bad-response', { errorClass });
  return response as Row[];
}

/** One Binance futures wallet (USDⓈ-M or COIN-M): its executions, ledger, marks and balances. */
export class BinanceFuturesReader {
  /** Set once the key turned out to read no such futures account (see `probe`); kept for the connector's life. */
  private noFutures = false;

  constructor(private readonly client: binance, private readonly api: BinanceFuturesApi, private readonly call: VenueCall, private readonly walk: WalkWindows) {}

  /** The venue's contracts by raw and unified name: loaded once, and again after a failure. */
  private readonly loadContracts = sharedUntilFailure(async (signal: AbortSignal | undefined): Promise<Map<string, Contract>> => {
    const info = await this.call('fetchFuturesContracts', async () => await this.api.exchangeInfo(), signal);
    const list = (info as { symbols?: unknown }).symbols;
    if (!Array.isArray(list)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedExchangeInfo' });
    const map = new Map<string, Contract>();
    for (const row of list as Row[]) {
      const raw = text(row, 'symbol');
      const base = text(row, 'baseAsset');
      const quote = text(row, 'quoteAsset');
      const settle = text(row, 'marginAsset');
      const size = this.api.contractSize(row);
      const delivery = Number(text(row, 'deliveryDate'));
      if (raw === '' || base === '' || quote === '' || settle === '') continue;
      if (!/^\d+(\.\d+)?$/u.test(size) || !/[1-9]/u.test(size)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedExchangeInfo' });
      const dated = text(row, 'contractType') !== 'PERPETUAL' && delivery > 0 && delivery < 4_000_000_000_000;
      const contract = { symbol: contractSymbol(base, quote, settle, dated ? delivery : null), raw, pair: text(row, 'pair') || raw, base, quote, settle, size };
      map.set(raw, contract);
      map.set(contract.symbol, contract);
    }
    return map;
  });

  /** Every income row with a time in [from, to] (a full page halves the window). */
  private async incomeWindow(from: number, to: number, signal: AbortSignal | undefined): Promise<Row[]> {
    const page = rows(await this.call('fetchIncome', async () => await this.api.income({ startTime: from, endTime: to, limit: INCOME_LIMIT }), signal), 'MalformedIncome');
    if (page.length < INCOME_LIMIT) return page;
    if (to <= from) throw new VenueError('binance', 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
    const mid = Math.floor((from + to) / 2);
    return [...await this.incomeWindow(from, mid, signal), ...await this.incomeWindow(mid + 1, to, signal)];
  }

  /** Account trades of one symbol (USDⓈ-M) or one pair (COIN-M) in [from, to]. */
  private async tradesWindow(key: string, from: number, to: number, signal: AbortSignal | undefined): Promise<Row[]> {
    const params = { [this.api.tradesBy]: key, startTime: from, endTime: to, limit: TRADES_LIMIT };
    const page = rows(await this.call('fetchFuturesTrades', async () => await this.api.userTrades(params), signal), 'MalformedTrade');
    if (page.length < TRADES_LIMIT) return page;
    if (to <= from) throw new VenueError('binance', 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
    const mid = Math.floor((from + to) / 2);
    return [...await this.tradesWindow(key, from, mid, signal), ...await this.tradesWindow(key, mid + 1, to, signal)];
  }

  /**
   * The futures wallet, or null when the key reads no such futures account: Binance answers fapi
   * (dapi) calls of an account that never opened one with -2015 (an auth refusal). The spot calls
   * before it already proved the key, so here that refusal means "no futures": nothing to sync, the
   * stream state stays where it is, and a new connector (after the actor's idle passivation) asks again.
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

  async *walkExecutions(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    if (await this.probe(signal) === null) return;
    const contracts = await this.loadContracts(signal);
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> => {
      const income = await this.incomeWindow(from, to, signal);
      const traded = new Set(income.filter((r) => ['COMMISSION', 'REALIZED_PNL'].includes(text(r, 'incomeType'))).map((r) => text(r, 'symbol')));
      // A delisted contract is no longer listed: its fills cannot be named (its ledger still counts).
      const keys = [...new Set([...traded].map((raw) => contracts.get(raw)).filter((c) => c !== undefined).map((c) => (this.api.tradesBy === 'pair' ? c.pair : c.raw)))].sort();
      const forced = income.some((r) => text(r, 'incomeType') === 'INSURANCE_CLEAR') ? await this.forcedOrders(from, to, signal) : new Map<string, ExecutionKind>();
      const out: Fill[] = [];
      for (const key of keys) {
        for (const row of await this.tradesWindow(key, from, to, signal)) {
          const contract = contracts.get(text(row, 'symbol'));
          if (contract !== undefined) out.push(this.toFill(contract, row, forced));
        }
      }
      return out;
    };
    yield* this.walk(state, WINDOW_MS, signal, fetchWindow, (f) => ({ id: f.exchangeTradeId, timestamp: f.executedAt }));
  }

  /** Liquidation and ADL orders in [from, to], by `symbol:orderId`. */
  private async forcedOrders(from: number, to: number, signal: AbortSignal | undefined): Promise<Map<string, ExecutionKind>> {
    const list = rows(await this.call('fetchForceOrders', async () => await this.api.forceOrders({ startTime: from, endTime: to, limit: 100 }), signal), 'MalformedForceOrders');
    const map = new Map<string, ExecutionKind>();
    for (const row of list) map.set(`${text(row, 'symbol')}:${text(row, 'orderId')}`, text(row, 'clientOrderId').startsWith('adl_autoclose') ? 'adl' : 'liquidation');
    return map;
  }

  private toFill(contract: Contract, row: Row, forced: Map<string, ExecutionKind>): Fill {
    const id = text(row, 'id');
    const side = text(row, 'side');
    const time = Number(text(row, 'time'));
    const qty = text(row, 'qty');
    if (id === '' || (side !== 'BUY' && side !== 'SELL') || !Number.isSafeInteger(time) || !/^\d+(\.\d+)?$/u.test(qty)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedTrade' });
    const kind = forced.get(`${contract.raw}:${text(row, 'orderId')}`) ?? 'trade';
    return {
      exchangeTradeId: executionId(kind, `${contract.raw}:${id}`), symbol: contract.symbol, baseAsset: contract.base, quoteAsset: contract.quote,
      // COIN-M counts contracts: the book takes quote units (contracts × USD per contract).
      side: side === 'BUY' ? 'buy' : 'sell', quantity: contract.size === '1' ? qty : multiplyDecimal(qty, contract.size), price: text(row, 'price'),
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
        // tranId is unique per income type within one wallet; the COIN-M ones carry their stream.
        const venueId = this.api.stream === 'usdm' ? `${id}:${text(row, 'incomeType')}` : `${this.api.stream}:${id}:${text(row, 'incomeType')}`;
        const flow = ledgerFlow(kind, venueId, asset, text(row, 'income'), time);
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
      const list = rows(await this.call('fetchMarkCandles', async () => await this.api.markKlines(params), signal), 'MalformedCandle');
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

  /** Open positions in book units (COIN-M contracts × contract size); none without this futures account. */
  async fetchPositions(signal: AbortSignal | undefined): Promise<readonly VenuePosition[]> {
    if (await this.probe(signal) === null) return [];
    const contracts = await this.loadContracts(signal);
    const out: VenuePosition[] = [];
    for (const row of rows(await this.call('fetchPositions', async () => await this.api.positionRisk(), signal), 'MalformedPositions')) {
      const raw = text(row, 'symbol');
      const amount = Number(text(row, 'positionAmt'));
      if (raw === '' || !Number.isFinite(amount)) throw new VenueError('binance', 'bad-response', { errorClass: 'MalformedPositions' });
      if (amount === 0) continue;
      // A contract no longer listed keeps its venue name (it then differs from the book: reported, not hidden).
      const contract = contracts.get(raw);
      out.push({ symbol: contract?.symbol ?? raw, quantity: amount * Number(contract?.size ?? '1') });
    }
    return out;
  }

  private async walletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    const list = rows(await this.call('fetchFuturesBalance', async () => await this.api.balance(), signal), 'MissingBalances');
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

/**
 * The whole Binance futures account: USDⓈ-M and COIN-M, each its own execution stream (`usdm`,
 * `coinm`) and ledger window (the main ledger is USDⓈ-M's, COIN-M's an extra ledger stream), so a
 * wallet added later starts from the venue's lookback instead of from the other one's window.
 */
export class BinanceDerivatives implements DerivativesSource {
  readonly executionStreams: readonly string[] = ['usdm', 'coinm'];
  readonly ledgerStreams: readonly string[] = ['coinm'];
  readonly lookbackMs = BINANCE_FUTURES_LOOKBACK_MS;
  private readonly usdm: BinanceFuturesReader;
  private readonly coinm: BinanceFuturesReader;

  constructor(client: binance, call: VenueCall, walk: WalkWindows) {
    this.usdm = new BinanceFuturesReader(client, USDM_API(client), call, walk);
    this.coinm = new BinanceFuturesReader(client, COINM_API(client), call, walk);
  }

  private reader(stream: string | undefined): BinanceFuturesReader {
    if (stream === undefined || stream === 'usdm') return this.usdm;
    if (stream === 'coinm') return this.coinm;
    throw new VenueError('binance', 'rejected', { errorClass: 'CursorMismatch' });
  }

  walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>> {
    return this.reader(stream).walkExecutions(state, signal);
  }

  walkLedger(state: WindowState, signal: AbortSignal | undefined, stream?: string): AsyncIterable<WindowPage<CashFlow>> {
    return this.reader(stream).walkLedger(state, signal);
  }

  /** Inverse contracts (settled in the coin) are COIN-M's; the rest USDⓈ-M's. */
  async fetchMarkCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal: AbortSignal | undefined): Promise<readonly Candle[]> {
    return await (parseContract(symbol).kind === 'inverse' ? this.coinm : this.usdm).fetchMarkCandles(symbol, fromMs, toMs, signal);
  }

  async fetchWalletBalances(signal: AbortSignal | undefined): Promise<readonly Balance[]> {
    // Tagged apart, so reconciliation attributes a difference to the USDⓈ-M or the COIN-M wallet.
    const tag = (wallet: string) => (b: Balance): Balance => ({ ...b, wallet: b.wallet ?? wallet });
    return [...(await this.usdm.fetchWalletBalances(signal)).map(tag('usdm')), ...(await this.coinm.fetchWalletBalances(signal)).map(tag('coinm'))];
  }

  async fetchPositions(signal: AbortSignal | undefined): Promise<readonly VenuePosition[]> {
    return [...await this.usdm.fetchPositions(signal), ...await this.coinm.fetchPositions(signal)];
  }
}
