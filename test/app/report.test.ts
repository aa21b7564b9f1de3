// GetPerformanceReport's reader against a real database: published hours with their flags,
// stored candles for conversion and the benchmark, fills turned into closed-position ratios.
import test from 'ava';
import type { AccountKey, Candle, Fill, HourlyReturn } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createReportReader } from '../../src/app/report.js';
import { AccountNotFoundError } from '../../src/actors/errors.js';
import { DEFAULT_REPORT_OPTIONS } from '../../src/domain/report/report.js';
import type { ReportRequest } from '../../src/grpc/enclave-api.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { randomBytes } from 'node:crypto';
import { sealEnvelope } from '../../src/crypto/envelope.js';
import { createKeyring } from '../../src/crypto/keyring.js';
import { encodeCredential } from '../../src/crypto/credential.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 10 * H + 5;
const binance: AccountKey = { userUid: 'ann', exchange: 'binance' };
const bybit: AccountKey = { userUid: 'ann', exchange: 'bybit' };
const call = { signal: new AbortController().signal };

function hours(returns: readonly number[], equity: number, flags: Record<number, HourlyReturn['flags']> = {}): HourlyReturn[] {
  let e = equity;
  let g = 1;
  return returns.map((r, i) => {
    e *= 1 + r;
    g *= 1 + r;
    const f = flags[i];
    return { hourStart: T0 + i * H, return: r, cumulativeReturn: g - 1, equityEnd: e, netFlow: 0, ...(f === undefined ? {} : { flags: f }) };
  });
}
const candle = (symbol: string, openTime: number, close: number): Candle => ({ symbol, openTime, open: String(close), high: String(close), low: String(close), close: String(close), volume: '1' });
const btc = [50_000, 50_500, 50_000, 51_000, 51_500, 51_000, 52_000, 52_500, 52_000, 53_000, 53_500];

let ready: Promise<ReturnType<typeof createReportReader>> | undefined;
/** The tests share one database: it is filled once. */
function setUp(): Promise<ReturnType<typeof createReportReader>> {
  ready ??= fill();
  return ready;
}

async function fill(): Promise<ReturnType<typeof createReportReader>> {
  const ring = createKeyring([{ id: 1, secret: randomBytes(32) }], 1);
  const sealed = (account: AccountKey) => sealEnvelope(ring, account, encodeCredential({ apiKey: 'k', secret: 's' }));
  const store = createAccountStore(db().pool);
  const connections = createConnectionRepository(db().pool);
  await connections.saveConnection(binance, sealed(binance));
  await connections.saveConnection(bybit, sealed(bybit));
  await store.saveAggregates(binance, { hourlyReturns: hours([0.01, -0.02, 0.01, 0, 0.02, -0.01, 0.01, 0.01, -0.01, 0.02], 1000, { 1: ['stale-mark'], 3: ['unvalued'] }), snapshot: null, engineState: undefined, performance: null });
  await store.saveAggregates(bybit, { hourlyReturns: hours([0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005], 3000), snapshot: null, engineState: undefined, performance: null });
  await store.upsertCandles('binance', btc.map((p, k) => candle('BTC/USDT', T0 + (k - 1) * H, p)));
  const fills: Fill[] = [10, -5, 20, -5, -5, 3].flatMap((p, k) => [
    { exchangeTradeId: `b${k}`, symbol: 'ETH/USDT', baseAsset: 'ETH', quoteAsset: 'USDT', side: 'buy', quantity: '1', price: '100', fee: '0', feeAsset: 'USDT', executedAt: T0 + k * H + 1 },
    { exchangeTradeId: `s${k}`, symbol: 'ETH/USDT', baseAsset: 'ETH', quoteAsset: 'USDT', side: 'sell', quantity: '1', price: String(100 + p), fee: '0', feeAsset: 'USDT', executedAt: T0 + k * H + 2 },
  ]);
  await store.commitFillsPage(binance, fills, 'cursor');
  return createReportReader({ store, connections, now: () => NOW });
}

const request = (over: Partial<ReportRequest>): ReportRequest => ({
  userUid: 'ann', exchange: 'binance', period: 'SI', custom: null, currency: null, benchmark: null, options: DEFAULT_REPORT_OPTIONS, ...over,
});

test('one account: stored flags come back, unvalued hours count as flagged, nothing is annualized, ratios only from fills', async (t) => {
  const reader = await setUp();
  const { report, baseCurrency, exchanges } = await reader.getPerformanceReport(request({}), call);
  t.is(baseCurrency, 'USDT');
  t.deepEqual(exchanges, ['binance']);
  t.is(report.currency, 'USDT');
  t.is(report.hours, 10);
  t.is(report.valuedHours, 9);
  t.is(report.flaggedHourShare, 0.2);
  t.deepEqual(report.flagShares, [{ flag: 'stale-mark', share: 0.1 }, { flag: 'unvalued', share: 0.1 }]);
  const expected = [0.01, -0.02, 0.01, 0.02, -0.01, 0.01, 0.01, -0.01, 0.02].reduce((g, r) => g * (1 + r), 1) - 1;
  t.true(Math.abs(report.timeWeightedReturn - expected) < 1e-12);
  t.is(report.annualizedReturn, null);
  t.like(report.tradeStatistics, { winRate: 0.5, profitFactor: 33 / 15, longestLosingStreak: 2 });
});

test('in BTC terms each hour compounds with the BTC/USDT move; a BTC benchmark held in BTC returns zero', async (t) => {
  const reader = await setUp();
  const { report } = await reader.getPerformanceReport(request({ currency: 'BTC', benchmark: 'BTC' }), call);
  t.is(report.currency, 'BTC');
  const usdt = [0.01, -0.02, 0.01, 0.02, -0.01, 0.01, 0.01, -0.01, 0.02];
  const valued = [0, 1, 2, 4, 5, 6, 7, 8, 9];
  const expected = valued.reduce((g, k, i) => g * (1 + usdt[i]!) * (btc[k]! / btc[k + 1]!), 1) - 1;
  t.true(Math.abs(report.timeWeightedReturn - expected) < 1e-12, `${report.timeWeightedReturn} vs ${expected}`);
  t.true(report.benchmark !== null && Math.abs(report.benchmark.benchmarkReturn) < 1e-12);
});

test('a benchmark over USDT is the BTC price path over the same hours', async (t) => {
  const reader = await setUp();
  const { report } = await reader.getPerformanceReport(request({ benchmark: 'BTC' }), call);
  const valued = [0, 1, 2, 4, 5, 6, 7, 8, 9];
  const expected = valued.reduce((g, k) => g * (btc[k + 1]! / btc[k]!), 1) - 1;
  t.is(report.benchmark?.hours, 9);
  t.true(Math.abs(report.benchmark!.benchmarkReturn - expected) < 1e-12);
});

test('no exchange: the composite of the user\'s accounts, asset-weighted', async (t) => {
  const reader = await setUp();
  const { report, exchanges } = await reader.getPerformanceReport(request({ exchange: null }), call);
  t.deepEqual(exchanges, ['binance', 'bybit']);
  t.is(report.hours, 10);
  // First hour: 1000 at +1 %, 3000 at +0.5 % → (10 + 15) / 4000.
  t.true(Math.abs(report.monthly[0]!.return - report.timeWeightedReturn) < 1e-15);
  t.true(report.timeWeightedReturn > 0.03 && report.timeWeightedReturn < 0.05);
});

test('a user without accounts is NOT_FOUND; a custom period clips to inception', async (t) => {
  const reader = await setUp();
  await t.throwsAsync(reader.getPerformanceReport(request({ userUid: 'nobody', exchange: null }), call), { instanceOf: AccountNotFoundError });
  const { report } = await reader.getPerformanceReport(request({ period: 'CUSTOM', custom: { from: T0 - 100 * H, to: T0 + 3 * H } }), call);
  t.is(report.period.from, T0);
  t.is(report.hours, 3);
});
