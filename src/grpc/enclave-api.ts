// The one thing gRPC handlers call. The actor supervisor implements it (adapted in src/app/enclave-api.ts);
// tests and the benchmark use small in-memory implementations. Replies are domain aggregates only.
// Failures are the actor error family (src/actors/errors.ts); anything else becomes UNKNOWN.
import type { DataGap, PerformanceStats } from '../domain/aggregation.js';
import type { AccountKey, BalanceSnapshot, EpochMs, HourlyReturn } from '../domain/types.js';
import type { Attestation } from '../attestation/configfs-tsm.js';
import type { ConnectionStatus, Exchange, ParkedReason, SyncMode, SyncProgress } from '../domain/types.js';
import type { DisclosureLevel } from '../domain/disclosure.js';
import type { PeriodKind } from '../domain/report/periods.js';
import type { BenchmarkName, ReportCurrency } from '../domain/report/currency.js';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';
import type { PerformanceReport, ReportOptions } from '../domain/report/report.js';

/**
 * Carried by every call (nice-grpc's CallContext): the one deadline, as a signal, passed all the
 * way down into the actor ask. Aborted when the client cancels (reason: CallCancelledError) or the
 * deadline passes (reason: AskTimeoutError); throwing `signal.reason` maps to the right status.
 */
export interface CallContext {
  readonly signal: AbortSignal;
  /** Another instance forwarded this call to its shard's owner (issue 18): it is never forwarded again. */
  readonly forwarded?: boolean;
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
  /** The level the counts and snapshot above follow (absent: full, as before levels existed). */
  readonly disclosureLevel?: DisclosureLevel;
}


export interface ApiHealth {
  readonly status: 'serving' | 'degraded' | 'not-serving';
  /** Accounts with a live actor. */
  readonly activeAccounts: number;
  /** Accounts parked in the failed state. */
  readonly failedAccounts: number;
  /** Scale-out (issue 18): this instance's shard leases (absent: not wired, e.g. a test port). */
  readonly shards?: ShardHealth;
}

/** What HealthCheck tells about this instance's shard leases. */
export interface ShardHealth {
  readonly instanceId: string;
  /** SHARD_COUNT of the deployment. */
  readonly shardCount: number;
  /** Shards held with a usable lease now (none past the acting deadline), ascending. */
  readonly owned: readonly number[];
  /** Round trip of the last successful renewal, ms; null before the first one. */
  readonly lastRenewMs: number | null;
}

export interface EnclaveIdentityInfo {
  /** Raw 32-byte X25519 public key clients seal credentials to. */
  readonly publicKey: Buffer;
  readonly serviceVersion: string;
  readonly buildHash: string;
  /** Raw Ed25519 statement-signing public key, bound in attestation reports; absent: none. */
  readonly statementSigningKey?: Buffer;
}

export interface RegisteredConnection {
  readonly status: ConnectionStatus;
  /** False when the venue does not report key permissions (the key was accepted unchecked). */
  readonly permissionsChecked: boolean;
}

export interface RegistrationOptions {
  /** The account holder accepts a trading-capable key where the venue issues no read-only ones (Alpaca). */
  readonly acceptTradingKeyRisk: boolean;
  /** What the account publishes; null keeps the stored level (the default for a new connection). */
  readonly disclosureLevel?: DisclosureLevel | null;
}

export interface RegistrationChallengeInfo {
  /** 32 random bytes, single use, bound to the account. */
  readonly challenge: Buffer;
  readonly expiresAt: EpochMs;
}

export interface ConnectionInfo {
  readonly account: AccountKey;
  readonly status: ConnectionStatus;
  /** Why a failed account is parked (a fixed class, never an inner message); null unless failed. */
  readonly parkedReason: ParkedReason | null;
  /** What the account publishes (src/domain/disclosure.ts). */
  readonly disclosureLevel: DisclosureLevel;
}

/** What GetPerformanceReport asks for (validated). */
export interface ReportRequest {
  readonly userUid: string;
  /** null: the composite of all the user's accounts. */
  readonly exchange: Exchange | null;
  readonly period: PeriodKind;
  /** CUSTOM only. */
  readonly custom: TimeRange | null;
  /** null: the accounts' base currency. */
  readonly currency: ReportCurrency | null;
  readonly benchmark: BenchmarkName | null;
  readonly options: ReportOptions;
}

export interface AccountReport {
  readonly report: PerformanceReport;
  /** The accounts' own base currency (the report's `currency` may be another). */
  readonly baseCurrency: string;
  readonly exchanges: readonly Exchange[];
  /** Hours in which transfers between the user's own accounts netted out of the composite's flows. */
  readonly nettedTransferHours: number;
  /** Derivatives aggregates (whole record, no hours) of the exchanges that have any; absent: none. */
  readonly derivatives?: readonly { readonly exchange: Exchange; readonly metrics: PublishedDerivatives }[];
}

export interface EnclaveApi {
  /**
   * Syncs the account now. Joins a sync already running for it rather than starting another.
   * `onProgress`, when given, is called as the sync advances (as often as convenient: the
   * caller throttles).
   */
  sync(account: AccountKey, mode: SyncMode, call: CallContext, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport>;
  /** Published hourly returns whose hour starts in the range, oldest first. */
  getReturns(account: AccountKey, range: TimeRange, call: CallContext): Promise<readonly HourlyReturn[]>;
  /** Metrics over the account's whole published history. */
  getPerformance(account: AccountKey, call: CallContext): Promise<PerformanceStats>;
  /**
   * The account's derivatives aggregates (ratios and counts, every disclosure level), with the
   * leverage of the hours starting in `hours` (none when null); null without derivatives records.
   * Asked beside getReturns / getPerformance, which check the account (this one does not).
   */
  getDerivatives(account: AccountKey, hours: TimeRange | null, call: CallContext): Promise<PublishedDerivatives | null>;
  /**
   * A performance report (src/domain/report) over the period, from published hours and stored
   * public candles; closed-position ratios from fills, computed here and published as ratios only.
   * NotFoundError when the user has no such account (or none at all).
   */
  getPerformanceReport(request: ReportRequest, call: CallContext): Promise<AccountReport>;
  /** Balance snapshots taken in the range, oldest first. */
  getSnapshots(account: AccountKey, range: TimeRange, call: CallContext): Promise<readonly BalanceSnapshot[]>;
  health(call: CallContext): Promise<ApiHealth>;
  identity(call: CallContext): Promise<EnclaveIdentityInfo>;
  /** A single-use, expiring challenge the client binds in the sealed credential (version 3). */
  registrationChallenge(account: AccountKey, call: CallContext): Promise<RegistrationChallengeInfo>;
  /**
   * Opens a sealed credential (consuming its registration challenge), checks it is read-only where
   * the venue reports permissions (or trading-capable with the opt-in, where the venue issues no
   * read-only keys), and stores it with the opt-in. Refusals: SealedCredentialError or
   * WritableCredentialError; nothing is stored then.
   */
  registerConnection(account: AccountKey, sealed: Uint8Array, options: RegistrationOptions, call: CallContext): Promise<RegisteredConnection>;
  /** Stops the account (credential zeroed) and deletes its private data; false when none was stored. */
  removeConnection(account: AccountKey, keepAggregates: boolean, call: CallContext): Promise<boolean>;
  listConnections(call: CallContext): Promise<readonly ConnectionInfo[]>;
  /** Clears a parked (failed) account so it syncs again; false when it was not parked. */
  reviveConnection(account: AccountKey, call: CallContext): Promise<boolean>;
  /** AttestationUnavailableError when this machine has no SEV-SNP device. */
  getAttestation(nonce: Uint8Array, call: CallContext): Promise<Attestation>;
  /**
   * The account's disclosure level: the replies of getReturns, getSnapshots, getPerformance and
   * sync already follow it; the handlers name it in the reply. AccountNotFoundError when none is stored.
   */
  disclosureLevel(account: AccountKey, call: CallContext): Promise<DisclosureLevel>;
  /**
   * A signed track-record statement (docs/statements.md) over the range (null: the whole record), as
   * JSON text. PublishedRecordError when the published hours no longer hash to the signed checkpoint.
   */
  trackRecordStatement(account: AccountKey, range: TimeRange | null, call: CallContext): Promise<string>;
  /** The connected account whose metrics label (keyed pseudonym) is `label`; null when none is. */
  whois(label: string, call: CallContext): Promise<AccountKey | null>;
  /** Sets the level and rewrites the published rows to it. AccountNotFoundError when no connection is stored. */
  setDisclosureLevel(account: AccountKey, level: DisclosureLevel, call: CallContext): Promise<DisclosureLevel>;
}
