// `npm run bench -- grpc`: GetAggregatedMetrics at a fixed rate (default 1,000 req/s for 10 s)
// from a loopback client running in a worker thread (its own event loop). Latency is per call,
// send to reply. Goal: p99 ≤ 3 ms, 0 errors. Options: --rate N --seconds N --accounts N.
// --target service (default): the whole service in-process (`startService`: storage, keyring,
//   worker pool, actor runtime, gRPC server) on a throw-away PostgreSQL database (the local
//   server, as the tests use; --database embedded for PGlite in a temp directory), with N
//   `simulated` accounts added and synced first (--history-days, default 30, of simulated history).
// --target port: the gRPC server over an in-bench EnclaveApi holding N in-memory metrics (the
//   transport and handler cost alone).
// The same load first runs against a bare grpc-js server answering a constant (the floor this
// machine gives at this moment), so the service's own cost can be read off on a busy machine;
// --no-baseline skips it.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { credentials, Metadata, Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { AccountNotFoundError } from '../src/actors/errors.js';
import { deadlineSignal } from '../src/actors/nact.js';
import { startService, type RunningService } from '../src/app/service.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/logger.js';
import { decodeCredential, encodeCredential } from '../src/crypto/credential.js';
import type { VenueConnector } from '../src/exchanges/connector.js';
import { createSimulatedConnector } from '../src/exchanges/simulated.js';
import { sealEnvelope } from '../src/crypto/envelope.js';
import { createTestDatabase, type TestDatabase } from '../testkit/support/database.js';
import type { PerformanceStats } from '../src/domain/aggregation.js';
import { accountId, type AccountKey, type Exchange } from '../src/domain/types.js';
import { EnclaveServiceClient, EnclaveServiceService, type GetAggregatedMetricsResponse } from '../src/grpc/generated/enclave.js';
import type { EnclaveApi } from '../src/grpc/enclave-api.js';
import { startGrpcServer } from '../src/grpc/server.js';
import { createEnclaveService } from '../src/grpc/service.js';

const HOUR = 3_600_000;
const VENUES: readonly Exchange[] = ['binance', 'bybit', 'bitget', 'mexc', 'alpaca'];

interface LoadPlan {
  readonly port: number;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly accounts: number;
  /** Accounts are `simulated` ones (the real service) rather than the in-bench port's mix. */
  readonly simulated: boolean;
}

interface LoadResult {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly elapsedMs: number;
  /** Process CPU (all threads) over the measured window, µs. */
  readonly cpuUs: number;
}

function benchAccount(i: number, simulated = false): AccountKey {
  return { userUid: `bench_user_${i}`, exchange: simulated ? 'simulated' : VENUES[i % VENUES.length]! };
}

/** Metrics of a deterministic 30-day random walk, computed once per account. */
function performanceStatsOf(seed: number): PerformanceStats {
  let state = seed * 2654435761 + 1;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const hours = 30 * 24;
  let equity = 1;
  let peak = 1;
  let maxDrawdown = 0;
  let sum = 0;
  let sumSq = 0;
  let positive = 0;
  let best = -Infinity;
  let worst = Infinity;
  for (let h = 0; h < hours; h++) {
    const r = (random() - 0.495) * 0.01;
    equity *= 1 + r;
    peak = Math.max(peak, equity);
    maxDrawdown = Math.max(maxDrawdown, 1 - equity / peak);
    sum += r;
    sumSq += r * r;
    if (r > 0) positive++;
    best = Math.max(best, r);
    worst = Math.min(worst, r);
  }
  const mean = sum / hours;
  const sd = Math.sqrt(sumSq / hours - mean * mean);
  const perYear = 24 * 365;
  return {
    hours,
    cumulativeReturn: equity - 1,
    annualizedReturn: equity ** (perYear / hours) - 1,
    annualizedVolatility: sd * Math.sqrt(perYear),
    maxDrawdown,
    maxDrawdownPeakHour: Date.UTC(2026, 0, 1),
    maxDrawdownTroughHour: Date.UTC(2026, 0, 1) + 10 * HOUR,
    sharpe: sd === 0 ? null : (mean / sd) * Math.sqrt(perYear),
    sortino: null,
    calmar: maxDrawdown === 0 ? null : (equity - 1) / maxDrawdown,
    positiveHourShare: positive / hours,
    bestHour: best,
    worstHour: worst,
    totalFees: 10 + seed,
    realizedPnl: 100 * seed,
    unrealizedPnl: -seed,
  };
}

function benchPort(accounts: number): EnclaveApi {
  const metrics = new Map<string, PerformanceStats>();
  for (let i = 0; i < accounts; i++) metrics.set(accountId(benchAccount(i)), performanceStatsOf(i));
  const notHere = (): Promise<never> => Promise.reject(new Error('not part of this benchmark'));
  return {
    getPerformance: async (account) => {
      const found = metrics.get(accountId(account));
      if (found === undefined) throw new AccountNotFoundError(accountId(account));
      return found;
    },
    sync: notHere,
    disclosureLevel: async () => 'full',
    setDisclosureLevel: notHere,
    trackRecordStatement: notHere,
    whois: notHere,
    getReturns: notHere,
    getSnapshots: notHere,
    identity: notHere,
    registrationChallenge: notHere,
    registerConnection: notHere,
    removeConnection: notHere,
    listConnections: notHere,
    reviveConnection: notHere,
    getAttestation: notHere,
    getPerformanceReport: notHere,
    health: async () => ({ status: 'serving', activeAccounts: metrics.size, failedAccounts: 0 }),
  };
}

/** Open-loop load: requests go out on schedule whether or not earlier ones have answered. */
async function load(plan: LoadPlan): Promise<LoadResult> {
  // Channelz off as on the server: the client shares this machine's two cores with the server.
  const client = new EnclaveServiceClient(`127.0.0.1:${plan.port}`, credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5_000, (e) => (e ? reject(e) : resolve())));
  const latenciesMs: number[] = [];
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let done = 0;
  const total = Math.round(plan.rate * (plan.warmupSeconds + plan.seconds));
  const warmup = Math.round(plan.rate * plan.warmupSeconds);
  const start = performance.now();
  let measureStart = start;
  let cpuStart = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const fire = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * plan.rate));
      while (sent < due) {
        const index = sent++;
        if (index === warmup) {
          measureStart = performance.now();
          cpuStart = process.cpuUsage();
        }
        const t0 = performance.now();
        client.getAggregatedMetrics(benchAccount(index % plan.accounts, plan.simulated), new Metadata(), { deadline: Date.now() + 5_000 }, (error) => {
          const ms = performance.now() - t0;
          if (index >= warmup) {
            if (error === null) latenciesMs.push(ms);
            else {
              errors++;
              if (errors === 1) console.error('first error:', error.code, error.details);
              errorCodes[String(error.code)] = (errorCodes[String(error.code)] ?? 0) + 1;
            }
          }
          if (++done === total) resolve();
        });
      }
      if (sent < total) setTimeout(fire, 1);
    };
    fire();
  });
  const elapsedMs = performance.now() - measureStart;
  const cpu = process.cpuUsage(cpuStart);
  client.close();
  return { latenciesMs, errors, errorCodes, elapsedMs, cpuUs: cpu.user + cpu.system };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

interface Summary {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly requests: number;
  readonly achievedRps: number;
  /** Process CPU (server, client and worker together) per request; comparable across runs on a busy machine. */
  readonly cpuUsPerRequest: number;
}

async function measure(label: string, plan: LoadPlan): Promise<Summary> {
  const worker = new Worker(new URL(import.meta.url), { workerData: plan });
  const result = await new Promise<LoadResult>((resolve, reject) => {
    worker.once('message', (m: LoadResult) => resolve(m));
    worker.once('error', reject);
  });
  await worker.terminate();
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const requests = sorted.length + result.errors;
  const summary = {
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
    p999Ms: round(percentile(sorted, 99.9)),
    maxMs: round(sorted.at(-1) ?? NaN),
    errors: result.errors,
    requests,
    achievedRps: Math.round(requests / (result.elapsedMs / 1000)),
    cpuUsPerRequest: Math.round(result.cpuUs / requests),
  };
  const codes = result.errors > 0 ? ` ${JSON.stringify(result.errorCodes)}` : '';
  console.log(`${label}: ${requests} requests, ${result.errors} errors${codes}, achieved ${summary.achievedRps} req/s`);
  console.log(`${label}: process CPU ${summary.cpuUsPerRequest} µs per request (client and server)`);
  console.log(`${label}: latency ms p50 ${summary.p50Ms}  p90 ${summary.p90Ms}  p99 ${summary.p99Ms}  p99.9 ${summary.p999Ms}  max ${summary.maxMs}`);
  return summary;
}

/** A grpc-js server with the same generated service answering one constant reply. */
async function bareServer(): Promise<{ port: number; close(): void }> {
  const server = new Server({ 'grpc.enable_channelz': 0 });
  const reply: GetAggregatedMetricsResponse = { metrics: { ...performanceStatsOf(1), annualizedReturn: 0.1, annualizationNote: '', currency: 'USDT', maxDrawdownPeakHourMs: 0, maxDrawdownTroughHourMs: 0, sharpe: 1, sortino: 1, calmar: 1, bestHour: 0, worstHour: 0 }, disclosureLevel: 0 };
  const notUsed = (_call: unknown, callback: sendUnaryData<never>): void => callback({ code: 12 });
  server.addService(EnclaveServiceService, {
    getAggregatedMetrics: (_call: unknown, callback: sendUnaryData<GetAggregatedMetricsResponse>) => callback(null, reply),
    processSyncJob: notUsed,
    calculateHistoricalReturns: notUsed,
    getSnapshotTimeSeries: notUsed,
    healthCheck: notUsed,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))),
  );
  return { port, close: () => server.forceShutdown() };
}

/**
 * The service's own cost per call without the transport: the real handler (validate, ask with
 * deadline and abort signal, map) on a stand-in call object, sequentially.
 */
async function handlerOverheadUs(accounts: number, calls: number): Promise<number> {
  const service = createEnclaveService({ port: benchPort(accounts), logger: createLogger('error'), enclaveMode: false, version: 'bench' });
  const one = (i: number): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const call = Object.assign(new EventEmitter(), { request: benchAccount(i % accounts), getDeadline: () => Date.now() + 5_000 });
      // A stand-in for grpc-js's ServerUnaryCall: the handler uses only these members.
      service.getAggregatedMetrics(call as never, (error, reply) => (error ? reject(new Error(error.details ?? 'error')) : resolve(reply)));
    });
  for (let i = 0; i < calls / 5; i++) await one(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < calls; i++) await one(i);
  return ((performance.now() - start) * 1000) / calls;
}

/** The real service in-process, as src/main.ts starts it (no demo, no schedule), on a throw-away database. */
async function startBenchService(embedded: boolean, historyDays: number): Promise<{ service: RunningService; close(): Promise<void> }> {
  let database: TestDatabase | undefined;
  let dir: string | undefined;
  const env: Record<string, string> = {
    ENCRYPTION_KEY: randomBytes(32).toString('hex'), ENCLAVE_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'error',
    SYNC_INTERVAL_MS: '0', DEMO: 'false',
  };
  if (embedded) {
    dir = await mkdtemp(join(tmpdir(), 'bench-grpc-'));
    env.EMBEDDED_DB_DIR = join(dir, 'pglite');
  } else {
    database = await createTestDatabase(undefined, { migrate: false });
    env.DATABASE_URL = database.url;
  }
  // A shorter simulated history than the demo's (which starts at the simulated genesis), so that
  // syncing every account first takes seconds, not minutes; the connector is otherwise the registry's.
  const startMs = Math.floor(Date.now() / HOUR) * HOUR - historyDays * 24 * HOUR;
  const connectorFactory = (account: AccountKey, plaintext: Buffer): VenueConnector => {
    decodeCredential(plaintext);
    return createSimulatedConnector(account, { seed: 1, clock: { now: Date.now }, startMs });
  };
  const service = await startService(loadConfig(env), createLogger('error'), { connectorFactory });
  return {
    service,
    async close() {
      await service.stop();
      await database?.drop();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Adds `accounts` simulated accounts (sealed like any credential) and syncs each once; returns seconds. */
async function addAndSync(service: RunningService, accounts: number, concurrency: number): Promise<number> {
  for (let i = 0; i < accounts; i++) {
    const account = benchAccount(i, true);
    const plaintext = encodeCredential({ apiKey: 'bench', secret: 'bench' });
    await service.storage.connections.saveConnection(account, sealEnvelope(service.keyring, account, plaintext));
    plaintext.fill(0);
  }
  const start = performance.now();
  let next = 0;
  let fills = 0;
  let hours = 0;
  const worker = async (): Promise<void> => {
    while (next < accounts) {
      const account = benchAccount(next++, true);
      const result = await service.runtime.supervisor.sync(account, 'incremental', { signal: deadlineSignal(600_000) });
      fills += result.fillsIngested;
      hours += result.hourlyReturnsWritten;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  const seconds = (performance.now() - start) / 1000;
  console.log(`synced ${accounts} simulated accounts in ${seconds.toFixed(1)} s: ${fills} fills, ${hours} hourly returns stored`);
  return Math.round(seconds * 10) / 10;
}

if (isMainThread) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '10' },
      accounts: { type: 'string', default: '1000' },
      'no-baseline': { type: 'boolean', default: false },
      target: { type: 'string', default: 'service' },
      database: { type: 'string', default: 'postgres' },
      'sync-concurrency': { type: 'string', default: '8' },
      'history-days': { type: 'string', default: '30' },
    },
  });
  if (values.target !== 'service' && values.target !== 'port') throw new Error('--target service|port');
  if (values.database !== 'postgres' && values.database !== 'embedded') throw new Error('--database postgres|embedded');
  const onService = values.target === 'service';
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const accounts = Number(values.accounts);
  console.log(`GetAggregatedMetrics: ${accounts} accounts, ${rate} req/s for ${seconds} s (+1 s warm-up), loopback client in a worker thread, target ${onService ? `the service on ${values.database}` : 'the in-bench port'}`);
  const handlerUs = await handlerOverheadUs(accounts, 50_000);
  console.log(`handler alone (validate, ask, map; no transport): ${handlerUs.toFixed(1)} µs per call`);
  let baseline: Summary | undefined;
  if (!values['no-baseline']) {
    const bare = await bareServer();
    // A discarded first run, so that neither measured run pays for warming grpc-js up.
    await measure('warm-up (discarded)', { port: bare.port, rate, seconds: 2, warmupSeconds: 1, accounts, simulated: false });
    baseline = await measure('bare grpc-js floor', { port: bare.port, rate, seconds, warmupSeconds: 1, accounts, simulated: false });
    bare.close();
  }
  let summary: Summary;
  let syncSeconds: number | null = null;
  if (onService) {
    const running = await startBenchService(values.database === 'embedded', Number(values['history-days']));
    try {
      syncSeconds = await addAndSync(running.service, accounts, Number(values['sync-concurrency']));
      summary = await measure('EnclaveService (whole service)', { port: running.service.grpcPort, rate, seconds, warmupSeconds: 1, accounts, simulated: true });
    } finally {
      await running.close();
    }
  } else {
    const server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      enclave: benchPort(accounts),
      logger: createLogger('error'),
      enclaveMode: false,
      version: 'bench',
    });
    summary = await measure('EnclaveService (in-bench port)', { port: server.port, rate, seconds, warmupSeconds: 1, accounts, simulated: false });
    await server.close(1_000);
  }
  console.log(`goal: p99 ≤ 3 ms and 0 errors: ${summary.p99Ms <= 3 && summary.errors === 0 ? 'met' : 'NOT met'}`);
  const loadAverage = loadavg()[0]!;
  console.log(`machine load average (1 min): ${loadAverage.toFixed(2)} on ${availableParallelism()} cores`);
  console.log(
    JSON.stringify({
      ...summary,
      target: onService ? `service-${values.database}` : 'port',
      syncSeconds,
      baselineP50Ms: baseline?.p50Ms ?? null,
      baselineP99Ms: baseline?.p99Ms ?? null,
      baselineCpuUsPerRequest: baseline?.cpuUsPerRequest ?? null,
      handlerUsPerCall: Math.round(handlerUs * 10) / 10,
      loadAverage: Math.round(loadAverage * 100) / 100,
    }),
  );
} else {
  const result = await load(workerData as LoadPlan);
  parentPort!.postMessage(result);
}
