// Fake Binance and fake MEXC. MEXC's spot v3 API is a copy of Binance's (same paths under /api/v3,
// same HMAC-SHA256 query signature and error shape); they differ in the key header, the error
// codes, page limits, and where wallet history lives. Those differences are the Flavor.
import { FakeVenueServer, MALFORMED_BODY, hmacSha256, header, intParam, safeEqual, type Dialect, type FakeReply, type FakeRequest, type Route } from './fake-server.js';
import { addDecimal } from '../../src/domain/decimal-string.js';
import { binanceExtraRoutes, emptyBinanceExtras, type BinanceExtrasData } from './binance-extras-fake.js';
import { DAY_MS, HOUR_MS, candleAt, marketId, type SyntheticVenueFakeOptions, type SyntheticFill, type SyntheticTransfer } from './history.js';
import { binanceFuturesRoutes, type BinanceFuturesHistory } from './binance-futures-routes.js';
import { MEXC_CONTRACT_PRIVATE, mexcContractAuthenticate, mexcContractRoutes, type MexcContractHistory } from './mexc-contract-routes.js';

const MINUTE_MS = 60_000;

interface Flavor {
  readonly keyHeader: string;
  readonly codes: { readonly rateLimit: number; readonly timestamp: number; readonly signature: number; readonly badKey: number; readonly invalidParam: number; readonly ban: number };
  readonly tradeLimit: { readonly default: number; readonly max: number };
  /** Binance pages myTrades by fromId; MEXC has only time ranges. */
  readonly fromId: boolean;
  readonly walletPrefix: string;
  readonly transferWindowMs: number;
  readonly depositStatus: Record<SyntheticTransfer['status'], number>;
  readonly withdrawalStatus: Record<SyntheticTransfer['status'], number>;
  /** Binance: "2019-10-12 11:12:02"; MEXC: epoch ms. */
  readonly withdrawalTime: (ms: number) => string | number;
}

const FLAVORS = {
  binance: {
    keyHeader: 'X-MBX-APIKEY',
    codes: { rateLimit: -1003, timestamp: -1021, signature: -1022, badKey: -2015, invalidParam: -1127, ban: -1003 },
    tradeLimit: { default: 500, max: 1000 },
    fromId: true,
    walletPrefix: '/sapi/v1/capital',
    transferWindowMs: 90 * DAY_MS,
    depositStatus: { ok: 1, pending: 0 },
    withdrawalStatus: { ok: 6, pending: 4 },
    withdrawalTime: (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19),
  },
  mexc: {
    keyHeader: 'X-MEXC-APIKEY',
    codes: { rateLimit: 429, timestamp: 700003, signature: 700002, badKey: 10072, invalidParam: 700004, ban: 429 },
    tradeLimit: { default: 100, max: 100 },
    fromId: false,
    walletPrefix: '/api/v3/capital',
    transferWindowMs: 7 * DAY_MS,
    depositStatus: { ok: 5, pending: 4 },
    withdrawalStatus: { ok: 7, pending: 4 },
    withdrawalTime: (ms: number) => ms,
  },
} satisfies Record<string, Flavor>;

export type BinanceLikeVenue = keyof typeof FLAVORS;

/**
 * `repeatBorderFill`: each fromId page starts with the last fill of the page before.
 * `apiRestrictions`: flags overriding the read-only key's answer (Binance only; MEXC has no such endpoint).
 */
export interface BinanceLikeFakeOptions extends SyntheticVenueFakeOptions {
  readonly apiRestrictions?: Readonly<Record<string, boolean>>;
  /** Minutes (start, ms) in which no trade happened: the venue has no 1m bar for them. */
  readonly minutesWithoutBars?: readonly number[];
  /**
   * USDⓈ-M futures history served under /fapi (Binance only; binance-futures-routes.ts);
   * 'not-opened': an account without a futures account (signed fapi calls answer -2015).
   */
  readonly futures?: BinanceFuturesHistory | 'not-opened';
  /** MEXC futures (contract API) history (MEXC only; mexc-contract-routes.ts). */
  readonly contract?: MexcContractHistory | 'denied';
  /**
   * COIN-M futures history served under /dapi (inverse contracts; same shape, quantities in contracts).
   * Absent while `futures` is set: an account without COIN-M (dapi answers -2015).
   */
  readonly coinm?: BinanceFuturesHistory | 'not-opened';
  /** Convert, dust, Earn rewards, fiat and margin interest history (Binance only; empty when absent). */
  readonly extras?: BinanceExtrasData;
}

/**
 * A read-only key's GET /sapi/v1/account/apiRestrictions. Body: the response example of
 * https://developers.binance.com/docs/wallet/account/api-key-permission (English page), with
 * enablePortfolioMarginTrading turned false (the example's key has it on: it could trade).
 */
export const BINANCE_READ_ONLY_RESTRICTIONS = {
  ipRestrict: false,
  createTime: 1698645219000,
  enableReading: true,
  enableWithdrawals: false,
  enableInternalTransfer: false,
  enableMargin: false,
  enableFutures: false,
  permitsUniversalTransfer: false,
  enableVanillaOptions: false,
  enableFixApiTrade: false,
  enableFixReadOnly: true,
  enableSpotAndMarginTrading: false,
  enablePortfolioMarginTrading: false,
} as const;

const RECV_WINDOW_DEFAULT = 5000;

export function createBinanceLikeFake(venue: BinanceLikeVenue, options: BinanceLikeFakeOptions): FakeVenueServer {
  const flavor: Flavor = FLAVORS[venue];
  let server: FakeVenueServer | undefined;
  const { account } = options;
  const error = (status: number, code: number, msg: string, headers?: Record<string, string>): FakeReply => ({ status, body: { code, msg }, ...(headers === undefined ? {} : { headers }) });
  const invalid = (msg: string): FakeReply => error(400, flavor.codes.invalidParam, msg);

  const dialect: Dialect = {
    authenticate(request) {
      // MEXC's contract API signs with its own headers.
      if (venue === 'mexc' && request.path.startsWith(MEXC_CONTRACT_PRIVATE)) return mexcContractAuthenticate(request, options.apiKey, options.secret);
      const key = header(request, flavor.keyHeader);
      if (key === undefined || !safeEqual(key, options.apiKey)) return error(401, flavor.codes.badKey, 'Invalid API-key, IP, or permissions for action.');
      // A signed POST carries its parameters and signature form-encoded in the body (ccxt's Binance does).
      const raw = request.method === 'POST' && request.rawQuery === '' ? request.body : request.rawQuery;
      const params = { query: new URLSearchParams(raw) } as FakeRequest;
      const signature = params.query.get('signature');
      const signed = raw.replace(/&?signature=[^&]*/u, '');
      if (signature === null || !safeEqual(signature, hmacSha256(options.secret, signed, 'hex'))) return error(400, flavor.codes.signature, 'Signature for this request is not valid.');
      const timestamp = intParam(params, 'timestamp');
      const recvWindow = intParam(params, 'recvWindow') ?? RECV_WINDOW_DEFAULT;
      const now = Date.now();
      if (timestamp === undefined || Number.isNaN(timestamp) || timestamp > now + 1000 || now - timestamp > recvWindow) {
        return error(400, flavor.codes.timestamp, 'Timestamp for this request is outside of the recvWindow.');
      }
      return undefined;
    },
    fault(fault) {
      switch (fault) {
        case 'rate-limit': return error(429, flavor.codes.rateLimit, 'Too many requests; current limit of IP is 6000 requests per minute.', { 'Retry-After': '1' });
        case 'ip-ban': return error(418, flavor.codes.ban, 'Way too many requests; IP banned until later.', { 'Retry-After': '1' });
        case 'venue-rate-limit': return error(429, flavor.codes.rateLimit, 'Too much request weight used.', { 'Retry-After': '0' });
        case 'clock-skew': return error(400, flavor.codes.timestamp, 'Timestamp for this request was 1000ms ahead of the server\'s time.');
        case 'bad-signature': return error(400, flavor.codes.signature, 'Signature for this request is not valid.');
        case 'server-error': return { status: 503, raw: 'Service Unavailable', headers: { 'content-type': 'text/plain' } };
        case 'malformed': return { status: 200, raw: MALFORMED_BODY };
      }
    },
    notFound: () => ({ status: 404, raw: '<html><body><h1>404 Not Found</h1></body></html>', headers: { 'content-type': 'text/html' } }),
  };

  const marketFor = (symbol: string | null) => account.markets.find((m) => marketId(m) === symbol);

  const exchangeInfo = (): FakeReply => ({
    status: 200,
    body: {
      timezone: 'UTC', serverTime: Date.now(), rateLimits: [], exchangeFilters: [],
      symbols: account.markets.map((m) => ({
        symbol: marketId(m), status: venue === 'mexc' ? '1' : 'TRADING', baseAsset: m.base, quoteAsset: m.quote,
        baseAssetPrecision: 8, quotePrecision: 8, quoteAssetPrecision: 8, baseCommissionPrecision: 8, quoteCommissionPrecision: 8,
        orderTypes: ['LIMIT', 'MARKET'], isSpotTradingAllowed: true, isMarginTradingAllowed: false,
        permissions: ['SPOT'], permissionSets: [['SPOT']], filters: [],
        makerCommission: '0.001', takerCommission: '0.001', baseSizePrecision: '0.000001', quoteAmountPrecision: '1',
      })),
    },
  });

  const renderTrade = (f: SyntheticFill) => ({
    symbol: marketId(f), id: f.id, orderId: f.orderId, orderListId: -1, price: f.price, qty: f.qty,
    quoteQty: (Number(f.qty) * Number(f.price)).toFixed(8), commission: f.fee, commissionAsset: f.feeAsset,
    time: f.time, isBuyer: f.side === 'buy', isMaker: f.maker, isBestMatch: true,
  });

  const myTrades = (request: FakeRequest): FakeReply => {
    const market = marketFor(request.query.get('symbol'));
    if (market === undefined) return error(400, -1121, 'Invalid symbol.');
    const limit = intParam(request, 'limit') ?? flavor.tradeLimit.default;
    if (Number.isNaN(limit) || limit < 1 || limit > flavor.tradeLimit.max) return invalid(`Illegal limit; legal range is '1' to '${flavor.tradeLimit.max}'.`);
    const fromId = flavor.fromId ? intParam(request, 'fromId') : undefined;
    const startTime = intParam(request, 'startTime');
    let endTime = intParam(request, 'endTime');
    if (fromId !== undefined && (startTime !== undefined || endTime !== undefined)) return error(400, -1128, 'Combination of optional parameters invalid.');
    if (startTime !== undefined && endTime !== undefined && endTime - startTime > DAY_MS) return invalid('More than 24 hours between startTime and endTime.');
    const ofMarket = account.fills.filter((f) => f.base === market.base && f.quote === market.quote).sort((a, b) => a.id - b.id);
    let page: SyntheticFill[];
    if (fromId !== undefined) {
      const start = ofMarket.findIndex((f) => f.id >= fromId);
      const from = start < 0 ? ofMarket.length : options.repeatBorderFill === true && start > 0 ? start - 1 : start;
      page = ofMarket.slice(from, from + limit);
    } else if (startTime !== undefined || endTime !== undefined) {
      if (startTime !== undefined && endTime === undefined) endTime = startTime + DAY_MS;
      const lo = startTime ?? (endTime ?? 0) - DAY_MS;
      const hi = endTime ?? lo + DAY_MS;
      page = ofMarket.filter((f) => f.time >= lo && f.time <= hi).slice(0, limit);
    } else {
      page = ofMarket.slice(-limit); // most recent
    }
    server?.count('fillsServed', page.length);
    return { status: 200, body: page.map(renderTrade) };
  };

  const transfersIn = (request: FakeRequest, kind: SyntheticTransfer['kind']): SyntheticTransfer[] | FakeReply => {
    const now = Date.now();
    const endTime = intParam(request, 'endTime') ?? now;
    const startTime = intParam(request, 'startTime') ?? endTime - flavor.transferWindowMs;
    if (endTime - startTime > flavor.transferWindowMs) return invalid('The time range between startTime and endTime is too long.');
    const limit = intParam(request, 'limit') ?? 1000;
    if (limit < 1 || limit > 1000) return invalid('Illegal limit.');
    return account.transfers.filter((t) => t.kind === kind && t.time >= startTime && t.time <= endTime).sort((a, b) => b.time - a.time).slice(0, limit); // newest first
  };

  const deposits = (request: FakeRequest): FakeReply => {
    const list = transfersIn(request, 'deposit');
    if (!Array.isArray(list)) return list;
    return {
      status: 200,
      body: list.map((t) => ({
        ...(venue === 'binance' ? { id: t.id } : {}), amount: t.amount, coin: t.asset, network: t.asset, status: flavor.depositStatus[t.status],
        address: '0xfake', addressTag: '', txId: `0xdeposit${t.id}`, insertTime: t.time, transferType: 0, confirmTimes: '12/12', unlockConfirm: 0, walletType: 0,
      })),
    };
  };

  const withdrawals = (request: FakeRequest): FakeReply => {
    const list = transfersIn(request, 'withdrawal');
    if (!Array.isArray(list)) return list;
    return {
      status: 200,
      body: list.map((t) => ({
        // MEXC reports the gross amount (fee included), Binance the amount sent.
        id: t.id, amount: venue === 'mexc' ? addDecimal(t.amount, t.fee) : t.amount, transactionFee: t.fee, coin: t.asset, status: flavor.withdrawalStatus[t.status], address: '0xfake',
        txId: `0xwithdrawal${t.id}`, applyTime: flavor.withdrawalTime(t.time), network: t.asset, transferType: 0, confirmNo: 12, walletType: 0,
      })),
    };
  };

  const accountInfo = (): FakeReply => ({
    status: 200,
    body: {
      makerCommission: 10, takerCommission: 10, canTrade: true, canWithdraw: true, canDeposit: true, updateTime: Date.now(), accountType: 'SPOT',
      balances: Object.entries(account.balances).map(([asset, free]) => ({ asset, free, locked: '0' })), permissions: ['SPOT'],
    },
  });

  const klines = (request: FakeRequest): FakeReply => {
    const market = marketFor(request.query.get('symbol'));
    if (market === undefined) return error(400, -1121, 'Invalid symbol.');
    const interval = request.query.get('interval');
    // GET /api/v3/klines interval=1m (Binance Spot API "Kline/Candlestick data"; MEXC names it 1m
    // too): bars from startTime on, a minute without trades has none (the next bar comes first).
    if (interval === '1m') return minuteKlines(request, market);
    if (interval !== (venue === 'mexc' ? '60m' : '1h')) return invalid('Invalid interval.');
    const limit = Math.min(intParam(request, 'limit') ?? 500, 1000);
    const start = Math.ceil((intParam(request, 'startTime') ?? Date.now() - limit * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const end = Math.min(intParam(request, 'endTime') ?? Date.now(), Date.now());
    const rows: (string | number)[][] = [];
    for (let t = start; t <= end && rows.length < limit; t += HOUR_MS) {
      const c = candleAt(market, t);
      rows.push([t, c.open, c.high, c.low, c.close, c.volume, t + HOUR_MS - 1, '0', 0, '0', '0', '0']);
    }
    return { status: 200, body: rows };
  };

  const minuteKlines = (request: FakeRequest, market: NonNullable<ReturnType<typeof marketFor>>): FakeReply => {
    const limit = Math.min(intParam(request, 'limit') ?? 500, 1000);
    const start = Math.ceil((intParam(request, 'startTime') ?? Date.now() - limit * MINUTE_MS) / MINUTE_MS) * MINUTE_MS;
    const end = Math.min(intParam(request, 'endTime') ?? Date.now(), Date.now());
    const gaps = new Set(options.minutesWithoutBars ?? []);
    const rows: (string | number)[][] = [];
    for (let t = start; t <= end && rows.length < limit; t += MINUTE_MS) {
      if (gaps.has(t)) continue;
      const c = candleAt(market, t);
      rows.push([t, c.open, c.high, c.low, c.close, c.volume, t + MINUTE_MS - 1, '0', 0, '0', '0', '0']);
    }
    return { status: 200, body: rows };
  };

  const routes: Route[] = [
    { method: 'GET', path: '/api/v3/exchangeInfo', signed: false, handle: exchangeInfo },
    { method: 'GET', path: '/api/v3/time', signed: false, handle: () => ({ status: 200, body: { serverTime: Date.now() } }) },
    { method: 'GET', path: '/api/v3/klines', signed: false, handle: klines },
    { method: 'GET', path: '/api/v3/account', signed: true, handle: accountInfo },
    { method: 'GET', path: '/api/v3/myTrades', signed: true, handle: myTrades },
    { method: 'GET', path: `${flavor.walletPrefix}/deposit/hisrec`, signed: true, handle: deposits },
    { method: 'GET', path: `${flavor.walletPrefix}/withdraw/history`, signed: true, handle: withdrawals },
    ...(venue === 'binance'
      ? [
        { method: 'GET', path: '/sapi/v1/account/apiRestrictions', signed: true, handle: () => ({ status: 200, body: { ...BINANCE_READ_ONLY_RESTRICTIONS, ...options.apiRestrictions } }) } as const,
        ...binanceExtraRoutes(options.extras ?? emptyBinanceExtras(), invalid),
      ]
      : []),
    ...(venue === 'binance' && options.futures !== undefined ? binanceFuturesRoutes(options.futures, error) : []),
    ...(venue === 'mexc' && options.contract !== undefined ? mexcContractRoutes(options.contract, (name, by) => server?.count(name, by)) : []),
    ...(venue === 'binance' && (options.coinm ?? options.futures) !== undefined ? binanceFuturesRoutes(options.coinm ?? 'not-opened', error, 'dapi') : []),
  ];
  server = new FakeVenueServer(dialect, routes);
  return server;
}
