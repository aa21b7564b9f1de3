// The lease renewal off the service's event loop (issue 18, docs/scale-out.md "Lease keeper"):
// this thread owns its own database connection and renews this instance's leases every TTL/3 on
// its own timer, so a main loop busy with sync work cannot make it late. After each renewal
// answered in time it advances the acting deadline in shared memory (the fence reads it on every
// write) and posts the result; the main thread books it and does everything that needs actors.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { actingDeadline, leaseMarginMs, renewIntervalMs } from '../domain/shards.js';
import { createPlacementRepository } from './placement.js';
import { createDatabasePool } from './pool.js';
import { toDeadlineCell } from './shard-fence.js';
import type { RenewalWorkerData, RenewalWorkerMessage } from './lease-renewer.js';

const data = workerData as RenewalWorkerData;
const port = parentPort!;
// This thread's performance.now() counts from its own start: the main thread's timeline is shifted.
const shift = performance.timeOrigin - data.mainTimeOrigin;
const mainNow = (): number => performance.now() + shift;
const post = (message: RenewalWorkerMessage): void => port.postMessage(message);
const errorName = (error: unknown): string => (error instanceof Error ? error.name : typeof error);

// The same pool settings as Storage.leasePool: one connection, statement timeout 10 s.
const pool = await createDatabasePool(data.url, { maxPoolSize: 1, statementTimeoutMs: 10_000 });
const placement = createPlacementRepository(pool);
const margin = leaseMarginMs(data.ttlMs);
let failures = 0;
let running: Promise<void> | null = null;
let closing = false;

async function renew(): Promise<void> {
  // Taken before the request: the database sets the expiry later, so the deadline precedes it.
  const sent = mainNow();
  try {
    const leases = await placement.renew(data.instanceId, data.ttlMs, data.addr);
    const answered = mainNow();
    failures = 0;
    const deadline = actingDeadline(sent, data.ttlMs, margin);
    // Never advanced by a late answer (nor backwards): past the deadline the leases stay lost.
    if (answered < deadline) {
      const cell = toDeadlineCell(deadline);
      if (cell > Atomics.load(data.deadline, 0)) Atomics.store(data.deadline, 0, cell);
    }
    if (!closing) post({ type: 'renewed', sentMs: sent, roundTripMs: answered - sent, leases });
  } catch (error) {
    failures += 1;
    if (!closing) post({ type: 'failed', failures, error: errorName(error) });
  }
}

// One renewal at a time: a hanging one (a frozen connection) is not stacked on.
const timer = setInterval(() => {
  running ??= renew().finally(() => { running = null; });
}, renewIntervalMs(data.ttlMs));

port.on('message', (message: unknown) => {
  if (message !== 'stop' || closing) return;
  closing = true;
  clearInterval(timer);
  void (async () => {
    // A renewal stuck on a frozen connection is not waited for: the main thread terminates us.
    await running;
    await pool.end();
    post({ type: 'closed' });
  })();
});
post({ type: 'ready' });
