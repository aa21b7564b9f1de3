// WatchSyncJob at the gRPC level: a TestPort reports real-looking progress (pages and fills per
// stream, then hours of hours total), fast and slow; a real client reads the stream.
import test from 'ava';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { SyncProgress } from '../../src/domain/types.js';
import type { SyncReport } from '../../src/grpc/enclave-api.js';
import { SyncPhase, SyncType, type SyncJobProgress } from '../../src/grpc/generated/enclave.js';
import { watchedSyncFromWire } from '../../src/grpc/wire.js';
import { startHarness, type Harness } from '../../testkit/support/grpc-client.js';

const INTERVAL_MS = 100;
const account = { userUid: 'user_progress', exchange: 'bybit', type: SyncType.SYNC_TYPE_FULL };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let h: Harness;
test.before(async () => {
  h = await startHarness({ service: { progressIntervalMs: INTERVAL_MS } });
});
test.after.always(async () => {
  await h.close();
});

interface Received {
  readonly messages: SyncJobProgress[];
  readonly error?: ServiceError;
}

function watch(): Promise<Received> {
  return new Promise((resolve) => {
    const messages: SyncJobProgress[] = [];
    const stream = h.client.watchSyncJob(account, new Metadata(), { deadline: Date.now() + 20_000 });
    stream.on('data', (m: SyncJobProgress) => messages.push(m));
    stream.on('error', (error: ServiceError) => resolve({ messages, error }));
    stream.on('end', () => resolve({ messages }));
  });
}

const fetching = (fillPages: number, cashFlowPages: number): SyncProgress => ({
  phase: 'fetching', fillPages, fillsFetched: fillPages * 500, cashFlowPages, cashFlowsFetched: cashFlowPages * 3, hoursDone: 0, hoursTotal: 0,
});
const aggregating = (last: SyncProgress, hoursDone: number, hoursTotal: number): SyncProgress => ({ ...last, phase: 'aggregating', hoursDone, hoursTotal });

const COUNTS = ['fillPages', 'fillsFetched', 'cashFlowPages', 'cashFlowsFetched', 'hoursDone', 'hoursTotal'] as const;

function assertNeverDecreases(t: { true(value: boolean, message?: string): void }, messages: readonly SyncJobProgress[]): void {
  for (let i = 1; i < messages.length; i++) {
    for (const field of COUNTS) t.true(messages[i]![field] >= messages[i - 1]![field], `${field} went down at message ${i}`);
    t.true(messages[i]!.phase >= messages[i - 1]!.phase, `phase went back at message ${i}`);
  }
}

test.serial('fast progress is thinned to one message per interval, ending with the latest state before DONE', async (t) => {
  let lastReported: SyncProgress | undefined;
  let reportedCalls = 0;
  const startedAt = Date.now();
  h.port.behaviour = {
    sync: async (_account, _mode, _call, onProgress): Promise<SyncReport> => {
      const report = (p: SyncProgress): void => {
        reportedCalls++;
        lastReported = p;
        onProgress?.(p);
      };
      // 300 fill pages and 20 cash-flow pages, a page every ~2 ms, then 2,000 hours in bursts.
      for (let page = 1; page <= 300; page++) {
        report(fetching(page, Math.floor(page / 15)));
        if (page % 5 === 0) await sleep(10);
      }
      const fetched = lastReported!;
      for (let hour = 0; hour <= 2_000; hour += 4) {
        report(aggregating(fetched, hour, 2_000));
        if (hour % 100 === 0) await sleep(10);
      }
      return { fillsSynced: 150_000, cashFlowsSynced: 60, hourlyReturnsGenerated: 2_000, latestSnapshot: null, gapKinds: [] };
    },
  };
  try {
    const { messages, error } = await watch();
    const elapsed = Date.now() - startedAt;
    t.is(error, undefined);
    const progress = messages.slice(0, -1);
    const done = messages.at(-1)!;
    t.is(done.phase, SyncPhase.SYNC_PHASE_DONE);
    // At most one per interval (plus the first one, sent at once, and the trailing one).
    t.true(progress.length <= Math.ceil(elapsed / INTERVAL_MS) + 2, `${progress.length} messages in ${elapsed} ms for ${reportedCalls} reports`);
    t.true(progress.length >= 3, `${progress.length} messages: too few to draw anything`);
    t.is(progress[0]!.phase, SyncPhase.SYNC_PHASE_FETCHING);
    t.is(progress[0]!.fillPages, 1, 'the first report goes out at once');
    const beforeDone = watchedSyncFromWire(progress.at(-1)!);
    t.deepEqual(beforeDone, { done: false, progress: lastReported }, 'the latest state goes out before DONE');
    assertNeverDecreases(t, messages);
    // Fetching messages show pages and fills; aggregating ones hours of hours total.
    const fetchingSeen = progress.filter((m) => m.phase === SyncPhase.SYNC_PHASE_FETCHING);
    t.true(fetchingSeen.some((m) => m.fillPages > 1 && m.fillsFetched === m.fillPages * 500 && m.cashFlowPages >= 0));
    t.true(progress.some((m) => m.phase === SyncPhase.SYNC_PHASE_AGGREGATING && m.hoursTotal === 2_000 && m.hoursDone > 0));
    t.deepEqual(
      { hoursDone: done.hoursDone, hoursTotal: done.hoursTotal, fillPages: done.fillPages, fillsFetched: done.fillsFetched },
      { hoursDone: 2_000, hoursTotal: 2_000, fillPages: 300, fillsFetched: 150_000 },
    );
    t.is(done.result?.fillsSynced, 150_000);
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('slow progress goes out state by state, each once and in order', async (t) => {
  const states = [fetching(1, 0), fetching(2, 1), aggregating(fetching(2, 1), 0, 48), aggregating(fetching(2, 1), 24, 48), aggregating(fetching(2, 1), 48, 48)];
  h.port.behaviour = {
    sync: async (_account, _mode, _call, onProgress) => {
      for (const state of states) {
        onProgress?.(state);
        await sleep(INTERVAL_MS * 2.5);
      }
      return { fillsSynced: 1_000, cashFlowsSynced: 3, hourlyReturnsGenerated: 48, latestSnapshot: null, gapKinds: [] };
    },
  };
  try {
    const { messages, error } = await watch();
    t.is(error, undefined);
    t.deepEqual(messages.slice(0, -1).map((m) => watchedSyncFromWire(m)), states.map((progress) => ({ done: false, progress })));
    t.is(messages.at(-1)!.phase, SyncPhase.SYNC_PHASE_DONE);
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('a port that reports a smaller count or an earlier phase never makes the client see a count go down', async (t) => {
  h.port.behaviour = {
    sync: async (_account, _mode, _call, onProgress) => {
      onProgress?.(aggregating(fetching(10, 2), 5, 10));
      await sleep(INTERVAL_MS * 2);
      onProgress?.(fetching(3, 1));
      await sleep(INTERVAL_MS * 2);
      onProgress?.(aggregating(fetching(10, 2), 2, 8));
      await sleep(INTERVAL_MS * 2);
      // The report counts new records only: fewer than were fetched.
      return { fillsSynced: 7, cashFlowsSynced: 0, hourlyReturnsGenerated: 10, latestSnapshot: null, gapKinds: [] };
    },
  };
  try {
    const { messages, error } = await watch();
    t.is(error, undefined);
    t.true(messages.length >= 2);
    assertNeverDecreases(t, messages);
    t.is(messages.at(-1)!.fillsFetched, 5_000);
  } finally {
    h.port.behaviour = {};
  }
});
