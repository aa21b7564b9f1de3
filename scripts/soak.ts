// The long variants of test/reliability/*, printing one JSON line per section:
//   npm run soak                       all sections at full size
//   npm run soak -- fuzz crash         only these sections
// Sizes can be lowered for a quick look: SOAK_FUZZ=10000 SOAK_CRASH_POINTS=100 SOAK_CRASH_FILLS=20000
// SOAK_ACCOUNTS=1000 SOAK_LEAK_FILLS=5000 SOAK_SHUTDOWN_ACCOUNTS=100 SOAK_SCALE_ACCOUNTS=1000
// SOAK_SCALE_SHARDS=1024 SOAK_SCALE_TTL_MS=5000 SOAK_SCALE_INTERVAL_MS=60000.
import { runLeakCanaries } from '../testkit/support/leak-canaries.js';
import { fuzzServer, rawClient } from '../testkit/support/grpc-fuzz.js';
import { runCrashSync, type KillPoint } from '../testkit/support/crash-sync.js';
import { runFaultLoad } from '../testkit/support/fault-load.js';
import { runShutdown } from '../testkit/support/shutdown.js';
import { createTestDatabase } from '../testkit/support/database.js';
import { startServiceProcess } from '../testkit/support/service-process.js';
import { prng } from '../src/domain/prng.js';
import { runScaleOut } from '../testkit/support/scale-out.js';

const size = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};

const sections: Record<string, () => Promise<Record<string, unknown>>> = {
  async leak() {
    const f = await runLeakCanaries({ fills: size('SOAK_LEAK_FILLS', 5_000) });
    const canaryHits = f.hits.logs + f.hits.metrics + f.hits.replies + f.hits.gatewayTables + f.hits.privateTables;
    return { ...f, canaryHits, ok: canaryHits === 0 && f.tradeIdsCanary === f.fills && f.fillsSynced === f.fills };
  },
  async fuzz() {
    const db = await createTestDatabase();
    const svc = await startServiceProcess({ DATABASE_URL: db.url, LOG_LEVEL: 'info' });
    const client = rawClient(`127.0.0.1:${svc.grpcPort}`);
    const started = Date.now();
    try {
      const f = await fuzzServer(client, { count: size('SOAK_FUZZ', 10_000), seed: 10, alive: () => svc.child.exitCode === null && svc.child.signalCode === null });
      const { unary } = await import('../testkit/support/grpc-client.js');
      const health = await unary(svc.health.check.bind(svc.health), { service: 'enclave.v1.EnclaveService' });
      return { ...f, healthAfter: health.status === 1 ? 'SERVING' : String(health.status), seconds: (Date.now() - started) / 1000, ok: f.crashes === 0 && f.mismatches === 0 && health.status === 1 };
    } finally {
      client.close();
      await svc.stop('SIGTERM');
      await db.drop();
    }
  },
  async crash() {
    const random = prng(100);
    const points: KillPoint[] = Array.from({ length: size('SOAK_CRASH_POINTS', 100) }, () => {
      const r = random();
      if (r < 0.4) return { afterCommits: 1 + Math.floor(random() * 40) };
      if (r < 0.7) return { afterTradePages: 1 + Math.floor(random() * 20) };
      return { afterMs: 500 + Math.floor(random() * 15_000) };
    });
    const started = Date.now();
    const f = await runCrashSync({ fills: size('SOAK_CRASH_FILLS', 20_000), points });
    const mismatches = f.mismatches.trades + f.mismatches.cashFlows + f.mismatches.hourlyReturns;
    return { ...f, totalMismatches: mismatches, seconds: (Date.now() - started) / 1000, ok: mismatches === 0 && f.lost === 0 && f.duplicated === 0 };
  },
  async load() {
    const f = await runFaultLoad({ accounts: size('SOAK_ACCOUNTS', 1_000), concurrency: 50 });
    const ok = f.healthy.syncsFailed === 0 && f.faulty.untypedFailures === 0 && f.faulty.overBound === 0 && f.crashing.failedState === f.crashing.total && f.crashing.restartLoops === 0;
    return { ...f, p99WithinTwiceCalm: f.p99Ratio <= 2, ok };
  },
  // Issue 18: three processes on one PostgreSQL, SIGKILL ×3, SIGSTOP for 2×TTL, a frozen database
  // proxy for 2×TTL, SIGTERM, a fourth instance joining; then a single-instance reference run.
  async scale() {
    const f = await runScaleOut({
      instances: 3,
      accounts: size('SOAK_SCALE_ACCOUNTS', 1_000),
      shardCount: size('SOAK_SCALE_SHARDS', 1_024),
      ttlMs: size('SOAK_SCALE_TTL_MS', 5_000),
      syncIntervalMs: size('SOAK_SCALE_INTERVAL_MS', 60_000),
      scenarios: ['kill', 'kill', 'kill', 'stop-cont', 'freeze-db', 'term', 'join'],
      reference: true,
      forwardCheck: true,
      log: (line) => process.stderr.write(`scale: ${line}\n`),
    });
    const ok = f.accountsNeverSynced === 0 && f.forwardedSyncServed === true && f.overlappingSyncs === 0 && f.staleOwnerCommits === 0 && f.fillsLost === 0 && f.fillsDuplicated === 0
      && f.fillsUnexpected === 0 && f.returnsIdenticalToReference === true && f.takeoverSeconds.every((s) => s <= f.takeoverBoundSeconds + 1)
      && f.longestGapSeconds <= f.gapBoundSeconds;
    return { ...f, ok };
  },
  async shutdown() {
    const f = await runShutdown({ accounts: size('SOAK_SHUTDOWN_ACCOUNTS', 100) });
    return { ...f, ok: f.inconsistentCursors === 0 && f.partialPages === 0 && f.exitedWithinBound && f.exitCode === 0 };
  },
};

const wanted = process.argv.slice(2).filter((a) => a !== '--');
const names = wanted.length > 0 ? wanted : Object.keys(sections);
let failed = false;
for (const name of names) {
  const run = sections[name];
  if (run === undefined) {
    process.stderr.write(`unknown section ${name}; sections: ${Object.keys(sections).join(', ')}\n`);
    process.exitCode = 2;
    continue;
  }
  try {
    const figures = await run();
    if (figures.ok !== true) failed = true;
    process.stdout.write(`${JSON.stringify({ section: name, ...figures })}\n`);
  } catch (error) {
    failed = true;
    process.stdout.write(`${JSON.stringify({ section: name, ok: false, error: error instanceof Error ? error.message.slice(0, 500) : String(error) })}\n`);
  }
}
if (failed) process.exitCode = 1;
