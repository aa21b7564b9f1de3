// The fake Binance's extra account endpoints (src/exchanges/ccxt/binance-extras.ts). Each body has
// the shape of the response example in Binance's documentation (URL beside each route); rows are
// the examples' rows with their values moved into the test's time range. An account without extras
// gets the documented empty answers, so every other Binance test keeps its history.
import { intParam, type FakeReply, type FakeRequest, type Route } from './fake-server.js';
import { DAY_MS } from './history.js';

/** https://developers.binance.com/docs/convert/trade/Get-Convert-Trade-History (response example row). */
export interface ConvertRow {
  readonly quoteId: string; readonly orderId: string; readonly orderStatus: 'SUCCESS' | 'PROCESS' | 'ACCEPT_SUCCESS' | 'FAIL';
  readonly fromAsset: string; readonly fromAmount: string; readonly toAsset: string; readonly toAmount: string;
  readonly ratio: string; readonly inverseRatio: string; readonly createTime: number;
}
/** https://developers.binance.com/docs/wallet/asset/dust-log (one userAssetDribbletDetails row). */
export interface DustRow {
  readonly transId: number; readonly serviceChargeAmount: string; readonly amount: string; readonly operateTime: number;
  readonly transferedAmount: string; readonly fromAsset: string;
}
/** https://developers.binance.com/docs/simple_earn/history/Get-Flexible-Rewards-History */
export interface FlexibleRewardRow { readonly asset: string; readonly rewards: string; readonly projectId: string; readonly type: 'BONUS' | 'REALTIME' | 'REWARDS'; readonly time: number }
/** https://developers.binance.com/docs/simple_earn/history/Get-Locked-Rewards-History */
export interface LockedRewardRow { readonly positionId: string; readonly time: number; readonly asset: string; readonly lockPeriod: string; readonly amount: string }
/** https://developers.binance.com/docs/fiat/rest-api/Get-Fiat-Deposit-Withdraw-History */
export interface FiatOrderRow {
  readonly transactionType: 0 | 1; readonly orderNo: string; readonly fiatCurrency: string; readonly indicatedAmount: string; readonly amount: string;
  readonly totalFee: string; readonly method: string; status: string; readonly createTime: number; readonly updateTime: number;
}
/** https://developers.binance.com/docs/fiat/rest-api/Get-Fiat-Payments-History */
export interface FiatPaymentRow {
  readonly transactionType: 0 | 1; readonly orderNo: string; readonly sourceAmount: string; readonly fiatCurrency: string; readonly obtainAmount: string;
  readonly cryptoCurrency: string; readonly totalFee: string; readonly price: string; readonly status: string; readonly paymentMethod: string;
  readonly createTime: number; readonly updateTime: number;
}
/**
 * https://developers.binance.com/docs/margin_trading/borrow-and-repay/Get-Interest-History
 * `txId` is rendered as a bare JSON integer above 2^53, as Binance sends it (1352286576452864727 in
 * the example): two ids one apart must stay two records (ccxt's Binance parser keeps them as strings).
 */
export interface InterestRow {
  readonly txId: string; readonly interestAccuredTime: number; readonly asset: string; readonly rawAsset: string; readonly principal: string;
  readonly interest: string; readonly interestRate: string; readonly type: 'ON_BORROW' | 'PERIODIC' | 'PERIODIC_CONVERTED' | 'ON_BORROW_CONVERTED'; readonly isolatedSymbol?: string;
}

/** https://developers.binance.com/docs/wallet/asset/funding-wallet (response example row). */
export interface FundingAssetRow { readonly asset: string; readonly free: string; readonly locked: string; readonly freeze: string; readonly withdrawing: string; readonly btcValuation: string }
/** https://developers.binance.com/docs/simple_earn/account/Get-Flexible-Product-Position (fields used here and a few of the example's). */
export interface FlexiblePositionRow { readonly totalAmount: string; readonly asset: string; readonly productId: string; readonly canRedeem: boolean; readonly latestAnnualPercentageRate: string }
/** https://developers.binance.com/docs/simple_earn/account/Get-Locked-Product-Position */
export interface LockedPositionRow { readonly positionId: number; readonly projectId: string; readonly asset: string; readonly amount: string; readonly purchaseTime: string; readonly duration: string; readonly status: string }

export interface BinanceExtrasData {
  readonly funding: FundingAssetRow[];
  readonly flexiblePositions: FlexiblePositionRow[];
  readonly lockedPositions: LockedPositionRow[];
  readonly convert: ConvertRow[];
  readonly dust: DustRow[];
  readonly flexibleRewards: FlexibleRewardRow[];
  readonly lockedRewards: LockedRewardRow[];
  readonly fiatOrders: FiatOrderRow[];
  readonly fiatPayments: FiatPaymentRow[];
  readonly interest: InterestRow[];
  /** Isolated margin pairs of the account (GET /sapi/v1/margin/isolated/account), e.g. BNBUSDT. */
  readonly isolatedPairs: string[];
  /** Net assets per isolated pair, [base, quote] (zero when absent). */
  readonly isolatedNet: Record<string, readonly [string, string]>;
  /** Cross margin userAssets (GET /sapi/v1/margin/account); null: no margin account (-3003). */
  margin: CrossMarginAssetRow[] | null;
}

/** https://developers.binance.com/docs/margin_trading/account/Query-Cross-Margin-Account-Details (one userAssets row). */
export interface CrossMarginAssetRow { readonly asset: string; readonly borrowed: string; readonly free: string; readonly interest: string; readonly locked: string; readonly netAsset: string }

export function emptyBinanceExtras(): BinanceExtrasData {
  return { funding: [], flexiblePositions: [], lockedPositions: [], convert: [], dust: [], flexibleRewards: [], lockedRewards: [], fiatOrders: [], fiatPayments: [], interest: [], isolatedPairs: [], isolatedNet: {}, margin: null };
}

type Fail = (msg: string) => FakeReply;

/** [start, end] from startTime/endTime (or the fiat endpoints' beginTime), refusing spans over `maxMs`. */
function range(request: FakeRequest, fail: Fail, maxMs: number, startName = 'startTime'): readonly [number, number] | FakeReply {
  const end = intParam(request, 'endTime') ?? Date.now();
  const start = intParam(request, startName) ?? end - 30 * DAY_MS;
  if (Number.isNaN(start) || Number.isNaN(end)) return fail('Illegal characters found in parameter.');
  if (end - start > maxMs) return fail('The time range between startTime and endTime is too long.');
  return [start, end];
}

/** current/size (or page/rows) paging of newest-first rows. */
function pageOf<T>(rows: readonly T[], request: FakeRequest, pageName: string, sizeName: string, defaultSize: number, maxSize: number): T[] | undefined {
  const page = intParam(request, pageName) ?? 1;
  const size = intParam(request, sizeName) ?? defaultSize;
  if (page < 1 || size < 1 || size > maxSize) return undefined;
  return rows.slice((page - 1) * size, page * size);
}

export function binanceExtraRoutes(data: BinanceExtrasData, fail: Fail): Route[] {
  const inRange = <T>(rows: readonly T[], at: (row: T) => number, [start, end]: readonly [number, number]): T[] =>
    rows.filter((r) => at(r) >= start && at(r) <= end).sort((a, b) => at(b) - at(a));

  const convert = (request: FakeRequest): FakeReply => {
    const r = range(request, fail, 30 * DAY_MS);
    if (!Array.isArray(r)) return r as FakeReply;
    const limit = intParam(request, 'limit') ?? 100;
    if (limit < 1 || limit > 1000) return fail('Illegal limit.');
    const rows = inRange(data.convert, (c) => c.createTime, r as [number, number]);
    // orderId is a bare integer above 2^53 in Binance's body.
    const list = rows.slice(0, limit).map(({ orderId, ...rest }) => ({ ...rest, orderId: `@@${orderId}@@` }));
    return { status: 200, raw: JSON.stringify({ list, startTime: r[0], endTime: r[1], limit, moreData: rows.length > limit }).replace(/"@@(\d+)@@"/gu, '$1') };
  };

  const dust = (request: FakeRequest): FakeReply => {
    const r = range(request, fail, 90 * DAY_MS);
    if (!Array.isArray(r)) return r as FakeReply;
    const rows = inRange(data.dust, (d) => d.operateTime, r as [number, number]).slice(0, 100);
    const batches = new Map<string, DustRow[]>();
    for (const row of rows) batches.set(`${row.operateTime}`, [...(batches.get(`${row.operateTime}`) ?? []), row]);
    const userAssetDribblets = [...batches.values()].map((details) => ({
      operateTime: details[0]!.operateTime,
      totalTransferedAmount: details.reduce((s, d) => s + Number(d.transferedAmount), 0).toFixed(8),
      totalServiceChargeAmount: details.reduce((s, d) => s + Number(d.serviceChargeAmount), 0).toFixed(8),
      transId: details[0]!.transId,
      userAssetDribbletDetails: details,
    }));
    return { status: 200, body: { total: userAssetDribblets.length, userAssetDribblets } };
  };

  const flexible = (request: FakeRequest): FakeReply => {
    const type = request.query.get('type');
    if (type === null) return fail("Mandatory parameter 'type' was not sent, was empty/null, or malformed.");
    const r = range(request, fail, 92 * DAY_MS);
    if (!Array.isArray(r)) return r as FakeReply;
    const rows = inRange(data.flexibleRewards.filter((x) => type === 'ALL' || x.type === type), (x) => x.time, r as [number, number]);
    const page = pageOf(rows, request, 'current', 'size', 10, 100);
    if (page === undefined) return fail('Illegal size.');
    return { status: 200, body: { rows: page, total: rows.length } };
  };

  const locked = (request: FakeRequest): FakeReply => {
    const r = range(request, fail, 92 * DAY_MS);
    if (!Array.isArray(r)) return r as FakeReply;
    const rows = inRange(data.lockedRewards, (x) => x.time, r as [number, number]);
    const page = pageOf(rows, request, 'current', 'size', 10, 100);
    if (page === undefined) return fail('Illegal size.');
    return { status: 200, body: { rows: page, total: rows.length } };
  };

  const fiat = <T extends { transactionType: 0 | 1; createTime: number }>(rows: readonly T[]) => (request: FakeRequest): FakeReply => {
    const type = request.query.get('transactionType');
    if (type !== '0' && type !== '1') return fail("Mandatory parameter 'transactionType' was not sent, was empty/null, or malformed.");
    const r = range(request, fail, Number.MAX_SAFE_INTEGER, 'beginTime');
    if (!Array.isArray(r)) return r as FakeReply;
    const matching = inRange(rows.filter((x) => x.transactionType === Number(type)), (x) => x.createTime, r as [number, number]);
    const page = pageOf(matching, request, 'page', 'rows', 100, 500);
    if (page === undefined) return fail('Illegal rows.');
    return { status: 200, body: { code: '000000', message: 'success', data: page.map(({ transactionType: _t, ...rest }) => rest), total: matching.length, success: true } };
  };

  const interest = (request: FakeRequest): FakeReply => {
    const r = range(request, fail, 30 * DAY_MS);
    if (!Array.isArray(r)) return r as FakeReply;
    const rows = inRange(data.interest.filter((x) => x.isolatedSymbol === (request.query.get('isolatedSymbol') ?? undefined)), (x) => x.interestAccuredTime, r as [number, number]);
    const page = pageOf(rows, request, 'current', 'size', 10, 100);
    if (page === undefined) return fail('Illegal size.');
    const rendered = page.map(({ txId, ...rest }) => ({ txId: `@@${txId}@@`, ...rest }));
    return { status: 200, raw: JSON.stringify({ rows: rendered, total: rows.length }).replace(/"@@(\d+)@@"/gu, '$1') };
  };

  const positions = <T>(rows: readonly T[]) => (request: FakeRequest): FakeReply => {
    const page = pageOf(rows, request, 'current', 'size', 10, 100);
    if (page === undefined) return fail('Illegal size.');
    return { status: 200, body: { rows: page, total: rows.length } };
  };

  /**
   * https://developers.binance.com/docs/margin_trading/account/Query-Isolated-Margin-Account-Info:
   * the response example's asset entry, one per pair, balances zero.
   */
  const isolatedAsset = (asset: string, net = '0') => ({
    asset, borrowEnabled: true, borrowed: '0.00000000', free: net, interest: '0.00000000', locked: '0.00000000',
    netAsset: net, netAssetOfBtc: '0.00000000', repayEnabled: true, totalAsset: net,
  });
  // An account that never opened margin: {"code":-3003,"msg":"Margin account does not exist."} (the code ccxt's binance.js maps to BadRequest).
  const noMargin: FakeReply = { status: 400, body: { code: -3003, msg: 'Margin account does not exist.' } };
  const crossAccount = (): FakeReply => (data.margin === null ? noMargin : { status: 200, body: {
    created: true, borrowEnabled: true, marginLevel: '11.64405625', collateralMarginLevel: '3.2', totalAssetOfBtc: '6.82728457', totalLiabilityOfBtc: '0.58633215',
    totalNetAssetOfBtc: '6.24095242', TotalCollateralValueInUSDT: '5.82728457', totalOpenOrderLossInUSDT: '582.728457', tradeEnabled: true,
    transferInEnabled: true, transferOutEnabled: true, accountType: 'MARGIN_1', userAssets: data.margin,
  } });
  const isolatedAccount = (): FakeReply => (data.margin === null && data.isolatedPairs.length === 0 ? noMargin : { status: 200, body: {
    assets: data.isolatedPairs.map((symbol) => ({
      baseAsset: isolatedAsset(symbol.replace(/(USDT|BUSD|BTC)$/u, ''), data.isolatedNet[symbol]?.[0]), quoteAsset: isolatedAsset(/(USDT|BUSD|BTC)$/u.exec(symbol)?.[1] ?? 'USDT', data.isolatedNet[symbol]?.[1]),
      symbol, isolatedCreated: true, enabled: true, marginLevel: '0.00000000', marginLevelStatus: 'EXCESSIVE', marginRatio: '0.00000000',
      indexPrice: '10000.00000000', liquidatePrice: '1000.00000000', liquidateRate: '1.00000000', tradeEnabled: true,
    })),
    totalAssetOfBtc: '0.00000000', totalLiabilityOfBtc: '0.00000000', totalNetAssetOfBtc: '0.00000000',
  } });

  return [
    { method: 'GET', path: '/sapi/v1/margin/isolated/account', signed: true, handle: isolatedAccount },
    { method: 'GET', path: '/sapi/v1/margin/account', signed: true, handle: crossAccount },
    { method: 'POST', path: '/sapi/v1/asset/get-funding-asset', signed: true, handle: () => ({ status: 200, body: data.funding }) },
    { method: 'GET', path: '/sapi/v1/simple-earn/flexible/position', signed: true, handle: positions(data.flexiblePositions) },
    { method: 'GET', path: '/sapi/v1/simple-earn/locked/position', signed: true, handle: positions(data.lockedPositions) },
    { method: 'GET', path: '/sapi/v1/convert/tradeFlow', signed: true, handle: convert },
    { method: 'GET', path: '/sapi/v1/asset/dribblet', signed: true, handle: dust },
    { method: 'GET', path: '/sapi/v1/simple-earn/flexible/history/rewardsRecord', signed: true, handle: flexible },
    { method: 'GET', path: '/sapi/v1/simple-earn/locked/history/rewardsRecord', signed: true, handle: locked },
    { method: 'GET', path: '/sapi/v1/fiat/orders', signed: true, handle: fiat(data.fiatOrders) },
    { method: 'GET', path: '/sapi/v1/fiat/payments', signed: true, handle: fiat(data.fiatPayments) },
    { method: 'GET', path: '/sapi/v1/margin/interestHistory', signed: true, handle: interest },
  ];
}
