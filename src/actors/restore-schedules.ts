// At start, stored accounts get their scheduled syncs back: each active connection's first
// incremental sync is spread at random over one sync interval (no thundering herd after a
// restart), and the actor then keeps its own schedule. Failed and disabled ones are left alone:
// a failed account answers AccountFailedError until revived.
import type { ConnectionSummary } from '../storage/connections.js';
import type { EpochMs } from '../domain/types.js';
import type { Supervisor } from './supervisor.js';

export interface RestoreOptions {
  readonly now: EpochMs;
  /** The accounts' sync interval (SYNC_INTERVAL_MS); 0 or less: nothing is scheduled. */
  readonly syncIntervalMs: number;
  readonly random: () => number;
}

export interface RestoreReport {
  readonly scheduled: number;
  readonly skipped: number;
}

/** The composition root (src/app/service.ts): `restoreSchedules(runtime.supervisor, await connections.listConnections(), {...})`. */
export function restoreSchedules(
  supervisor: Pick<Supervisor, 'scheduleWake'>,
  connections: readonly Pick<ConnectionSummary, 'account' | 'status'>[],
  options: RestoreOptions,
): RestoreReport {
  if (options.syncIntervalMs <= 0) return { scheduled: 0, skipped: connections.length };
  let scheduled = 0;
  for (const { account, status } of connections) {
    if (status !== 'active') continue;
    supervisor.scheduleWake(account, options.now + Math.floor(options.random() * options.syncIntervalMs));
    scheduled += 1;
  }
  return { scheduled, skipped: connections.length - scheduled };
}
