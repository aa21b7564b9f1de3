// A fake Alpaca: the real trading paths (/v2/account, /v2/positions, /v2/account/activities[/{type}])
// and market-data path (/v2/stocks/{symbol}/bars) with APCA-API-KEY-ID / APCA-API-SECRET-KEY
// checks, Alpaca's page rules (page_size ≤ 100, page_token = id of the last row seen, direction)
// and its error envelopes ({"code":…,"message":…}). Faults are injected through `server.inject`.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { sendJson, startFakeServer, type FakeServer, type RecordedRequest } from './broker-fake-server.js';

export interface AlpacaFillRow {
  readonly id: string;
  readonly activity_type: 'FILL';
  readonly transaction_time: string;
  readonly type: 'fill' | 'partial_fill';
  readonly price: string;
  readonly qty: string;
  readonly side: 'buy' | 'sell' | 'sell_short';
  readonly symbol: string;
  readonly leaves_qty: string;
  readonly order_id: string;
  readonly cum_qty: string;
  readonly order_status: string;
}

/**
 * A non-trade activity as Alpaca's "Retrieve account activities" reference documents it (NonTradeActivities:
 * activity_type, id, date, net_amount, description, status, and for per-symbol ones symbol, qty,
 * per_share_amount; e.g. its DIV example: {"activity_type":"DIV","id":"20190801011955195::5f596936-…",
 * "date":"2019-08-01","net_amount":"1.02","symbol":"T","qty":"2","per_share_amount":"0.51"}).
 */
export interface AlpacaCashRow {
  readonly id: string;
  readonly activity_type: string;
  readonly date: string;
  readonly net_amount: string;
  readonly description: string;
  readonly status: 'executed' | 'canceled';
  readonly symbol?: string;
  readonly qty?: string;
  readonly per_share_amount?: string;
  /** OPTRD (the underlying leg of an option exercise or assignment): the per-share price. */
  readonly price?: string;
}

/** Bar values are kept as the exact number text the fake writes into its JSON. */
export interface AlpacaBarRow {
  readonly t: string;
  readonly o: string;
  readonly h: string;
  readonly l: string;
  readonly c: string;
  readonly v: string;
}

export interface AlpacaFakeState {
  fills: AlpacaFillRow[];
  cash: AlpacaCashRow[];
  /**
   * Flags from Alpaca's Account object (docs.alpaca.markets/reference/getaccount-1, whose example
   * the body follows): blocks, margin multiplier ("1" cash, "2"/"4" margin), options level.
   */
  account: {
    cash: string; equity: string; currency: string;
    trading_blocked?: boolean; account_blocked?: boolean;
    multiplier?: string; shorting_enabled?: boolean; options_trading_level?: number;
  };
  positions: { symbol: string; qty: string; asset_class?: 'us_equity' | 'crypto' }[];
  bars: Record<string, AlpacaBarRow[]>;
  /** Crypto bars by pair ("BTC/USD"), served at /v1beta3/crypto/us/bars. */
  cryptoBars: Record<string, AlpacaBarRow[]>;
  /** One-minute bars (timeframe=1Min), stocks by symbol and crypto by pair. */
  minuteBars?: Record<string, AlpacaBarRow[]>;
  minuteCryptoBars?: Record<string, AlpacaBarRow[]>;
  /** Serve each follow-up page starting with the row its page_token names (a repeat at the border). */
  repeatAtBorder: boolean;
}

export interface AlpacaFake {
  readonly server: FakeServer;
  readonly url: string;
  readonly state: AlpacaFakeState;
  close(): Promise<void>;
}

export const ALPACA_MAX_PAGE_SIZE = 100;

export function alpacaActivityId(ms: number, seq: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${pad(d.getUTCMilliseconds(), 3)}`;
  // A uuid whose prefix keeps ids with the same millisecond in creation order.
  return `${stamp}::${String(seq).padStart(8, '0')}-${randomUUID().slice(9)}`;
}

/** `count` fills, one per second from `startMs`, alternating buys and sells of a few tickers. */
export function makeAlpacaFills(count: number, startMs: number, seqOffset = 0): AlpacaFillRow[] {
  const symbols = ['AAPL', 'MSFT', 'TSLA', 'SPY'];
  return Array.from({ length: count }, (_, i): AlpacaFillRow => {
    const ms = startMs + i * 1000;
    return {
      id: alpacaActivityId(ms, seqOffset + i),
      activity_type: 'FILL',
      transaction_time: new Date(ms).toISOString(),
      type: 'fill',
      price: `${100 + (i % 50)}.${String(i % 100).padStart(2, '0')}`,
      qty: String(1 + (i % 7)),
      side: i % 2 === 0 ? 'buy' : 'sell',
      symbol: symbols[i % symbols.length] ?? 'AAPL',
      leaves_qty: '0',
      order_id: randomUUID(),
      cum_qty: String(1 + (i % 7)),
      order_status: 'filled',
    };
  });
}

function unauthorized(res: ServerResponse): void {
  sendJson(res, 401, { code: 40110000, message: 'request is not authorized' });
}

function invalid(res: ServerResponse, message: string): void {
  sendJson(res, 422, { code: 42210000, message });
}

/** Alpaca's activity paging: sorted by id, page_token = last id seen, strictly after/before it. */
function pageActivities<T extends { readonly id: string }>(rows: readonly T[], req: RecordedRequest, res: ServerResponse, repeatAtBorder: boolean): void {
  const direction = req.query.get('direction') ?? 'desc';
  if (direction !== 'asc' && direction !== 'desc') return invalid(res, 'invalid direction');
  const sizeText = req.query.get('page_size');
  const pageSize = sizeText === null ? ALPACA_MAX_PAGE_SIZE : Number(sizeText);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > ALPACA_MAX_PAGE_SIZE) return invalid(res, 'page_size must be between 1 and 100');
  const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (direction === 'desc') sorted.reverse();
  const token = req.query.get('page_token');
  let start = 0;
  if (token !== null) {
    const at = sorted.findIndex((r) => r.id === token);
    if (at < 0) return invalid(res, 'invalid page_token');
    start = repeatAtBorder ? at : at + 1;
  }
  sendJson(res, 200, sorted.slice(start, start + pageSize));
}

export async function startAlpacaFake(keyId: string, secret: string, initial: Partial<AlpacaFakeState> = {}): Promise<AlpacaFake> {
  const state: AlpacaFakeState = {
    fills: [],
    cash: [],
    account: { cash: '10000.5', equity: '12500.25', currency: 'USD' },
    positions: [],
    bars: {},
    cryptoBars: {},
    repeatAtBorder: false,
    ...initial,
  };
  /** docs.alpaca.markets "Historical bars" (crypto): {"bars":{"BTC/USD":[{"t","o","h","l","c","v","n","vw"}]},"next_page_token":null}. */
  const cryptoBars = (req: RecordedRequest, res: ServerResponse): void => {
    const pair = req.query.get('symbols') ?? '';
    const timeframe = req.query.get('timeframe');
    if (timeframe !== '1Hour' && timeframe !== '1Min') return invalid(res, 'invalid timeframe');
    const start = Date.parse(req.query.get('start') ?? '1970-01-01T00:00:00Z');
    const end = Date.parse(req.query.get('end') ?? '2100-01-01T00:00:00Z');
    const rows = ((timeframe === '1Min' ? state.minuteCryptoBars?.[pair] : state.cryptoBars[pair]) ?? []).filter((b) => Date.parse(b.t) >= start && Date.parse(b.t) <= end);
    const barsJson = rows.map((b) => `{"t":"${b.t}","o":${b.o},"h":${b.h},"l":${b.l},"c":${b.c},"v":${b.v},"n":1,"vw":${b.c}}`).join(',');
    sendJson(res, 200, `{"bars":{${rows.length === 0 ? '' : `"${pair}":[${barsJson}]`}},"next_page_token":null}`);
  };
  const server = await startFakeServer((req, res) => {
    // Crypto market data needs no authentication (docs.alpaca.markets, crypto pricing data): the SDK sends none.
    if (req.path === '/v1beta3/crypto/us/bars') return cryptoBars(req, res);
    if (req.headers['apca-api-key-id'] !== keyId || req.headers['apca-api-secret-key'] !== secret) return unauthorized(res);
    if (req.method !== 'GET') return sendJson(res, 405, { code: 40510000, message: 'method not allowed' });
    const path = req.path;
    if (path === '/v2/account') {
      return sendJson(res, 200, {
        id: '904837e3-3b76-47ec-b432-046db621571b',
        account_number: 'PA0000000',
        status: 'ACTIVE',
        currency: state.account.currency,
        cash: state.account.cash,
        portfolio_value: state.account.equity,
        equity: state.account.equity,
        last_equity: state.account.equity,
        buying_power: state.account.cash,
        pattern_day_trader: false,
        trading_blocked: state.account.trading_blocked ?? false,
        trade_suspended_by_user: false,
        account_blocked: state.account.account_blocked ?? false,
        transfers_blocked: false,
        multiplier: state.account.multiplier ?? '1',
        shorting_enabled: state.account.shorting_enabled ?? false,
        options_trading_level: state.account.options_trading_level ?? 0,
        crypto_status: 'ACTIVE',
        created_at: '2019-06-12T22:47:07.99658Z',
      });
    }
    if (path === '/v2/positions') {
      return sendJson(res, 200, state.positions.map((p) => ({ asset_id: randomUUID(), symbol: p.symbol, exchange: p.asset_class === 'crypto' ? 'CRYPTO' : 'NASDAQ', asset_class: p.asset_class ?? 'us_equity', qty: p.qty, side: 'long', avg_entry_price: '100.0' })));
    }
    if (path === '/v2/account/activities/FILL') return pageActivities(state.fills, req, res, state.repeatAtBorder);
    if (path === '/v2/account/activities/CSD' || path === '/v2/account/activities/CSW') {
      const type = path.slice(-3);
      return pageActivities(state.cash.filter((r) => r.activity_type === type), req, res, state.repeatAtBorder);
    }
    if (path === '/v2/account/activities') {
      const types = (req.query.get('activity_types') ?? '').split(',').filter(Boolean);
      const all = [...state.fills, ...state.cash];
      return pageActivities(types.length === 0 ? all : all.filter((r) => types.includes(r.activity_type)), req, res, state.repeatAtBorder);
    }
    const bars = /^\/v2\/stocks\/([^/]+)\/bars$/u.exec(path);
    if (bars !== null) {
      const symbol = decodeURIComponent(bars[1] ?? '');
      const timeframe = req.query.get('timeframe');
      if (timeframe !== '1Hour' && timeframe !== '1Min') return invalid(res, 'invalid timeframe');
      const limit = Number(req.query.get('limit') ?? '1000');
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return invalid(res, 'invalid limit');
      const start = Date.parse(req.query.get('start') ?? '1970-01-01T00:00:00Z');
      const end = Date.parse(req.query.get('end') ?? '2100-01-01T00:00:00Z');
      const rows = ((timeframe === '1Min' ? state.minuteBars?.[symbol] : state.bars[symbol]) ?? []).filter((b) => Date.parse(b.t) >= start && Date.parse(b.t) <= end);
      const token = req.query.get('page_token');
      const from = token === null ? 0 : Number(Buffer.from(token, 'base64').toString('utf8'));
      const page = rows.slice(from, from + limit);
      const next = from + limit < rows.length ? Buffer.from(String(from + limit)).toString('base64') : null;
      // Numbers are written as the exact text stored, the way Alpaca's JSON carries them.
      const barsJson = page.map((b) => `{"t":"${b.t}","o":${b.o},"h":${b.h},"l":${b.l},"c":${b.c},"v":${b.v},"n":1,"vw":${b.c}}`).join(',');
      return sendJson(res, 200, `{"bars":[${barsJson}],"symbol":"${symbol}","next_page_token":${next === null ? 'null' : `"${next}"`}}`);
    }
    sendJson(res, 404, { code: 40410000, message: 'endpoint not found' });
  });
  return { server, url: server.url, state, close: () => server.close() };
}

/** Alpaca's 429 body and headers, with a Retry-After in seconds. */
export function alpaca429(retryAfterSeconds: number) {
  return { kind: 'status', status: 429, body: JSON.stringify({ code: 42910000, message: 'rate limit exceeded' }), headers: { 'retry-after': String(retryAfterSeconds), 'x-ratelimit-limit': '200', 'x-ratelimit-remaining': '0' } } as const;
}

export function alpaca500() {
  return { kind: 'status', status: 500, body: JSON.stringify({ code: 50010000, message: 'internal server error' }) } as const;
}
