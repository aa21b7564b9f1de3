// Wraps any AccountStore (the actor tests: the PostgreSQL one) to count
// calls and inject failures the real store cannot be made to give on demand.
import type { AccountKey } from '../../src/domain/types.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import type { ConnectionStatus } from '../../src/domain/types.js';

type Method = keyof AccountStore;

/** A lost database connection: the real storage class (transient), injected on demand. */
export class TransientStorageError extends StorageUnavailableError {
  override name = 'TransientStorageError';
}

export interface InstrumentedStore extends AccountStore {
  readonly inner: AccountStore;
  /** Calls per method. */
  readonly calls: Map<Method, number>;
  /** The next `times` calls of `method` throw `error` before reaching the store. */
  failNext(method: Method, error: Error, times?: number): void;
  fillCount(account: AccountKey): Promise<number>;
  connectionStatus(account: AccountKey): Promise<ConnectionStatus | undefined>;
}

const METHODS: readonly Method[] = [
  'loadConnection', 'loadConnectionStatus', 'saveConnection', 'removeAccount', 'listConnections', 'setConnectionStatus', 'loadCursor', 'commitFillsPage', 'commitCashFlowsPage', 'loadFills', 'loadCashFlows',
  'upsertCandles', 'loadCandles', 'loadEngineState', 'saveAggregates', 'saveReconciliation', 'loadReconciliation', 'loadHourlyReturns', 'loadSnapshots', 'loadPerformanceStats',
  // Optional: wrapped only when the inner store has it (the actor then reads its start in one statement).
  'loadSyncStart', 'loadPublishedPerformance', 'loadRecords',
  'saveDerivatives', 'loadDerivatives',
];

export function instrumentStore(inner: AccountStore): InstrumentedStore {
  const calls = new Map<Method, number>();
  const failures = new Map<Method, Error[]>();
  const wrapped: Record<string, unknown> = {
    inner,
    calls,
    failNext: (method: Method, error: Error, times = 1) => {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i += 1) queue.push(error);
      failures.set(method, queue);
    },
    fillCount: async (account: AccountKey) => (await inner.loadFills(account, 0)).length,
    connectionStatus: async (account: AccountKey) => (await inner.loadConnection(account))?.status,
  };
  for (const method of METHODS) {
    const original = inner[method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (original === undefined) continue; // an optional method the inner store does not have
    wrapped[method] = async (...args: unknown[]) => {
      calls.set(method, (calls.get(method) ?? 0) + 1);
      const error = failures.get(method)?.shift();
      if (error !== undefined) throw error;
      return original.apply(inner, args);
    };
  }
  return wrapped as unknown as InstrumentedStore;
}
