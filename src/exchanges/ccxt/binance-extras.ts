// Binance account activity outside /api/v3/myTrades and the capital deposit/withdraw history
// (issue 16, items 1 and 2). Each is a time-windowed stream read through ccxt's implicit raw
// methods, with its own window in the connectors' cursors (`extras`):
//
// | stream          | endpoint (ccxt method)                                                     | becomes                      |
// |-----------------|----------------------------------------------------------------------------|------------------------------|
// | convert         | /sapi/v1/convert/tradeFlow (sapiGetConvertTradeFlow)                        | fill (asset for asset)       |
// | dust            | /sapi/v1/asset/dribblet (sapiGetAssetDribblet)                              | fill per asset → BNB, fee    |
// | earn-flexible   | /sapi/v1/simple-earn/flexible/history/rewardsRecord                         | income                       |
// | earn-locked     | /sapi/v1/simple-earn/locked/history/rewardsRecord                           | income                       |
// | fiat-orders     | /sapi/v1/fiat/orders (request('fiat/orders'), see below), transactionType 0/1 | deposit / withdrawal (fiat) |
// | fiat-payments   | /sapi/v1/fiat/payments (sapiGetFiatPayments), transactionType 0/1           | deposit / withdrawal (crypto)|
// | margin-interest | /sapi/v1/margin/interestHistory (sapiGetMarginInterestHistory), cross margin | expense                      |
// | isolated-margin-interest | the same with isolatedSymbol, one query per pair of /sapi/v1/margin/isolated/account | expense       |
//
// Why raw methods and not ccxt's unified ones: fetchConvertTradeHistory, fetchMyDustTrades,
// fetchBorrowInterest and fetchDeposits({fiat}) exist, but they fix their own windows
// (fetchConvertTradeHistory 30 days back from now when no `since`, fetchMyDustTrades always 90 days
// from `since`), fetchMyDustTrades turns one sweep into pairs of trades on symbols that need not be
// listed, and nothing unified exists for Simple Earn rewards or fiat payments. Reading the documented
// bodies ourselves (validated with zod below) keeps one paging and pending rule for all seven.
// ccxt's Binance parser hands JSON numbers over as strings, so ids above 2^53 (convert orderId,
// interest txId) arrive exact; the schemas accept both forms.
import { z } from 'zod';
import type { binance } from 'ccxt';
import { addDecimal, isZeroDecimal, negateDecimal, normalizeDecimal, numberToDecimal } from '../../domain/decimal-string.js';
import { decimalToNumber } from '../../domain/decimal.js';
import type { CashFlow, EpochMs, Fill } from '../../domain/types.js';
import { VenueError } from '../errors.js';
import type { ExtraRecord, ExtraStream, ExtrasCall, VenueExtras } from './extra-streams.js';
import { unlessNoMargin } from './wallet-balances.js';

const DAY_MS = 86_400_000;

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const time = z.union([z.number().int(), z.string().regex(/^\d+$/u).transform(Number)]);
const count = time;
const id = z.union([z.number(), z.string()]).transform(String);

/** Docs: https://developers.binance.com/docs/convert/trade/Get-Convert-Trade-History */
const convertBody = z.object({
  list: z.array(z.object({ quoteId: z.string(), orderStatus: z.string(), fromAsset: z.string(), fromAmount: decimal, toAsset: z.string(), toAmount: decimal, createTime: time })),
  moreData: z.boolean().optional(),
});
/** Docs: https://developers.binance.com/docs/wallet/asset/dust-log */
const dustBody = z.object({
  userAssetDribblets: z.array(z.object({
    operateTime: time,
    userAssetDribbletDetails: z.array(z.object({ transId: z.union([z.number(), z.string()]).transform(String), serviceChargeAmount: decimal, amount: decimal, operateTime: time, transferedAmount: decimal, fromAsset: z.string() })),
  })).optional().default([]),
});
/** Docs: https://developers.binance.com/docs/simple_earn/history/Get-Flexible-Rewards-History */
const flexibleBody = z.object({ rows: z.array(z.object({ asset: z.string(), rewards: decimal, projectId: z.string().optional(), type: z.string(), time })), total: count });
/** Docs: https://developers.binance.com/docs/simple_earn/history/Get-Locked-Rewards-History */
const lockedBody = z.object({ rows: z.array(z.object({ positionId: z.union([z.number(), z.string()]).transform(String), asset: z.string(), amount: decimal, time })), total: count });
/** Docs: https://developers.binance.com/docs/fiat/rest-api/Get-Fiat-Deposit-Withdraw-History */
const fiatOrdersBody = z.object({
  data: z.array(z.object({ orderNo: z.string(), fiatCurrency: z.string(), amount: decimal, totalFee: decimal, status: z.string(), createTime: time })).optional().default([]),
  total: count.optional(),
});
/** Docs: https://developers.binance.com/docs/fiat/rest-api/Get-Fiat-Payments-History */
const fiatPaymentsBody = z.object({
  data: z.array(z.object({ orderNo: z.string(), sourceAmount: decimal, fiatCurrency: z.string(), obtainAmount: decimal, cryptoCurrency: z.string(), status: z.string(), createTime: time })).optional().default([]),
  total: count.optional(),
});
/** Docs: https://developers.binance.com/docs/margin_trading/account/Query-Isolated-Margin-Account-Info (only `symbol` of each asset pair is read). */
const isolatedAccountBody = z.object({ assets: z.array(z.object({ symbol: z.string() })) });
/** Docs: https://developers.binance.com/docs/margin_trading/borrow-and-repay/Get-Interest-History */
const interestBody = z.object({
  rows: z.array(z.object({ txId: id.optional(), asset: z.string(), interest: decimal, interestAccuredTime: time, type: z.string(), isolatedSymbol: z.string().optional() })),
  total: count,
});

const FIAT_ORDER_DONE = new Set(['Successful', 'Finished']);
const FIAT_ORDER_FINAL = new Set([...FIAT_ORDER_DONE, 'Failed', 'Expired', 'Refunded', 'Refund Failed', 'Order Partial credit Stopped']);
const FIAT_PAYMENT_FINAL = new Set(['Completed', 'Failed', 'Refunded']);
const CONVERT_FINAL = new Set(['SUCCESS', 'FAIL']);


function parse<T>(venueSchema: z.ZodType<T>, body: unknown, what: string): T {
  const result = venueSchema.safeParse(body);
  if (!result.success) throw new VenueError('binance', 'bad-response', { errorClass: `Malformed${what}` });
  return result.data;
}

/** Division of two decimal amounts as a decimal (a price; float64 precision is what the engine uses anyway). */
function ratio(numerator: string, denominator: string): string {
  return numberToDecimal(decimalToNumber(numerator) / decimalToNumber(denominator));
}

export class BinanceExtras implements VenueExtras {
  readonly fillStreams: readonly ExtraStream<Fill>[];
  readonly cashFlowStreams: readonly ExtraStream<CashFlow>[];

  constructor(private readonly client: binance, private readonly call: ExtrasCall, private readonly baseCurrency: string) {
    this.fillStreams = [
      { key: 'convert', firstMs: Date.UTC(2020, 0, 1), windowMs: 30 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.convert(from, to) },
      // The dust log serves data from 2020-12-01 on.
      { key: 'dust', firstMs: Date.UTC(2020, 11, 1), windowMs: 90 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.dust(from, to) },
    ];
    this.cashFlowStreams = [
      // Inflows first: they bound where the streams that need assets in the account begin.
      // fiat/orders weighs 90,000 UID (two calls a minute; ccxt spaces them 30 s): one window over
      // the whole history, paged, at most once a day.
      { key: 'fiat-orders', firstMs: Date.UTC(2019, 0, 1), windowMs: 20 * 365 * DAY_MS, everyMs: DAY_MS, afterFirstActivity: false, fetch: async (from, to) => await this.fiatOrders(from, to) },
      { key: 'fiat-payments', firstMs: Date.UTC(2019, 0, 1), windowMs: 20 * 365 * DAY_MS, everyMs: DAY_MS, afterFirstActivity: false, fetch: async (from, to) => await this.fiatPayments(from, to) },
      // Simple Earn replaced Savings/Staking in 2023; its rewards history starts then (3 months a query).
      { key: 'earn-flexible', firstMs: Date.UTC(2023, 0, 1), windowMs: 90 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.flexibleRewards(from, to) },
      { key: 'earn-locked', firstMs: Date.UTC(2023, 0, 1), windowMs: 90 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.lockedRewards(from, to) },
      { key: 'margin-interest', firstMs: Date.UTC(2019, 6, 1), windowMs: 30 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.marginInterest(from, to) },
      // Isolated margin opened in 2020; one query per isolated pair per window.
      { key: 'isolated-margin-interest', firstMs: Date.UTC(2020, 3, 1), windowMs: 30 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.isolatedInterest(from, to) },
    ];
  }

  /** Convert trades (asset for asset): a fill whose quote is the base currency when one side is, else what was given. */
  private async convert(from: EpochMs, to: EpochMs): Promise<ExtraRecord<Fill>[]> {
    const body = parse(convertBody, await this.call('convertTradeFlow', async () => await this.client.sapiGetConvertTradeFlow({ startTime: from, endTime: to, limit: 1000 })), 'Convert');
    if (body.moreData === true && to > from) {
      const mid = Math.floor((from + to) / 2);
      return [...await this.convert(from, mid), ...await this.convert(mid + 1, to)];
    }
    return body.list.map((row) => {
      const settled = CONVERT_FINAL.has(row.orderStatus);
      if (row.orderStatus !== 'SUCCESS' || isZeroDecimal(row.toAmount) || isZeroDecimal(row.fromAmount)) return { id: `convert:${row.quoteId}`, time: row.createTime, settled, value: null };
      const sellToBase = row.toAsset === this.baseCurrency;
      const fill: Fill = sellToBase
        ? { exchangeTradeId: `convert:${row.quoteId}`, symbol: `${row.fromAsset}/${row.toAsset}`, baseAsset: row.fromAsset, quoteAsset: row.toAsset, side: 'sell', quantity: normalizeDecimal(row.fromAmount), price: ratio(row.toAmount, row.fromAmount), fee: '0', feeAsset: row.toAsset, executedAt: row.createTime }
        : { exchangeTradeId: `convert:${row.quoteId}`, symbol: `${row.toAsset}/${row.fromAsset}`, baseAsset: row.toAsset, quoteAsset: row.fromAsset, side: 'buy', quantity: normalizeDecimal(row.toAmount), price: ratio(row.fromAmount, row.toAmount), fee: '0', feeAsset: row.fromAsset, executedAt: row.createTime };
      return { id: fill.exchangeTradeId, time: row.createTime, settled, value: fill };
    });
  }

  /**
   * Dust → BNB: one fill per converted asset, selling `amount` for the BNB it was worth before the
   * service charge (transferedAmount + serviceChargeAmount); the charge is the fee, in BNB.
   */
  private async dust(from: EpochMs, to: EpochMs): Promise<ExtraRecord<Fill>[]> {
    const body = parse(dustBody, await this.call('assetDribblet', async () => await this.client.sapiGetAssetDribblet({ startTime: from, endTime: to })), 'Dust');
    const out: ExtraRecord<Fill>[] = [];
    for (const batch of body.userAssetDribblets) {
      for (const d of batch.userAssetDribbletDetails) {
        const id = `dust:${d.transId}:${d.fromAsset}`;
        if (isZeroDecimal(d.amount)) { out.push({ id, time: d.operateTime, settled: true, value: null }); continue; }
        const gross = addDecimal(d.transferedAmount, d.serviceChargeAmount);
        out.push({ id, time: d.operateTime, settled: true, value: {
          exchangeTradeId: id, symbol: `${d.fromAsset}/BNB`, baseAsset: d.fromAsset, quoteAsset: 'BNB', side: 'sell',
          quantity: normalizeDecimal(d.amount), price: ratio(gross, d.amount), fee: normalizeDecimal(d.serviceChargeAmount), feeAsset: 'BNB', executedAt: d.operateTime,
        } });
      }
    }
    return out;
  }

  /** Pages a `current`/`size` endpoint until a short page. */
  private async paged<R>(fetchPage: (current: number) => Promise<{ rows: R[]; total: number }>, size: number): Promise<R[]> {
    const out: R[] = [];
    for (let current = 1; ; current += 1) {
      const page = await fetchPage(current);
      out.push(...page.rows);
      if (page.rows.length < size || out.length >= page.total) return out;
    }
  }

  /** type ALL (the documented default) gives BONUS, REALTIME and REWARDS rows in one query. */
  private async flexibleRewards(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const rows = await this.paged(async (current) => parse(flexibleBody, await this.call('earnFlexibleRewards', async () =>
      await this.client.sapiGetSimpleEarnFlexibleHistoryRewardsRecord({ type: 'ALL', startTime: from, endTime: to, current, size: 100 })), 'EarnRewards'), 100);
    return rows.map((r) => {
      const id = `earn-flexible:${r.type}:${r.projectId ?? ''}:${r.asset}:${r.time}`;
      return { id, time: r.time, settled: true, value: isZeroDecimal(r.rewards) ? null : { exchangeFlowId: id, kind: 'income', asset: r.asset, amount: normalizeDecimal(r.rewards), occurredAt: r.time } };
    });
  }

  private async lockedRewards(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const rows = await this.paged(async (current) => parse(lockedBody, await this.call('earnLockedRewards', async () =>
      await this.client.sapiGetSimpleEarnLockedHistoryRewardsRecord({ startTime: from, endTime: to, current, size: 100 })), 'EarnRewards'), 100);
    return rows.map((r) => {
      const id = `earn-locked:${r.positionId}:${r.asset}:${r.time}`;
      return { id, time: r.time, settled: true, value: isZeroDecimal(r.amount) ? null : { exchangeFlowId: id, kind: 'income', asset: r.asset, amount: normalizeDecimal(r.amount), occurredAt: r.time } };
    });
  }

  /** Fiat through bank or card into (0) or out of (1) the fiat balance: external flows in the fiat currency. */
  private async fiatOrders(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const out: ExtraRecord<CashFlow>[] = [];
    for (const transactionType of ['0', '1'] as const) {
      const kind = transactionType === '0' ? 'deposit' : 'withdrawal';
      const rows = await this.paged(async (page) => {
        // Not sapiGetFiatOrders: ccxt charges its throttle 600 for it (the UID weight 90,000), which
        // makes every later request of the connector wait 30 s and a 30 s attempt time out. This
        // stream runs at most once a day (two or three requests), far inside the UID budget; a 429
        // is retried by the connector's policy.
        const raw: unknown = await this.call('fiatOrders', async () => await this.client.request('fiat/orders', 'sapi', 'GET', { transactionType, beginTime: from, endTime: to, page, rows: 500 }, undefined, undefined, { cost: 1 }));
        const body = parse(fiatOrdersBody, raw, 'FiatOrders');
        return { rows: body.data, total: body.total ?? Number.MAX_SAFE_INTEGER };
      }, 500);
      for (const r of rows) {
        const id = `fiat-${kind}:${r.orderNo}`;
        // A deposit credits the amount less the fee; a withdrawal debits the amount and the fee.
        const moved = kind === 'deposit' ? addDecimal(r.amount, negateDecimal(r.totalFee)) : addDecimal(r.amount, r.totalFee);
        out.push({ id, time: r.createTime, settled: FIAT_ORDER_FINAL.has(r.status), value: FIAT_ORDER_DONE.has(r.status) ? { exchangeFlowId: id, kind, asset: r.fiatCurrency, amount: moved, occurredAt: r.createTime } : null });
      }
    }
    return out;
  }

  /** Crypto bought (0) or sold (1) with an outside card or bank: the crypto arrives or leaves as an external flow. */
  private async fiatPayments(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const out: ExtraRecord<CashFlow>[] = [];
    for (const transactionType of ['0', '1'] as const) {
      const kind = transactionType === '0' ? 'deposit' : 'withdrawal';
      const rows = await this.paged(async (page) => {
        const body = parse(fiatPaymentsBody, await this.call('fiatPayments', async () => await this.client.sapiGetFiatPayments({ transactionType, beginTime: from, endTime: to, page, rows: 500 })), 'FiatPayments');
        return { rows: body.data, total: body.total ?? Number.MAX_SAFE_INTEGER };
      }, 500);
      for (const r of rows) {
        const id = `fiat-payment-${kind}:${r.orderNo}`;
        out.push({ id, time: r.createTime, settled: FIAT_PAYMENT_FINAL.has(r.status), value: r.status === 'Completed' ? { exchangeFlowId: id, kind, asset: r.cryptoCurrency, amount: normalizeDecimal(kind === 'deposit' ? r.obtainAmount : r.sourceAmount), occurredAt: r.createTime } : null });
      }
    }
    return out;
  }

  /** Cross-margin borrow interest (the endpoint without isolatedSymbol answers for cross margin only): an expense in the borrowed asset. */
  private async marginInterest(from: EpochMs, to: EpochMs, isolatedSymbol?: string): Promise<ExtraRecord<CashFlow>[]> {
    const rows = await this.paged(async (current) => parse(interestBody, await this.call('marginInterestHistory', async () =>
      await this.client.sapiGetMarginInterestHistory({ startTime: from, endTime: to, current, size: 100, ...(isolatedSymbol === undefined ? {} : { isolatedSymbol }) })), 'MarginInterest'), 100);
    return rows.map((r) => {
      const id = r.txId === undefined ? `interest:${r.isolatedSymbol ?? 'cross'}:${r.asset}:${r.type}:${r.interestAccuredTime}` : `interest:${r.txId}`;
      return { id, time: r.interestAccuredTime, settled: true, value: isZeroDecimal(r.interest) ? null : { exchangeFlowId: id, kind: 'expense', asset: r.asset, amount: normalizeDecimal(r.interest), occurredAt: r.interestAccuredTime } };
    });
  }

  /** The account's isolated margin pairs, asked once per sync (a pair closed since is no longer listed: its interest is not read). */
  private isolatedPairs: Promise<string[]> | undefined;

  /** Isolated-margin borrow interest: the same rows, asked per isolated pair. */
  private async isolatedInterest(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    this.isolatedPairs ??= this.call('isolatedMarginAccount', async () => await unlessNoMargin(async () => await this.client.sapiGetMarginIsolatedAccount({})))
      .then((body) => (body === null ? [] : parse(isolatedAccountBody, body, 'IsolatedMarginAccount').assets.map((a) => a.symbol)));
    const out: ExtraRecord<CashFlow>[] = [];
    for (const symbol of await this.isolatedPairs) out.push(...await this.marginInterest(from, to, symbol));
    return out;
  }
}
