// Fake MEXC futures (contract API, /api/v1/contract and /api/v1/private), mounted by
// binance-like-fake.ts for MEXC: its own signature (headers ApiKey, Request-Time and Signature =
// hex HMAC-SHA256 of apiKey + Request-Time + the sorted query; Request-Time within 10 s), the
// `{success, code, data}` envelope and its error codes (401, 513, 600, 602), order_deals with a
// required symbol, start_time/end_time at most 90 days apart, page_num/page_size ≤ 100, newest first.
// Bodies follow the response examples of https://www.mexc.com/api-docs/futures/account-and-trading-endpoints
// (get-all-transaction-details-of-the-user-s-order, get-all-of-the-user-s-historical-orders,
// get-funding-fee-details, get-all-informations-of-user-s-asset) and
// https://www.mexc.com/api-docs/futures/market-endpoints (get-contract-info, get-fair-price-candlestick-data),
// error codes from https://www.mexc.com/api-docs/futures/error-code; values made up.
import type { FakeReply, FakeRequest, Route } from './fake-server.js';
import { header, hmacSha256, intParam, safeEqual } from './fake-server.js';
import type { SyntheticDerivatives } from './derivatives-history.js';
import { DAY_MS } from './history.js';

export interface MexcContract {
  readonly raw: string;
  readonly base: string;
  readonly quote: string;
  readonly settle: string;
  /** Base units (linear) or quote units (inverse) per contract. */
  readonly contractSize: number;
}

export interface MexcDealRow {
  readonly id: number;
  readonly orderId: number;
  readonly raw: string;
  /** 1 open long, 2 close short, 3 open short, 4 close long. */
  readonly side: 1 | 2 | 3 | 4;
  /** Contracts. */
  readonly vol: number;
  readonly price: number;
  /** > 0 paid. */
  readonly fee: number;
  readonly feeCurrency: string;
  /** 1 limit order, 2 liquidation take-over, 3 close, 4 ADL. */
  readonly category: 1 | 2 | 3 | 4;
  readonly time: number;
}

export interface MexcFundingRow {
  readonly id: number;
  readonly raw: string;
  readonly positionType: 1 | 2;
  /** > 0 received. */
  readonly funding: number;
  readonly time: number;
}

/** A transfer between the spot and futures wallets (served, never an external flow). */
export interface MexcTransferRow {
  readonly id: number;
  readonly currency: string;
  readonly amount: number;
  readonly type: 'IN' | 'OUT';
  readonly time: number;
}

export interface MexcContractHistory {
  readonly contracts: readonly MexcContract[];
  readonly deals: readonly MexcDealRow[];
  readonly funding: readonly MexcFundingRow[];
  readonly transfers: readonly MexcTransferRow[];
  /** Futures wallet per currency (equity without unrealized P&L). */
  readonly wallet: Readonly<Record<string, string>>;
  readonly markClose: (raw: string, openTime: number) => string;
}

const WINDOW_MS = 90 * DAY_MS;
export const MEXC_CONTRACT_PRIVATE = '/api/v1/private/';

const fail = (code: number, message: string): FakeReply => ({ status: 200, body: { success: false, code, message } });
const ok = (data: unknown): FakeReply => ({ status: 200, body: { success: true, code: 0, data } });

/** The contract API's signature check (undefined when the request is properly signed). */
export function mexcContractAuthenticate(request: FakeRequest, apiKey: string, secret: string): FakeReply | undefined {
  const key = header(request, 'ApiKey') ?? '';
  if (!safeEqual(key, apiKey)) return { status: 401, body: { success: false, code: 401, message: 'Not logged in or login has expired' } };
  const time = header(request, 'Request-Time') ?? '';
  if (!safeEqual(header(request, 'Signature') ?? '', hmacSha256(secret, `${key}${time}${request.rawQuery}`, 'hex'))) return fail(602, 'Signature verification failed!');
  const skew = Math.abs(Date.now() - Number(time));
  if (!Number.isFinite(skew) || skew > 10_000) return fail(513, 'Invalid request(for open api serves time more or less than 10 seconds)');
  return undefined;
}

/** 'denied': a key without futures read access: every private contract route answers 701. */
export function mexcContractRoutes(contract: MexcContractHistory | 'denied', served: (name: string, by: number) => void): Route[] {
  const history: MexcContractHistory = contract === 'denied' ? { contracts: [], deals: [], funding: [], transfers: [], wallet: {}, markClose: () => '0' } : contract;
  const denied = (handle: (request: FakeRequest) => FakeReply) => (request: FakeRequest): FakeReply => (contract === 'denied' ? fail(701, 'Corresponding account read permissions required') : handle(request));
  /** start_time/end_time (default: the last 7 days; span ≤ 90 days) and page_num/page_size. */
  const paging = (request: FakeRequest): FakeReply | { lo: number; hi: number; page: number; size: number } => {
    const size = intParam(request, 'page_size') ?? 20;
    const page = intParam(request, 'page_num') ?? 1;
    if (Number.isNaN(size) || size < 1 || size > 100 || Number.isNaN(page) || page < 1) return fail(600, 'Parameter error');
    const end = intParam(request, 'end_time') ?? Date.now();
    const start = intParam(request, 'start_time') ?? end - 7 * DAY_MS;
    if (Number.isNaN(start) || Number.isNaN(end) || end < start) return fail(600, 'Parameter error');
    if (end - start > WINDOW_MS) return fail(600, 'The time span between start_time and end_time cannot exceed 90 days');
    return { lo: start, hi: end, page, size };
  };
  const slice = <T extends { time: number }>(rows: readonly T[], p: { lo: number; hi: number; page: number; size: number }): T[] =>
    rows.filter((r) => r.time >= p.lo && r.time <= p.hi).sort((a, b) => b.time - a.time).slice((p.page - 1) * p.size, p.page * p.size);

  const detail = (): FakeReply => ok(history.contracts.map((c) => ({
    symbol: c.raw, displayName: `${c.raw}永续`, displayNameEn: `${c.raw} PERPETUAL`, positionOpenType: 3, baseCoin: c.base, quoteCoin: c.quote, baseCoinName: c.base,
    quoteCoinName: c.quote, futureType: 1, settleCoin: c.settle, contractSize: c.contractSize, minLeverage: 1, maxLeverage: 500, priceScale: 1, volScale: 0,
    amountScale: 4, priceUnit: 0.1, volUnit: 1, minVol: 1, maxVol: 400000, bidLimitPriceRate: 0.1, askLimitPriceRate: 0.1, takerFeeRate: 0.0004, makerFeeRate: 0.0001,
    maintenanceMarginRate: 0.001, initialMarginRate: 0.002, state: 0, isNew: false, isHot: false, isHidden: false, apiAllowed: false,
  })));

  const orders = (request: FakeRequest): FakeReply => {
    const p = paging(request);
    if ('status' in p) return p;
    const symbol = request.query.get('symbol');
    const byOrder = new Map<number, MexcDealRow[]>();
    for (const d of history.deals) if (symbol === null || d.raw === symbol) byOrder.set(d.orderId, [...byOrder.get(d.orderId) ?? [], d]);
    const list = [...byOrder.values()].map((ds) => ({ first: ds[0]!, vol: ds.reduce((s, d) => s + d.vol, 0), time: Math.min(...ds.map((d) => d.time)) }));
    return ok(slice(list, p).map((o) => ({
      orderId: String(o.first.orderId), symbol: o.first.raw, positionId: 1_000 + o.first.orderId, price: o.first.price, vol: o.vol, leverage: 20, side: o.first.side,
      category: o.first.category, orderType: 1, dealAvgPrice: o.first.price, dealVol: o.vol, orderMargin: 0, takerFee: o.first.fee, makerFee: 0, profit: 0,
      feeCurrency: o.first.feeCurrency, openType: 1, state: 3, externalOid: `_m_${o.first.orderId}`, errorCode: 0, usedMargin: 0, createTime: o.time, updateTime: o.time,
    })));
  };

  const deals = (request: FakeRequest): FakeReply => {
    const symbol = request.query.get('symbol');
    if (symbol === null || symbol === '') return fail(600, 'symbol cannot be empty');
    if (!history.contracts.some((c) => c.raw === symbol)) return fail(1001, 'Contract does not exist');
    const p = paging(request);
    if ('status' in p) return p;
    const list = slice(history.deals.filter((d) => d.raw === symbol), p);
    served('futuresDealsServed', list.length);
    return ok(list.map((d) => ({
      id: String(d.id), symbol: d.raw, side: d.side, vol: d.vol, price: d.price, feeCurrency: d.feeCurrency, fee: d.fee, timestamp: d.time, profit: 0,
      category: d.category, orderId: String(d.orderId), positionMode: 1, taker: true,
    })));
  };

  const funding = (request: FakeRequest): FakeReply => {
    const p = paging(request);
    if ('status' in p) return p;
    const symbol = request.query.get('symbol');
    const all = history.funding.filter((f) => symbol === null || f.raw === symbol);
    const inWindow = all.filter((f) => f.time >= p.lo && f.time <= p.hi);
    const list = slice(all, p);
    served('fundingServed', list.length);
    return ok({
      pageSize: p.size, totalCount: inWindow.length, totalPage: Math.ceil(inWindow.length / p.size), currentPage: p.page,
      resultList: list.map((f) => ({ id: f.id, symbol: f.raw, positionType: f.positionType, positionValue: 100, funding: f.funding, rate: 0.0001, settleTime: f.time })),
    });
  };

  const transfers = (request: FakeRequest): FakeReply => {
    const p = paging(request);
    if ('status' in p) return p;
    const list = slice(history.transfers, p);
    return ok({
      pageSize: p.size, totalCount: history.transfers.length, totalPage: 1, currentPage: p.page,
      resultList: list.map((t) => ({ id: t.id, txid: `t${t.id}`, currency: t.currency, amount: t.amount, type: t.type, state: 'SUCCESS', createTime: t.time, updateTime: t.time })),
    });
  };

  const assets = (): FakeReply => ok(Object.entries(history.wallet).map(([currency, balance]) => ({
    currency, positionMargin: 0, availableBalance: Number(balance), cashBalance: Number(balance), frozenBalance: 0, equity: Number(balance), unrealized: 0, bonus: 0,
  })));

  const fairKlines = (raw: string) => (request: FakeRequest): FakeReply => {
    if (request.query.get('interval') !== 'Min60') return fail(600, 'Parameter error');
    const nowSec = Math.floor(Date.now() / 1000);
    const end = Math.min(intParam(request, 'end') ?? nowSec, nowSec);
    const start = intParam(request, 'start') ?? end - 2000 * 3600;
    const out = { time: [] as number[], open: [] as number[], close: [] as number[], high: [] as number[], low: [] as number[], vol: [] as number[], amount: [] as number[] };
    // At most 2000 candles a request; one is served once its hour closed.
    for (let t = Math.ceil(start / 3600) * 3600; t <= end && (t + 3600) * 1000 <= Date.now() && out.time.length < 2000; t += 3600) {
      const close = Number(history.markClose(raw, t * 1000));
      out.time.push(t); out.open.push(close); out.close.push(close); out.high.push(close); out.low.push(close); out.vol.push(0); out.amount.push(0);
    }
    served('markCandlesServed', out.time.length);
    return ok(out);
  };

  return [
    { method: 'GET', path: '/api/v1/contract/detail', signed: false, handle: detail },
    ...history.contracts.map((c) => ({ method: 'GET', path: `/api/v1/contract/kline/fair_price/${c.raw}`, signed: false, handle: fairKlines(c.raw) }) as const),
    { method: 'GET', path: `${MEXC_CONTRACT_PRIVATE}order/list/history_orders`, signed: true, handle: denied(orders) },
    { method: 'GET', path: `${MEXC_CONTRACT_PRIVATE}order/list/order_deals`, signed: true, handle: denied(deals) },
    { method: 'GET', path: `${MEXC_CONTRACT_PRIVATE}position/funding_records`, signed: true, handle: denied(funding) },
    { method: 'GET', path: `${MEXC_CONTRACT_PRIVATE}account/transfer_record`, signed: true, handle: denied(transfers) },
    { method: 'GET', path: `${MEXC_CONTRACT_PRIVATE}account/assets`, signed: true, handle: denied(assets) },
  ];
}

/** The same perpetuals history as MEXC would serve it (derivatives-history.ts syntheticPerpetuals; BTC_USDT, contract size 0.0001). */
export function mexcContractFrom(history: SyntheticDerivatives, wallet: Readonly<Record<string, string>>): MexcContractHistory {
  const size = 0.0001;
  const deals: MexcDealRow[] = [];
  const held = new Map<string, number>();
  let id = 300_000_000;
  for (const e of [...history.executions].sort((a, b) => a.time - b.time)) {
    const h = held.get(e.raw) ?? 0;
    const qty = Number(e.qty) * (e.side === 'Buy' ? 1 : -1);
    const closing = h !== 0 && Math.sign(qty) !== Math.sign(h);
    const side = e.side === 'Buy' ? (closing ? 2 : 1) : (closing ? 4 : 3);
    held.set(e.raw, h + qty);
    id += 1;
    deals.push({ id, orderId: id + 1_000_000, raw: 'BTC_USDT', side, vol: Math.round(Number(e.qty) / size), price: Number(e.price), fee: Number(e.fee), feeCurrency: 'USDT', category: e.execType === 'BustTrade' ? 2 : 1, time: e.time });
  }
  const funding: MexcFundingRow[] = history.ledger.filter((r) => r.funding !== '' && /[1-9]/u.test(r.funding)).map((r, k) => ({ id: 7_000_000 + k, raw: 'BTC_USDT', positionType: 1, funding: Number(r.funding), time: r.time }));
  return {
    contracts: [{ raw: 'BTC_USDT', base: 'BTC', quote: 'USDT', settle: 'USDT', contractSize: size }],
    deals, funding, transfers: [], wallet, markClose: (_raw, openTime) => history.markClose('BTCUSDT', openTime),
  };
}
