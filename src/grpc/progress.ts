// WatchSyncJob's progress feed: the port reports as often as it likes; clients get at most one
// message per interval, always the latest state (a trailing message, never a stale one), and
// counts that never go down (a client draws them as a progress bar).
import type { SyncProgress } from '../domain/types.js';
import type { SyncReport } from './enclave-api.js';

export const DEFAULT_PROGRESS_INTERVAL_MS = 200;

const PHASE_ORDER: Record<SyncProgress['phase'], number> = { fetching: 0, aggregating: 1 };

/** `next`, with every count and the phase at least what `previous` said. */
export function monotonicProgress(previous: SyncProgress | null, next: SyncProgress): SyncProgress {
  if (previous === null) return next;
  return {
    phase: PHASE_ORDER[next.phase] >= PHASE_ORDER[previous.phase] ? next.phase : previous.phase,
    fillPages: Math.max(previous.fillPages, next.fillPages),
    fillsFetched: Math.max(previous.fillsFetched, next.fillsFetched),
    cashFlowPages: Math.max(previous.cashFlowPages, next.cashFlowPages),
    cashFlowsFetched: Math.max(previous.cashFlowsFetched, next.cashFlowsFetched),
    hoursDone: Math.max(previous.hoursDone, next.hoursDone),
    hoursTotal: Math.max(previous.hoursTotal, next.hoursTotal),
  };
}

export interface ProgressFeed {
  /** Give to the port as `onProgress`. */
  readonly report: (progress: SyncProgress) => void;
  /** Sends the latest state if it has not gone out yet; returns the final counts for the DONE message. */
  finish(report: SyncReport): SyncProgress;
  /** Stops sending (the call ended). */
  close(): void;
}

export function createProgressFeed(options: {
  readonly intervalMs: number;
  readonly now: () => number;
  readonly send: (progress: SyncProgress) => void;
  readonly signal: AbortSignal;
}): ProgressFeed {
  const { intervalMs, now, send } = options;
  let latest: SyncProgress | null = null;
  let unsent = false;
  let lastSentAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (closed || !unsent || latest === null) return;
    unsent = false;
    lastSentAt = now();
    send(latest);
  };
  const close = (): void => {
    closed = true;
    clearTimeout(timer);
    timer = undefined;
  };
  options.signal.addEventListener('abort', close, { once: true });

  return {
    report(progress) {
      if (closed) return;
      latest = monotonicProgress(latest, progress);
      unsent = true;
      const wait = lastSentAt + intervalMs - now();
      if (wait <= 0) flush();
      // Within the interval: the latest state goes out when it ends (one timer at a time).
      else timer ??= setTimeout(flush, wait);
    },
    finish(report) {
      flush();
      close();
      const done = monotonicProgress(latest, {
        phase: 'aggregating',
        fillPages: 0,
        fillsFetched: report.fillsSynced,
        cashFlowPages: 0,
        cashFlowsFetched: report.cashFlowsSynced,
        hoursDone: report.hourlyReturnsGenerated,
        hoursTotal: report.hourlyReturnsGenerated,
      });
      // Done means every hour there was to compute was computed.
      const hours = Math.max(done.hoursDone, done.hoursTotal);
      return { ...done, hoursDone: hours, hoursTotal: hours };
    },
    close,
  };
}
