// Fake Bitget v2 mix (futures) routes, mounted by bitget-fake.ts: contracts, fill history
// (startTime/endTime at most 7 days apart, 90 days kept, newest first, idLessThan/endId paging),
// account bills (30-day spans, 90 days kept, same paging), history mark candles (1H, limit ≤ 200)
// and the futures wallets, in Bitget's `{code:"00000", msg, requestTime, data}` envelope with its
// parameter error codes. Bodies follow the response examples of
// https://www.bitget.com/api-doc/contract/trade/Get-Fill-History,
// https://www.bitget.com/api-doc/contract/account/Get-Account-Bill,
// https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts,
// https://www.bitget.com/api-doc/contract/market/Get-History-Mark-Candle-Data and
// https://www.bitget.com/api-doc/contract/account/Get-Account-List; values made up.
import type { FakeReply, FakeRequest, Route } from './fake-server.js';
import { intParam } from './fake-server.js';
import type { SyntheticDerivatives } from './derivatives-history.js';
import { DAY_MS, HOUR_MS } from './history.js';

export type BitgetProductType = 'USDT-FUTURES' | 'COIN-FUTURES' | 'USDC-FUTURES';

export interface BitgetContract {
  readonly raw: string;
  readonly productType: BitgetProductType;
  readonly base: string;
  readonly quote: string;
}

export interface BitgetFillRow {
  /** Numeric, increasing with time (Bitget's ids are). */
  readonly tradeId: number;
  readonly raw: string;
  readonly productType: BitgetProductType;
  /** open_long, close_long, open_short, close_short, burst_close_long, buy_single, … */
  readonly tradeSide: string;
  readonly price: string;
  readonly baseVolume: string;
  /** Signed as Bitget signs it (< 0 paid). */
  readonly fee: string;
  readonly time: number;
}

export interface BitgetBillRow {
  readonly billId: number;
  readonly raw: string;
  readonly productType: BitgetProductType;
  readonly businessType: string;
  /** Signed: > 0 paid to the account. */
  readonly amount: string;
  readonly fee: string;
  readonly coin: string;
  readonly time: number;
}

export interface BitgetMixHistory {
  readonly contracts: readonly BitgetContract[];
  readonly fills: readonly BitgetFillRow[];
  readonly bills: readonly BitgetBillRow[];
  /** Wallet balance per product type and margin coin (accountEquity − unrealizedPL). */
  readonly wallets: Readonly<Partial<Record<BitgetProductType, Readonly<Record<string, string>>>>>;
  readonly markClose: (raw: string, openTime: number) => string;
}

const KEPT_MS = 90 * DAY_MS;
const PRODUCT_TYPES = new Set(['USDT-FUTURES', 'COIN-FUTURES', 'USDC-FUTURES']);

/**
 * 'denied': a key without futures read access: every signed mix route answers 40014 (Incorrect
 * permissions), the public ones serve no contracts.
 */
export function bitgetMixRoutes(mix: BitgetMixHistory | 'denied', reply: { ok: (data: unknown) => FakeReply; fail: (status: number, code: string, msg: string) => FakeReply }, served: (name: string, by: number) => void): Route[] {
  const { ok, fail } = reply;
  const history: BitgetMixHistory = mix === 'denied' ? { contracts: [], fills: [], bills: [], wallets: {}, markClose: () => '0' } : mix;
  const denied = (handle: (request: FakeRequest) => FakeReply) => (request: FakeRequest): FakeReply => (mix === 'denied' ? fail(400, '40014', 'Incorrect permissions') : handle(request));
  const productTypeOf = (request: FakeRequest): string | FakeReply => {
    const productType = (request.query.get('productType') ?? '').toUpperCase();
    if (productType === '') return fail(400, '40019', 'Parameter productType cannot be empty');
    if (!PRODUCT_TYPES.has(productType)) return fail(400, '40034', 'Parameter productType does not exist');
    return productType;
  };

  /** Bitget's window rules: span ≤ maxSpan (defaults fill it), nothing older than 90 days, newest first, idLessThan, limit ≤ 100. */
  const page = <T>(request: FakeRequest, all: readonly T[], id: (item: T) => number, time: (item: T) => number, maxSpanMs: number, spanText: string): FakeReply | { list: T[]; endId: string | null } => {
    const limit = intParam(request, 'limit') ?? 100;
    if (Number.isNaN(limit) || limit < 1 || limit > 100) return fail(400, '40034', 'Parameter limit error');
    let start = intParam(request, 'startTime');
    let end = intParam(request, 'endTime');
    end ??= start === undefined ? Date.now() : start + maxSpanMs;
    start ??= end - maxSpanMs;
    if (Number.isNaN(start) || Number.isNaN(end)) return fail(400, '40034', 'Parameter startTime or endTime error');
    if (end - start > maxSpanMs) return fail(400, '40054', `The time interval between startTime and endTime cannot exceed ${spanText}`);
    const lo = Math.max(start, Date.now() - KEPT_MS);
    const hi = end;
    const below = intParam(request, 'idLessThan');
    const list = all.filter((item) => time(item) >= lo && time(item) <= hi && (below === undefined || id(item) < below)).sort((a, b) => id(b) - id(a)).slice(0, limit);
    return { list, endId: list.length === 0 ? null : String(id(list[list.length - 1]!)) };
  };

  const contracts = (request: FakeRequest): FakeReply => {
    const productType = productTypeOf(request);
    if (typeof productType !== 'string') return productType;
    return ok(history.contracts.filter((c) => c.productType === productType).map((c) => ({
      symbol: c.raw, baseCoin: c.base, quoteCoin: c.quote, buyLimitPriceRatio: '0.9', sellLimitPriceRatio: '0.9', feeRateUpRatio: '0.1', makerFeeRate: '0.0004',
      takerFeeRate: '0.0006', openCostUpRatio: '0.1', supportMarginCoins: [productType === 'COIN-FUTURES' ? c.base : c.quote], minTradeNum: '0.01', priceEndStep: '1',
      volumePlace: '2', pricePlace: '1', sizeMultiplier: '0.01', symbolType: 'perpetual', minTradeUSDT: '5', maxSymbolOrderNum: '999999', maxProductOrderNum: '999999',
      maxPositionNum: '150', symbolStatus: 'normal', offTime: '-1', limitOpenTime: '-1', deliveryTime: '', deliveryStartTime: '', deliveryPeriod: '', launchTime: '',
      fundInterval: '8', minLever: '1', maxLever: '125', posLimit: '0.05', maintainTime: '',
    })));
  };

  const fills = (request: FakeRequest): FakeReply => {
    const productType = productTypeOf(request);
    if (typeof productType !== 'string') return productType;
    const symbol = request.query.get('symbol');
    const result = page(request, history.fills.filter((f) => f.productType === productType && (symbol === null || f.raw === symbol)), (f) => f.tradeId, (f) => f.time, 7 * DAY_MS, '7 days');
    if (!('list' in result)) return result;
    served('futuresFillsServed', result.list.length);
    const coinOf = (f: BitgetFillRow): string => history.contracts.find((c) => c.raw === f.raw && c.productType === f.productType)?.[productType === 'COIN-FUTURES' ? 'base' : 'quote'] ?? 'USDT';
    return ok({
      // Bitget answers an empty page with fillList null.
      fillList: result.list.length === 0 ? null : result.list.map((f) => ({
        tradeId: String(f.tradeId), symbol: f.raw, orderId: String(f.tradeId + 7_000_000), price: f.price, baseVolume: f.baseVolume,
        feeDetail: [{ deduction: 'no', feeCoin: coinOf(f), totalDeductionFee: '0', totalFee: f.fee }],
        // side: buy/sell as in the hedge-mode example (the position's side there); the reader uses tradeSide.
        side: f.tradeSide.includes('long') || f.tradeSide.includes('buy') ? 'buy' : 'sell',
        quoteVolume: String(Number(f.price) * Number(f.baseVolume)), profit: '0', enterPointSource: 'api', tradeSide: f.tradeSide,
        posMode: f.tradeSide.endsWith('single') ? 'one_way_mode' : 'hedge_mode', tradeScope: 'taker', cTime: String(f.time),
      })),
      endId: result.endId,
    });
  };

  const bills = (request: FakeRequest): FakeReply => {
    const productType = productTypeOf(request);
    if (typeof productType !== 'string') return productType;
    const result = page(request, history.bills.filter((b) => b.productType === productType), (b) => b.billId, (b) => b.time, 30 * DAY_MS, '30 days');
    if (!('list' in result)) return result;
    served('billsServed', result.list.length);
    return ok({
      bills: result.list.map((b) => ({
        billId: String(b.billId), symbol: b.raw, amount: b.amount, fee: b.fee, feeByCoupon: '', businessType: b.businessType, coin: b.coin, balance: '0', cTime: String(b.time),
      })),
      endId: result.endId,
    });
  };

  const markCandles = (request: FakeRequest): FakeReply => {
    const productType = productTypeOf(request);
    if (typeof productType !== 'string') return productType;
    const raw = request.query.get('symbol') ?? '';
    if (!history.contracts.some((c) => c.raw === raw && c.productType === productType)) return fail(400, '40034', 'Parameter symbol does not exist');
    if (request.query.get('granularity') !== '1H') return fail(400, '40034', 'Parameter granularity error');
    const limit = intParam(request, 'limit') ?? 100;
    if (Number.isNaN(limit) || limit < 1 || limit > 200) return fail(400, '40034', 'Parameter limit error');
    const end = Math.min(intParam(request, 'endTime') ?? Date.now(), Date.now());
    const start = Math.ceil((intParam(request, 'startTime') ?? end - limit * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const rows: string[][] = [];
    // A candle is served once its hour closed.
    for (let t = start; t <= end && t + HOUR_MS <= Date.now() && rows.length < limit; t += HOUR_MS) {
      const close = history.markClose(raw, t);
      rows.push([String(t), close, close, close, close, '0', '0']);
    }
    served('markCandlesServed', rows.length);
    return ok(rows);
  };

  const accounts = (request: FakeRequest): FakeReply => {
    const productType = productTypeOf(request);
    if (typeof productType !== 'string') return productType;
    const wallet = history.wallets[productType as BitgetProductType] ?? {};
    return ok(Object.entries(wallet).map(([marginCoin, balance]) => ({
      marginCoin, locked: '0', available: balance, crossedMaxAvailable: balance, isolatedMaxAvailable: balance, maxTransferOut: balance, accountEquity: balance,
      usdtEquity: balance, btcEquity: '0', crossedRiskRate: '0', unrealizedPL: '0', coupon: '0', unionTotalMagin: balance, unionAvailable: balance, unionMm: '0',
      assetList: [], isolatedMargin: '0', crossedMargin: '0', crossedUnrealizedPL: '0', isolatedUnrealizedPL: '0', assetMode: 'single',
    })));
  };

  return [
    { method: 'GET', path: '/api/v2/mix/market/contracts', signed: false, handle: contracts },
    { method: 'GET', path: '/api/v2/mix/market/history-mark-candles', signed: false, handle: markCandles },
    { method: 'GET', path: '/api/v2/mix/order/fill-history', signed: true, handle: denied(fills) },
    { method: 'GET', path: '/api/v2/mix/account/bill', signed: true, handle: denied(bills) },
    { method: 'GET', path: '/api/v2/mix/account/accounts', signed: true, handle: denied(accounts) },
  ];
}

/** The same perpetuals history as Bitget would serve it (derivatives-history.ts syntheticPerpetuals, USDT-FUTURES). */
export function bitgetMixFrom(history: SyntheticDerivatives, wallet: Readonly<Record<string, string>>): BitgetMixHistory {
  const fills: BitgetFillRow[] = [];
  const position = new Map<string, number>();
  let id = 1_000_000;
  for (const e of [...history.executions].sort((a, b) => a.time - b.time)) {
    const held = position.get(e.raw) ?? 0;
    const qty = Number(e.qty) * (e.side === 'Buy' ? 1 : -1);
    const closing = held !== 0 && Math.sign(qty) !== Math.sign(held);
    const tradeSide = `${e.execType === 'BustTrade' ? 'burst_' : ''}${closing ? 'close' : 'open'}_${(closing ? held > 0 : qty > 0) ? 'long' : 'short'}`;
    position.set(e.raw, held + qty);
    fills.push({ tradeId: ++id, raw: e.raw, productType: 'USDT-FUTURES', tradeSide, price: e.price, baseVolume: e.qty, fee: `-${e.fee}`, time: e.time });
  }
  const bills: BitgetBillRow[] = [];
  for (const row of [...history.ledger].sort((a, b) => a.time - b.time)) {
    const funding = row.funding !== '' && /[1-9]/u.test(row.funding);
    const businessType = funding ? 'contract_settle_fee' : row.type === 'LIQUIDATION' ? 'burst_long_loss_query' : 'close_long';
    const fee = row.fee.startsWith('-') ? row.fee.slice(1) : `-${row.fee}`;
    bills.push({ billId: ++id, raw: row.raw, productType: 'USDT-FUTURES', businessType, amount: funding ? row.funding : row.cashFlow, fee, coin: row.currency, time: row.time });
  }
  return {
    contracts: history.contracts.filter((c) => c.category === 'linear').map((c) => ({ raw: c.raw, productType: 'USDT-FUTURES', base: c.base, quote: c.quote })),
    fills, bills, wallets: { 'USDT-FUTURES': wallet }, markClose: history.markClose,
  };
}
