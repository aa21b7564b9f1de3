// EnclaveService as a factory of its one dependency, the EnclaveApi: each method validates,
// asks the port with the call's deadline, and maps the reply (or the error, via toGrpcStatus).
// A handler never touches the database or a venue.
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { PerformanceStats } from '../domain/aggregation.js';
import { EXCHANGES, type BalanceSnapshot, type Exchange } from '../domain/types.js';
import { AskTimeoutError } from '../actors/errors.js';
import type { Logger } from '../config/logger.js';
import { CallCancelledError, toGrpcStatus } from './errors.js';
import { NONCE_MAX_LENGTH, NONCE_MIN_LENGTH } from '../attestation/binding.js';
import type { TcbVersion as SnpTcbVersion } from '../attestation/snp-report.js';
import type { ConnectionStatus as StoredConnectionStatus } from '../domain/types.js';
import {
  CalculateHistoricalReturnsRequest,
  ConnectionStatus,
  EnclaveServiceService,
  GetAttestationRequest,
  GetEnclaveIdentityRequest,
  ListConnectionsRequest,
  RegisterConnectionRequest,
  RemoveConnectionRequest,
  type TcbVersion as TcbVersionMessage,
  GetAggregatedMetricsRequest,
  GetSnapshotTimeSeriesRequest,
  HealthCheckRequest,
  ProcessSyncJobRequest,
  ServingStatus,
  SyncPhase,
  SyncStatus,
  type BalanceSnapshot as BalanceSnapshotMessage,
  type EnclaveServiceServer,
  type PerformanceMetrics as PerformanceMetricsMessage,
  type ProcessSyncJobResponse,
  type SyncJobProgress,
} from './generated/enclave.js';
import type { CallContext, EnclaveApi, ApiHealth, SyncReport } from './enclave-api.js';
import type { SyncProgress } from '../domain/types.js';
import {
  DEFAULT_MAX_RANGE_MS,
  UNDECODABLE,
  validateAccountRequest,
  validateEmpty,
  validateNonce,
  validateRangeRequest,
  validateRegistration,
  validateSync,
  type ValidationLimits,
} from './validate.js';

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
}

export const DEFAULT_MAX_SYNC_MS = 15 * 60_000;
export const DEFAULT_MAX_QUERY_MS = 30_000;

export function defaultExchanges(enclaveMode: boolean): readonly Exchange[] {
  return enclaveMode ? EXCHANGES.filter((e) => e !== 'simulated') : EXCHANGES;
}

export function createEnclaveService(options: EnclaveServiceOptions): EnclaveServiceServer {
  const { port, logger } = options;
  const now = options.now ?? Date.now;
  const startedAt = now();
  const limits: ValidationLimits = {
    exchanges: options.exchanges ?? defaultExchanges(options.enclaveMode),
    maxRangeMs: options.maxRangeMs ?? DEFAULT_MAX_RANGE_MS,
  };
  const maxSyncMs = options.maxSyncMs ?? DEFAULT_MAX_SYNC_MS;
  const maxQueryMs = options.maxQueryMs ?? DEFAULT_MAX_QUERY_MS;
  const progressIntervalMs = options.progressIntervalMs ?? 200;
  const unary = <Req, Res>(method: string, maxMs: number, work: (request: Req, ask: CallContext) => Promise<Res>) =>
    askingHandler(method, maxMs, now, logger, work);

  return {
    processSyncJob: unary('ProcessSyncJob', maxSyncMs, async (request: ProcessSyncJobRequest, ask) => {
      const { account, mode } = validateSync(request, limits);
      return syncReply(await port.sync(account, mode, ask));
    }),
    watchSyncJob: watchingHandler(maxSyncMs, now, logger, (request: ProcessSyncJobRequest, ask, onProgress) => {
      const { account, mode } = validateSync(request, limits);
      return port.sync(account, mode, ask, onProgress);
    }, progressIntervalMs),
    calculateHistoricalReturns: unary('CalculateHistoricalReturns', maxQueryMs, async (request: CalculateHistoricalReturnsRequest, ask) => {
      const { account, range } = validateRangeRequest(request, limits);
      const returns = await port.getReturns(account, range, ask);
      return {
        returns: returns.map((r) => ({
          hourStartMs: r.hourStart,
          hourlyReturn: r.return,
          cumulativeReturn: r.cumulativeReturn,
          equityEnd: r.equityEnd,
          netFlow: r.netFlow,
        })),
      };
    }),
    getAggregatedMetrics: unary('GetAggregatedMetrics', maxQueryMs, async (request: GetAggregatedMetricsRequest, ask) => {
      const account = validateAccountRequest(request, limits);
      return { metrics: metricsMessage(await port.getPerformance(account, ask)) };
    }),
    getSnapshotTimeSeries: unary('GetSnapshotTimeSeries', maxQueryMs, async (request: GetSnapshotTimeSeriesRequest, ask) => {
      const { account, range } = validateRangeRequest(request, limits);
      const snapshots = await port.getSnapshots(account, range, ask);
      return { snapshots: snapshots.map(snapshotMessage) };
    }),
    healthCheck: unary('HealthCheck', maxQueryMs, async (_request: HealthCheckRequest, ask) => {
      const health = await port.health(ask);
      return {
        status: servingStatus(health.status),
        enclaveMode: options.enclaveMode,
        version: options.version,
        uptimeMs: Math.max(0, now() - startedAt),
        activeAccounts: health.activeAccounts,
        failedAccounts: health.failedAccounts,
      };
    }),
    getEnclaveIdentity: unary('GetEnclaveIdentity', maxQueryMs, async (request: GetEnclaveIdentityRequest, ask) => {
      validateEmpty(request);
      const identity = await port.identity(ask);
      return { hpkePublicKey: identity.publicKey, serviceVersion: identity.serviceVersion, buildHash: identity.buildHash };
    }),
    registerConnection: unary('RegisterConnection', maxQueryMs, async (request: RegisterConnectionRequest, ask) => {
      const { account, sealed } = validateRegistration(request, limits);
      const registered = await port.registerConnection(account, sealed, ask);
      return { status: connectionStatus(registered.status), permissionsChecked: registered.permissionsChecked };
    }),
    removeConnection: unary('RemoveConnection', maxQueryMs, async (request: RemoveConnectionRequest, ask) => {
      const account = validateAccountRequest(request, limits);
      return { removed: await port.removeConnection(account, request.keepAggregates, ask) };
    }),
    listConnections: unary('ListConnections', maxQueryMs, async (request: ListConnectionsRequest, ask) => {
      validateEmpty(request);
      const connections = await port.listConnections(ask);
      return {
        connections: connections.map((c) => ({ userUid: c.account.userUid, exchange: c.account.exchange, status: connectionStatus(c.status) })),
      };
    }),
    getAttestation: unary('GetAttestation', maxQueryMs, async (request: GetAttestationRequest, ask) => {
      const nonce = validateNonce(request, { min: NONCE_MIN_LENGTH, max: NONCE_MAX_LENGTH });
      const { report, reportData, parsed } = await port.getAttestation(nonce, ask);
      return {
        report,
        reportData,
        measurement: parsed.measurement,
        policy: {
          abiMajor: parsed.policy.abiMajor,
          abiMinor: parsed.policy.abiMinor,
          smtAllowed: parsed.policy.smtAllowed,
          migrationAgentAllowed: parsed.policy.migrationAgentAllowed,
          debugAllowed: parsed.policy.debugAllowed,
          singleSocket: parsed.policy.singleSocket,
        },
        vmpl: parsed.vmpl,
        currentTcb: tcbMessage(parsed.currentTcb),
        reportedTcb: tcbMessage(parsed.reportedTcb),
        committedTcb: tcbMessage(parsed.committedTcb),
        launchTcb: tcbMessage(parsed.launchTcb),
      };
    }),
  };
}

function tcbMessage(tcb: SnpTcbVersion): TcbVersionMessage {
  return { bootLoader: tcb.bootLoader, tee: tcb.tee, snp: tcb.snp, microcode: tcb.microcode, fmc: tcb.fmc ?? undefined };
}

function connectionStatus(s: StoredConnectionStatus): ConnectionStatus {
  switch (s) {
    case 'active':
      return ConnectionStatus.CONNECTION_STATUS_ACTIVE;
    case 'failed':
      return ConnectionStatus.CONNECTION_STATUS_FAILED;
    case 'disabled':
      return ConnectionStatus.CONNECTION_STATUS_DISABLED;
  }
}

interface OpenAsk {
  readonly ask: CallContext;
  /** Rejects with the signal's reason when the ask is aborted (never resolves). */
  readonly aborted: Promise<never>;
  close(): void;
}

/**
 * The ask for one call: its deadline is the client's, capped at `maxMs`; its signal aborts on
 * cancellation or at the deadline, so the call is answered then even if the port never settles.
 */
/** What openAsk needs of a call (every server call type has it). */
type SurfaceCall = Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'once' | 'removeListener'>;

function openAsk(call: SurfaceCall, method: string, maxMs: number, now: () => number): OpenAsk {
  const start = now();
  const callDeadline = call.getDeadline();
  const clientDeadline = callDeadline instanceof Date ? callDeadline.getTime() : callDeadline;
  const deadline = Math.min(clientDeadline, start + maxMs);
  const controller = new AbortController();
  const onCancelled = (): void => controller.abort(new CallCancelledError());
  call.once('cancelled', onCancelled);
  const timer = setTimeout(() => controller.abort(new AskTimeoutError(`${method}: deadline passed`)), Math.max(0, deadline - start));
  const aborted = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
  });
  return {
    ask: { signal: controller.signal },
    aborted,
    close() {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}

function statusFor(method: string, error: unknown, logger: Logger): { code: status; details: string } {
  const mapped = toGrpcStatus(error);
  if (mapped.code === status.UNKNOWN) {
    // The class name only: an unknown error's message may quote anything.
    logger.error({ method, errorClass: error instanceof Error ? error.name : typeof error }, 'unexpected error in gRPC handler');
  }
  return { code: mapped.code, details: mapped.details };
}

function askingHandler<Req, Res>(
  method: string,
  maxMs: number,
  now: () => number,
  logger: Logger,
  work: (request: Req, ask: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const open = openAsk(call, method, maxMs, now);
    const run = async (): Promise<Res> => work(call.request, open.ask);
    Promise.race([run(), open.aborted])
      .then(
        (reply) => callback(null, reply),
        (error: unknown) => callback(statusFor(method, error, logger)),
      )
      .finally(() => open.close())
      .catch(() => undefined);
  };
}

function watchingHandler(
  maxMs: number,
  now: () => number,
  logger: Logger,
  work: (request: ProcessSyncJobRequest, ask: CallContext, onProgress: (progress: SyncProgress) => void) => Promise<SyncReport>,
  intervalMs: number,
): handleServerStreamingCall<ProcessSyncJobRequest, SyncJobProgress> {
  const method = 'WatchSyncJob';
  return (call: ServerWritableStream<ProcessSyncJobRequest, SyncJobProgress>) => {
    const open = openAsk(call, method, maxMs, now);
    let lastSent = -Infinity;
    let lastPhase: SyncProgress['phase'] | undefined;
    let finished = false;
    const onProgress = (p: SyncProgress): void => {
      const t = now();
      // Phase changes always go out; otherwise at most one message per interval.
      if (finished || (p.phase === lastPhase && t - lastSent < intervalMs)) return;
      lastSent = t;
      lastPhase = p.phase;
      call.write({
        phase: p.phase === 'fetching' ? SyncPhase.SYNC_PHASE_FETCHING : SyncPhase.SYNC_PHASE_AGGREGATING,
        fillsFetched: p.fillsFetched,
        cashFlowsFetched: p.cashFlowsFetched,
        hoursDone: p.hoursDone,
        hoursTotal: p.hoursTotal,
        result: undefined,
      });
    };
    const run = async (): Promise<SyncReport> => work(call.request, open.ask, onProgress);
    Promise.race([run(), open.aborted])
      .then(
        (report) => {
          finished = true;
          const result = syncReply(report);
          call.write({
            phase: SyncPhase.SYNC_PHASE_DONE,
            fillsFetched: result.fillsSynced,
            cashFlowsFetched: result.cashFlowsSynced,
            hoursDone: result.hourlyReturnsGenerated,
            hoursTotal: result.hourlyReturnsGenerated,
            result,
          });
          call.end();
        },
        (error: unknown) => {
          finished = true;
          call.emit('error', statusFor(method, error, logger));
        },
      )
      .finally(() => open.close())
      .catch(() => undefined);
  };
}

const GAP_DESCRIPTION = 'some hours could not be valued as given; see data_gap_kinds';

function syncReply(report: SyncReport): ProcessSyncJobResponse {
  const gapKinds = [...new Set(report.gapKinds)].sort();
  return {
    status: gapKinds.length === 0 ? SyncStatus.SYNC_STATUS_COMPLETED : SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS,
    fillsSynced: report.fillsSynced,
    cashFlowsSynced: report.cashFlowsSynced,
    hourlyReturnsGenerated: report.hourlyReturnsGenerated,
    latestSnapshot: report.latestSnapshot === null ? undefined : snapshotMessage(report.latestSnapshot),
    dataGapKinds: gapKinds,
    error: gapKinds.length === 0 ? '' : GAP_DESCRIPTION,
  };
}

function snapshotMessage(snapshot: BalanceSnapshot): BalanceSnapshotMessage {
  return { timeMs: snapshot.at, balance: snapshot.balance, equity: snapshot.equity };
}

function metricsMessage(m: PerformanceStats): PerformanceMetricsMessage {
  const opt = (v: number | null): number | undefined => (v === null ? undefined : v);
  return {
    hours: m.hours,
    cumulativeReturn: m.cumulativeReturn,
    annualizedReturn: m.annualizedReturn,
    annualizedVolatility: m.annualizedVolatility,
    maxDrawdown: m.maxDrawdown,
    maxDrawdownPeakHourMs: opt(m.maxDrawdownPeakHour),
    maxDrawdownTroughHourMs: opt(m.maxDrawdownTroughHour),
    sharpe: opt(m.sharpe),
    sortino: opt(m.sortino),
    calmar: opt(m.calmar),
    positiveHourShare: m.positiveHourShare,
    bestHour: opt(m.bestHour),
    worstHour: opt(m.worstHour),
    totalFees: m.totalFees,
    realizedPnl: m.realizedPnl,
    unrealizedPnl: m.unrealizedPnl,
  };
}

function servingStatus(s: ApiHealth['status']): ServingStatus {
  switch (s) {
    case 'serving':
      return ServingStatus.SERVING_STATUS_SERVING;
    case 'degraded':
      return ServingStatus.SERVING_STATUS_DEGRADED;
    case 'not-serving':
      return ServingStatus.SERVING_STATUS_NOT_SERVING;
  }
}

/** A decoder that marks bad bytes instead of throwing (grpc-js would answer INTERNAL). */
function tolerant<T extends object>(decode: (bytes: Buffer) => T, empty: () => T): (bytes: Buffer) => T {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch {
      return Object.assign(empty(), { [UNDECODABLE]: true });
    }
  };
}

/**
 * The definition to register: the generated one, with request decoding that lets undecodable
 * requests through to validation so they get INVALID_ARGUMENT with a reason.
 */
export const enclaveServiceDefinition = {
  processSyncJob: {
    ...EnclaveServiceService.processSyncJob,
    requestDeserialize: tolerant(EnclaveServiceService.processSyncJob.requestDeserialize, () => ProcessSyncJobRequest.create()),
  },
  calculateHistoricalReturns: {
    ...EnclaveServiceService.calculateHistoricalReturns,
    requestDeserialize: tolerant(EnclaveServiceService.calculateHistoricalReturns.requestDeserialize, () => CalculateHistoricalReturnsRequest.create()),
  },
  getAggregatedMetrics: {
    ...EnclaveServiceService.getAggregatedMetrics,
    requestDeserialize: tolerant(EnclaveServiceService.getAggregatedMetrics.requestDeserialize, () => GetAggregatedMetricsRequest.create()),
  },
  getSnapshotTimeSeries: {
    ...EnclaveServiceService.getSnapshotTimeSeries,
    requestDeserialize: tolerant(EnclaveServiceService.getSnapshotTimeSeries.requestDeserialize, () => GetSnapshotTimeSeriesRequest.create()),
  },
  watchSyncJob: {
    ...EnclaveServiceService.watchSyncJob,
    requestDeserialize: tolerant(EnclaveServiceService.watchSyncJob.requestDeserialize, () => ProcessSyncJobRequest.create()),
  },
  healthCheck: {
    ...EnclaveServiceService.healthCheck,
    requestDeserialize: tolerant(EnclaveServiceService.healthCheck.requestDeserialize, () => HealthCheckRequest.create()),
  },
  getEnclaveIdentity: {
    ...EnclaveServiceService.getEnclaveIdentity,
    requestDeserialize: tolerant(EnclaveServiceService.getEnclaveIdentity.requestDeserialize, () => GetEnclaveIdentityRequest.create()),
  },
  registerConnection: {
    ...EnclaveServiceService.registerConnection,
    requestDeserialize: tolerant(EnclaveServiceService.registerConnection.requestDeserialize, () => RegisterConnectionRequest.create()),
  },
  removeConnection: {
    ...EnclaveServiceService.removeConnection,
    requestDeserialize: tolerant(EnclaveServiceService.removeConnection.requestDeserialize, () => RemoveConnectionRequest.create()),
  },
  listConnections: {
    ...EnclaveServiceService.listConnections,
    requestDeserialize: tolerant(EnclaveServiceService.listConnections.requestDeserialize, () => ListConnectionsRequest.create()),
  },
  getAttestation: {
    ...EnclaveServiceService.getAttestation,
    requestDeserialize: tolerant(EnclaveServiceService.getAttestation.requestDeserialize, () => GetAttestationRequest.create()),
  },
} satisfies ServiceDefinition;
