// `npm run bench -- actors`: 10,000 account actors on in-memory dependencies (memory store,
// the real engine in-process, simulated venue), then 100,000 ask round trips through the supervisor, then
// one metrics scrape with every account's series populated. Last line: one JSON object.
// The asks are incremental syncs that find nothing new (reads of aggregates no longer reach an
// actor): each is a real round trip through the actor, the sync activity, the venue client and
// the store, so asks/s is not comparable with figures taken before that change (queries then).
// Goals: spawn ≤ 1 s, RSS ≤ 300 MB with 10,000 actors alive, metrics render ≤ 200 ms.
// Run under tsx, whose keepNames wrapping makes every named closure cost more than in the
// compiled build; the figures are an upper bound for `npm start`.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import { systemClock } from '../src/actors/clock.js';
import { ActorMetrics } from '../src/actors/metrics.js';
import { createSupervisor } from '../src/actors/supervisor.js';
import type { AccountKey } from '../src/domain/types.js';
import { createSimulatedConnector } from '../src/exchanges/simulated.js';
import { inProcessAggregator } from '../src/domain/in-process-aggregator.js';
import { DEFAULT_ACCOUNT_SETTINGS } from '../src/actors/account-actor.js';
import { SealedCredentialError } from '../src/crypto/errors.js';
import { MemoryAccountStore } from '../testkit/support/memory-account-store.js';

// V8 grows the young generation to 2×64 MB under this allocation rate and keeps it resident,
// which is most of the RSS here (live heap ≈ 55 MB). The service should run with a 16 MB
// semi-space (throughput unchanged here); the bench re-runs itself that way unless told not to
// (BENCH_DEFAULT_HEAP=1 shows the default).
const SEMI_SPACE_FLAG = '--max-semi-space-size=16';
if (process.env.BENCH_DEFAULT_HEAP === undefined && !process.execArgv.includes(SEMI_SPACE_FLAG)) {
  const runner = process.argv[1] ?? 'bench/run.ts';
  const child = spawnSync(process.execPath, [SEMI_SPACE_FLAG, ...process.execArgv, runner, 'actors'], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

// A full collection before reading RSS, so the figure is live memory rather than garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 10_000);
const ASKS = Number(process.env.BENCH_ASKS ?? 100_000);
const IN_FLIGHT = 2_000;

const store = new MemoryAccountStore();
const historyFrom = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const accounts: AccountKey[] = Array.from({ length: ACCOUNTS }, (_, i) => ({ userUid: `user-${i}`, exchange: 'simulated' }));
const envelope = Buffer.from(JSON.stringify({ apiKey: 'bench-key', secret: 'bench-secret' }));
for (const account of accounts) store.putConnection(account, envelope);

const registry = new Registry();
const metrics = new ActorMetrics(registry, ACCOUNTS);
const supervisor = createSupervisor({
  deps: {
    store, aggregator: inProcessAggregator, clock: systemClock, random: Math.random,
    openCredential: (_account, sealed) => Buffer.from(sealed),
    // Nothing registers here: the connections are stored above.
    openSealed: () => Promise.reject(new SealedCredentialError('unopenable')),
    sealForStorage: (_account, plaintext) => Buffer.from(plaintext),
    // A history that starts this hour (one deposit): syncs after the first find nothing new.
    connectorFactory: (account) => createSimulatedConnector(account, { seed: 1, clock: systemClock, startMs: historyFrom }),
    settings: { ...DEFAULT_ACCOUNT_SETTINGS },
  },
  metrics,
  defaultTimeoutMs: 120_000,
});

async function inWaves(count: number, run: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += IN_FLIGHT) {
    const wave: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + IN_FLIGHT); i += 1) wave.push(run(i));
    await Promise.all(wave);
  }
}

const account = (i: number): AccountKey => accounts[i % ACCOUNTS] as AccountKey;

// Spawn: the first message for an account spawns its actor synchronously (the supervisor's
// route runs up to the ask before its first await), so issuing the first requests spawns the
// actors: spawnMs. Each actor then loads its connection, opens its credential and builds its
// connector before answering: readyMs (wall time until all 10,000 answered).
// Waves of IN_FLIGHT first requests, as accounts arrive in practice (10,000 half-initialized
// actors at once only inflate the heap's high-water mark, which RSS then keeps).
let spawnMs = 0;
let t0 = performance.now();
for (let start = 0; start < ACCOUNTS; start += IN_FLIGHT) {
  const s0 = performance.now();
  const wave = accounts.slice(start, start + IN_FLIGHT).map((a) => supervisor.sync(a, 'incremental'));
  spawnMs += performance.now() - s0;
  await Promise.all(wave);
}
const readyMs = performance.now() - t0;
const totals = supervisor.totals();
console.log(`spawned ${totals.alive} account actors in ${spawnMs.toFixed(0)} ms; all initialized and answering after ${readyMs.toFixed(0)} ms`);

t0 = performance.now();
await inWaves(ASKS, (i) => supervisor.sync(account(i), 'incremental'));
const askMs = performance.now() - t0;
const asksPerSecond = ASKS / (askMs / 1000);
console.log(`${ASKS} asks in ${askMs.toFixed(0)} ms: ${asksPerSecond.toFixed(0)} asks/s (${IN_FLIGHT} in flight)`);

gc();
const rssMb = process.memoryUsage().rss / 1024 / 1024;
const heapUsedMb = process.memoryUsage().heapUsed / 1024 / 1024;
console.log(`heap used ${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB, external ${(process.memoryUsage().external / 1024 / 1024).toFixed(0)} MB, array buffers ${(process.memoryUsage().arrayBuffers / 1024 / 1024).toFixed(0)} MB`);
console.log(`RSS with ${totals.alive} actors alive: ${rssMb.toFixed(0)} MB`);

// Every account as after one sync: syncs, fills, last success and duration series populated.
const now = Date.now();
for (const a of accounts) metrics.syncFinished(a, 'ok', 120, 42, now);
// The first scrape builds each series name once; Prometheus then scrapes every few seconds, so
// the figure is the median of the next five (the machine is shared; one figure is noisy).
t0 = performance.now();
let text = await registry.metrics();
const firstRenderMs = performance.now() - t0;
const renders: number[] = [];
for (let i = 0; i < 5; i += 1) {
  t0 = performance.now();
  text = await registry.metrics();
  renders.push(performance.now() - t0);
}
const metricsRenderMs = renders.sort((a, b) => a - b)[2] ?? Number.NaN;
console.log(`metrics render: ${metricsRenderMs.toFixed(0)} ms (first scrape ${firstRenderMs.toFixed(0)} ms), ${(text.length / 1024 / 1024).toFixed(1)} MB, ${text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length} series`);

await supervisor.shutdown(5_000);
console.log(JSON.stringify({
  accounts: ACCOUNTS, asks: ASKS,
  spawnMs: Math.round(spawnMs), readyMs: Math.round(readyMs), asksPerSecond: Math.round(asksPerSecond), rssMb: Math.round(rssMb), heapUsedMb: Math.round(heapUsedMb), metricsRenderMs: Math.round(metricsRenderMs),
  loadAverage1m: Number(loadavg()[0]?.toFixed(2)),
}));
