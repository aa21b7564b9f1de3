// The storage an account actor needs, as one narrow interface. `createAccountStore(pool)` in
// this folder implements it on slonik; actor tests may pass an in-memory implementation.
import type { PerformanceStats } from '../domain/aggregation.js';
import type { ConnectionStatus, ParkedReason } from '../domain/types.js';
import type { ConnectionSummary } from './connections.js';
import type { MinuteMarkStore } from './minute-mark-store.js';
import type { FlagCounts } from './flag-counts.js';
import type { DisclosureLevel } from '../domain/disclosure.js';
import type { SyncStart } from './sync-start.js';
import type { DerivativesWrite, StoredDerivatives } from './derivatives-repository.js';
import type {
  AccountKey,
  BalanceSnapshot,
  Candle,
  CashFlow,
  EpochMs,
  Exchange,
  Fill,
  HourlyReturn,
  SyncCursor,
  SyncStream,
} from '../domain/types.js';


export interface StoredConnection {
  readonly account: AccountKey;
  /** Sealed credential (see src/crypto); opened only inside the owning actor. */
  readonly envelope: Buffer;
  readonly status: ConnectionStatus;
  /** Moves on at every register and remove; writes made for an older one are refused. */
  readonly generation: number;
  /** Why it is parked (status failed); null otherwise. */
  readonly parkedReason: ParkedReason | null;
  /** The account holder accepted a trading-capable key (Alpaca opt-in); a permission re-check applies it. */
  readonly acceptTradingKeyRisk?: boolean;
}

/**
 * Writes of a sync carry the generation the actor loaded: checked inside the write's transaction
 * (StaleGenerationError, rolled back, when the connection is gone or was registered again).
 * Omitted only by tools that write outside any actor (tests, benchmarks).
 */
export type Generation = number | undefined;

/** The metrics over the whole record up to `computedUntil`, as the engine computed them. */
export interface PerformanceWrite {
  readonly stats: PerformanceStats;
  /** End (exclusive) of the history the metrics cover: the engine run's `untilHour`. */
  readonly computedUntil: EpochMs;
}

/** What `loadPerformanceStats` reads: the stored metrics and the equity snapshot taken at `computedUntil`. */
export interface StoredPerformance extends PerformanceWrite {
  readonly snapshot: BalanceSnapshot | null;
}

/** Everything written at the end of an aggregation, in one transaction. */
export interface AggregateWrite {
  readonly hourlyReturns: readonly HourlyReturn[];
  readonly snapshot: BalanceSnapshot | null;
  /** The engine's resumable state (positions, cost basis, last equity); enclave-only. */
  readonly engineState: unknown;
  /** Replaces the account's stored metrics (null: leave them as they are). */
  readonly performance: PerformanceWrite | null;
}

/** The published outcome of the latest reconciliation (counts and a share only: no assets, no amounts). */
export interface ReconciliationWrite {
  readonly at: EpochMs;
  readonly status: 'reconciled' | 'unreconciled';
  readonly explainedShare: number;
  readonly differingAssets: number;
  /** Contracts whose venue-reported position differs from the book rebuilt from executions (absent: 0). */
  readonly differingPositions?: number;
  readonly quarantined: number;
  /** Per stream, from when the venue served history (null: from the account's opening). */
  readonly coverageStart: { readonly fills: EpochMs | null; readonly cashFlows: EpochMs | null };
}

export interface AccountStore {
  loadConnection(account: AccountKey): Promise<StoredConnection | null>;
  /**
   * Optional: the connection, both cursors and the engine state in one read (sync-start.ts); an
   * actor without it makes the four reads apart. Same results either way.
   */
  loadSyncStart?(account: AccountKey): Promise<SyncStart>;
  /** The connection's status without its envelope (null when none is stored): one cheap existence check. */
  loadConnectionStatus(account: AccountKey): Promise<ConnectionStatus | null>;
  /** Inserts or replaces the account's envelope (status active, parked reason cleared) and the trading-key opt-in; returns the new generation. */
  saveConnection(account: AccountKey, envelope: Buffer, options?: { readonly acceptTradingKeyRisk?: boolean }): Promise<number>;
  /**
   * Deletes everything private of the account in one transaction (envelope, fills, cash flows,
   * cursors, engine state) and its published aggregates unless `keepAggregates`. False when no
   * connection was stored.
   */
  removeAccount(account: AccountKey, options: { readonly keepAggregates: boolean }): Promise<boolean>;
  /** Every connection without its envelope, ordered by user then exchange. */
  listConnections(): Promise<ConnectionSummary[]>;
  /** `parkedReason` is stored with status failed (and cleared with any other status). */
  setConnectionStatus(account: AccountKey, status: ConnectionStatus, parkedReason?: ParkedReason | null): Promise<void>;
  loadCursor(account: AccountKey, stream: SyncStream): Promise<SyncCursor | null>;
  /** Inserts new fills (duplicates ignored) and advances the cursor, in one transaction. */
  commitFillsPage(account: AccountKey, fills: readonly Fill[], cursor: SyncCursor, generation?: Generation): Promise<{ inserted: number }>;
  /** Inserts new cash flows (duplicates ignored) and advances the cursor, in one transaction. */
  commitCashFlowsPage(account: AccountKey, flows: readonly CashFlow[], cursor: SyncCursor, generation?: Generation): Promise<{ inserted: number }>;
  /** Fills with executedAt >= fromMs, oldest first (ties by trade id). */
  loadFills(account: AccountKey, fromMs: EpochMs): Promise<Fill[]>;
  loadCashFlows(account: AccountKey, fromMs: EpochMs): Promise<CashFlow[]>;
  /** Optional: loadFills and loadCashFlows from the same time in one read (sealed storage: one statement instead of two). */
  loadRecords?(account: AccountKey, fromMs: EpochMs): Promise<{ readonly fills: Fill[]; readonly cashFlows: CashFlow[] }>;
  /** Inserts the candles not stored yet; a stored candle is kept as it is (never rewritten). */
  upsertCandles(exchange: Exchange, candles: readonly Candle[]): Promise<void>;
  /** Stored hourly candles for these symbols with openTime in [fromMs, toMs). */
  loadCandles(exchange: Exchange, symbols: readonly string[], fromMs: EpochMs, toMs: EpochMs): Promise<Candle[]>;
  /** One-minute marks kept once per venue (minute-mark-store.ts); absent in stores without them (valuation at flows then uses hour marks, flagged). */
  readonly minuteMarks?: MinuteMarkStore;
  /** How many published hours carry each flag (flag-counts.ts); absent in stores without it (metrics then omit the shares). */
  loadFlagCounts?(key: AccountKey): Promise<FlagCounts>;
  loadEngineState(account: AccountKey): Promise<unknown>;
  saveAggregates(account: AccountKey, write: AggregateWrite, generation?: Generation): Promise<void>;
  /** Replaces the account's published reconciliation. */
  saveReconciliation(account: AccountKey, write: ReconciliationWrite, generation?: Generation): Promise<void>;
  loadReconciliation(account: AccountKey): Promise<ReconciliationWrite | null>;
  /** Published returns with hourStart in [fromMs, toMs), oldest first. */
  loadHourlyReturns(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<HourlyReturn[]>;
  loadSnapshots(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<BalanceSnapshot[]>;
  /**
   * Optional: the connection's status (null when none is stored) and the stored metrics in one read
   * (published-performance.ts); the read side otherwise asks loadConnectionStatus, then loadPerformanceStats.
   * `flagCounts` and `level`, when given, come from the same read (the read side asks for them apart otherwise).
   */
  loadPublishedPerformance?(account: AccountKey): Promise<{
    readonly status: ConnectionStatus | null; readonly performance: StoredPerformance | null;
    readonly flagCounts?: FlagCounts; readonly level?: DisclosureLevel;
  }>;
  /** The metrics saved by the last aggregation, in one row read (null before the first one). */
  loadPerformanceStats(account: AccountKey): Promise<StoredPerformance | null>;
  /** Publishes the derivatives aggregates (leverage per hour, summary); optional: stores without them skip it. */
  saveDerivatives?(account: AccountKey, write: DerivativesWrite, generation?: Generation): Promise<void>;
  /** The derivatives summary, with the hours starting in `hours` (every hour when absent). */
  loadDerivatives?(account: AccountKey, hours?: { readonly from: EpochMs; readonly to: EpochMs }): Promise<StoredDerivatives | null>;
}
