// The built service as an operator runs it: `node dist/main.js` as a child process, once on a
// throw-away PostgreSQL database and once on the embedded default, an account on the fake
// Binance, then a real gRPC client syncs it and reads returns and metrics, which must equal the
// domain engine's own result on the same fills, candles and hours.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { credentials } from '@grpc/grpc-js';
import pg from 'pg';
import { createLogger } from '../../src/config/logger.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { DEFAULT_LARGE_FLOW_SHARE } from '../../src/domain/aggregation.js';
import type { PerformanceStats } from '../../src/domain/aggregation.js';
import { computePerformanceStats } from '../../src/domain/performance.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import { EnclaveServiceClient, SyncStatus, SyncType, type PerformanceMetrics as WireMetrics } from '../../src/grpc/generated/enclave.js';
import { HealthCheckResponse_ServingStatus, HealthClient } from '../../src/grpc/generated/health/v1/health.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer, type AccountKeySource } from '../../src/crypto/sealed-rows.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { createBinanceLikeFake } from '../../testkit/fakes/binance-like-fake.js';
import { DAY_MS, HOUR_MS, syntheticAccount } from '../../testkit/fakes/history.js';
import { createTestDatabase } from '../../testkit/support/database.js';
import { addAccount, ensureBuilt, startServiceProcess, unary, type ServiceProcess } from './support.js';

const CANARY_KEY = 'E2ECANARYKEY5d0c7a91b2';
const CANARY_SECRET = 'E2ECANARYSECRET8e44f1c06a';
const ACCOUNT: AccountKey = { userUid: 'e2e-trader', exchange: 'binance' };
const FILLS = 300;
const SHUTDOWN_GRACE_MS = 5_000;

test.before(async () => {
  await ensureBuilt();
});

interface Expected {
  readonly returns: readonly HourlyReturn[];
  readonly metrics: PerformanceStats;
}

/** The engine's own answer on the fills, flows and candles the service stored, as the actor would ask it. */
async function engineResult(store: AccountStore, untilHour: number): Promise<Expected> {
  const [fills, cashFlows] = await Promise.all([store.loadFills(ACCOUNT, 0), store.loadCashFlows(ACCOUNT, 0)]);
  const base = 'USDT';
  const assets = new Set<string>();
  for (const f of fills) for (const a of [f.baseAsset, f.quoteAsset, f.feeAsset]) assets.add(a);
  for (const c of cashFlows) assets.add(c.asset);
  const symbols = [...assets].filter((a) => a !== base).sort().map((a) => `${a}/${base}`);
  const first = Math.min(fills[0]?.executedAt ?? Infinity, cashFlows[0]?.occurredAt ?? Infinity);
  const candles = await store.loadCandles(ACCOUNT.exchange, symbols, Math.floor(first / HOUR_MS) * HOUR_MS, untilHour);
  // The one-minute bars the service fetched for valuations at flows (kept in minute_marks).
  const kept = await store.minuteMarks?.load(ACCOUNT.exchange, symbols, Math.floor(first / HOUR_MS) * HOUR_MS, untilHour) ?? [];
  const minuteCandles = kept.flatMap((m) => (m.candle === null ? [] : [m.candle]));
  // As the service runs it: true time-weighting at large flows, unvalued hours published with their flag.
  const result = aggregate({ baseCurrency: base, costMethod: 'average', state: null, openingBalances: [], fills, cashFlows, candles, untilHour, largeFlowShare: DEFAULT_LARGE_FLOW_SHARE, minuteCandles });
  const totals = { realizedPnl: result.realizedPnl, unrealizedPnl: result.unrealizedPnl, totalFees: result.totalFees };
  const published = [...result.hourlyReturns, ...(result.unvaluedHours ?? [])].sort((a, b) => a.hourStart - b.hourStart);
  return { returns: published, metrics: computePerformanceStats(published, totals) };
}

function wireOf(m: PerformanceStats): Record<string, number | undefined> {
  const opt = (v: number | null): number | undefined => v ?? undefined;
  return {
    hours: m.hours, cumulativeReturn: m.cumulativeReturn, annualizedReturn: opt(m.annualizedReturn), annualizedVolatility: m.annualizedVolatility,
    maxDrawdown: m.maxDrawdown, maxDrawdownPeakHourMs: opt(m.maxDrawdownPeakHour), maxDrawdownTroughHourMs: opt(m.maxDrawdownTroughHour),
    sharpe: opt(m.sharpe), sortino: opt(m.sortino), calmar: opt(m.calmar), positiveHourShare: m.positiveHourShare,
    bestHour: opt(m.bestHour), worstHour: opt(m.worstHour), totalFees: m.totalFees, realizedPnl: m.realizedPnl, unrealizedPnl: m.unrealizedPnl,
  };
}

function assertClose(t: ExecutionContext, actual: Record<string, number | undefined>, expected: Record<string, number | undefined>, what: string): void {
  for (const [key, want] of Object.entries(expected)) {
    const got = actual[key];
    if (want === undefined || got === undefined) {
      t.is(got, want, `${what}.${key}`);
      continue;
    }
    t.true(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}.${key}: ${got} vs ${want}`);
  }
}

interface Scenario {
  readonly env: Record<string, string>;
  /** The stored history, readable once the scenario allows it (after the stop on the embedded database). */
  /** `rootHex`: the ENCRYPTION_KEY the service ran with (its private rows are sealed under keys derived from it). */
  readonly withStore: <T>(work: (store: AccountStore) => Promise<T>, rootHex: string) => Promise<T>;
  /** Checks as the gateway role, while the service runs (PostgreSQL only). */
  readonly asGateway?: (t: ExecutionContext, expectedRows: number) => Promise<void>;
}

async function runScenario(t: ExecutionContext, scenario: Scenario): Promise<{ output: string }> {
  // A fresh embedded database takes tens of seconds to initialise on a busy 2-core machine.
  t.timeout(420_000);
  const now = Date.now();
  const history = syntheticAccount({ fills: FILLS, fromMs: now - 3 * DAY_MS, toMs: now - 2 * HOUR_MS });
  const fake = createBinanceLikeFake('binance', { account: history, apiKey: CANARY_KEY, secret: CANARY_SECRET });
  const venueUrl = await fake.start();
  t.teardown(() => fake.stop());
  const encryptionKey = randomBytes(32).toString('hex');
  const env = {
    ...scenario.env,
    ENCRYPTION_KEY: encryptionKey,
    VENUE_BASE_URLS: `binance=${venueUrl}`,
    // No client-side pacing against the local fake (most of a sync's time); what is compared is the same.
    VENUE_RATE_LIMIT_MS: '0',
    SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    POOL_THREADS: '1',
    LOG_LEVEL: 'info',
  };
  const credential = { apiKey: CANARY_KEY, secret: CANARY_SECRET };

  const service: ServiceProcess = await startServiceProcess(env);
  t.teardown(async () => {
    if (service.child.exitCode === null) service.child.kill('SIGKILL');
  });
  const target = `127.0.0.1:${service.grpcPort}`;
  // At the `full` disclosure level: this test compares every published figure with the engine's.
  const added = await addAccount(target, ACCOUNT, credential, ['--disclosure', 'full']);
  t.is(added.code, 0, `enclave add failed: ${added.stderr}`);
  const cliText = `${added.stdout}${added.stderr}${added.argv.join(' ')}`;
  t.false(cliText.includes(CANARY_KEY) || cliText.includes(CANARY_SECRET), 'the CLI prints and passes no credential');

  const client = new EnclaveServiceClient(target, credentials.createInsecure());
  const health = new HealthClient(target, credentials.createInsecure());
  t.teardown(() => {
    client.close();
    health.close();
  });

  const served = await unary(health.check.bind(health), { service: '' });
  t.is(served.status, HealthCheckResponse_ServingStatus.SERVING, 'grpc.health.v1 answers SERVING');

  const sync = await unary(client.processSyncJob.bind(client), { userUid: ACCOUNT.userUid, exchange: ACCOUNT.exchange, type: SyncType.SYNC_TYPE_INCREMENTAL }, 90_000);
  t.true(sync.status === SyncStatus.SYNC_STATUS_COMPLETED || sync.status === SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS, `sync status ${sync.status} ${sync.error}`);
  t.is(sync.fillsSynced, FILLS, 'every fill of the fake is stored once');
  t.is(sync.cashFlowsSynced, history.transfers.length);
  t.true(sync.hourlyReturnsGenerated > 48, `hours ${sync.hourlyReturnsGenerated}`);
  const untilHour = sync.latestSnapshot?.timeMs;
  if (untilHour === undefined) return t.fail('the sync reply carries no snapshot') as never;
  t.is(untilHour % HOUR_MS, 0);

  const fromMs = untilHour - 10 * DAY_MS;
  const { returns } = await unary(client.calculateHistoricalReturns.bind(client), { userUid: ACCOUNT.userUid, exchange: ACCOUNT.exchange, fromMs, toMs: untilHour });
  t.is(returns.length, sync.hourlyReturnsGenerated);
  const { metrics } = await unary(client.getAggregatedMetrics.bind(client), { userUid: ACCOUNT.userUid, exchange: ACCOUNT.exchange });
  if (metrics === undefined) return t.fail('no metrics in the reply') as never;

  await scenario.asGateway?.(t, returns.length);

  const scrape = await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`);
  t.is(scrape.status, 200);
  const exposition = await scrape.text();
  // The account label is a keyed pseudonym: the user id never appears in a scrape (issue 14).
  t.false(exposition.includes('e2e-trader'));
  t.regex(exposition, /enclave_account_syncs_total\{account="acct_[0-9a-f]{32}",result="ok"\} 1\b/u);
  // Per account only whether the sync found news; the fill count is one total over all accounts.
  t.regex(exposition, /enclave_account_syncs_new_data_total\{account="acct_[0-9a-f]{32}",new_data="yes"\} 1\b/u);
  // (The embedded scenario's demo account adds its own fills to the total.)
  const total = Number(/^enclave_fills_ingested_total (\d+)$/mu.exec(exposition)?.[1] ?? Number.NaN);
  t.true(total >= FILLS, `enclave_fills_ingested_total ${total}`);
  t.regex(exposition, /enclave_account_actor_state\{account="acct_[0-9a-f]{32}",state="idle"\} 1/u);
  t.regex(exposition, /enclave_sync_duration_seconds_count\{venue="binance"\} 1/u);
  t.regex(exposition, /process_cpu_user_seconds_total/u);

  const exit = await service.terminate();
  t.is(exit.code, 0, `exit code (signal ${exit.signal})`);
  t.true(exit.ms < SHUTDOWN_GRACE_MS + 5_000, `SIGTERM exit took ${Math.round(exit.ms)} ms`);

  const output = service.output();
  for (const text of [output, exposition, JSON.stringify({ sync, returns, metrics })]) {
    t.false(text.includes(CANARY_KEY), 'the API key never leaves the enclave');
    t.false(text.includes(CANARY_SECRET), 'the secret never leaves the enclave');
  }
  t.regex(output, /"msg":"enclave worker stopped"/u);

  const expected = await scenario.withStore((store) => engineResult(store, untilHour), encryptionKey);
  t.is(returns.length, expected.returns.length, 'as many hours as the engine computes');
  returns.forEach((r, i) => {
    const e = expected.returns[i]!;
    assertClose(t, { hour: r.hourStartMs, r: r.hourlyReturn, c: r.cumulativeReturn, equity: r.equityEnd, flow: r.netFlow },
      { hour: e.hourStart, r: e.return, c: e.cumulativeReturn, equity: e.equityEnd, flow: e.netFlow }, `hour ${i}`);
  });
  assertClose(t, metrics as unknown as Record<string, number | undefined>, wireOf(expected.metrics), 'metrics');
  t.is((metrics as WireMetrics).hours, expected.returns.length);
  return { output };
}

/** The per-account data keys the service derives from this root secret (ENCRYPTION_KEY_ID default 1): its fills are sealed under them. */
async function accountKeysOf(hex: string): Promise<AccountKeySource> {
  const keys = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, Buffer.from(hex, 'hex')]]) });
  return { currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) };
}

test.serial('the built service on PostgreSQL syncs the fake Binance and serves what the engine computes', async (t) => {
  const db = await createTestDatabase(t);
  await runScenario(t, {
    env: { DATABASE_URL: db.url, DEMO: 'false' },
    withStore: async (work, rootHex) => work(createAccountStore(db.pool, { sealed: createSealedStore(createAccountSealer(await accountKeysOf(rootHex))) })),
    async asGateway(t, expectedRows) {
      const gateway = new pg.Client({ connectionString: db.urlAs('gateway_user') });
      await gateway.connect();
      try {
        const { rows } = await gateway.query<{ n: number }>('SELECT count(*)::int AS n FROM hourly_returns WHERE user_uid = $1 AND exchange = $2', [ACCOUNT.userUid, ACCOUNT.exchange]);
        t.is(rows[0]?.n, expectedRows, 'gateway_user reads the new hourly_returns rows');
        const denied = await gateway.query('SELECT count(*) FROM trades').then(() => null, (error: unknown) => error as { code?: string });
        t.is(denied?.code, '42501', 'gateway_user cannot read fills');
      } finally {
        await gateway.end();
      }
    },
  });
});

test.serial('the built service on the embedded default runs the demo and syncs the fake Binance too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'enclave-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const EMBEDDED_DB_DIR = join(dir, 'pglite');
  const { output } = await runScenario(t, {
    env: { EMBEDDED_DB_DIR },
    async withStore(work, rootHex) {
      const storage = await openStorage({ EMBEDDED_DB_DIR }, createLogger('silent'), { accountKeys: await accountKeysOf(rootHex) });
      try {
        return await work(storage.accountStore);
      } finally {
        await storage.close();
      }
    },
  });
  t.regex(output, /Demo account simulated\/demo synced/u, 'the default start prints the demo account');
});
