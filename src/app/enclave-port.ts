// Adapts the actor supervisor to the port the gRPC handlers call. The only translation here is
// of shapes (deadlines, counts, gap kinds); errors pass through as the actor error family.
import type { PerformanceMetrics } from '../domain/aggregation.js';
import type { AccountKey, BalanceSnapshot, HourlyReturn } from '../domain/types.js';
import type { Supervisor } from '../actors/supervisor.js';
import type { Ask, EnclavePort, PortHealth, SyncMode, SyncProgress, SyncReport, TimeRange } from '../grpc/port.js';

/** Rejects with the signal's reason once it aborts (client cancel or deadline), else with `work`. */
async function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

export function supervisorPort(supervisor: Supervisor): EnclavePort {
  return {
    async sync(account: AccountKey, mode: SyncMode, ask: Ask, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport> {
      onProgress?.({ phase: 'fetching', fillsFetched: 0, cashFlowsFetched: 0, hoursDone: 0, hoursTotal: 0 });
      const result = await raceSignal(supervisor.sync(account, mode, ask.deadline), ask.signal);
      return {
        fillsSynced: result.fillsIngested,
        cashFlowsSynced: result.cashFlowsIngested,
        hourlyReturnsGenerated: result.hourlyReturnsWritten,
        latestSnapshot: result.snapshot,
        gapKinds: result.gapKinds,
      };
    },
    getReturns(account: AccountKey, range: TimeRange, ask: Ask): Promise<readonly HourlyReturn[]> {
      return raceSignal(supervisor.getReturns(account, range.from, range.to, ask.deadline), ask.signal);
    },
    async getMetrics(account: AccountKey, ask: Ask): Promise<PerformanceMetrics> {
      return (await raceSignal(supervisor.getMetrics(account, ask.deadline), ask.signal)).metrics;
    },
    getSnapshots(account: AccountKey, range: TimeRange, ask: Ask): Promise<readonly BalanceSnapshot[]> {
      return raceSignal(supervisor.getSnapshots(account, range.from, range.to, ask.deadline), ask.signal);
    },
    async health(): Promise<PortHealth> {
      const totals = supervisor.totals();
      return { status: 'serving', activeAccounts: totals.alive, failedAccounts: totals.failed };
    },
  };
}
