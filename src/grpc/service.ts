// EnclaveService as a factory of its one dependency, the EnclaveApi (STYLE.md 10): each method
// validates, asks the port with the call's context and maps the reply with wire.ts. The per-call
// plumbing (deadline, signal, status, logging) is call.ts; a handler never touches the database
// or a venue.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { NotShardOwnerError } from '../actors/errors.js';
import type { AccountKey } from '../domain/types.js';
import { EXCHANGES, type Exchange } from '../domain/types.js';
import type { Logger } from '../config/logger.js';
import { VENUE_BASE_CURRENCY } from '../domain/report/currency.js';
import { NONCE_MAX_LENGTH, NONCE_MIN_LENGTH } from '../attestation/binding.js';
import { EnclaveServiceService, type EnclaveServiceServer, type SyncJobProgress } from './generated/enclave.js';
import type { CallContext, EnclaveApi } from './enclave-api.js';
import { PeerUnreachableError, type PeerForwarder } from './peer-forwarding.js';
import { serverStreamCall, unaryCall, withTolerantDecoding, type CallEnvironment } from './call.js';
import { createProgressFeed, DEFAULT_PROGRESS_INTERVAL_MS } from './progress.js';
import {
  DEFAULT_MAX_RANGE_MS,
  validateAccountRequest,
  validateEmpty,
  validateNonce,
  validateRangeRequest,
  validateRegistration,
  validateReportRequest,
  validateSetDisclosureLevel,
  validateStatementRequest,
  validateWhois,
  validateSync,
  type ValidationLimits,
} from './validate.js';
import {
  attestationToWire,
  balanceSnapshotToWire,
  connectionInfoToWire,
  connectionStatusToWire,
  disclosureLevelToWire,
  hourlyReturnsToWire,
  derivativesToWire,
  performanceReportToWire,
  performanceStatsToWire,
  servingStatusToWire,
  syncDoneToWire,
  syncProgressToWire,
  syncReportToWire,
} from './wire.js';

export interface EnclaveServiceOptions {
  readonly port: EnclaveApi;
  readonly logger: Logger;
  /** Enclave mode drops the `simulated` venue from the default exchange set. */
  readonly enclaveMode: boolean;
  /** Reported by HealthCheck. */
  readonly version: string;
  /** Exchanges served; default: all, minus `simulated` in enclave mode. */
  readonly exchanges?: readonly Exchange[];
  /** Widest range a returns or snapshot query may span, ms (default 366 days). */
  readonly maxRangeMs?: number;
  /** Longest a sync may take, ms, whatever the client's deadline (default 15 min). */
  readonly maxSyncMs?: number;
  /** Longest a query may take, ms, whatever the client's deadline (default 30 s). */
  readonly maxQueryMs?: number;
  /** Least time between two WatchSyncJob progress messages, ms (default 200). */
  readonly progressIntervalMs?: number;
  readonly now?: () => number;
  /** Several instances (issue 18): commands for another instance's shard go to it, one hop. */
  readonly peers?: PeerRouting;
}

export interface PeerRouting {
  readonly forwarder: PeerForwarder;
  /** The owner's address when another instance holds the account's shard; null: this one does, or nobody. */
  ownerElsewhere(account: AccountKey): Promise<string | null>;
  /** The retry hint when the owner cannot be reached (one lease poll). */
  readonly retryAfterMs: number;
}

export const DEFAULT_MAX_SYNC_MS = 15 * 60_000;
export const DEFAULT_MAX_QUERY_MS = 30_000;

export function defaultExchanges(enclaveMode: boolean): readonly Exchange[] {
  return enclaveMode ? EXCHANGES.filter((e) => e !== 'simulated') : EXCHANGES;
}

export function createEnclaveService(options: EnclaveServiceOptions): EnclaveServiceServer {
  const { port } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const limits: ValidationLimits = {
    exchanges: options.exchanges ?? defaultExchanges(options.enclaveMode),
    maxRangeMs: options.maxRangeMs ?? DEFAULT_MAX_RANGE_MS,
  };
  const maxSyncMs = options.maxSyncMs ?? DEFAULT_MAX_SYNC_MS;
  const maxQueryMs = options.maxQueryMs ?? DEFAULT_MAX_QUERY_MS;
  const progressIntervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const env: CallEnvironment = { now, logger: options.logger };
  const peers = options.peers;

  /**
   * Runs the command here; when the supervisor refuses it because another instance owns the
   * account's shard, forwards the request to that owner once. An owner that cannot be reached
   * leaves the refusal (UNAVAILABLE with the retry hint) as the answer.
   */
  const viaOwner = async <T>(call: CallContext, local: () => Promise<T>, forward: (forwarder: PeerForwarder, addr: string) => Promise<T>): Promise<T> => {
    try {
      return await local();
    } catch (error) {
      if (!(error instanceof NotShardOwnerError) || error.ownerAddr === null || call.forwarded === true || peers === undefined) throw error;
      try {
        return await forward(peers.forwarder, error.ownerAddr);
      } catch (failure) {
        throw failure instanceof PeerUnreachableError ? error : failure;
      }
    }
  };

  return {
    processSyncJob: unaryCall(env, 'ProcessSyncJob', maxSyncMs, async (request, call) => {
      const { account, mode } = validateSync(request, limits);
      return viaOwner(call, async () => syncReportToWire(await port.sync(account, mode, call)), (peer, addr) => peer.processSyncJob(addr, request, call.signal));
    }),
    watchSyncJob: serverStreamCall(env, 'WatchSyncJob', maxSyncMs, async (request, call, send: (message: SyncJobProgress) => void) => {
      const { account, mode } = validateSync(request, limits);
      return viaOwner(call, async () => {
        const feed = createProgressFeed({ intervalMs: progressIntervalMs, now, signal: call.signal, send: (p) => send(syncProgressToWire(p)) });
        try {
          const report = await port.sync(account, mode, call, feed.report);
          return syncDoneToWire(feed.finish(report), report);
        } finally {
          feed.close();
        }
      }, (peer, addr) => peer.watchSyncJob(addr, request, call.signal, send));
    }),
    calculateHistoricalReturns: unaryCall(env, 'CalculateHistoricalReturns', maxQueryMs, async (request, call) => {
      const { account, range } = validateRangeRequest(request, limits);
      const [hours, derivatives] = await Promise.all([port.getReturns(account, range, call), port.getDerivatives(account, range, call)]);
      return { returns: hourlyReturnsToWire(hours, derivatives), disclosureLevel: disclosureLevelToWire(await port.disclosureLevel(account, call)) };
    }),
    getAggregatedMetrics: unaryCall(env, 'GetAggregatedMetrics', maxQueryMs, async (request, call) => {
      const account = validateAccountRequest(request, limits);
      const [performance, derivatives] = await Promise.all([port.getPerformance(account, call), port.getDerivatives(account, null, call)]);
      const metrics = performanceStatsToWire(performance, VENUE_BASE_CURRENCY[account.exchange]);
      return { metrics, disclosureLevel: disclosureLevelToWire(await port.disclosureLevel(account, call)), derivatives: derivativesToWire(derivatives) };
    }),
    getPerformanceReport: unaryCall(env, 'GetPerformanceReport', maxQueryMs, async (request, call) => {
      return performanceReportToWire(await port.getPerformanceReport(validateReportRequest(request, limits), call));
    }),
    getSnapshotTimeSeries: unaryCall(env, 'GetSnapshotTimeSeries', maxQueryMs, async (request, call) => {
      const { account, range } = validateRangeRequest(request, limits);
      const snapshots = (await port.getSnapshots(account, range, call)).map(balanceSnapshotToWire);
      return { snapshots, disclosureLevel: disclosureLevelToWire(await port.disclosureLevel(account, call)) };
    }),
    healthCheck: unaryCall(env, 'HealthCheck', maxQueryMs, async (request, call) => {
      validateEmpty(request);
      const health = await port.health(call);
      return {
        status: servingStatusToWire(health.status),
        enclaveMode: options.enclaveMode,
        version: options.version,
        uptimeMs: Math.max(0, now() - startedAt),
        activeAccounts: health.activeAccounts,
        failedAccounts: health.failedAccounts,
        ownedShards: [...(health.shards?.owned ?? [])],
        shardCount: health.shards?.shardCount ?? 0,
        lastLeaseRenewMs: health.shards?.lastRenewMs ?? 0,
        instanceId: health.shards?.instanceId ?? '',
      };
    }),
    getEnclaveIdentity: unaryCall(env, 'GetEnclaveIdentity', maxQueryMs, async (request, call) => {
      validateEmpty(request);
      const identity = await port.identity(call);
      return { hpkePublicKey: identity.publicKey, serviceVersion: identity.serviceVersion, buildHash: identity.buildHash, statementSigningKey: identity.statementSigningKey ?? Buffer.alloc(0) };
    }),
    getRegistrationChallenge: unaryCall(env, 'GetRegistrationChallenge', maxQueryMs, async (request, call) => {
      const account = validateAccountRequest(request, limits);
      // The owner issues the challenge: the Register it is for is forwarded to it too and consumes it there.
      const owner = peers === undefined || call.forwarded === true ? null : await peers.ownerElsewhere(account);
      if (owner !== null && peers !== undefined) {
        try {
          return await peers.forwarder.getRegistrationChallenge(owner, request, call.signal);
        } catch (failure) {
          if (failure instanceof PeerUnreachableError) throw new NotShardOwnerError('the shard owner could not be reached', peers.retryAfterMs, owner);
          throw failure;
        }
      }
      const issued = await port.registrationChallenge(account, call);
      return { challenge: issued.challenge, expiresAtMs: issued.expiresAt };
    }),
    registerConnection: unaryCall(env, 'RegisterConnection', maxQueryMs, async (request, call) => {
      const { account, sealed, options } = validateRegistration(request, limits);
      return viaOwner(call, async () => {
        const registered = await port.registerConnection(account, sealed, options, call);
        return { status: connectionStatusToWire(registered.status), permissionsChecked: registered.permissionsChecked };
      }, (peer, addr) => peer.registerConnection(addr, request, call.signal));
    }),
    removeConnection: unaryCall(env, 'RemoveConnection', maxQueryMs, async (request, call) => {
      const account = validateAccountRequest(request, limits);
      return viaOwner(call, async () => ({ removed: await port.removeConnection(account, request.keepAggregates, call) }), (peer, addr) => peer.removeConnection(addr, request, call.signal));
    }),
    listConnections: unaryCall(env, 'ListConnections', maxQueryMs, async (request, call) => {
      validateEmpty(request);
      return { connections: (await port.listConnections(call)).map(connectionInfoToWire) };
    }),
    reviveConnection: unaryCall(env, 'ReviveConnection', maxQueryMs, async (request, call) => {
      const account = validateAccountRequest(request, limits);
      return { revived: await port.reviveConnection(account, call) };
    }),
    getAttestation: unaryCall(env, 'GetAttestation', maxQueryMs, async (request, call) => {
      const nonce = validateNonce(request, { min: NONCE_MIN_LENGTH, max: NONCE_MAX_LENGTH });
      return attestationToWire(await port.getAttestation(nonce, call));
    }),
    getTrackRecordStatement: unaryCall(env, 'GetTrackRecordStatement', maxQueryMs, async (request, call) => {
      const { account, range } = validateStatementRequest(request, limits);
      return { statementJson: await port.trackRecordStatement(account, range, call) };
    }),
    whois: unaryCall(env, 'Whois', maxQueryMs, async (request, call) => {
      const found = await port.whois(validateWhois(request), call);
      return found === null ? { found: false, userUid: '', exchange: '' } : { found: true, userUid: found.userUid, exchange: found.exchange };
    }),
    setDisclosureLevel: unaryCall(env, 'SetDisclosureLevel', maxQueryMs, async (request, call) => {
      const { account, level } = validateSetDisclosureLevel(request, limits);
      return { level: disclosureLevelToWire(await port.setDisclosureLevel(account, level, call)) };
    }),
  };
}

/**
 * The definition to register: the generated one, with request decoding that lets undecodable
 * requests through to validation so they get INVALID_ARGUMENT with a reason.
 */
export const enclaveServiceDefinition = withTolerantDecoding(EnclaveServiceService) satisfies ServiceDefinition;
