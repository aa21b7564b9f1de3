// Fake Binance USDⓈ-M futures (fapi): contracts, account trades (symbol required, ≤ 7 days a query),
// income history (3 months kept), forced (liquidation) orders, mark-price klines and the futures
// wallet, with Binance's error codes. Bodies follow the response examples of
// https://developers.binance.com/docs/derivatives/usds-margined-futures (Exchange-Information,
// Account-Trade-List, Get-Income-History, Users-Force-Orders, Mark-Price-Kline-Candlestick-Data,
// Futures-Account-Balance-V2); values made up. Mounted by binance-like-fake.ts (Binance only).
// The same routes under /dapi serve COIN-M (inverse contracts, margin in the coin): userTrades takes
// a symbol or a pair (every contract of the pair), quantities are contracts of `contractSize` USD
// (100 for BTCUSD, 10 for the others), balances come from /dapi/v1/balance. Bodies follow the
// response examples of https://developers.binance.com/docs/derivatives/coin-margined-futures
// (Exchange-Information, Account-Trade-List, Get-Income-History, Users-Force-Orders,
// Mark-Price-Kline-Candlestick-Data, Futures-Account-Balance); the Account-Trade-List example
// (`BTCUSD_200626`, pair, marginAsset, baseQty) is also reproduced at
// https://developers.binance.com/docs/derivatives/portfolio-margin/trade/CM-Account-Trade-List.
import type { FakeReply, FakeRequest, Route } from './fake-server.js';
import { intParam } from './fake-server.js';
import type { SyntheticContract, SyntheticDerivatives, SyntheticExecution } from './derivatives-history.js';
import { DAY_MS, HOUR_MS } from './history.js';

/** One /fapi/v1/income row as Binance signs it (income > 0: paid to the account). */
export interface BinanceIncomeRow {
  readonly symbol: string;
  readonly incomeType: string;
  readonly income: string;
  readonly asset: string;
  readonly time: number;
  readonly tranId: number;
}

export interface BinanceFuturesHistory {
  readonly contracts: readonly SyntheticContract[];
  /** execType BustTrade / AdlTrade: the fill of a forced order (listed by /fapi/v1/forceOrders). */
  readonly trades: readonly SyntheticExecution[];
  readonly income: readonly BinanceIncomeRow[];
  /** The futures wallet (walletBalance per asset). */
  readonly wallet: Readonly<Record<string, string>>;
  readonly markClose: (raw: string, openTime: number) => string;
  /**
   * Signed positionAmt per symbol (base units; COIN-M contracts) that positionRisk reports instead
   * of what the trades add up to (a venue whose snapshot disagrees with its history).
   */
  readonly positions?: Readonly<Record<string, string>>;
}

const PERPETUAL_DELIVERY = 4_133_404_800_000;
const INCOME_KEPT_MS = 90 * DAY_MS;

/** COIN-M contract size in USD: 100 for BTCUSD contracts, 10 for every other (Binance's contract specifications). */
export function coinmContractSize(base: string): number {
  return base === 'BTC' ? 100 : 10;
}

/** `api`: 'fapi' (USDⓈ-M, linear contracts) or 'dapi' (COIN-M, inverse contracts). */
export function binanceFuturesRoutes(opened: BinanceFuturesHistory | 'not-opened', error: (status: number, code: number, msg: string) => FakeReply, api: 'fapi' | 'dapi' = 'fapi'): Route[] {
  const coinm = api === 'dapi';
  const balancePath = coinm ? '/dapi/v1/balance' : '/fapi/v2/balance';
  const positionPath = coinm ? '/dapi/v1/positionRisk' : '/fapi/v3/positionRisk';
  if (opened === 'not-opened') {
    // What Binance answers a key whose account never opened a futures account.
    const refuse = (): FakeReply => error(401, -2015, 'Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1');
    return [`/${api}/v1/userTrades`, `/${api}/v1/income`, `/${api}/v1/forceOrders`, positionPath, balancePath].map((path) => ({ method: 'GET', path, signed: true, handle: refuse }));
  }
  const history = opened;
  const category = coinm ? 'inverse' : 'linear';
  const pairOf = (raw: string): string => raw.split('_')[0]!;
  const orderIdOf = (t: SyntheticExecution): number => 8_000_000 + Number(t.id.replace(/\D/gu, ''));
  const window7 = (request: FakeRequest): { lo: number; hi: number } | FakeReply => {
    const end = intParam(request, 'endTime');
    const start = intParam(request, 'startTime');
    const hi = end ?? (start === undefined ? Date.now() : start + 7 * DAY_MS);
    const lo = start ?? hi - 7 * DAY_MS;
    if (hi - lo > 7 * DAY_MS) return error(400, -1127, 'More than 7 days between startTime and endTime.');
    return { lo, hi };
  };

  const exchangeInfo = (): FakeReply => ({
    status: 200,
    body: {
      timezone: 'UTC', serverTime: Date.now(), ...(coinm ? {} : { futuresType: 'U_MARGINED', assets: [] }), rateLimits: [], exchangeFilters: [],
      symbols: history.contracts.filter((c) => c.category === category).map((c) => ({
        symbol: c.raw, pair: coinm ? pairOf(c.raw) : c.raw, contractType: c.deliveryTime > 0 ? 'CURRENT_QUARTER' : 'PERPETUAL', deliveryDate: c.deliveryTime > 0 ? c.deliveryTime : PERPETUAL_DELIVERY,
        onboardDate: 1569398400000, ...(coinm ? { contractStatus: 'TRADING', contractSize: coinmContractSize(c.base) } : { status: 'TRADING' }), maintMarginPercent: '2.5000', requiredMarginPercent: '5.0000', baseAsset: c.base, quoteAsset: c.quote,
        marginAsset: c.settle, pricePrecision: 2, quantityPrecision: coinm ? 0 : 3, baseAssetPrecision: 8, quotePrecision: 8, ...(coinm ? { equalQtyPrecision: 4 } : {}), underlyingType: 'COIN', underlyingSubType: [],
        triggerProtect: '0.0500', liquidationFee: '0.012500', marketTakeBound: '0.05', filters: [], orderTypes: ['LIMIT', 'MARKET'], timeInForce: ['GTC'],
      })),
    },
  });

  const userTrades = (request: FakeRequest): FakeReply => {
    const symbol = request.query.get('symbol');
    // COIN-M: symbol or pair (not both); a pair returns every contract of it.
    const pair = coinm ? request.query.get('pair') : null;
    if (symbol !== null && pair !== null) return error(400, -1128, 'Combination of optional parameters invalid.');
    if ((symbol === null || symbol === '') && (pair === null || pair === '')) return error(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const matches = (raw: string): boolean => (pair !== null ? pairOf(raw) === pair : raw === symbol);
    if (!history.contracts.some((c) => matches(c.raw))) return error(400, -1121, 'Invalid symbol.');
    const limit = intParam(request, 'limit') ?? 500;
    if (Number.isNaN(limit) || limit < 1 || limit > 1000) return error(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const range = window7(request);
    if ('status' in range) return range;
    const list = history.trades.filter((t) => matches(t.raw) && t.time >= range.lo && t.time <= range.hi).sort((a, b) => a.time - b.time).slice(0, limit);
    if (coinm) {
      return {
        status: 200,
        body: list.map((t) => {
          const base = history.contracts.find((c) => c.raw === t.raw)?.base ?? 'BTC';
          return {
            symbol: t.raw, id: Number(t.id.replace(/\D/gu, '')), orderId: orderIdOf(t), pair: pairOf(t.raw), side: t.side === 'Buy' ? 'BUY' : 'SELL', price: t.price, qty: t.qty,
            realizedPnl: '0', marginAsset: base, baseQty: (Number(t.qty) * coinmContractSize(base) / Number(t.price)).toFixed(8), commission: t.fee, commissionAsset: base,
            time: t.time, positionSide: 'BOTH', buyer: t.side === 'Buy', maker: false,
          };
        }),
      };
    }
    return {
      status: 200,
      body: list.map((t) => ({
        buyer: t.side === 'Buy', commission: t.fee, commissionAsset: 'USDT', id: Number(t.id.replace(/\D/gu, '')), maker: false, orderId: orderIdOf(t),
        price: t.price, qty: t.qty, quoteQty: String(Number(t.qty) * Number(t.price)), realizedPnl: '0', side: t.side === 'Buy' ? 'BUY' : 'SELL',
        positionSide: 'BOTH', symbol: t.raw, time: t.time,
      })),
    };
  };

  const income = (request: FakeRequest): FakeReply => {
    const limit = intParam(request, 'limit') ?? 100;
    if (Number.isNaN(limit) || limit < 1 || limit > 1000) return error(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const end = intParam(request, 'endTime') ?? Date.now();
    const start = intParam(request, 'startTime') ?? end - 7 * DAY_MS;
    const kept = Date.now() - INCOME_KEPT_MS;
    const list = history.income.filter((r) => r.time >= Math.max(start, kept) && r.time <= end).sort((a, b) => a.time - b.time).slice(0, limit);
    return { status: 200, body: list.map((r) => ({ symbol: r.symbol, incomeType: r.incomeType, income: r.income, asset: r.asset, info: r.incomeType, time: r.time, tranId: r.tranId, tradeId: '' })) };
  };

  const forceOrders = (request: FakeRequest): FakeReply => {
    const limit = intParam(request, 'limit') ?? 50;
    if (Number.isNaN(limit) || limit < 1 || limit > 100) return error(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const range = window7(request);
    if ('status' in range) return range;
    const list = history.trades.filter((t) => (t.execType === 'BustTrade' || t.execType === 'AdlTrade') && t.time >= range.lo && t.time <= range.hi).slice(0, limit);
    return {
      status: 200,
      body: list.map((t) => ({
        orderId: orderIdOf(t), symbol: t.raw, status: 'FILLED', clientOrderId: t.execType === 'AdlTrade' ? `adl_autoclose-${t.id}` : `autoclose-${t.id}`, price: t.price, avgPrice: t.price,
        ...(coinm ? { pair: pairOf(t.raw) } : {}), origQty: t.qty, executedQty: t.qty, ...(coinm ? { cumBase: '0' } : { cumQuote: String(Number(t.qty) * Number(t.price)) }), timeInForce: 'IOC', type: 'LIMIT', reduceOnly: false, closePosition: false,
        side: t.side === 'Buy' ? 'BUY' : 'SELL', positionSide: 'BOTH', stopPrice: '0', workingType: 'CONTRACT_PRICE', origType: 'LIMIT', time: t.time, updateTime: t.time,
      })),
    };
  };

  const markKlines = (request: FakeRequest): FakeReply => {
    const raw = request.query.get('symbol') ?? '';
    if (!history.contracts.some((c) => c.raw === raw)) return error(400, -1121, 'Invalid symbol.');
    if (request.query.get('interval') !== '1h') return error(400, -1120, 'Invalid interval.');
    const limit = intParam(request, 'limit') ?? 500;
    if (Number.isNaN(limit) || limit < 1 || limit > 1500) return error(400, -1130, "Data sent for parameter 'limit' is not valid.");
    const start = Math.ceil((intParam(request, 'startTime') ?? Date.now() - limit * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const end = Math.min(intParam(request, 'endTime') ?? Date.now(), Date.now());
    const out: (string | number)[][] = [];
    for (let t = start; t <= end && out.length < limit; t += HOUR_MS) {
      const close = history.markClose(raw, t);
      out.push([t, close, close, close, close, '0', t + HOUR_MS - 1, '0', 60, '0', '0', '0']);
    }
    return { status: 200, body: out };
  };

  const balance = (): FakeReply => ({
    status: 200,
    body: Object.entries(history.wallet).map(([asset, amount]) => (coinm
      ? { accountAlias: 'SgsR', asset, balance: amount, withdrawAvailable: amount, crossWalletBalance: amount, crossUnPnl: '0.00000000', availableBalance: amount, updateTime: Date.now() }
      : {
        accountAlias: 'SgsR', asset, balance: amount, crossWalletBalance: amount, crossUnPnl: '0.00000000', availableBalance: amount, maxWithdrawAmount: amount,
        marginAvailable: true, updateTime: Date.now(),
      })),
  });

  // Position information: fields of the response examples of
  // https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3
  // (only symbols with a position) and …/coin-margined-futures/trade/rest-api/Position-Information
  // (positionAmt in contracts); one-way mode (positionSide BOTH). The amount is what the trades add up
  // to, unless `positions` says otherwise.
  const positionRisk = (): FakeReply => {
    const list = history.contracts.filter((c) => c.category === category).map((c) => {
      const summed = history.trades.filter((t) => t.raw === c.raw).reduce((s, t) => s + (t.side === 'Buy' ? 1 : -1) * Number(t.qty), 0);
      const amount = history.positions?.[c.raw] ?? String(summed);
      return coinm
        ? {
          symbol: c.raw, positionAmt: amount, entryPrice: '0.0', breakEvenPrice: '0.0', markPrice: history.markClose(c.raw, Math.floor(Date.now() / HOUR_MS) * HOUR_MS), unRealizedProfit: '0.00000000',
          liquidationPrice: '0', leverage: '20', maxQty: '50', marginType: 'cross', isolatedMargin: '0.00000000', isAutoAddMargin: 'false', positionSide: 'BOTH', notionalValue: '0',
          isolatedWallet: '0', updateTime: Date.now(),
        }
        : {
          symbol: c.raw, positionSide: 'BOTH', positionAmt: amount, entryPrice: '0', breakEvenPrice: '0', markPrice: history.markClose(c.raw, Math.floor(Date.now() / HOUR_MS) * HOUR_MS),
          unRealizedProfit: '0', liquidationPrice: '0', isolatedMargin: '0', notional: '0', marginAsset: c.settle, isolatedWallet: '0', initialMargin: '0', maintMargin: '0',
          positionInitialMargin: '0', openOrderInitialMargin: '0', adl: 2, bidNotional: '0', askNotional: '0', updateTime: Date.now(),
        };
    });
    // USDⓈ-M v3 lists only symbols with a position; COIN-M lists every symbol it is asked about.
    return { status: 200, body: coinm ? list : list.filter((p) => Number(p.positionAmt) !== 0) };
  };

  return [
    { method: 'GET', path: positionPath, signed: true, handle: positionRisk },
    { method: 'GET', path: `/${api}/v1/exchangeInfo`, signed: false, handle: exchangeInfo },
    { method: 'GET', path: `/${api}/v1/markPriceKlines`, signed: false, handle: markKlines },
    { method: 'GET', path: `/${api}/v1/userTrades`, signed: true, handle: userTrades },
    { method: 'GET', path: `/${api}/v1/income`, signed: true, handle: income },
    { method: 'GET', path: `/${api}/v1/forceOrders`, signed: true, handle: forceOrders },
    { method: 'GET', path: balancePath, signed: true, handle: balance },
  ];
}

/**
 * The same trader on COIN-M: BTCUSD_PERP instead of BTCUSDT, one contract (100 USD) per execution,
 * ledger amounts in BTC (the USDT amounts at 60,000 USD per BTC, 8 decimals), served under /dapi.
 */
export function binanceCoinmFrom(history: SyntheticDerivatives, wallet: Readonly<Record<string, string>>): BinanceFuturesHistory {
  const raw = 'BTCUSD_PERP';
  const inBtc = (amount: string): string => (amount === '' ? '' : (Number(amount) / 60_000).toFixed(8));
  return binanceFuturesFrom({
    contracts: [{ raw, category: 'inverse', base: 'BTC', quote: 'USD', settle: 'BTC', deliveryTime: 0 }],
    executions: history.executions.map((e) => ({ ...e, raw, category: 'inverse', qty: '1' })),
    ledger: history.ledger.map((r) => ({ ...r, raw, currency: 'BTC', cashFlow: inBtc(r.cashFlow), funding: inBtc(r.funding), fee: inBtc(r.fee) })),
    markClose: (_raw, openTime) => history.markClose('BTCUSDT', openTime),
  }, wallet);
}

/** The same perpetuals history as Binance would serve it (derivatives-history.ts syntheticPerpetuals). */
export function binanceFuturesFrom(history: SyntheticDerivatives, wallet: Readonly<Record<string, string>>): BinanceFuturesHistory {
  const income: BinanceIncomeRow[] = [];
  let tranId = 1;
  for (const row of history.ledger) {
    const push = (incomeType: string, amount: string): void => {
      if (amount !== '' && /[1-9]/u.test(amount)) income.push({ symbol: row.raw, incomeType, income: amount, asset: row.currency, time: row.time, tranId: tranId++ });
    };
    push('REALIZED_PNL', row.cashFlow);
    push('FUNDING_FEE', row.funding);
    push(row.type === 'LIQUIDATION' ? 'INSURANCE_CLEAR' : 'COMMISSION', row.fee.startsWith('-') ? row.fee.slice(1) : `-${row.fee}`);
  }
  return { contracts: history.contracts, trades: history.executions, income, wallet, markClose: history.markClose };
}
