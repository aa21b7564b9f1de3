// At start, stored accounts get their scheduled syncs back: each active connection's first
// incremental sync is spread at random over one sync interval (no thundering herd after a
// restart), and the actor then keeps its own schedule. A stored next sync time (issue 18: a
// shard's new owner) is kept; overdue ones start paced (about 100 a second), not all at once.
// Failed and disabled ones are left alone: a failed account answers AccountFailedError until revived.
import type { ConnectionSummary } from '../storage/connections.js';
import type { EpochMs } from '../domain/types.js';
import type { Supervisor } from './supervisor.js';

export interface RestoreOptions {
  readonly now: EpochMs;
  /** The accounts' sync interval (SYNC_INTERVAL_MS); 0 or less: nothing is scheduled. */
  readonly syncIntervalMs: number;
  readonly random: () => number;
}

/**
 * Overdue stored schedules (a claimed shard's accounts due while it had no owner) start one per
 * this many ms on average, not all at once: a few overdue accounts run at once (a takeover adds
 * next to nothing to their wait), while a large backlog is paced...
 */
const OVERDUE_START_SPACING_MS = 10;
/** ...over at most this share of the interval, and at most a minute. */
const OVERDUE_SPREAD_SHARE = 0.1;
const OVERDUE_SPREAD_MAX_MS = 60_000;

export interface RestoreReport {
  readonly scheduled: number;
  readonly skipped: number;
}

/** The composition root (src/app/service.ts): `restoreSchedules(runtime.supervisor, await connections.listConnections(), {...})`. */
export function restoreSchedules(
  supervisor: Pick<Supervisor, 'scheduleWake'>,
  connections: readonly (Pick<ConnectionSummary, 'account' | 'status'> & { readonly nextSyncAt?: EpochMs | null })[],
  options: RestoreOptions,
): RestoreReport {
  if (options.syncIntervalMs <= 0) return { scheduled: 0, skipped: connections.length };
  let scheduled = 0;
  const overdue = connections.filter((c) => c.status === 'active' && c.nextSyncAt !== undefined && c.nextSyncAt !== null && c.nextSyncAt <= options.now).length;
  const overdueSpread = Math.min(OVERDUE_SPREAD_MAX_MS, options.syncIntervalMs * OVERDUE_SPREAD_SHARE, overdue * OVERDUE_START_SPACING_MS);
  for (const { account, status, nextSyncAt } of connections) {
    if (status !== 'active') continue;
    const at = nextSyncAt === undefined || nextSyncAt === null
      ? options.now + Math.floor(options.random() * options.syncIntervalMs)
      : nextSyncAt > options.now ? nextSyncAt : options.now + Math.floor(options.random() * overdueSpread);
    supervisor.scheduleWake(account, at);
    scheduled += 1;
  }
  return { scheduled, skipped: connections.length - scheduled };
}
