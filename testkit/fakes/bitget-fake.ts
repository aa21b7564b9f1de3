// Fake Bitget v2 (classic spot account): ACCESS-* headers with a base64 HMAC-SHA256 over
// timestamp + method + path + query, the {code, msg, data} envelope, 90-day windows, pages of at
// most 100 newest first, walked back with idLessThan. With `mix`, the v2 mix (futures) routes of
// bitget-mix-routes.ts as well.
import { addDecimal } from '../../src/domain/decimal-string.js';
import { FakeVenueServer, MALFORMED_BODY, hmacSha256, header, intParam, safeEqual, type Dialect, type FakeReply, type FakeRequest, type Route } from './fake-server.js';
import { bitgetMixRoutes, type BitgetMixHistory } from './bitget-mix-routes.js';
import { DAY_MS, HOUR_MS, candleAt, marketId, type SyntheticVenueFakeOptions, type SyntheticTransfer } from './history.js';
import { bitgetMarginRoutes, type BitgetMarginData } from './bitget-margin-routes.js';

/**
 * `repeatBorderFill`: an idLessThan page also holds the record with that id.
 * `authorities`: the key's permission codes in GET /api/v2/spot/account/info (default read only).
 */
export interface BitgetFakeOptions extends SyntheticVenueFakeOptions {
  readonly passphrase: string;
  readonly authorities?: readonly string[];
  /** Futures (v2 mix) history: contracts, fills, bills, marks, wallets (no mix routes when absent; 'denied': the key may not read them). */
  readonly mix?: BitgetMixHistory | 'denied';
  /** Margin interest records (bitget-margin-routes.ts); none by default. */
  readonly margin?: BitgetMarginData;
}

/**
 * GET /api/v2/spot/account/info `data`. Shape: the response example of
 * https://www.bitget.com/api-doc/spot/account/Get-Account-Info; the default authorities are the
 * read-only codes that page lists (its example shows the words `trade`, `readonly`).
 */
export function bitgetAccountInfo(authorities: readonly string[] = ['coor', 'cpor', 'stor', 'wtor', 'taxr']): Record<string, unknown> {
  return {
    userId: '8000000001', inviterId: '0', ips: '127.0.0.1', authorities, parentId: 8000000001,
    traderType: 'not_trader', channelCode: '', channel: '', regisTime: '1695808949356',
  };
}

const WINDOW_MS = 90 * DAY_MS;

export function createBitgetFake(options: BitgetFakeOptions): FakeVenueServer {
  const { account } = options;
  let server: FakeVenueServer | undefined;
  const ok = (data: unknown): FakeReply => ({ status: 200, body: { code: '00000', msg: 'success', requestTime: Date.now(), data } });
  const fail = (status: number, code: string, msg: string, headers?: Record<string, string>): FakeReply => ({ status, body: { code, msg, requestTime: Date.now(), data: null }, ...(headers === undefined ? {} : { headers }) });

  const dialect: Dialect = {
    authenticate(request) {
      const key = header(request, 'ACCESS-KEY');
      if (key === undefined || !safeEqual(key, options.apiKey)) return fail(400, '40037', 'Apikey does not exist');
      if (!safeEqual(header(request, 'ACCESS-PASSPHRASE') ?? '', options.passphrase)) return fail(400, '40012', 'apikey/password is incorrect');
      const timestamp = header(request, 'ACCESS-TIMESTAMP') ?? '';
      const payload = `${timestamp}${request.method}${request.path}${request.rawQuery === '' ? '' : `?${request.rawQuery}`}${request.body}`;
      if (!safeEqual(header(request, 'ACCESS-SIGN') ?? '', hmacSha256(options.secret, payload, 'base64'))) return fail(400, '40009', 'sign signature error');
      const skew = Math.abs(Date.now() - Number(timestamp));
      if (!Number.isFinite(skew) || skew > 30_000) return fail(400, '40008', 'Request timestamp expired');
      return undefined;
    },
    fault(fault) {
      switch (fault) {
        case 'rate-limit': return fail(429, '429', 'Too Many Requests', { 'Retry-After': '1' });
        case 'ip-ban': return fail(403, '403', 'Forbidden', { 'Retry-After': '1' });
        case 'venue-rate-limit': return fail(429, '429', 'Too Many Requests', { 'Retry-After': '0' });
        case 'clock-skew': return fail(400, '40008', 'Request timestamp expired');
        case 'bad-signature': return fail(400, '40009', 'sign signature error');
        case 'server-error': return { status: 503, raw: '<html>503 Service Temporarily Unavailable</html>', headers: { 'content-type': 'text/html' } };
        case 'malformed': return { status: 200, raw: MALFORMED_BODY };
      }
    },
    notFound: () => fail(404, '40404', 'Request URL NOT FOUND'),
  };

  /** Bitget's paging: a window of at most 90 days, newest first, idLessThan, limit ≤ 100. */
  const page = <T>(request: FakeRequest, all: readonly T[], id: (item: T) => number, time: (item: T) => number, rules: { requireWindow: boolean }): FakeReply | T[] => {
    const limit = intParam(request, 'limit') ?? 100;
    if (Number.isNaN(limit) || limit < 1 || limit > 100) return fail(400, '40034', 'Parameter limit error');
    let start = intParam(request, 'startTime');
    let end = intParam(request, 'endTime');
    if (rules.requireWindow && (start === undefined || end === undefined)) return fail(400, '40019', 'Parameter startTime and endTime cannot be empty');
    end ??= Date.now();
    start ??= end - WINDOW_MS;
    if (end - start > WINDOW_MS) return fail(400, '40054', 'The time interval between startTime and endTime cannot exceed 90 days');
    const lo = start;
    const hi = end;
    const below = intParam(request, 'idLessThan');
    const border = options.repeatBorderFill === true ? 1 : 0;
    return all.filter((item) => time(item) >= lo && time(item) <= hi && (below === undefined || id(item) < below + border)).sort((a, b) => id(b) - id(a)).slice(0, limit);
  };

  const fills = (request: FakeRequest): FakeReply => {
    const market = account.markets.find((m) => marketId(m) === request.query.get('symbol'));
    if (market === undefined) return fail(400, '40034', 'Parameter symbol does not exist');
    const result = page(request, account.fills.filter((f) => f.base === market.base && f.quote === market.quote), (f) => f.id, (f) => f.time, { requireWindow: false });
    if (!Array.isArray(result)) return result;
    server?.count('fillsServed', result.length);
    return ok(result.map((f) => ({
      userId: '8000000001', symbol: marketId(f), orderId: String(f.orderId), tradeId: String(f.id), orderType: 'limit', side: f.side,
      priceAvg: f.price, size: f.qty, amount: (Number(f.qty) * Number(f.price)).toFixed(8),
      // A fee paid is negative in totalFee; a maker rebate (a negative fee here) is positive.
      feeDetail: { deduction: 'no', feeCoin: f.feeAsset, totalDeductionFee: '', totalFee: f.fee.startsWith('-') ? f.fee.slice(1) : `-${f.fee}` },
      tradeScope: f.maker ? 'maker' : 'taker', cTime: String(f.time), uTime: String(f.time),
    })));
  };

  const wallet = (kind: SyntheticTransfer['kind']) => (request: FakeRequest): FakeReply => {
    const result = page(request, account.transfers.filter((t) => t.kind === kind), (t) => Number(t.id), (t) => t.time, { requireWindow: true });
    if (!Array.isArray(result)) return result;
    return ok(result.map((t) => ({
      orderId: t.id, tradeId: `0x${kind}${t.id}`, coin: t.asset, type: kind === 'deposit' ? 'deposit' : 'withdraw', dest: 'on_chain', chain: t.asset,
      // Bitget's size is gross: ccxt subtracts the fee.
      size: kind === 'withdrawal' ? addDecimal(t.amount, t.fee) : t.amount, ...(kind === 'withdrawal' ? { fee: `-${t.fee}` } : {}),
      status: t.status === 'ok' ? 'success' : 'pending', toAddress: '0xfake', fromAddress: '0xsource', confirm: '12', cTime: String(t.time), uTime: String(t.time),
    })));
  };

  const candles = (request: FakeRequest): FakeReply => {
    const market = account.markets.find((m) => marketId(m) === request.query.get('symbol'));
    if (market === undefined) return fail(400, '40034', 'Parameter symbol does not exist');
    // GET /api/v2/spot/market/candles granularity 1h (hourly marks) or 1min (one-minute marks), per Bitget's v2 docs.
    const granularity = request.query.get('granularity');
    if (granularity !== '1h' && granularity !== '1min') return fail(400, '40034', 'Parameter granularity error');
    const step = granularity === '1min' ? 60_000 : HOUR_MS;
    const limit = Math.min(intParam(request, 'limit') ?? 100, 1000);
    const end = Math.min(intParam(request, 'endTime') ?? Date.now(), Date.now());
    const start = Math.ceil((intParam(request, 'startTime') ?? end - limit * step) / step) * step;
    const rows: string[][] = [];
    for (let t = start; t <= end && rows.length < limit; t += step) {
      const c = candleAt(market, t);
      rows.push([String(t), c.open, c.high, c.low, c.close, c.volume, '0', '0']);
    }
    return ok(rows);
  };

  const routes: Route[] = [
    {
      method: 'GET', path: '/api/v2/spot/public/symbols', signed: false, handle: () => ok(account.markets.map((m) => ({
        symbol: marketId(m), baseCoin: m.base, quoteCoin: m.quote, minTradeAmount: '0', maxTradeAmount: '10000000000', takerFeeRate: '0.001', makerFeeRate: '0.001',
        pricePrecision: '6', quantityPrecision: '6', quotePrecision: '8', status: 'online', minTradeUSDT: '1', buyLimitPriceRatio: '0.05', sellLimitPriceRatio: '0.05', areaSymbol: 'no', orderQuantity: '200', openTime: '',
      }))),
    },
    { method: 'GET', path: '/api/v2/margin/currencies', signed: false, handle: () => ok([]) },
    { method: 'GET', path: '/api/v2/public/time', signed: false, handle: () => ok({ serverTime: String(Date.now()) }) },
    { method: 'GET', path: '/api/v2/spot/market/candles', signed: false, handle: candles },
    { method: 'GET', path: '/api/v2/spot/market/history-candles', signed: false, handle: candles },
    {
      method: 'GET', path: '/api/v2/spot/account/assets', signed: true,
      handle: () => ok(Object.entries(account.balances).map(([coin, available]) => ({ coin, available, frozen: '0', locked: '0', limitAvailable: '0', uTime: String(Date.now()) }))),
    },
    { method: 'GET', path: '/api/v2/spot/trade/fills', signed: true, handle: fills },
    { method: 'GET', path: '/api/v2/spot/wallet/deposit-records', signed: true, handle: wallet('deposit') },
    { method: 'GET', path: '/api/v2/spot/wallet/withdrawal-records', signed: true, handle: wallet('withdrawal') },
    { method: 'GET', path: '/api/v2/spot/account/info', signed: true, handle: () => ok(bitgetAccountInfo(options.authorities)) },
    ...(options.mix === undefined ? [] : bitgetMixRoutes(options.mix, { ok, fail: (status, code, msg) => fail(status, code, msg) }, (name, by) => server?.count(name, by))),
    ...bitgetMarginRoutes(options.margin ?? { crossed: [], isolated: [] }, ok, fail),
  ];
  server = new FakeVenueServer(dialect, routes);
  return server;
}
