// Issue 17, items 1 and 3, end to end over gRPC: the real service (real PostgreSQL, worker pool,
// the real ccxt client against the fake Binance) publishes every hour of the record, including
// hours that could not be valued, each with its flags; the metrics and the report state the share
// of flagged hours they rest on (the same count as the hours the client can read); a large deposit
// in kind is valued at its minute from a 1m bar the enclave fetched, so its hour is revalued-at-flow
// and not estimated-mark.
import test from 'ava';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { DisclosureLevel, ReportPeriod, SyncStatus, SyncType } from '../../src/grpc/generated/enclave.js';
import { HOUR_FLAGS } from '../../src/domain/hour-flags.js';
import { createBinanceLikeFake } from '../../testkit/fakes/binance-like-fake.js';
import { DAY_MS, HOUR_MS, addTransfer, syntheticAccount } from '../../testkit/fakes/history.js';
import { unary } from '../../testkit/support/grpc-client.js';
import { startServiceHarness } from '../app/service-harness.js';

const ACCOUNT = { userUid: 'flags-trader', exchange: 'binance' } as const;

test('every hour is published with its flags, unvalued ones included; metrics and the report state the flagged share; a large deposit in kind is valued at its minute bar', async (t) => {
  t.timeout(240_000);
  const now = Date.now();
  const fromMs = now - 8 * DAY_MS;
  const toMs = now - 2 * HOUR_MS;
  const history = syntheticAccount({ fills: 200, fromMs, toMs });
  // A first deposit withdrawn an hour later: the hours until the next deposit hold nothing and
  // cannot be valued (no equity, no flow). They must be published, flagged unvalued.
  const early = Math.floor((fromMs - 3 * DAY_MS) / HOUR_MS) * HOUR_MS + 10 * 60_000;
  addTransfer(history, { kind: 'deposit', asset: 'USDT', amount: '100', fee: '0', time: early });
  addTransfer(history, { kind: 'withdrawal', asset: 'USDT', amount: '100', fee: '0', time: early + HOUR_MS });
  const btcDeposit = history.transfers.find((x) => x.asset === 'BTC' && x.kind === 'deposit')!.time;
  const fake = createBinanceLikeFake('binance', { account: history, apiKey: 'flags-key', secret: 'flags-secret' });
  const venueUrl = await fake.start();
  t.teardown(() => fake.stop());
  const h = await startServiceHarness({ VENUE_BASE_URLS: `binance=${venueUrl}`, VENUE_RATE_LIMIT_MS: '0', SYNC_INTERVAL_MS: '0' });
  t.teardown(() => h.close());

  const identity = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  const sealed = await sealCredential(identity.hpkePublicKey, ACCOUNT, { apiKey: 'flags-key', secret: 'flags-secret' });
  await unary(h.client.registerConnection.bind(h.client), { ...ACCOUNT, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_FULL });
  const sync = await unary(h.client.processSyncJob.bind(h.client), { ...ACCOUNT, type: SyncType.SYNC_TYPE_FULL }, { deadline: Date.now() + 180_000 });
  t.true(sync.status === SyncStatus.SYNC_STATUS_COMPLETED || sync.status === SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS, `${sync.status} ${sync.error}`);

  const { returns } = await unary(h.client.calculateHistoricalReturns.bind(h.client), { ...ACCOUNT, fromMs: now - 30 * DAY_MS, toMs: now + HOUR_MS });
  t.is(returns.length, sync.hourlyReturnsGenerated);
  // No hole: from the first record's hour to the last computed one, every hour is there.
  t.is(returns[0]!.hourStartMs, Math.floor(early / HOUR_MS) * HOUR_MS);
  for (let i = 1; i < returns.length; i++) t.is(returns[i]!.hourStartMs - returns[i - 1]!.hourStartMs, HOUR_MS, `hole before hour ${i}`);
  for (const r of returns) for (const f of r.flags) t.true((HOUR_FLAGS as readonly string[]).includes(f), f);

  const unvalued = returns.filter((r) => r.flags.includes('unvalued'));
  t.true(unvalued.length >= 24, `unvalued hours ${unvalued.length}`);
  for (const r of unvalued) t.is(r.hourlyReturn, 0);

  // The BTC deposit (half the account's value) split its hour at a minute bar the enclave fetched.
  const depositHour = returns.find((r) => r.hourStartMs === Math.floor(btcDeposit / HOUR_MS) * HOUR_MS)!;
  t.true(depositHour.flags.includes('revalued-at-flow'), depositHour.flags.join());
  t.false(depositHour.flags.includes('estimated-mark'), depositHour.flags.join());
  const minuteAsks = fake.requestsTo('/api/v3/klines').filter((r) => r.params['interval'] === '1m');
  t.true(minuteAsks.some((r) => Number(r.params['startTime']) === Math.floor(btcDeposit / 60_000) * 60_000));

  // The shares the replies state are the client's own count over the same hours.
  const flagged = returns.filter((r) => r.flags.length > 0).length / returns.length;
  const perFlag = HOUR_FLAGS.map((f) => ({ flag: f, share: returns.filter((r) => r.flags.includes(f)).length / returns.length })).filter((x) => x.share > 0);
  const { metrics } = await unary(h.client.getAggregatedMetrics.bind(h.client), ACCOUNT);
  t.true(Math.abs(metrics!.flaggedHourShare - flagged) < 1e-12, `${metrics!.flaggedHourShare} vs ${flagged}`);
  t.deepEqual(metrics!.flagShares.map((f) => f.flag), perFlag.map((f) => f.flag));
  metrics!.flagShares.forEach((f, i) => t.true(Math.abs(f.share - perFlag[i]!.share) < 1e-12, f.flag));

  const report = await unary(h.client.getPerformanceReport.bind(h.client), { ...ACCOUNT, period: ReportPeriod.REPORT_PERIOD_SINCE_INCEPTION, fromMs: 0, toMs: 0, currency: '', benchmark: '' });
  t.is(report.hours, returns.length);
  t.is(report.valuedHours, returns.length - unvalued.length);
  t.true(Math.abs(report.flaggedHourShare - flagged) < 1e-12, `${report.flaggedHourShare} vs ${flagged}`);
  t.deepEqual(report.flagShares.map((f) => f.flag), perFlag.map((f) => f.flag));
  t.true(report.monthly.length > 0 && report.monthly.every((m) => m.flaggedShare >= 0 && m.flaggedShare <= 1));
});
