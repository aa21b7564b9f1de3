// The storage an account actor needs, as one narrow interface. `createAccountStore(pool)` in
// this folder implements it on slonik; actor tests may pass an in-memory implementation.
import type { ConnectionStatus, ParkedReason } from '../domain/types.js';
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
}

/**
 * Writes of a sync carry the generation the actor loaded: checked inside the write's transaction
 * (StaleGenerationError, rolled back, when the connection is gone or was registered again).
 * Omitted only by tools that write outside any actor (tests, benchmarks).
 */
export type Generation = number | undefined;

/** Everything written at the end of an aggregation, in one transaction. */
export interface AggregateWrite {
  readonly hourlyReturns: readonly HourlyReturn[];
  readonly snapshot: BalanceSnapshot | null;
  /** The engine's resumable state (positions, cost basis, last equity); enclave-only. */
  readonly engineState: unknown;
}

/** The published outcome of the latest reconciliation (counts and a share only: no assets, no amounts). */
export interface ReconciliationWrite {
  readonly at: EpochMs;
  readonly status: 'reconciled' | 'unreconciled';
  readonly explainedShare: number;
  readonly differingAssets: number;
  readonly quarantined: number;
  /** Per stream, from when the venue served history (null: from the account's opening). */
  readonly coverageStart: { readonly fills: EpochMs | null; readonly cashFlows: EpochMs | null };
}

export interface AccountStore {
  loadConnection(account: AccountKey): Promise<StoredConnection | null>;
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
  upsertCandles(exchange: Exchange, candles: readonly Candle[]): Promise<void>;
  /** Stored hourly candles for these symbols with openTime in [fromMs, toMs). */
  loadCandles(exchange: Exchange, symbols: readonly string[], fromMs: EpochMs, toMs: EpochMs): Promise<Candle[]>;
  loadEngineState(account: AccountKey): Promise<unknown>;
  saveAggregates(account: AccountKey, write: AggregateWrite, generation?: Generation): Promise<void>;
  /** Replaces the account's published reconciliation. */
  saveReconciliation(account: AccountKey, write: ReconciliationWrite, generation?: Generation): Promise<void>;
  loadReconciliation(account: AccountKey): Promise<ReconciliationWrite | null>;
  /** Published returns with hourStart in [fromMs, toMs), oldest first. */
  loadHourlyReturns(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<HourlyReturn[]>;
  loadSnapshots(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<BalanceSnapshot[]>;
}
