// The one thing gRPC handlers call. The actor supervisor implements it (adapted in src/app/enclave-api.ts);
// tests and the benchmark use small in-memory implementations. Replies are domain aggregates only.
// Failures are the actor error family (src/actors/errors.ts); anything else becomes UNKNOWN.
import type { DataGap, PerformanceStats } from '../domain/aggregation.js';
import type { AccountKey, BalanceSnapshot, EpochMs, HourlyReturn } from '../domain/types.js';
import type { Attestation } from '../attestation/configfs-tsm.js';
import type { ConnectionStatus } from '../domain/types.js';

export type SyncMode = 'incremental' | 'full';

/** Carried by every ask: how long the caller waits, and a signal for when it stops waiting. */
export interface Ask {
  /** Absolute deadline, epoch ms: the client's gRPC deadline, capped by the server's limit. */
  readonly deadline: EpochMs;
  /**
   * Aborted when the client cancels (reason: CallCancelledError) or the deadline passes
   * (reason: AskTimeoutError). Throwing `signal.reason` maps to the right status.
   */
  readonly signal: AbortSignal;
}

/** Half-open interval [from, to), epoch ms; validated (from < to, bounded span) before the ask. */
export interface TimeRange {
  readonly from: EpochMs;
  readonly to: EpochMs;
}

export interface SyncReport {
  /** New executions stored by this sync (a count: executions never leave the enclave). */
  readonly fillsSynced: number;
  /** New deposits and withdrawals stored. */
  readonly cashFlowsSynced: number;
  readonly hourlyReturnsGenerated: number;
  /** Equity at the last computed hour (null when nothing could be valued). */
  readonly latestSnapshot: BalanceSnapshot | null;
  /** Kinds of data gap the engine met; no assets, amounts or hours. */
  readonly gapKinds: readonly DataGap['kind'][];
}

/** How far a running sync has got (counts only). */
export interface SyncProgress {
  readonly phase: 'fetching' | 'aggregating';
  readonly fillsFetched: number;
  readonly cashFlowsFetched: number;
  readonly hoursDone: number;
  /** 0 while not yet known. */
  readonly hoursTotal: number;
}

export interface ApiHealth {
  readonly status: 'serving' | 'degraded' | 'not-serving';
  /** Accounts with a live actor. */
  readonly activeAccounts: number;
  /** Accounts parked in the failed state. */
  readonly failedAccounts: number;
}

export interface EnclaveIdentityInfo {
  /** Raw 32-byte X25519 public key clients seal credentials to. */
  readonly publicKey: Buffer;
  readonly serviceVersion: string;
  readonly buildHash: string;
}

export interface RegisteredConnection {
  readonly status: ConnectionStatus;
  /** False when the venue does not report key permissions (the key was accepted unchecked). */
  readonly permissionsChecked: boolean;
}

export interface ConnectionInfo {
  readonly account: AccountKey;
  readonly status: ConnectionStatus;
}

export interface EnclaveApi {
  /**
   * Syncs the account now. Joins a sync already running for it rather than starting another.
   * `onProgress`, when given, is called as the sync advances (as often as convenient: the
   * caller throttles).
   */
  sync(account: AccountKey, mode: SyncMode, ask: Ask, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport>;
  /** Published hourly returns whose hour starts in the range, oldest first. */
  getReturns(account: AccountKey, range: TimeRange, ask: Ask): Promise<readonly HourlyReturn[]>;
  /** Metrics over the account's whole published history. */
  getPerformance(account: AccountKey, ask: Ask): Promise<PerformanceStats>;
  /** Balance snapshots taken in the range, oldest first. */
  getSnapshots(account: AccountKey, range: TimeRange, ask: Ask): Promise<readonly BalanceSnapshot[]>;
  health(ask: Ask): Promise<ApiHealth>;
  identity(ask: Ask): Promise<EnclaveIdentityInfo>;
  /**
   * Opens a sealed credential, checks it is read-only where the venue reports permissions, and
   * stores it. Refusals: SealedCredentialError or WritableCredentialError; nothing is stored then.
   */
  registerConnection(account: AccountKey, sealed: Uint8Array, ask: Ask): Promise<RegisteredConnection>;
  /** Stops the account (credential zeroed) and deletes its private data; false when none was stored. */
  removeConnection(account: AccountKey, keepAggregates: boolean, ask: Ask): Promise<boolean>;
  listConnections(ask: Ask): Promise<readonly ConnectionInfo[]>;
  /** AttestationUnavailableError when this machine has no SEV-SNP device. */
  getAttestation(nonce: Uint8Array, ask: Ask): Promise<Attestation>;
}
