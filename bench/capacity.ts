// `npm run bench -- capacity`: what operators pay per account (issue 19). On a throw-away
// PostgreSQL database, the whole service in-process (startService: storage, keyring, worker pool,
// actor runtime, gRPC server, the market-data owner):
//   1. registers N `simulated` accounts (a year of history, ~1,200 fills each) through the real
//      gRPC path (GetEnclaveIdentity, HPKE-sealed RegisterConnection),
//   2. runs their first syncs (concurrency --concurrency, default 8),
//   3. passivates every actor, advances the service's clock one hour, and runs one incremental sync
//      per account with its actor cold (as in production between hourly syncs),
//   4. reads each account's metrics (the read side gRPC GetAggregatedMetrics answers from), then
//      once more (the connections' plans cached: metricsReadAgain).
// Figures come from CPU counters, not wall time (the machine is shared): this process's
// process.cpuUsage() (all threads: main, worker pool) and the PostgreSQL backends of the bench
// database (utime + stime from /proc/<pid>/stat, sampled every 100 ms so that backends closed by
// the pool are counted up to their last sample). Statements are counted at the pg driver
// (every query the slonik pool and the COPY path send, transaction control included).
// Options: --accounts N (default 1,000; env CAPACITY_ACCOUNTS), --concurrency N, --history-days N.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { credentials } from '@grpc/grpc-js';
import pg from 'pg';
import { deadlineSignal } from '../src/actors/nact.js';
import { systemClock, type Clock } from '../src/actors/clock.js';
import { startService } from '../src/app/service.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/logger.js';
import { decodeCredential } from '../src/crypto/credential.js';
import { sealCredential } from '../src/crypto/sealed-intake.js';
import type { AccountKey } from '../src/domain/types.js';
import { createSimulatedConnector } from '../src/exchanges/simulated.js';
import type { VenueConnector } from '../src/exchanges/connector.js';
import { DisclosureLevel, EnclaveServiceClient } from '../src/grpc/generated/enclave.js';
import { createTestDatabase } from '../testkit/support/database.js';
import { unary } from '../testkit/support/grpc-client.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: process.env.CAPACITY_ACCOUNTS ?? '1000' },
    concurrency: { type: 'string', default: '8' },
    'history-days': { type: 'string', default: '365' },
  },
});
const N = Number(values.accounts);
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const HISTORY_DAYS = Number(values['history-days']);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// ---- Counters -------------------------------------------------------------------------------

/** Every statement any pg client of this process sends (slonik's pool and the COPY path use pg). */
let statements = 0;
/** With CAPACITY_TRACE=1 every statement of one incremental sync is printed (round trip in ms, first 100 characters). */
let trace: string[] | null = null;
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countingQuery(this: pg.Client, ...args: unknown[]) {
  statements += 1;
  const result = (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (trace !== null) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '?';
    const line = trace.push(text.replace(/\s+/gu, ' ').slice(0, 100)) - 1;
    // The round trip (the traced sync runs alone, so it is mostly the server's time).
    const started = performance.now();
    if (result instanceof Promise) {
      const lines = trace;
      result.then(() => { lines[line] = `${(performance.now() - started).toFixed(2).padStart(7)} ms  ${lines[line]}`; }, () => undefined);
    }
  }
  return result;
} as typeof pg.Client.prototype.query;

const TICKS = 100; // USER_HZ on Linux
function backendCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
  } catch {
    return null;
  }
}

/** PostgreSQL backend CPU of one database, summed over every backend seen (sampled). */
function backendCpuMeter(admin: pg.Client, database: string): { sample(): Promise<void>; totalMs(): number; stop(): Promise<void> } {
  const seen = new Map<number, { first: number; last: number }>();
  const ownPid = (admin as unknown as { processID?: number }).processID;
  // One sample at a time on the admin connection (the timer's and the phases' own).
  let queue: Promise<void> = Promise.resolve();
  const sample = (): Promise<void> => {
    queue = queue.then(sampleNow, sampleNow);
    return queue;
  };
  const sampleNow = async (): Promise<void> => {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`, [database]);
    for (const { pid } of rows) {
      if (pid === ownPid) continue;
      const ms = backendCpuMs(pid);
      if (ms === null) continue;
      const entry = seen.get(pid);
      // A backend first seen mid-phase: its CPU before this sample is counted from its start
      // (it connected during the run: connection set-up is part of the cost).
      if (entry === undefined) seen.set(pid, { first: 0, last: ms });
      else entry.last = ms;
    }
  };
  let timer: NodeJS.Timeout | null = setInterval(() => { void sample().catch(() => undefined); }, 100);
  return {
    sample,
    totalMs: () => [...seen.values()].reduce((sum, e) => sum + e.last - e.first, 0),
    async stop() { if (timer !== null) clearInterval(timer); timer = null; await sample(); },
  };
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Phase { readonly serviceMs: number; readonly databaseMs: number; readonly statements: number; readonly wallMs: number }

async function measured(meter: ReturnType<typeof backendCpuMeter>, work: () => Promise<void>): Promise<Phase> {
  await meter.sample();
  const cpu0 = processCpuMs();
  const db0 = meter.totalMs();
  const st0 = statements;
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const serviceMs = processCpuMs() - cpu0;
  const st = statements - st0;
  await meter.sample();
  return { serviceMs, databaseMs: meter.totalMs() - db0, statements: st, wallMs };
}

async function forEachAccount(accounts: readonly AccountKey[], concurrency: number, work: (a: AccountKey) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < accounts.length) await work(accounts[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

// ---- The run ----------------------------------------------------------------------------------

const database = await createTestDatabase(undefined, { migrate: false });
const admin = new pg.Client({ connectionString: database.url });
await admin.connect();
let offset = 0;
/** The service's clock: the system's, moved forward by the bench (timers run on real time). */
const clock: Clock = { now: () => Date.now() + offset, setTimer: systemClock.setTimer };
const startMs = Math.floor(Date.now() / HOUR) * HOUR - HISTORY_DAYS * DAY;
const venues = new Map<string, VenueConnector>();
const service = await startService(loadConfig({
  ENCRYPTION_KEY: randomBytes(32).toString('hex'), ENCLAVE_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'error',
  SYNC_INTERVAL_MS: '0', DEMO: 'false', DATABASE_URL: database.url, ACTOR_IDLE_MS: String(10 * DAY),
}), createLogger('error'), {
  clock,
  // The registry's simulated connector, on the bench's clock and with a year of history.
  // The registry's simulated connector, on the bench's clock and with a year of history. The
  // simulated venue generates its ledger in this process (a real venue does it remotely): one venue
  // per account is kept across actor lifetimes, so a cold actor's sync does not pay for regenerating
  // a year of the fake's history. The actor holds only the thin handle below.
  connectorFactory: (account, plaintext) => {
    decodeCredential(plaintext);
    const id = account.userUid;
    let venue = venues.get(id);
    if (venue === undefined) {
      venue = createSimulatedConnector(account, { seed: 19, clock, startMs });
      venues.set(id, venue);
    }
    const v = venue;
    return {
      exchange: v.exchange, baseCurrency: v.baseCurrency,
      fetchFills: (since, signal) => v.fetchFills(since, signal),
      fetchCashFlows: (since, signal) => v.fetchCashFlows(since, signal),
      fetchBalances: (signal) => v.fetchBalances(signal),
      fetchHourlyCandles: (symbol, from, to, signal) => v.fetchHourlyCandles(symbol, from, to, signal),
      fetchPermissions: async (signal) => v.fetchPermissions!(signal),
      close: async () => undefined,
    };
  },
});
const meter = backendCpuMeter(admin, database.name);
const accounts: AccountKey[] = Array.from({ length: N }, (_, i) => ({ userUid: `capacity_${i}`, exchange: 'simulated' }));
try {
  const client = new EnclaveServiceClient(`127.0.0.1:${service.grpcPort}`, credentials.createInsecure());
  const identity = await unary(client.getEnclaveIdentity.bind(client), {});
  const register = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    const sealed = await sealCredential(identity.hpkePublicKey, account, { apiKey: `key-${account.userUid}`, secret: 'capacity-bench' });
    await unary(client.registerConnection.bind(client), { ...account, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_UNSPECIFIED });
  }));
  client.close();
  console.log(`registered ${N} accounts through gRPC in ${(register.wallMs / 1000).toFixed(1)} s`);

  let fills = 0;
  const first = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    const r = await service.runtime.supervisor.sync(account, 'incremental', { signal: deadlineSignal(900_000) });
    fills += r.fillsIngested;
  }));
  console.log(`first syncs: ${fills} fills (${Math.round(fills / N)} per account) in ${(first.wallMs / 1000).toFixed(1)} s`);

  // Resident memory per actor: heap with every actor alive minus heap with every actor passivated.
  gc();
  const aliveHeap = process.memoryUsage().heapUsed;
  await forEachAccount(accounts, CONCURRENCY, (a) => service.runtime.supervisor.passivate(a));
  gc();
  const coldHeap = process.memoryUsage().heapUsed;
  const perActorMb = (aliveHeap - coldHeap) / N / 2 ** 20;

  offset += HOUR;
  if (process.env.CAPACITY_TRACE === '1') {
    // One account alone, to list what an incremental sync sends.
    trace = [];
    await service.runtime.supervisor.sync(accounts[0]!, 'incremental', { signal: deadlineSignal(120_000) });
    await service.runtime.supervisor.passivate(accounts[0]!);
    console.log(trace.join('\n'));
    trace = null;
  }
  let incrementalHours = 0;
  const profile = await startProfile(process.env.CAPACITY_PROFILE);
  const incremental = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    const r = await service.runtime.supervisor.sync(account, 'incremental', { signal: deadlineSignal(120_000) });
    incrementalHours += r.hourlyReturnsWritten;
  }));
  await profile();
  console.log(`incremental syncs (cold actors, one hour later): ${incrementalHours} hours valued in ${(incremental.wallMs / 1000).toFixed(1)} s`);
  await forEachAccount(accounts, CONCURRENCY, (a) => service.runtime.supervisor.passivate(a));

  // An incremental sync with nothing new (same hour, actor cold): the floor of a sync.
  const idle = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    await service.runtime.supervisor.sync(account, 'incremental', { signal: deadlineSignal(120_000) });
  }));
  await forEachAccount(accounts, CONCURRENCY, (a) => service.runtime.supervisor.passivate(a));

  const metricsRead = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    await service.reads.performance(account);
  }));
  // The same reads again: the pool's connections now hold the read's plan (a named prepared statement
  // is planned on each connection's first reads only), as under steady read traffic.
  const metricsReadAgain = await measured(meter, () => forEachAccount(accounts, CONCURRENCY, async (account) => {
    await service.reads.performance(account);
  }));
  await meter.stop();

  const { rows: tables } = await admin.query<{ relname: string; live: string; dead: string; updated: string }>(
    `SELECT relname, n_live_tup AS live, n_dead_tup AS dead, n_tup_upd AS updated FROM pg_stat_user_tables WHERE n_live_tup + n_dead_tup > 0 ORDER BY relname`);
  const { rows: [size] } = await admin.query<{ candles: string; total: string; state: string }>(
    `SELECT pg_total_relation_size('price_candles') AS candles, pg_database_size(current_database()) AS total,
       (SELECT avg(length(state::text))::int FROM engine_states) AS state`);

  const per = (phase: Phase) => ({
    serviceMs: round(phase.serviceMs / N), databaseMs: round(phase.databaseMs / N), totalMs: round((phase.serviceMs + phase.databaseMs) / N), statements: round(phase.statements / N),
  });
  const inc = per(incremental);
  const loadAverage = loadavg()[0]!;
  const result = {
    bench: 'capacity', accounts: N, concurrency: CONCURRENCY, historyDays: HISTORY_DAYS, fillsPerAccount: Math.round(fills / N),
    firstSync: per(first), incrementalSync: inc, idleSync: per(idle), metricsRead: per(metricsRead), metricsReadAgain: per(metricsReadAgain), register: per(register),
    statementsPerIncrementalSync: inc.statements,
    residentMbPerActor: round(perActorMb),
    accountsPerCoreHour: Math.round(3_600_000 / inc.totalMs),
    deadTuples: Object.fromEntries(tables.map((t) => [t.relname, { live: Number(t.live), dead: Number(t.dead), updated: Number(t.updated) }])),
    priceCandlesBytes: Number(size!.candles), engineStateJsonBytes: Number(size!.state), databaseBytes: Number(size!.total),
    goals: { firstSyncMs: 300, incrementalSyncMs: 3.6, metricsReadMs: 1, residentMbPerActor: 0.2 },
    loadAverage: round(loadAverage), cores: availableParallelism(),
  };
  console.log(`goals: first sync ≤ 300 ms CPU: ${result.firstSync.totalMs}; incremental ≤ 3.6 ms: ${inc.totalMs}; metrics read ≤ 1 ms: ${result.metricsRead.totalMs} (again: ${result.metricsReadAgain.totalMs}); ≤ 0.2 MB per actor: ${result.residentMbPerActor}`);
  console.log(JSON.stringify(result));
} finally {
  await meter.stop();
  await service.stop();
  await admin.end();
  await database.drop();
}

/** With a path, profiles the main thread (V8 CPU profile, .cpuprofile) until the returned function is called. */
async function startProfile(path: string | undefined): Promise<() => Promise<void>> {
  if (path === undefined || path === '') return async () => undefined;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => {
    session.post(method, params, (error, result) => (error === null ? resolve(result) : reject(error)));
  });
  await post('Profiler.enable');
  await post('Profiler.start');
  return async () => {
    const { profile } = await post('Profiler.stop') as { profile: unknown };
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
