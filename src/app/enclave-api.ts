// Adapts the actor supervisor to the port the gRPC handlers call. The only translation here is
// of shapes (counts, gap kinds); the call's signal goes into the ask as is (its one deadline);
// errors pass through as the actor error family.
import type { PerformanceStats } from '../domain/aggregation.js';
import type { AccountKey, BalanceSnapshot, HourlyReturn } from '../domain/types.js';
import type { Supervisor } from '../actors/supervisor.js';
import type { CallContext, ConnectionInfo, EnclaveIdentityInfo, EnclaveApi, ApiHealth, RegisteredConnection, SyncReport, TimeRange } from '../grpc/enclave-api.js';
import type { SyncMode, SyncProgress } from '../domain/types.js';
import type { Attestation, Attester } from '../attestation/configfs-tsm.js';
import type { EnclaveIdentity } from '../attestation/identity.js';
import { assertReadOnlyPermissions } from '../domain/permissions.js';
import { openSealedCredential } from '../crypto/sealed-intake.js';
import { type VenuePermissions } from '../domain/types.js';
import type { Logger } from '../config/logger.js';
import { accountId } from '../domain/types.js';
import { sealEnvelope } from '../crypto/envelope.js';
import type { Keyring } from '../crypto/keyring.js';
import type { VenueConnector } from '../exchanges/connector.js';
import type { ConnectionRepository } from '../storage/connections.js';

/** What the connection and attestation calls need besides the supervisor (wired in service.ts). */
export interface IntakeDeps {
  readonly identity: EnclaveIdentity;
  readonly keyring: Keyring;
  readonly connections: ConnectionRepository;
  /** Builds a connector from opened credential bytes, to ask the venue what the key may do. */
  readonly connectorFactory: (account: AccountKey, plaintext: Buffer) => VenueConnector;
  /** An attester for the TLS certificate served now (certificates reload without a restart). */
  readonly attester: () => Attester;
  readonly logger: Logger;
  /** Told after a connection is removed (the metrics stop counting it as stale). */
  readonly onConnectionRemoved?: (account: AccountKey) => void;
}

/** Everything but the report, which reads storage directly (src/app/report.ts). */
export function createEnclaveApi(supervisor: Supervisor, intake: IntakeDeps): Omit<EnclaveApi, 'getPerformanceReport'> {
  const { identity, keyring, connections, logger } = intake;
  return {
    async sync(account: AccountKey, mode: SyncMode, ask: CallContext, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport> {
      const result = await supervisor.sync(account, mode, { signal: ask.signal, ...(onProgress === undefined ? {} : { onProgress }) });
      return {
        fillsSynced: result.fillsIngested,
        cashFlowsSynced: result.cashFlowsIngested,
        hourlyReturnsGenerated: result.hourlyReturnsWritten,
        latestSnapshot: result.snapshot,
        gapKinds: result.gapKinds,
      };
    },
    getReturns(account: AccountKey, range: TimeRange, ask: CallContext): Promise<readonly HourlyReturn[]> {
      return supervisor.getReturns(account, range.from, range.to, ask.signal);
    },
    async getPerformance(account: AccountKey, ask: CallContext): Promise<PerformanceStats> {
      return (await supervisor.getPerformance(account, ask.signal)).metrics;
    },
    getSnapshots(account: AccountKey, range: TimeRange, ask: CallContext): Promise<readonly BalanceSnapshot[]> {
      return supervisor.getSnapshots(account, range.from, range.to, ask.signal);
    },
    async health(): Promise<ApiHealth> {
      const totals = supervisor.totals();
      return { status: 'serving', activeAccounts: totals.alive, failedAccounts: totals.failed };
    },
    async identity(): Promise<EnclaveIdentityInfo> {
      return { publicKey: identity.publicKey, serviceVersion: identity.serviceVersion, buildHash: identity.buildHash };
    },
    async registerConnection(account: AccountKey, sealed: Uint8Array, ask: CallContext): Promise<RegisteredConnection> {
      const plaintext = await openSealedCredential(identity, account, sealed);
      try {
        let permissions: VenuePermissions = { reported: false };
        const connector = intake.connectorFactory(account, plaintext);
        try {
          if (connector.fetchPermissions !== undefined) permissions = await connector.fetchPermissions(ask.signal);
        } finally {
          await connector.close();
        }
        assertReadOnlyPermissions(permissions);
        await connections.saveConnection(account, sealEnvelope(keyring, account, plaintext));
        // A live actor still holds the previous credential: stop it so the next request opens the new one.
        await supervisor.passivate(account);
        logger.info({ account: accountId(account), permissionsChecked: permissions.reported }, 'connection registered');
        return { status: 'active', permissionsChecked: permissions.reported };
      } finally {
        plaintext.fill(0);
      }
    },
    async removeConnection(account: AccountKey, keepAggregates: boolean): Promise<boolean> {
      // Zero the credential and stop the actor (after a running sync) before its data goes.
      await supervisor.passivate(account);
      const removed = await connections.removeAccount(account, { keepAggregates });
      // A request that arrived in between may have spawned it again with the old credential.
      await supervisor.passivate(account);
      intake.onConnectionRemoved?.(account);
      logger.info({ account: accountId(account), removed, keepAggregates }, 'connection removed');
      return removed;
    },
    async listConnections(): Promise<readonly ConnectionInfo[]> {
      const stored = await connections.listConnections();
      return stored.map((c) => {
        // A parked actor is failed even before its row says so; its reason is then the one in memory.
        const parkedHere = supervisor.parkedReason(c.account);
        const status = parkedHere !== null ? 'failed' : c.status;
        return { account: c.account, status, parkedReason: status === 'failed' ? parkedHere ?? c.parkedReason ?? 'internal' : null };
      });
    },
    async reviveConnection(account: AccountKey): Promise<boolean> {
      return supervisor.revive(account);
    },
    async getAttestation(nonce: Uint8Array, ask: CallContext): Promise<Attestation> {
      ask.signal.throwIfAborted();
      return intake.attester().getAttestation(nonce);
    },
  };
}
