// The read side: published aggregates answered from storage, with no actor and no credential.
// One cheap existence query first keeps today's answers for an account nobody connected
// (AccountNotFoundError) and for a parked one (AccountFailedError); then the rows themselves.
import type { PerformanceStats } from '../domain/aggregation.js';
import { computePerformanceStats } from '../domain/performance.js';
import type { AccountKey, BalanceSnapshot, ConnectionStatus, EpochMs, HourlyReturn } from '../domain/types.js';
import { accountId } from '../domain/types.js';
import { AccountFailedError, AccountNotFoundError } from '../actors/errors.js';
import { toActorError } from '../actors/account-actor.js';
import type { AccountStore, StoredPerformance } from '../storage/account-store.js';
import type { FlagCounts } from '../storage/flag-counts.js';
import { HOUR_FLAGS } from '../domain/hour-flags.js';
import type { DisclosureStore } from '../storage/disclosure-store.js';
import { DEFAULT_DISCLOSURE_LEVEL, discloseDerivatives, discloseHour, disclosePerformance, discloseSnapshots, type DisclosureLevel } from '../domain/disclosure.js';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';

/** What the read side needs of storage: statuses and published rows, never an envelope. */
export type ReadStore = Pick<AccountStore, 'loadConnectionStatus' | 'loadHourlyReturns' | 'loadSnapshots' | 'loadPerformanceStats' | 'loadPublishedPerformance' | 'loadFlagCounts' | 'loadDerivatives'>;

export interface Reads {
  /** Published hourly returns with hourStart in [from, to), oldest first. */
  returns(account: AccountKey, from: EpochMs, to: EpochMs, signal?: AbortSignal): Promise<readonly HourlyReturn[]>;
  /** Balance snapshots with `at` in [from, to), oldest first. */
  snapshots(account: AccountKey, from: EpochMs, to: EpochMs, signal?: AbortSignal): Promise<readonly BalanceSnapshot[]>;
  /** Metrics over the account's whole published history. */
  performance(account: AccountKey, signal?: AbortSignal): Promise<PerformanceStats>;
  /**
   * Derivatives aggregates with the leverage of hours starting in [from, to) (none when null); null
   * without derivatives records. Checks no connection status: it rides beside a read that does.
   */
  derivatives(account: AccountKey, hours: { readonly from: EpochMs; readonly to: EpochMs } | null, signal?: AbortSignal): Promise<PublishedDerivatives | null>;
}

/**
 * The account's performance as the worker stored it with the aggregates: one row. Before the
 * first sync has valued an hour there is none, and the stats of an empty record answer.
 */
export async function loadPerformance(store: ReadStore, account: AccountKey, preloaded?: StoredPerformance | null): Promise<PerformanceStats> {
  const [stored, counts] = await Promise.all([preloaded !== undefined ? preloaded : store.loadPerformanceStats(account), store.loadFlagCounts?.(account)]);
  const stats = stored?.stats ?? computePerformanceStats([], { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 });
  return counts === undefined ? stats : { ...stats, ...flagSharesOf(counts) };
}

/** Shares of all published hours: any flag, and each flag present (HOUR_FLAGS order). */
export function flagSharesOf(counts: FlagCounts): Pick<PerformanceStats, 'flaggedHourShare' | 'flagShares'> {
  const share = (n: number): number => (counts.hours === 0 ? 0 : n / counts.hours);
  return {
    flaggedHourShare: share(counts.flagged),
    flagShares: HOUR_FLAGS.filter((f) => counts.perFlag[f] > 0).map((flag) => ({ flag, share: share(counts.perFlag[flag]) })),
  };
}

/**
 * `isParked` is the runtime's own knowledge (an account parked in this process answers
 * AccountFailedError before its row says failed); it is a map lookup, not an ask.
 */
/**
 * Every reply follows the account's disclosure level (src/domain/disclosure.ts): storage hands the
 * exact figures to the enclave, and what leaves is cut here to the level.
 */
export interface ReadsOptions {
  /**
   * The disclosure store reads the same database as `store`: the metrics read may then take the
   * level from its one statement (published-performance.ts) instead of asking `disclosure`.
   */
  readonly levelWithMetrics?: boolean;
}

export function createReads(store: ReadStore, isParked: (account: AccountKey) => boolean, disclosure: Pick<DisclosureStore, 'loadDisclosureLevel'>, options: ReadsOptions = {}): Reads {
  const levelOf = async (account: AccountKey): Promise<DisclosureLevel> => (await disclosure.loadDisclosureLevel(account)) ?? DEFAULT_DISCLOSURE_LEVEL;
  const checkStatus = (account: AccountKey, status: ConnectionStatus | null): void => {
    if (status === null || status === 'disabled') throw new AccountNotFoundError(`no connection for ${accountId(account)}`);
    if (status === 'failed') throw new AccountFailedError(`${accountId(account)} is marked failed`);
  };
  const readable = async (account: AccountKey, signal: AbortSignal | undefined): Promise<void> => {
    signal?.throwIfAborted();
    if (isParked(account)) throw new AccountFailedError(`${accountId(account)} is parked`);
    checkStatus(account, await store.loadConnectionStatus(account));
  };
  // The actor family's one translation: a storage failure reaches the caller without its inner text.
  const read = async <T>(account: AccountKey, signal: AbortSignal | undefined, load: () => Promise<T>): Promise<T> => {
    try {
      await readable(account, signal);
      return await load();
    } catch (error) {
      if (signal?.aborted === true && error === signal.reason) throw error;
      throw toActorError(error, account);
    }
  };
  return {
    returns: (account, from, to, signal) => read(account, signal, async () => {
      const [hours, level] = await Promise.all([store.loadHourlyReturns(account, from, to), levelOf(account)]);
      return level === 'full' ? hours : hours.map((h) => discloseHour(h, level));
    }),
    // One query: the replies that carry these read the account's status with their own figures
    // (returns, metrics), and the figures are the same at every disclosure level.
    derivatives: async (account, hours, signal) => {
      signal?.throwIfAborted();
      if (store.loadDerivatives === undefined) return null;
      try {
        const stored = await store.loadDerivatives(account, hours ?? { from: 0, to: 0 });
        return stored === null ? null : discloseDerivatives(stored);
      } catch (error) {
        if (signal?.aborted === true && error === signal.reason) throw error;
        throw toActorError(error, account);
      }
    },
    snapshots: (account, from, to, signal) => read(account, signal, async () => {
      const [snapshots, level] = await Promise.all([store.loadSnapshots(account, from, to), levelOf(account)]);
      return discloseSnapshots(snapshots, level);
    }),
    performance: async (account, signal) => {
      const together = store.loadPublishedPerformance;
      if (together === undefined) {
        return read(account, signal, async () => {
          const [stored, level] = await Promise.all([store.loadPerformanceStats(account), levelOf(account)]);
          const stats = await loadPerformance(store, account, stored);
          return disclosePerformance(stats, level, stored?.snapshot?.equity ?? null);
        });
      }
      // Status and metrics in one statement (issue 19), same answers.
      try {
        signal?.throwIfAborted();
        if (isParked(account)) throw new AccountFailedError(`${accountId(account)} is parked`);
        const published = await together.call(store, account);
        const { status, performance } = published;
        checkStatus(account, status);
        // One statement where the store answers the flag counts (and, on one database, the level) with it (published-performance.ts).
        const [counts, level] = await Promise.all([
          published.flagCounts ?? store.loadFlagCounts?.(account),
          (options.levelWithMetrics === true ? published.level : undefined) ?? levelOf(account),
        ]);
        const stats = performance?.stats ?? computePerformanceStats([], { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 });
        return disclosePerformance(counts === undefined ? stats : { ...stats, ...flagSharesOf(counts) }, level, performance?.snapshot?.equity ?? null);
      } catch (error) {
        if (signal?.aborted === true && error === signal.reason) throw error;
        throw toActorError(error, account);
      }
    },
  };
}
