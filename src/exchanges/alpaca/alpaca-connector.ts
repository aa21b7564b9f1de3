// Alpaca through @alpacahq/alpaca-trade-api's generated API classes (the `Alpaca` facade has no
// base-URL option). Bodies are read raw and validated here: the SDK's FILL mapping picks the
// non-trade shape for every row (its `instanceOf…` checks always answer true) and would drop
// price, side and time, and its JSON parse would turn money into doubles.
import '../no-native-addons.js'; // before the SDK: it loads ws
import { errors, marketData, trading } from '@alpacahq/alpaca-trade-api';
import type { Balance, Candle, CashFlow, Fill, VenuePermissions, VenueRight } from '../../domain/types.js';
import type { ConnectorOptions, Page, VenueConnector } from '../connector.js';
import type { VenueCredential } from '../../domain/types.js';
import { absDecimal, isNegativeDecimal, isZeroDecimal } from '../../domain/decimal-string.js';
import { VenueError } from '../errors.js';
import { connectorClosed, retrying, retryPolicyFor, type FailureClass } from '../retry.js';
import { resolveVenueUrl } from '../venue-url.js';
import { HOUR_MS, classifyHttpStatus, classifyOtherFailure, decimalOf, isRecord, parseCursor, parseJsonKeepingNumberText } from '../broker-common.js';
import { MalformedVenueResponse } from '../errors.js';

export const ALPACA_LIVE_URL = 'https://api.alpaca.markets';
export const ALPACA_PAPER_URL = 'https://paper-api.alpaca.markets';
export const ALPACA_DATA_URL = 'https://data.alpaca.markets';
/** Alpaca's largest activities page. */
export const ALPACA_ACTIVITY_PAGE_SIZE = 100;

export interface AlpacaConnectorOptions extends ConnectorOptions {
  /** Paper-trading host instead of live (ignored when baseUrl is set). */
  readonly paper?: boolean;
  /** Market-data feed for bars; `iex` works on every plan. */
  readonly feed?: 'iex' | 'sip';
}

/** Cash and equity as Alpaca's account reports them, USD decimal strings. */
export interface AlpacaAccountSummary {
  readonly currency: string;
  readonly cash: string;
  readonly equity: string;
}

export interface AlpacaConnector extends VenueConnector {
  fetchAccountSummary(signal?: AbortSignal): Promise<AlpacaAccountSummary>;
}

/**
 * Cursor (JSON): `{"v":1,"lastId":"<activity id>"}`: the id of the newest activity already
 * delivered; Alpaca's `page_token` resumes strictly after it (direction=asc).
 */
interface ActivityCursor {
  readonly v: 1;
  readonly lastId: string;
  /** Fills stream only: assets traded as crypto (their marks come from the crypto bars endpoint). */
  readonly crypto?: readonly string[];
}

function isActivityCursor(value: unknown): value is ActivityCursor {
  return isRecord(value) && value.v === 1 && typeof value.lastId === 'string' && value.lastId !== '';
}

export function classifyAlpacaError(error: unknown): FailureClass {
  if (error instanceof errors.ApiError) {
    return classifyHttpStatus({ status: error.status, errorClass: error.name, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) });
  }
  if (error instanceof VenueError) return { kind: error.kind, retryable: error.retryable };
  return classifyOtherFailure(error);
}

function str(row: Record<string, unknown>, key: string): string {
  const value = row[key];
  if (typeof value !== 'string' || value === '') throw new MalformedVenueResponse(`activity field ${key}`);
  return value;
}

function decimalField(row: Record<string, unknown>, key: string): string {
  const value = decimalOf(row[key]);
  if (value === undefined) throw new MalformedVenueResponse(`field ${key}`);
  return value;
}

function timeField(row: Record<string, unknown>, key: string): number {
  const ms = Date.parse(str(row, key));
  if (Number.isNaN(ms)) throw new MalformedVenueResponse(`field ${key}`);
  return ms;
}

/** Alpaca writes crypto pairs "BTC/USD" in activities and "BTCUSD" (asset_class crypto) in positions. */
function cryptoBase(symbol: string): string {
  const slash = symbol.indexOf('/');
  if (slash > 0) return symbol.slice(0, slash);
  return symbol.endsWith('USD') ? symbol.slice(0, -3) : symbol;
}

function splitSymbol(symbol: string): { symbol: string; baseAsset: string; quoteAsset: string } {
  // Crypto activities carry "BTC/USD" (or "BTCUSD"); equities carry the ticker alone, quoted in USD.
  const slash = symbol.indexOf('/');
  if (slash > 0) {
    const baseAsset = symbol.slice(0, slash);
    const quoteAsset = symbol.slice(slash + 1);
    return { symbol: `${baseAsset}/${quoteAsset}`, baseAsset, quoteAsset };
  }
  return { symbol: `${symbol}/USD`, baseAsset: symbol, quoteAsset: 'USD' };
}

/** One FILL activity → Fill. Alpaca charges regulatory fees as separate FEE activities. */
export function alpacaFillFromActivity(row: unknown): Fill {
  if (!isRecord(row)) throw new MalformedVenueResponse('activity row');
  const side = str(row, 'side');
  if (side !== 'buy' && side !== 'sell' && side !== 'sell_short') throw new MalformedVenueResponse('activity side');
  return {
    exchangeTradeId: str(row, 'id'),
    ...splitSymbol(str(row, 'symbol')),
    side: side === 'buy' ? 'buy' : 'sell',
    quantity: absDecimal(decimalField(row, 'qty')),
    price: decimalField(row, 'price'),
    fee: '0',
    feeAsset: 'USD',
    executedAt: timeField(row, 'transaction_time'),
  };
}

/**
 * Non-trade activity types read as cash flows (docs.alpaca.markets, "Account Activities": activity
 * types): transfers and journals in cash or in kind are external flows; dividends, interest and
 * fees are income or expense by sign; splits and mergers move quantities (events.ts).
 */
export const ALPACA_CASH_ACTIVITY_TYPES = [
  'CSD', 'CSW', 'JNLC', 'JNLS', 'ACATC', 'ACATS', 'DIV', 'DIVCGL', 'DIVCGS', 'DIVFEE', 'DIVFT', 'DIVNRA', 'DIVROC', 'DIVTW', 'DIVTXEX',
  'INT', 'INTNRA', 'INTTW', 'FEE', 'CFEE', 'PTC', 'SPLIT', 'MA', 'NC', 'REORG', 'SPIN',
  'OPASN', 'OPEXP', 'OPEXC', 'OPTRD',
] as const;
/**
 * Option events (docs.alpaca.markets/docs/non-trade-activities-for-option-events): OPEXC, OPASN and
 * OPEXP close `qty` contracts of the option symbol with net_amount 0; the underlying delivery of an
 * exercise or assignment follows as an OPTRD row (underlying symbol, qty shares, net_amount the
 * strike cash). Both legs move at their marks, like a merger: the option leaves (or a short one is
 * covered) at its mark and the shares arrive at theirs against the strike cash, so an exercise at
 * consistent marks changes no equity, and an expiry realizes the option's last value as a loss.
 * The documented example gives an OPEXC and its OPTRD the same id: flow ids carry the type.
 */
const OPTION_EVENTS = new Set(['OPASN', 'OPEXP', 'OPEXC', 'OPTRD']);
const EXTERNAL_CASH = new Set(['CSD', 'CSW', 'JNLC', 'ACATC']);
const EXTERNAL_KIND = new Set(['JNLS', 'ACATS']);

/** One non-trade activity → CashFlows (none for a cancelled one; a merger can give two). */
export function alpacaCashFlowsFromActivity(row: unknown): CashFlow[] {
  if (!isRecord(row)) throw new MalformedVenueResponse('activity row');
  const type = str(row, 'activity_type');
  if (!(ALPACA_CASH_ACTIVITY_TYPES as readonly string[]).includes(type)) throw new MalformedVenueResponse('activity type');
  if (row.status === 'canceled') return [];
  const id = OPTION_EVENTS.has(type) ? `${str(row, 'id')}:${type}` : str(row, 'id');
  const occurredAt = typeof row.created_at === 'string' ? timeField(row, 'created_at') : timeField(row, 'date');
  const currency = typeof row.currency === 'string' && row.currency !== '' ? row.currency : 'USD';
  const cash = decimalOf(row.net_amount) ?? '0';
  const qty = decimalOf(row.qty) ?? '0';
  const symbol = typeof row.symbol === 'string' && row.symbol !== '' ? row.symbol : undefined;
  const flows: CashFlow[] = [];
  const add = (suffix: string, kind: CashFlow['kind'], asset: string, amount: string) => {
    if (!isZeroDecimal(amount)) flows.push({ exchangeFlowId: `${id}${suffix}`, kind, asset, amount: absDecimal(amount), occurredAt });
  };
  const assetOf = (s: string): string => splitSymbol(s).baseAsset;
  if (type === 'CSD' || type === 'CSW') {
    add('', type === 'CSD' ? 'deposit' : 'withdrawal', currency, cash);
  } else if (EXTERNAL_CASH.has(type)) {
    add('', isNegativeDecimal(cash) ? 'withdrawal' : 'deposit', currency, cash);
  } else if (EXTERNAL_KIND.has(type)) {
    if (symbol === undefined) throw new MalformedVenueResponse('activity symbol');
    add('', isNegativeDecimal(qty) ? 'withdrawal' : 'deposit', assetOf(symbol), qty);
  } else if (type === 'SPLIT') {
    if (symbol === undefined) throw new MalformedVenueResponse('activity symbol');
    add('', isNegativeDecimal(qty) ? 'split-out' : 'split-in', assetOf(symbol), qty);
  } else if (OPTION_EVENTS.has(type)) {
    if (symbol === undefined) throw new MalformedVenueResponse('activity symbol');
    add(':qty', isNegativeDecimal(qty) ? 'expense' : 'income', symbol, qty);
    add(':cash', isNegativeDecimal(cash) ? 'expense' : 'income', currency, cash);
  } else if (type === 'MA' || type === 'NC' || type === 'REORG' || type === 'SPIN') {
    // A merger, name change, reorganisation or spin-off: positions move at their marks, cash is income.
    if (symbol !== undefined) add(':qty', isNegativeDecimal(qty) ? 'expense' : 'income', assetOf(symbol), qty);
    add(':cash', isNegativeDecimal(cash) ? 'expense' : 'income', currency, cash);
  } else if (type === 'CFEE' && isZeroDecimal(cash) && symbol !== undefined) {
    // A crypto fee is charged in the coin: qty is negative in the coin's units.
    add('', isNegativeDecimal(qty) ? 'expense' : 'income', cryptoBase(symbol), qty);
  } else {
    add('', isNegativeDecimal(cash) ? 'expense' : 'income', currency, cash);
  }
  return flows;
}

/** One CSD/CSW activity → CashFlow (null for a cancelled one). */
export function alpacaCashFlowFromActivity(row: unknown): CashFlow | null {
  return alpacaCashFlowsFromActivity(row)[0] ?? null;
}

/**
 * Alpaca's account flags → what its key can do (read is implied: the account answered). A block
 * (`trading_blocked`, `account_blocked`) is the account's current state, not the key's scope, and
 * can be lifted: the key still counts as able to trade.
 */
export function alpacaKeyRights(account: Record<string, unknown>): VenuePermissions {
  const rights: VenueRight[] = ['read', 'spot_trade'];
  const multiplier = Number(typeof account.multiplier === 'string' ? account.multiplier : '1');
  if (multiplier > 1 || account.shorting_enabled === true) rights.push('margin_trade');
  // Numbers arrive as their text (readJson keeps number text exact).
  const optionsLevel = Number(account.options_trading_level ?? 0);
  if (!(optionsLevel === 0)) rights.push('options_trade'); // unreadable counts as able: fail closed
  return { reported: true, rights, alwaysTrades: true };
}

function barToCandle(symbol: string, bar: unknown): Candle {
  if (!isRecord(bar)) throw new MalformedVenueResponse('bar');
  return {
    symbol, openTime: timeField(bar, 't'), open: decimalField(bar, 'o'), high: decimalField(bar, 'h'),
    low: decimalField(bar, 'l'), close: decimalField(bar, 'c'), volume: decimalField(bar, 'v'),
  };
}

async function readJson(response: { raw: Response }): Promise<unknown> {
  return parseJsonKeepingNumberText(await response.raw.text());
}

function asArray(body: unknown, what: string): unknown[] {
  if (!Array.isArray(body)) throw new MalformedVenueResponse(what);
  return body;
}

export function createAlpacaConnector(credential: VenueCredential, options: AlpacaConnectorOptions): AlpacaConnector {
  const tradingUrl = resolveVenueUrl('alpaca', options.paper === true ? ALPACA_PAPER_URL : ALPACA_LIVE_URL, options);
  const dataUrl = resolveVenueUrl('alpaca', ALPACA_DATA_URL, options);
  const policy = retryPolicyFor(options);
  // The SDK's own retries and deadline are off: withRetry owns both (its signal ends an attempt).
  const common = { keyId: credential.apiKey, secret: credential.secret, timeoutMs: 0, userAgent: '' };
  let apis: {
    activities: trading.AccountActivitiesApi;
    accounts: trading.AccountsApi;
    positions: trading.PositionsApi;
    stocks: marketData.StockApi;
    crypto: marketData.CryptoApi;
  } | undefined = {
    activities: new trading.AccountActivitiesApi(new trading.Configuration({ ...common, basePath: tradingUrl })),
    accounts: new trading.AccountsApi(new trading.Configuration({ ...common, basePath: tradingUrl })),
    positions: new trading.PositionsApi(new trading.Configuration({ ...common, basePath: tradingUrl })),
    stocks: new marketData.StockApi(new marketData.Configuration({ ...common, basePath: dataUrl })),
    crypto: new marketData.CryptoApi(new marketData.Configuration({ ...common, basePath: dataUrl })),
  };
  /**
   * Assets traded as crypto. LTC, BTC and ETH are also stock tickers: a coin sent to the stock
   * bars endpoint gets a plausible wrong price, so the class comes from the account's own records
   * (crypto fills, kept in the fills cursor; crypto positions), never from the name.
   */
  const cryptoAssets = new Set<string>();

  const live = () => {
    if (apis === undefined) throw connectorClosed('alpaca');
    return apis;
  };
  const call = retrying('alpaca', classifyAlpacaError, policy);

  /** Walks one activity stream with page_token until a short page; each page carries its cursor. */
  async function* walk<T>(
    since: string | null,
    fetchPage: (pageToken: string | undefined, signal: AbortSignal) => Promise<unknown[]>,
    convert: (row: unknown) => readonly T[],
    signal?: AbortSignal,
    cursorExtra: () => Partial<ActivityCursor> = () => ({}),
  ): AsyncGenerator<Page<T>> {
    let token = since === null ? undefined : parseCursor('alpaca', since, isActivityCursor).lastId;
    // Ids of the previous page (and the cursor's id): a row repeated across a border is dropped.
    let previous = new Set<string>();
    for (;;) {
      const pageToken = token;
      const rows = await call((s) => fetchPage(pageToken, s), signal);
      if (rows.length === 0) return;
      const items: T[] = [];
      const current = new Set<string>();
      let lastId: string | undefined;
      for (const row of rows) {
        const id = isRecord(row) && typeof row.id === 'string' ? row.id : undefined;
        if (id === undefined) throw new VenueError('alpaca', 'bad-response', { errorClass: 'MalformedVenueResponse' });
        lastId = id;
        // Two rows of one event may share an id (an option exercise and its OPTRD): dedupe on type and id.
        const key = `${isRecord(row) && typeof row.activity_type === 'string' ? row.activity_type : ''}|${id}`;
        if (id === pageToken || previous.has(key) || current.has(key)) continue;
        current.add(key);
        let converted: readonly T[];
        try {
          converted = convert(row);
        } catch {
          throw new VenueError('alpaca', 'bad-response', { errorClass: 'MalformedVenueResponse' });
        }
        items.push(...converted);
      }
      // Only the row the token names came back: the stream has nothing newer.
      if (current.size === 0 && rows.length < ALPACA_ACTIVITY_PAGE_SIZE) return;
      if (lastId === undefined || lastId === token) throw new VenueError('alpaca', 'bad-response', { errorClass: 'page_token made no progress' });
      token = lastId;
      previous = current;
      yield { items, cursor: JSON.stringify({ ...cursorExtra(), v: 1, lastId } satisfies ActivityCursor) };
      if (rows.length < ALPACA_ACTIVITY_PAGE_SIZE) return;
    }
  }

  function accountSummary(signal?: AbortSignal): Promise<AlpacaAccountSummary> {
    return call(async (s) => {
      const body = await readJson(await live().accounts.getAccountRaw({ signal: s }));
      if (!isRecord(body)) throw new MalformedVenueResponse('account');
      const currency = typeof body.currency === 'string' && body.currency !== '' ? body.currency : 'USD';
      return { currency, cash: decimalField(body, 'cash'), equity: decimalField(body, 'equity') };
    }, signal);
  }

  /** Hourly crypto bars (/v1beta3/crypto/us/bars): keyed by pair in the body, paged by next_page_token. */
  async function cryptoCandles(baseAsset: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<Candle[]> {
    const pair = `${baseAsset}/USD`;
    const candles: Candle[] = [];
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const body = await call(async (s) => {
        const response = await live().crypto.cryptoBarsRaw({
          loc: 'us', symbols: pair, timeframe: '1Hour', start: new Date(fromMs), end: new Date(toMs - 1), limit: 10_000, sort: 'asc',
          ...(token === undefined ? {} : { pageToken: token }),
        }, { signal: s });
        const parsed = await readJson(response);
        if (!isRecord(parsed) || !isRecord(parsed.bars ?? {})) throw new MalformedVenueResponse('crypto bars');
        const bars = (parsed.bars as Record<string, unknown> | undefined)?.[pair] ?? [];
        if (!Array.isArray(bars)) throw new MalformedVenueResponse('crypto bars');
        const next = parsed.next_page_token;
        return { next: typeof next === 'string' && next !== '' ? next : undefined, bars: bars.map((bar) => barToCandle(pair, bar)) };
      }, signal);
      for (const bar of body.bars) if (bar.openTime >= fromMs && bar.openTime < toMs && bar.openTime % HOUR_MS === 0) candles.push(bar);
      pageToken = body.next;
    } while (pageToken !== undefined);
    return candles;
  }

  return {
    exchange: 'alpaca',
    baseCurrency: 'USD',

    async *fetchFills(since, signal) {
      if (since !== null) for (const asset of parseCursor('alpaca', since, isActivityCursor).crypto ?? []) cryptoAssets.add(asset);
      const convert = (row: unknown): Fill[] => {
        const fill = alpacaFillFromActivity(row);
        if (isRecord(row) && typeof row.symbol === 'string' && row.symbol.includes('/')) cryptoAssets.add(fill.baseAsset);
        return [fill];
      };
      yield* walk(since, async (pageToken, s) => {
        const response = await live().activities.getAccountActivitiesByActivityTypeRaw(
          { activityType: 'FILL', direction: 'asc', pageSize: ALPACA_ACTIVITY_PAGE_SIZE, ...(pageToken === undefined ? {} : { pageToken }) },
          { signal: s },
        );
        return asArray(await readJson(response), 'FILL activities');
      }, convert, signal, () => (cryptoAssets.size === 0 ? {} : { crypto: [...cryptoAssets].sort() }));
    },

    fetchCashFlows(since, signal) {
      return walk(since, async (pageToken, s) => {
        const response = await live().activities.getAccountActivitiesRaw(
          { activityTypes: [...ALPACA_CASH_ACTIVITY_TYPES], direction: 'asc', pageSize: ALPACA_ACTIVITY_PAGE_SIZE, ...(pageToken === undefined ? {} : { pageToken }) },
          { signal: s },
        );
        return asArray(await readJson(response), 'cash activities');
      }, alpacaCashFlowsFromActivity, signal);
    },

    fetchAccountSummary: accountSummary,

    /**
     * Alpaca has no read-only keys: every key can place orders for its account (there is no scope
     * to create), so the rights come from the account's own flags and are marked `alwaysTrades`.
     * The policy refuses such a key unless the account holder opted in for this account.
     */
    fetchPermissions(signal) {
      return call(async (s) => {
        const body = await readJson(await live().accounts.getAccountRaw({ signal: s }));
        if (!isRecord(body)) throw new MalformedVenueResponse('account');
        return alpacaKeyRights(body);
      }, signal);
    },

    async fetchBalances(signal) {
      const account = await accountSummary(signal);
      const positions = await call(async (s) => {
        const body = asArray(await readJson(await live().positions.getAllOpenPositionsRaw({ signal: s })), 'positions');
        return body.map((row): Balance => {
          if (!isRecord(row)) throw new MalformedVenueResponse('position');
          if (row.asset_class === 'crypto') {
            const asset = cryptoBase(str(row, 'symbol'));
            cryptoAssets.add(asset);
            return { asset, total: decimalField(row, 'qty') };
          }
          return { asset: splitSymbol(str(row, 'symbol')).baseAsset, total: decimalField(row, 'qty') };
        });
      }, signal);
      return [{ asset: account.currency, total: account.cash }, ...positions];
    },

    async fetchHourlyCandles(symbol, fromMs, toMs, signal) {
      const { baseAsset, quoteAsset } = splitSymbol(symbol);
      if (quoteAsset !== 'USD') throw new VenueError('alpaca', 'rejected', { errorClass: 'only USD stock bars are supported' });
      if (cryptoAssets.has(baseAsset)) return await cryptoCandles(baseAsset, fromMs, toMs, signal);
      const candles: Candle[] = [];
      let pageToken: string | undefined;
      do {
        const token = pageToken;
        const body = await call(async (s) => {
          const response = await live().stocks.stockBarSingleRaw({
            symbol: baseAsset,
            timeframe: '1Hour',
            start: new Date(fromMs),
            end: new Date(toMs - 1),
            limit: 10_000,
            adjustment: 'raw',
            feed: options.feed ?? 'iex',
            sort: 'asc',
            ...(token === undefined ? {} : { pageToken: token }),
          }, { signal: s });
          const parsed = await readJson(response);
          if (!isRecord(parsed)) throw new MalformedVenueResponse('bars');
          const bars = parsed.bars ?? [];
          if (!Array.isArray(bars)) throw new MalformedVenueResponse('bars');
          const next = parsed.next_page_token;
          return {
            next: typeof next === 'string' && next !== '' ? next : undefined,
            bars: bars.map((bar) => barToCandle(`${baseAsset}/USD`, bar)),
          };
        }, signal);
        for (const bar of body.bars) {
          if (bar.openTime >= fromMs && bar.openTime < toMs && bar.openTime % HOUR_MS === 0) candles.push(bar);
        }
        pageToken = body.next;
      } while (pageToken !== undefined);
      return candles;
    },

    /** The 1Min bar opening at `minute` (crypto bars for crypto assets, stock bars otherwise); null when there is none. */
    async fetchMinuteCandle(symbol, minute, signal) {
      const { baseAsset, quoteAsset } = splitSymbol(symbol);
      if (quoteAsset !== 'USD') return null;
      const start = new Date(minute);
      const end = new Date(minute + 59_999);
      const bars = await call(async (s) => {
        if (cryptoAssets.has(baseAsset)) {
          const pair = `${baseAsset}/USD`;
          const parsed = await readJson(await live().crypto.cryptoBarsRaw({ loc: 'us', symbols: pair, timeframe: '1Min', start, end, limit: 1, sort: 'asc' }, { signal: s }));
          if (!isRecord(parsed) || !isRecord(parsed.bars ?? {})) throw new MalformedVenueResponse('crypto bars');
          const rows = (parsed.bars as Record<string, unknown> | undefined)?.[pair] ?? [];
          if (!Array.isArray(rows)) throw new MalformedVenueResponse('crypto bars');
          return rows.map((bar) => barToCandle(symbol, bar));
        }
        const parsed = await readJson(await live().stocks.stockBarSingleRaw({
          symbol: baseAsset, timeframe: '1Min', start, end, limit: 1, adjustment: 'raw', feed: options.feed ?? 'iex', sort: 'asc',
        }, { signal: s }));
        if (!isRecord(parsed)) throw new MalformedVenueResponse('bars');
        const rows = parsed.bars ?? [];
        if (!Array.isArray(rows)) throw new MalformedVenueResponse('bars');
        return rows.map((bar) => barToCandle(symbol, bar));
      }, signal);
      return bars.find((bar) => bar.openTime === minute) ?? null;
    },

    async close() {
      apis = undefined;
    },
  };
}
