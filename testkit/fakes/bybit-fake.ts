// Fake Bybit v5: signed headers (X-BAPI-*), the retCode envelope, 7-day execution windows,
// newest-first pages with an opaque nextPageCursor, 30-day wallet history windows.
import { FakeVenueServer, MALFORMED_BODY, hmacSha256, header, intParam, safeEqual, type Dialect, type FakeReply, type FakeRequest, type Route } from './fake-server.js';
import { DAY_MS, HOUR_MS, candleAt, marketId, type SyntheticVenueFakeOptions, type SyntheticTransfer } from './history.js';
import type { SyntheticDerivatives } from './derivatives-history.js';

/**
 * `repeatBorderFill`: each follow-up page starts with the last record of the page before.
 * `keyInfo`: readOnly and permission sections replacing the read-only key's in GET /v5/user/query-api.
 */
export interface BybitFakeOptions extends SyntheticVenueFakeOptions {
  readonly keyInfo?: { readonly readOnly: 0 | 1; readonly permissions: Readonly<Record<string, readonly string[]>> };
  /** Contracts, executions (category linear/inverse), transaction-log rows and mark prices (none when absent). */
  readonly derivatives?: SyntheticDerivatives;
  /** GET /v5/asset/deposit/query-internal-record rows (off-chain deposits from other Bybit users). */
  readonly internalDeposits?: BybitInternalDepositRow[];
  /** GET /v5/account/transaction-log rows of the unified account. */
  readonly transactionLog?: BybitTransactionLogRow[];
  /** The funding wallet (accountType FUND) per coin, for GET /v5/asset/transfer/query-account-coins-balance. */
  readonly fundBalances?: Record<string, string>;
  /**
   * Signed position sizes per raw symbol that GET /v5/position/list reports instead of what the
   * executions add up to (a venue whose snapshot disagrees with its history).
   */
  readonly positions?: Readonly<Record<string, string>>;
}

/**
 * A row of "Get Internal Deposit Records (off-chain)", as in the response example of
 * https://bybit-exchange.github.io/docs/v5/asset/deposit/internal-deposit-record: `createdTime` in
 * seconds as a string, `type` 1 (internal), `status` 1 processing / 2 success / 3 failed.
 */
export interface BybitInternalDepositRow {
  readonly id: string; readonly amount: string; readonly type: 1; readonly coin: string; readonly address: string;
  status: 1 | 2 | 3; readonly createdTime: string; readonly txID: string;
}

/** A row of the response example of https://bybit-exchange.github.io/docs/v5/account/transaction-log (times in ms as strings). */
export interface BybitTransactionLogRow {
  readonly id: string; readonly symbol: string; readonly category: string; readonly side: string; readonly transactionTime: string; readonly type: string;
  readonly transSubType: string; readonly qty: string; readonly size: string; readonly currency: string; readonly tradePrice: string; readonly funding: string;
  readonly fee: string; readonly cashFlow: string; readonly change: string; readonly cashBalance: string; readonly feeRate: string; readonly bonusChange: string;
  readonly tradeId: string; readonly orderId: string; readonly orderLinkId: string; readonly extraFees: string;
}

/**
 * A read-only key's GET /v5/user/query-api `result`. Fields and their meaning: the response
 * parameters table of https://bybit-exchange.github.io/docs/v5/user/apikey-info (readOnly 1 =
 * read only; one array per permission section); the values are made up for the fake.
 */
export function bybitApiKeyInfo(apiKey: string, override?: BybitFakeOptions['keyInfo']): Record<string, unknown> {
  return {
    id: '13770661', note: 'track record', apiKey, readOnly: override?.readOnly ?? 1, secret: '',
    permissions: override?.permissions ?? {
      ContractTrade: ['Order', 'Position'], Spot: ['SpotTrade'], Wallet: ['AccountTransfer'], Options: ['OptionsTrade'],
      Derivatives: ['DerivativesTrade'], CopyTrading: [], BlockTrade: [], Exchange: ['ExchangeHistory'], Earn: [], NFT: [], Affiliate: [],
    },
    ips: ['*'], type: 1, deadlineDay: 83, expiredAt: '2027-02-25T00:00:00Z', createdAt: '2026-11-27T00:00:00Z', unified: 0, uta: 1,
    userID: 24617703, inviterID: 0, vipLevel: 'No VIP', mktMakerLevel: '0', affiliateID: 0, rsaPublicKey: '', isMaster: true, parentUid: '0',
    kycLevel: 'LEVEL_DEFAULT', kycRegion: '',
  };
}

const envelope = (result: unknown, retCode = 0, retMsg = 'OK'): unknown => ({ retCode, retMsg, result, retExtInfo: {}, time: Date.now() });

/** Cursor = base64 of the offset into the query's result list plus a fingerprint of the query. */
function encodeCursor(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ offset, fingerprint })).toString('base64url');
}
function decodeCursor(cursor: string, fingerprint: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { offset?: unknown; fingerprint?: unknown };
    return parsed.fingerprint === fingerprint && typeof parsed.offset === 'number' ? parsed.offset : undefined;
  } catch {
    return undefined;
  }
}

export function createBybitFake(options: BybitFakeOptions): FakeVenueServer {
  const { account } = options;
  let server: FakeVenueServer | undefined;
  const fail = (retCode: number, retMsg: string, status = 200, headers?: Record<string, string>): FakeReply => ({ status, body: envelope({}, retCode, retMsg), ...(headers === undefined ? {} : { headers }) });

  const dialect: Dialect = {
    authenticate(request) {
      const key = header(request, 'X-BAPI-API-KEY');
      if (key === undefined || !safeEqual(key, options.apiKey)) return fail(10003, 'API key is invalid.', 401);
      const timestamp = header(request, 'X-BAPI-TIMESTAMP') ?? '';
      const recvWindow = header(request, 'X-BAPI-RECV-WINDOW') ?? '5000';
      const payload = timestamp + key + recvWindow + (request.method === 'GET' ? request.rawQuery : request.body);
      if (!safeEqual(header(request, 'X-BAPI-SIGN') ?? '', hmacSha256(options.secret, payload, 'hex'))) return fail(10004, 'error sign! origin_string[redacted]');
      const skew = Date.now() - Number(timestamp);
      if (!Number.isFinite(skew) || skew > Number(recvWindow) || skew < -1000) return fail(10002, 'invalid request, please check your server timestamp or recv_window param');
      return undefined;
    },
    fault(fault) {
      switch (fault) {
        case 'rate-limit': return fail(10006, 'Too many visits!', 429, { 'Retry-After': '1' });
        case 'ip-ban': return { status: 403, raw: '<html><body>access too frequent</body></html>', headers: { 'content-type': 'text/html', 'Retry-After': '1' } };
        // Bybit answers its own rate limit with HTTP 200 and says when the window resets (1 s ahead:
        // still in the future when a loaded machine gets round to classifying the answer).
        case 'venue-rate-limit': return fail(10006, 'Too many visits!', 200, { 'X-Bapi-Limit-Status': '0', 'X-Bapi-Limit-Reset-Timestamp': String(Date.now() + 1_000) });
        case 'clock-skew': return fail(10002, 'invalid request, please check your server timestamp or recv_window param');
        case 'bad-signature': return fail(10004, 'error sign!');
        case 'server-error': return { status: 503, raw: '<html>503 Service Temporarily Unavailable</html>', headers: { 'content-type': 'text/html' } };
        case 'malformed': return { status: 200, raw: MALFORMED_BODY };
      }
    },
    notFound: () => ({ status: 404, raw: '404 page not found', headers: { 'content-type': 'text/plain' } }),
  };

  // Contract instruments: fields of https://bybit-exchange.github.io/docs/v5/market/instrument (response
  // parameters, linear/inverse); filter values made up.
  const contractInstruments = (category: string): FakeReply => ({
    status: 200,
    body: envelope({
      category, nextPageCursor: '',
      list: (options.derivatives?.contracts ?? []).filter((c) => c.category === category).map((c) => ({
        symbol: c.raw, contractType: `${category === 'linear' ? 'Linear' : 'Inverse'}${c.deliveryTime > 0 ? 'Futures' : 'Perpetual'}`, status: 'Trading',
        baseCoin: c.base, quoteCoin: c.quote, settleCoin: c.settle, launchTime: '1585526400000', deliveryTime: String(c.deliveryTime), deliveryFeeRate: '',
        priceScale: '2', leverageFilter: { minLeverage: '1', maxLeverage: '100.00', leverageStep: '0.01' },
        priceFilter: { minPrice: '0.10', maxPrice: '1999999.80', tickSize: '0.10' },
        lotSizeFilter: { maxOrderQty: '1190.000', minOrderQty: '0.001', qtyStep: '0.001', postOnlyMaxOrderQty: '1190.000', maxMktOrderQty: '500.000', minNotionalValue: '5' },
        unifiedMarginTrade: true, fundingInterval: 480, copyTrading: 'both', upperFundingRate: '0.00375', lowerFundingRate: '-0.00375', isPreListing: false,
      })),
    }),
  });

  const instruments = (request: FakeRequest): FakeReply => {
    const category = request.query.get('category') ?? 'spot';
    if (category === 'linear' || category === 'inverse') return contractInstruments(category);
    if (category !== 'spot') return fail(10001, 'params error: category invalid');
    return spotInstruments();
  };

  const spotInstruments = (): FakeReply => ({
    status: 200,
    body: envelope({
      category: 'spot', nextPageCursor: '',
      list: account.markets.map((m) => ({
        symbol: marketId(m), baseCoin: m.base, quoteCoin: m.quote, innovation: '0', status: 'Trading', marginTrading: 'none',
        lotSizeFilter: { basePrecision: '0.000001', quotePrecision: '0.00000001', minOrderQty: '0.000001', maxOrderQty: '1000', minOrderAmt: '1', maxOrderAmt: '2000000' },
        priceFilter: { tickSize: '0.000001' },
      })),
    }),
  });

  /** Window and cursor rules shared by executions and wallet history. */
  const page = <T>(request: FakeRequest, all: readonly T[], time: (item: T) => number, rules: { windowMs: number; maxLimit: number; defaultLimit: number }): FakeReply | { items: T[]; next: string } => {
    const limit = intParam(request, 'limit') ?? rules.defaultLimit;
    if (Number.isNaN(limit) || limit < 1 || limit > rules.maxLimit) return fail(10001, 'Illegal limit');
    let start = intParam(request, 'startTime');
    let end = intParam(request, 'endTime');
    if (start === undefined && end === undefined) { end = Date.now(); start = end - rules.windowMs; }
    if (start === undefined) start = (end ?? 0) - rules.windowMs;
    if (end === undefined) end = start + rules.windowMs;
    if (end - start > rules.windowMs) return fail(10001, `The time range between startTime and endTime cannot exceed ${rules.windowMs / DAY_MS} days`);
    const lo = start;
    const hi = end;
    const matching = all.filter((item) => time(item) >= lo && time(item) <= hi).sort((a, b) => time(b) - time(a)); // newest first
    const fingerprint = `${request.path}|${lo}|${hi}|${limit}`;
    const cursor = request.query.get('cursor');
    let offset = 0;
    if (cursor !== null && cursor !== '') {
      const decoded = decodeCursor(cursor, fingerprint);
      if (decoded === undefined) return fail(10001, 'cursor is invalid');
      offset = options.repeatBorderFill === true && decoded > 0 ? decoded - 1 : decoded;
    }
    const items = matching.slice(offset, offset + limit);
    const nextOffset = (cursor === null || cursor === '' ? 0 : decodeCursor(cursor, fingerprint) ?? 0) + limit;
    return { items, next: nextOffset < matching.length ? encodeCursor(nextOffset, fingerprint) : '' };
  };

  // Contract executions: fields of https://bybit-exchange.github.io/docs/v5/order/execution (response
  // parameters and example), same 7-day window, limit ≤ 100 and cursor rules as spot.
  const contractExecutions = (request: FakeRequest, category: 'linear' | 'inverse'): FakeReply => {
    const all = (options.derivatives?.executions ?? []).filter((e) => e.category === category);
    const result = page(request, all, (e) => e.time, { windowMs: 7 * DAY_MS, maxLimit: 100, defaultLimit: 50 });
    if (!('items' in result)) return result;
    return {
      status: 200,
      body: envelope({
        category, nextPageCursor: result.next,
        list: result.items.map((e) => ({
          symbol: e.raw, orderId: `ord-${e.id}`, orderLinkId: '', side: e.side, orderPrice: e.price, orderQty: e.qty, leavesQty: '0', createType: 'CreateByUser',
          orderType: 'Market', stopOrderType: '', execFee: e.fee, execId: e.id, execPrice: e.price, execQty: e.qty, execType: e.execType,
          execValue: String(Number(e.qty) * Number(e.price)), execTime: String(e.time), feeCurrency: '', isMaker: false, feeRate: '0.00055',
          tradeIv: '', markIv: '', markPrice: e.price, indexPrice: '', underlyingPrice: '', blockTradeId: '', closedSize: '0', seq: 4688002127,
        })),
      }),
    };
  };

  // Open positions: fields of the response example of https://bybit-exchange.github.io/docs/v5/position
  // (one-way mode: positionIdx 0, side Buy/Sell, size ≥ 0; inverse size in USD). The size is what the
  // executions add up to (Funding rows move nothing), unless `positions` says otherwise.
  const positionList = (request: FakeRequest): FakeReply => {
    const category = request.query.get('category');
    if (category !== 'linear' && category !== 'inverse') return fail(10001, 'category only support linear or inverse');
    const settleCoin = request.query.get('settleCoin');
    const symbol = request.query.get('symbol');
    if (category === 'linear' && settleCoin === null && symbol === null) return fail(10001, 'Either symbol or settleCoin is required');
    const contracts = (options.derivatives?.contracts ?? []).filter((c) => c.category === category && (symbol === null || c.raw === symbol) && (settleCoin === null || c.settle === settleCoin));
    const list = contracts.map((c) => {
      const summed = (options.derivatives?.executions ?? []).filter((e) => e.raw === c.raw && e.category === category && e.execType !== 'Funding')
        .reduce((s, e) => s + (e.side === 'Buy' ? 1 : -1) * Number(e.qty), 0);
      const signed = options.positions?.[c.raw] !== undefined ? Number(options.positions[c.raw]) : summed;
      return {
        positionIdx: 0, riskId: 1, riskLimitValue: '150', symbol: c.raw, side: signed > 0 ? 'Buy' : signed < 0 ? 'Sell' : '', size: String(Math.abs(signed)),
        avgPrice: '0', positionValue: '0', tradeMode: 0, positionStatus: 'Normal', autoAddMargin: 0, adlRankIndicator: 2, leverage: '10', positionBalance: '0',
        markPrice: '0', liqPrice: '', bustPrice: '', positionMM: '0', positionIM: '0', tpslMode: 'Full', takeProfit: '0', stopLoss: '0', trailingStop: '0',
        unrealisedPnl: '0', curRealisedPnl: '0', cumRealisedPnl: '0', seq: 5723621632, isReduceOnly: false, mmrSysUpdatedTime: '', leverageSysUpdatedTime: '',
        createdTime: '1676538056258', updatedTime: String(Date.now()),
      };
    }).filter((p) => symbol !== null || p.size !== '0'); // without a symbol: only open positions
    return { status: 200, body: envelope({ category, nextPageCursor: '', list }) };
  };

  // Transaction log: fields and signs of https://bybit-exchange.github.io/docs/v5/account/transaction-log
  // (funding > 0 received; fee > 0 paid; change = cashFlow + funding − fee); 7-day windows, limit ≤ 50.
  // One log per unified account: the derivatives ledger rows and the other rows (e.g. INTEREST) together.
  const transactionLog = (request: FakeRequest): FakeReply => {
    if (request.query.get('accountType') !== 'UNIFIED') return fail(10001, 'accountType only support UNIFIED');
    const n = (v: string): number => (v === '' ? 0 : Number(v));
    const ledgerRows: BybitTransactionLogRow[] = (options.derivatives?.ledger ?? []).map((r) => ({
      id: r.id, symbol: r.raw, category: r.category, side: 'None', transactionTime: String(r.time), type: r.type, transSubType: '', qty: '0', size: '0',
      currency: r.currency, tradePrice: '0', funding: r.funding, fee: r.fee, cashFlow: r.cashFlow,
      change: String(n(r.cashFlow) + n(r.funding) - n(r.fee)), cashBalance: '0', feeRate: '', bonusChange: '', tradeId: '', orderId: '', orderLinkId: '', extraFees: '',
    }));
    const type = request.query.get('type');
    const rows = [...ledgerRows, ...(options.transactionLog ?? [])]
      .filter((r) => type === null || r.type === type)
      .sort((x, y) => Number(x.transactionTime) - Number(y.transactionTime));
    const result = page(request, rows, (r) => Number(r.transactionTime), { windowMs: 7 * DAY_MS, maxLimit: 50, defaultLimit: 20 });
    if (!('items' in result)) return result;
    return { status: 200, body: envelope({ list: result.items, nextPageCursor: result.next }) };
  };

  // Mark-price kline: https://bybit-exchange.github.io/docs/v5/market/mark-kline ([startTime, open, high, low, close], newest first).
  const markKlines = (request: FakeRequest): FakeReply => {
    const raw = request.query.get('symbol') ?? '';
    const category = request.query.get('category');
    const derivatives = options.derivatives;
    if (derivatives === undefined || !derivatives.contracts.some((c) => c.raw === raw && c.category === category)) return fail(10001, 'Not supported symbols');
    if (request.query.get('interval') !== '60') return fail(10001, 'Invalid period');
    const limit = intParam(request, 'limit') ?? 200;
    if (Number.isNaN(limit) || limit < 1 || limit > 1000) return fail(10001, 'Illegal limit');
    const start = Math.ceil((intParam(request, 'start') ?? Date.now() - limit * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const end = Math.min(intParam(request, 'end') ?? Date.now(), Date.now());
    const list: string[][] = [];
    for (let t = start; t <= end && list.length < limit; t += HOUR_MS) {
      const close = derivatives.markClose(raw, t);
      list.push([String(t), close, close, close, close]);
    }
    return { status: 200, body: envelope({ category, symbol: raw, list: list.reverse() }) };
  };

  const executions = (request: FakeRequest): FakeReply => {
    const category = request.query.get('category');
    if (category === 'linear' || category === 'inverse') return contractExecutions(request, category);
    if (category !== 'spot') return fail(10001, 'params error: category invalid');
    const result = page(request, account.fills, (f) => f.time, { windowMs: 7 * DAY_MS, maxLimit: 100, defaultLimit: 50 });
    if (!('items' in result)) return result;
    server?.count('fillsServed', result.items.length);
    return {
      status: 200,
      body: envelope({
        category: 'spot', nextPageCursor: result.next,
        list: result.items.map((f) => ({
          symbol: marketId(f), orderId: String(f.orderId), orderLinkId: '', side: f.side === 'buy' ? 'Buy' : 'Sell', orderPrice: f.price, orderQty: f.qty,
          leavesQty: '0', orderType: 'Limit', stopOrderType: '', execFee: f.fee, feeCoin: f.feeAsset, execId: String(f.id), execPrice: f.price, execQty: f.qty,
          execType: 'Trade', execValue: (Number(f.qty) * Number(f.price)).toFixed(8), execTime: String(f.time), isMaker: f.maker, feeRate: '0.001',
          markPrice: '', blockTradeId: '', closedSize: '', seq: f.id,
        })),
      }),
    };
  };

  const wallet = (kind: SyntheticTransfer['kind']) => (request: FakeRequest): FakeReply => {
    // /v5/asset/withdraw/query-record: withdrawType 0 (default) on-chain only, 1 off-chain (internal) only, 2 all.
    const withdrawType = request.query.get('withdrawType') ?? '0';
    const wanted = (t: SyntheticTransfer): boolean => kind === 'deposit' || withdrawType === '2' || (withdrawType === '1') === (t.offChain === true);
    const result = page(request, account.transfers.filter((t) => t.kind === kind && wanted(t)), (t) => t.time, { windowMs: 30 * DAY_MS, maxLimit: 50, defaultLimit: 50 });
    if (!('items' in result)) return result;
    const rows = result.items.map((t) => kind === 'deposit'
      ? { id: t.id, coin: t.asset, chain: t.asset, amount: t.amount, txID: `0xdeposit${t.id}`, status: t.status === 'ok' ? 3 : 2, toAddress: '0xfake', tag: '', depositFee: '', successAt: String(t.time), confirmations: '12', txIndex: '0', blockHash: '', depositType: '0' }
      : { withdrawId: t.id, coin: t.asset, chain: t.asset, amount: t.amount, txID: `0xwithdrawal${t.id}`, status: t.status === 'ok' ? 'success' : 'Pending', toAddress: t.offChain === true ? '10284791' : '0xfake', tag: '', withdrawFee: t.fee, createTime: String(t.time), updateTime: String(t.time), withdrawType: t.offChain === true ? 1 : 0 });
    return { status: 200, body: envelope({ rows, nextPageCursor: result.next }) };
  };

  const internalDeposits = (request: FakeRequest): FakeReply => {
    const result = page(request, options.internalDeposits ?? [], (r) => Number(r.createdTime) * 1000, { windowMs: 30 * DAY_MS, maxLimit: 50, defaultLimit: 50 });
    if (!('items' in result)) return result;
    return { status: 200, body: envelope({ rows: result.items, nextPageCursor: result.next }, 0, 'success') };
  };

  // https://bybit-exchange.github.io/docs/v5/asset/balance/all-balance (response example's fields).
  const fundBalance = (request: FakeRequest): FakeReply => {
    if (request.query.get('accountType') !== 'FUND') return fail(10001, 'accountType only support FUND here');
    const balance = Object.entries(options.fundBalances ?? {}).map(([coin, amount]) => ({ coin, walletBalance: amount, transferBalance: amount, bonus: '0' }));
    return { status: 200, body: envelope({ memberId: '533285', accountType: 'FUND', balance }, 0, 'success') };
  };

  const walletBalance = (request: FakeRequest): FakeReply => {
    if (request.query.get('accountType') !== 'UNIFIED') return fail(10001, 'accountType only support UNIFIED');
    return {
      status: 200,
      body: envelope({
        list: [{
          accountType: 'UNIFIED', totalEquity: '0', totalWalletBalance: '0', totalAvailableBalance: '0',
          coin: Object.entries(account.balances).map(([coin, amount]) => ({ coin, equity: amount, walletBalance: amount, locked: '0', usdValue: '0', borrowAmount: '0', totalOrderIM: '0', totalPositionIM: '0', unrealisedPnl: '0', cumRealisedPnl: '0' })),
        }],
      }),
    };
  };

  const klines = (request: FakeRequest): FakeReply => {
    const market = account.markets.find((m) => marketId(m) === request.query.get('symbol'));
    if (market === undefined) return fail(10001, 'Not supported symbols');
    // GET /v5/market/kline interval 60 (hourly marks) or 1 (one-minute marks), per Bybit's v5 docs.
    const interval = request.query.get('interval');
    if (interval !== '60' && interval !== '1') return fail(10001, 'Invalid period');
    const step = interval === '1' ? 60_000 : HOUR_MS;
    const limit = Math.min(intParam(request, 'limit') ?? 200, 1000);
    const start = Math.ceil((intParam(request, 'start') ?? Date.now() - limit * step) / step) * step;
    const end = Math.min(intParam(request, 'end') ?? Date.now(), Date.now());
    const list: string[][] = [];
    for (let t = start; t <= end && list.length < limit; t += step) {
      const c = candleAt(market, t);
      list.push([String(t), c.open, c.high, c.low, c.close, c.volume, '0']);
    }
    return { status: 200, body: envelope({ category: 'spot', symbol: marketId(market), list: list.reverse() }) }; // newest first
  };

  const routes: Route[] = [
    { method: 'GET', path: '/v5/market/instruments-info', signed: false, handle: instruments },
    { method: 'GET', path: '/v5/market/time', signed: false, handle: () => ({ status: 200, body: envelope({ timeSecond: String(Math.floor(Date.now() / 1000)), timeNano: `${Date.now()}000000` }) }) },
    { method: 'GET', path: '/v5/market/kline', signed: false, handle: klines },
    { method: 'GET', path: '/v5/market/mark-price-kline', signed: false, handle: markKlines },
    { method: 'GET', path: '/v5/account/transaction-log', signed: true, handle: transactionLog },
    { method: 'GET', path: '/v5/account/wallet-balance', signed: true, handle: walletBalance },
    { method: 'GET', path: '/v5/execution/list', signed: true, handle: executions },
    { method: 'GET', path: '/v5/position/list', signed: true, handle: positionList },
    { method: 'GET', path: '/v5/asset/deposit/query-record', signed: true, handle: wallet('deposit') },
    { method: 'GET', path: '/v5/asset/withdraw/query-record', signed: true, handle: wallet('withdrawal') },
    { method: 'GET', path: '/v5/asset/deposit/query-internal-record', signed: true, handle: internalDeposits },
    { method: 'GET', path: '/v5/asset/transfer/query-account-coins-balance', signed: true, handle: fundBalance },
    { method: 'GET', path: '/v5/user/query-api', signed: true, handle: () => ({ status: 200, body: envelope(bybitApiKeyInfo(options.apiKey, options.keyInfo)) }) },
  ];
  server = new FakeVenueServer(dialect, routes);
  return server;
}
