// Issue 15, the derivatives aggregates in the API, end to end over gRPC: the real service (real
// PostgreSQL, worker pool, the real ccxt client against the fake Binance's COIN-M routes) syncs a
// COIN-M-only account at the default `returns` disclosure level. The hourly returns reply carries
// each hour's leverage, the metrics reply the maximum leverage, funding share, liquidation count and
// derivatives coverage start, the performance report and the signed statement (version 2) the same figures; no amount leaks
// (equity and flows stay withheld at this level).
import test from 'ava';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { decodeCredential } from '../../src/crypto/credential.js';
import { parseStatement, verifyStatement } from '../../src/crypto/statement.js';
import { createCcxtConnector } from '../../src/exchanges/ccxt/ccxt-connector.js';
import { DisclosureLevel, ReportPeriod, SyncStatus, SyncType } from '../../src/grpc/generated/enclave.js';
import { coinmTrader } from '../../testkit/fakes/binance-coinm-trader.js';
import { createBinanceLikeFake } from '../../testkit/fakes/binance-like-fake.js';
import { HOUR_MS, candleAt } from '../../testkit/fakes/history.js';
import { unary } from '../../testkit/support/grpc-client.js';
import { startServiceHarness } from '../app/service-harness.js';

const ACCOUNT = { userUid: 'coinm-grpc', exchange: 'binance' } as const;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

test('leverage per hour, max leverage, funding share, liquidations and derivatives coverage reach the client over gRPC and in the signed statement, at the returns level', async (t) => {
  t.timeout(120_000);
  const T0 = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 6 * HOUR_MS;
  const trader = coinmTrader(T0);
  const fake = createBinanceLikeFake('binance', { account: trader.account, apiKey: 'grpc-key', secret: 'grpc-secret', futures: 'not-opened', coinm: trader.coinm });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  // Derivatives are off by default against a base URL (the other venue tests sync spot only): on here.
  const h = await startServiceHarness({ SYNC_INTERVAL_MS: '0' }, {
    connectorFactory: (_account, plaintext) => createCcxtConnector('binance', decodeCredential(plaintext), {
      enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * HOUR_MS, settleLagMs: 1000, derivatives: true,
    }),
  });
  t.teardown(() => h.close());

  const identity = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  const sealed = await sealCredential(identity.hpkePublicKey, ACCOUNT, { apiKey: 'grpc-key', secret: 'grpc-secret' });
  await unary(h.client.registerConnection.bind(h.client), { ...ACCOUNT, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_UNSPECIFIED });
  const sync = await unary(h.client.processSyncJob.bind(h.client), { ...ACCOUNT, type: SyncType.SYNC_TYPE_FULL }, { deadline: Date.now() + 60_000 });
  t.true(sync.status === SyncStatus.SYNC_STATUS_COMPLETED || sync.status === SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS, `${sync.status} ${sync.error}`);

  // Hand computation (as in test/exchanges/ccxt/binance-coinm-derivatives.test.ts): equity at hour
  // end k = (COIN-M wallet + unrealized P&L, BTC) × BTC's spot mark; leverage = USD notional / equity.
  const spotClose = (end: number): number => Number(candleAt({ base: 'BTC', quote: 'USDT' }, end - HOUR_MS).close);
  const equity = trader.unrealized.map((u, k) => (trader.walletBefore(T0 + (k + 1) * HOUR_MS) + u) * spotClose(T0 + (k + 1) * HOUR_MS));
  const leverage = trader.exposure.map((x, k) => x / equity[k]!);

  const reply = await unary(h.client.calculateHistoricalReturns.bind(h.client), { ...ACCOUNT, fromMs: T0 - HOUR_MS, toMs: T0 + 6 * HOUR_MS });
  t.is(reply.disclosureLevel, DisclosureLevel.DISCLOSURE_LEVEL_RETURNS);
  t.deepEqual(reply.returns.map((r) => r.hourStartMs), leverage.map((_, k) => T0 + k * HOUR_MS));
  reply.returns.forEach((r, k) => t.true(r.leverage !== undefined && near(r.leverage, leverage[k]!), `hour ${k}: ${r.leverage} vs ${leverage[k]}`));
  t.true(reply.returns.every((r) => r.equityEnd === 0 && r.netFlow === 0), 'amounts stay withheld at returns');

  const { derivatives, disclosureLevel } = await unary(h.client.getAggregatedMetrics.bind(h.client), ACCOUNT);
  t.is(disclosureLevel, DisclosureLevel.DISCLOSURE_LEVEL_RETURNS);
  t.true(near(derivatives!.maxLeverage, Math.max(...leverage)));
  const pnl = trader.ledger.filter((r) => r.incomeType !== 'TRANSFER').reduce((s, r) => s + Number(r.income), 0);
  t.true(near(derivatives!.fundingShare!, (-0.000005 + 0.000004) / pnl));
  t.is(derivatives!.liquidations, 1);
  t.is(derivatives!.coverageStartMs, T0 - 24 * HOUR_MS, 'the first sync read from the history start (inside the venue lookback)');
  t.is(derivatives!.computedUntilMs, T0 + 6 * HOUR_MS);

  // The performance report names the venue's derivatives aggregates beside its returns.
  const report = await unary(h.client.getPerformanceReport.bind(h.client), { ...ACCOUNT, period: ReportPeriod.REPORT_PERIOD_SINCE_INCEPTION, fromMs: 0, toMs: 0, currency: '', benchmark: '' });
  t.deepEqual(report.derivatives.map((d) => d.exchange), ['binance']);
  t.deepEqual(report.derivatives[0]!.metrics, derivatives);

  const { statementJson } = await unary(h.client.getTrackRecordStatement.bind(h.client), { ...ACCOUNT, fromMs: 0, toMs: 0 });
  const statement = parseStatement(statementJson);
  t.deepEqual(verifyStatement(statement, { trustedPublicKey: identity.statementSigningKey }), { signature: true, trustedKey: true, handovers: 0, series: null });
  t.is(statement.statement.v, 2);
  const signed = statement.statement.v === 2 ? statement.statement.derivatives : null;
  t.truthy(signed);
  t.true(near(signed!.maxLeverage, derivatives!.maxLeverage) && near(signed!.fundingShare!, derivatives!.fundingShare!));
  t.like(signed, { liquidations: 1, coverageStartMs: T0 - 24 * HOUR_MS, computedUntilMs: T0 + 6 * HOUR_MS });
});
