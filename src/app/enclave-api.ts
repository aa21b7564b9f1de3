// Adapts the runtime to the port the gRPC handlers call: each method asks one owner and maps the
// shape of its reply. Connection use cases go to the account's actor through the supervisor (it
// alone opens a credential), listing is a supervisor query, and reads of published aggregates go
// to the read side (storage, no actor). The call's signal goes down as is (its one deadline);
// errors pass through as the actor error family (refusals as their own classes).
import type { PerformanceStats } from '../domain/aggregation.js';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';
import type { AccountKey, BalanceSnapshot, HourlyReturn, SyncMode, SyncProgress } from '../domain/types.js';
import type { Supervisor } from '../actors/supervisor.js';
import type {
  ApiHealth, CallContext, ConnectionInfo, EnclaveApi, EnclaveIdentityInfo, RegisteredConnection, RegistrationChallengeInfo, RegistrationOptions, ShardHealth, SyncReport, TimeRange,
} from '../grpc/enclave-api.js';
import type { RegistrationChallenges } from '../crypto/registration-challenges.js';
import type { Attestation, Attester } from '../attestation/configfs-tsm.js';
import type { EnclaveIdentity } from '../attestation/identity.js';
import type { Reads } from './reads.js';
import { AccountNotFoundError } from '../actors/errors.js';
import { accountId } from '../domain/types.js';
import { DEFAULT_DISCLOSURE_LEVEL, discloseCount, discloseLatestSnapshot, discloseProgress, type DisclosureLevel } from '../domain/disclosure.js';
import type { DisclosureStore } from '../storage/disclosure-store.js';

/** What the identity and attestation calls need (wired in service.ts). */
export interface IdentityDeps {
  readonly identity: EnclaveIdentity;
  /** An attester for the TLS certificate served now (certificates reload without a restart). */
  readonly attester: () => Attester;
  /** Issued here, consumed by the intake when a Register opens a blob bound to one (service.ts). */
  readonly challenges: RegistrationChallenges;
  /** The statement-signing public key the attester binds (absent: none). */
  readonly statementSigningKey?: Buffer;
}

/** Everything but the report and statements, which read storage directly (src/app/report.ts, statements.ts). */
/** `shards`: this instance's leases as HealthCheck reports them (the lease keeper's `health`; absent: not reported). */
export function createEnclaveApi(
  supervisor: Supervisor, reads: Reads, { identity, attester, challenges, statementSigningKey }: IdentityDeps, disclosure: DisclosureStore, shards?: () => ShardHealth,
): Omit<EnclaveApi, 'getPerformanceReport' | 'trackRecordStatement' | 'whois'> {
  const levelOf = async (account: AccountKey): Promise<DisclosureLevel> => {
    const level = await disclosure.loadDisclosureLevel(account);
    if (level === null) throw new AccountNotFoundError(`no connection for ${accountId(account)}`);
    return level;
  };
  return {
    async sync(account: AccountKey, mode: SyncMode, call: CallContext, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport> {
      // Counts are exact only at `full` (a poller would otherwise learn each fill's timing).
      const level = (await disclosure.loadDisclosureLevel(account)) ?? DEFAULT_DISCLOSURE_LEVEL;
      const progress = onProgress === undefined ? {} : { onProgress: (p: SyncProgress) => onProgress(discloseProgress(p, level)) };
      const result = await supervisor.sync(account, mode, { signal: call.signal, ...progress });
      return {
        fillsSynced: discloseCount(result.fillsIngested, level),
        cashFlowsSynced: discloseCount(result.cashFlowsIngested, level),
        hourlyReturnsGenerated: result.hourlyReturnsWritten,
        latestSnapshot: discloseLatestSnapshot(result.snapshot, level),
        gapKinds: result.gapKinds,
        disclosureLevel: level,
      };
    },
    getReturns(account: AccountKey, range: TimeRange, call: CallContext): Promise<readonly HourlyReturn[]> {
      return reads.returns(account, range.from, range.to, call.signal);
    },
    getPerformance(account: AccountKey, call: CallContext): Promise<PerformanceStats> {
      return reads.performance(account, call.signal);
    },
    getDerivatives(account: AccountKey, hours: TimeRange | null, call: CallContext): Promise<PublishedDerivatives | null> {
      return reads.derivatives(account, hours, call.signal);
    },
    getSnapshots(account: AccountKey, range: TimeRange, call: CallContext): Promise<readonly BalanceSnapshot[]> {
      return reads.snapshots(account, range.from, range.to, call.signal);
    },
    async health(): Promise<ApiHealth> {
      const totals = supervisor.totals();
      return { status: 'serving', activeAccounts: totals.alive, failedAccounts: totals.failed, ...(shards === undefined ? {} : { shards: shards() }) };
    },
    async identity(): Promise<EnclaveIdentityInfo> {
      return { publicKey: identity.publicKey, serviceVersion: identity.serviceVersion, buildHash: identity.buildHash, ...(statementSigningKey === undefined ? {} : { statementSigningKey }) };
    },
    async registrationChallenge(account: AccountKey): Promise<RegistrationChallengeInfo> {
      return challenges.issue(account);
    },
    async registerConnection(account: AccountKey, sealed: Uint8Array, options: RegistrationOptions, call: CallContext): Promise<RegisteredConnection> {
      const registered = await supervisor.register(account, sealed, call.signal, { acceptTradingKeyRisk: options.acceptTradingKeyRisk });
      // A new connection starts at the default level (the most private) until this lands.
      if (options.disclosureLevel != null) await disclosure.setDisclosureLevel(account, options.disclosureLevel);
      return { status: registered.status, permissionsChecked: registered.permissionsChecked };
    },
    async removeConnection(account: AccountKey, keepAggregates: boolean, call: CallContext): Promise<boolean> {
      return (await supervisor.remove(account, keepAggregates, call.signal)).removed;
    },
    listConnections(): Promise<readonly ConnectionInfo[]> {
      return supervisor.list();
    },
    reviveConnection(account: AccountKey): Promise<boolean> {
      return supervisor.revive(account);
    },
    async getAttestation(nonce: Uint8Array, call: CallContext): Promise<Attestation> {
      call.signal.throwIfAborted();
      return attester().getAttestation(nonce);
    },
    async disclosureLevel(account: AccountKey, call: CallContext): Promise<DisclosureLevel> {
      call.signal.throwIfAborted();
      return levelOf(account);
    },
    async setDisclosureLevel(account: AccountKey, level: DisclosureLevel, call: CallContext): Promise<DisclosureLevel> {
      call.signal.throwIfAborted();
      if (!(await disclosure.setDisclosureLevel(account, level))) throw new AccountNotFoundError(`no connection for ${accountId(account)}`);
      return level;
    },
  };
}
