// The fake Bitget's margin interest records (src/exchanges/ccxt/bitget-extras.ts). Bodies follow the
// response examples of https://www.bitget.com/api-doc/margin/cross/record/Get-Cross-Interest-Records
// and https://www.bitget.com/api-doc/margin/isolated/record/Get-Isolated-Interest-Records (quoted in
// ccxt's bitget.js, fetchBorrowInterest): {code, msg, requestTime, data: {resultList, maxId, minId}},
// newest first, at most 100 per page, walked back with idLessThan. An account without margin gets
// an empty resultList, so every other Bitget test keeps its history.
import { intParam, type FakeReply, type FakeRequest, type Route } from './fake-server.js';
import { DAY_MS } from './history.js';

/** One interest row as the examples show it (`interstType` is Bitget's spelling). */
export interface BitgetInterestRow {
  readonly interestId: string; readonly interestCoin: string; readonly dailyInterestRate: string; readonly loanCoin: string;
  readonly interestAmount: string; readonly interstType: 'first' | 'scheduled'; readonly cTime: number; readonly symbol?: string;
}

/** One margin asset row (GET /api/v2/margin/{crossed,isolated}/account/assets, examples quoted in ccxt's bitget.js fetchBalance). */
export interface BitgetMarginAssetRow { readonly coin: string; readonly totalAmount: string; readonly borrow: string; readonly interest: string; readonly net: string; readonly symbol?: string }

export interface BitgetMarginData {
  readonly crossed: BitgetInterestRow[];
  readonly isolated: BitgetInterestRow[];
  /** Margin account assets; none by default (an account that never used margin: an empty list). */
  readonly crossedAssets?: BitgetMarginAssetRow[];
  readonly isolatedAssets?: BitgetMarginAssetRow[];
}

export function bitgetMarginRoutes(data: BitgetMarginData, ok: (data: unknown) => FakeReply, fail: (status: number, code: string, msg: string) => FakeReply): Route[] {
  const history = (mode: 'crossed' | 'isolated') => (request: FakeRequest): FakeReply => {
    const start = intParam(request, 'startTime');
    if (start === undefined) return fail(400, '40019', 'Parameter startTime cannot be empty');
    const end = intParam(request, 'endTime') ?? Date.now();
    if (end - start > 90 * DAY_MS) return fail(400, '40054', 'The time interval between startTime and endTime cannot exceed 90 days');
    const limit = intParam(request, 'limit') ?? 100;
    if (limit < 1 || limit > 100) return fail(400, '40034', 'Parameter limit error');
    const below = request.query.get('idLessThan');
    const symbol = request.query.get('symbol');
    const rows = data[mode].filter((r) => r.cTime >= start && r.cTime <= end && (below === null || BigInt(r.interestId) < BigInt(below)) && (symbol === null || r.symbol === symbol))
      .sort((a, b) => (BigInt(b.interestId) > BigInt(a.interestId) ? 1 : -1)).slice(0, limit);
    return ok({
      resultList: rows.map((r) => ({ ...r, cTime: String(r.cTime), uTime: String(r.cTime) })),
      maxId: rows[0]?.interestId ?? null, minId: rows.at(-1)?.interestId ?? null,
    });
  };
  const assets = (rows: readonly BitgetMarginAssetRow[] | undefined) => (): FakeReply => ok((rows ?? []).map((r) => ({
    ...r, available: r.totalAmount, frozen: '0', coupon: '0', cTime: '1759828511592', uTime: '1759828511592',
  })));
  return [
    { method: 'GET', path: '/api/v2/margin/crossed/account/assets', signed: true, handle: assets(data.crossedAssets) },
    { method: 'GET', path: '/api/v2/margin/isolated/account/assets', signed: true, handle: assets(data.isolatedAssets) },
    { method: 'GET', path: '/api/v2/margin/crossed/interest-history', signed: true, handle: history('crossed') },
    { method: 'GET', path: '/api/v2/margin/isolated/interest-history', signed: true, handle: history('isolated') },
  ];
}
