// Shared by the gRPC tests: a small in-memory EnclaveApi whose behaviour each test sets, a real
// server on 127.0.0.1:0, real generated clients, and a logger whose lines the test can read.
import { Writable } from 'node:stream';
import { credentials as channelCredentials, Metadata, type CallOptions, type ChannelCredentials, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type { PerformanceStats } from '../../src/domain/aggregation.js';
import type { AccountKey, BalanceSnapshot, HourlyReturn } from '../../src/domain/types.js';
import { createLogger, type Logger } from '../../src/config/logger.js';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';
import { HealthClient } from '../../src/grpc/generated/health/v1/health.js';
import type { PublishedDerivatives } from '../../src/domain/derivatives/aggregates.js';
import type { AccountReport, CallContext, ConnectionInfo, EnclaveIdentityInfo, EnclaveApi, ApiHealth, RegisteredConnection, RegistrationChallengeInfo, RegistrationOptions, ReportRequest, SyncReport, TimeRange } from '../../src/grpc/enclave-api.js';
import { buildPerformanceReport } from '../../src/domain/report/report.js';
import { reportHoursOf } from '../../src/domain/report/series.js';
import type { SyncMode, SyncProgress } from '../../src/domain/types.js';
import type { DisclosureLevel } from '../../src/domain/disclosure.js';
import type { Attestation } from '../../src/attestation/configfs-tsm.js';
import { AttestationUnavailableError } from '../../src/attestation/errors.js';
import { startGrpcServer, type GrpcServerOptions, type RunningGrpcServer } from '../../src/grpc/server.js';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2026, 0, 1);

export const samplePerformance: PerformanceStats = {
  hours: 48,
  cumulativeReturn: 0.0123,
  annualizedReturn: 0.25,
  annualizedVolatility: 0.4,
  maxDrawdown: 0.05,
  maxDrawdownPeakHour: T0 + 3 * HOUR,
  maxDrawdownTroughHour: T0 + 9 * HOUR,
  sharpe: 1.5,
  sortino: null,
  calmar: 5,
  positiveHourShare: 0.55,
  bestHour: 0.01,
  worstHour: -0.02,
  totalFees: 12.5,
  realizedPnl: 100.25,
  unrealizedPnl: -3.5,
};

export function sampleReturns(from: number, to: number): HourlyReturn[] {
  const out: HourlyReturn[] = [];
  let cumulative = 1;
  for (let h = Math.ceil(from / HOUR) * HOUR; h < to; h += HOUR) {
    const r = ((h / HOUR) % 7) / 1000 - 0.003;
    cumulative *= 1 + r;
    out.push({ hourStart: h, return: r, cumulativeReturn: cumulative - 1, equityEnd: 10_000 * cumulative, netFlow: 0 });
  }
  return out;
}

export interface PortCall {
  readonly method: keyof EnclaveApi;
  readonly account?: AccountKey;
  readonly mode?: SyncMode;
  readonly range?: TimeRange;
  readonly ask: CallContext;
}

/** An EnclaveApi that records every ask; `behaviour` overrides a method for one test. */
export class TestPort implements EnclaveApi {
  readonly calls: PortCall[] = [];
  behaviour: Partial<{ [K in keyof EnclaveApi]: EnclaveApi[K] }> = {};

  async sync(account: AccountKey, mode: SyncMode, ask: CallContext, onProgress?: (progress: SyncProgress) => void): Promise<SyncReport> {
    this.calls.push({ method: 'sync', account, mode, ask });
    if (this.behaviour.sync) return this.behaviour.sync(account, mode, ask, onProgress);
    return { fillsSynced: 42, cashFlowsSynced: 1, hourlyReturnsGenerated: 24, latestSnapshot: { at: T0 + 24 * HOUR, balance: 1000, equity: 10_123.45 }, gapKinds: [] };
  }

  async getReturns(account: AccountKey, range: TimeRange, ask: CallContext): Promise<readonly HourlyReturn[]> {
    this.calls.push({ method: 'getReturns', account, range, ask });
    if (this.behaviour.getReturns) return this.behaviour.getReturns(account, range, ask);
    return sampleReturns(range.from, range.to);
  }

  async getPerformance(account: AccountKey, ask: CallContext): Promise<PerformanceStats> {
    this.calls.push({ method: 'getPerformance', account, ask });
    if (this.behaviour.getPerformance) return this.behaviour.getPerformance(account, ask);
    return samplePerformance;
  }

  async getDerivatives(account: AccountKey, hours: TimeRange | null, ask: CallContext): Promise<PublishedDerivatives | null> {
    this.calls.push({ method: 'getDerivatives', account, ...(hours === null ? {} : { range: hours }), ask });
    if (this.behaviour.getDerivatives) return this.behaviour.getDerivatives(account, hours, ask);
    return null;
  }

  async getPerformanceReport(request: ReportRequest, ask: CallContext): Promise<AccountReport> {
    this.calls.push({ method: 'getPerformanceReport', account: { userUid: request.userUid, exchange: request.exchange ?? 'simulated' }, ask });
    if (this.behaviour.getPerformanceReport) return this.behaviour.getPerformanceReport(request, ask);
    const hours = reportHoursOf(sampleReturns(T0, T0 + 48 * HOUR));
    const period = { kind: request.period, from: T0, to: T0 + 48 * HOUR };
    return { report: buildPerformanceReport({ currency: request.currency ?? 'USDT', period, hours, options: request.options }), baseCurrency: 'USDT', exchanges: [request.exchange ?? 'simulated'], nettedTransferHours: 0 };
  }

  async getSnapshots(account: AccountKey, range: TimeRange, ask: CallContext): Promise<readonly BalanceSnapshot[]> {
    this.calls.push({ method: 'getSnapshots', account, range, ask });
    if (this.behaviour.getSnapshots) return this.behaviour.getSnapshots(account, range, ask);
    return sampleReturns(range.from, range.to).map((r) => ({ at: r.hourStart + HOUR, balance: 500, equity: r.equityEnd }));
  }

  async health(ask: CallContext): Promise<ApiHealth> {
    this.calls.push({ method: 'health', ask });
    if (this.behaviour.health) return this.behaviour.health(ask);
    return { status: 'serving', activeAccounts: 3, failedAccounts: 0 };
  }

  async identity(ask: CallContext): Promise<EnclaveIdentityInfo> {
    this.calls.push({ method: 'identity', ask });
    if (this.behaviour.identity) return this.behaviour.identity(ask);
    return { publicKey: Buffer.alloc(32, 7), serviceVersion: '1.2.3', buildHash: 'unbuilt' };
  }

  async registrationChallenge(account: AccountKey, ask: CallContext): Promise<RegistrationChallengeInfo> {
    this.calls.push({ method: 'registrationChallenge', account, ask });
    if (this.behaviour.registrationChallenge) return this.behaviour.registrationChallenge(account, ask);
    return { challenge: Buffer.alloc(32, 9), expiresAt: T0 + HOUR };
  }

  async registerConnection(account: AccountKey, sealed: Uint8Array, options: RegistrationOptions, ask: CallContext): Promise<RegisteredConnection> {
    this.calls.push({ method: 'registerConnection', account, ask });
    if (this.behaviour.registerConnection) return this.behaviour.registerConnection(account, sealed, options, ask);
    return { status: 'active', permissionsChecked: false };
  }

  async removeConnection(account: AccountKey, keepAggregates: boolean, ask: CallContext): Promise<boolean> {
    this.calls.push({ method: 'removeConnection', account, ask });
    if (this.behaviour.removeConnection) return this.behaviour.removeConnection(account, keepAggregates, ask);
    return true;
  }

  async reviveConnection(account: AccountKey, ask: CallContext): Promise<boolean> {
    this.calls.push({ method: 'reviveConnection', account, ask });
    if (this.behaviour.reviveConnection) return this.behaviour.reviveConnection(account, ask);
    return false;
  }

  async listConnections(ask: CallContext): Promise<readonly ConnectionInfo[]> {
    this.calls.push({ method: 'listConnections', ask });
    if (this.behaviour.listConnections) return this.behaviour.listConnections(ask);
    return [];
  }

  async getAttestation(nonce: Uint8Array, ask: CallContext): Promise<Attestation> {
    this.calls.push({ method: 'getAttestation', ask });
    if (this.behaviour.getAttestation) return this.behaviour.getAttestation(nonce, ask);
    throw new AttestationUnavailableError('no SEV-SNP attestation device (test port)');
  }

  async disclosureLevel(account: AccountKey, ask: CallContext): Promise<DisclosureLevel> {
    this.calls.push({ method: 'disclosureLevel', account, ask });
    if (this.behaviour.disclosureLevel) return this.behaviour.disclosureLevel(account, ask);
    return 'full';
  }

  async trackRecordStatement(account: AccountKey, range: TimeRange | null, ask: CallContext): Promise<string> {
    this.calls.push({ method: 'trackRecordStatement', account, ...(range === null ? {} : { range }), ask });
    if (this.behaviour.trackRecordStatement) return this.behaviour.trackRecordStatement(account, range, ask);
    return '{}';
  }

  async whois(label: string, ask: CallContext): Promise<AccountKey | null> {
    this.calls.push({ method: 'whois', ask });
    if (this.behaviour.whois) return this.behaviour.whois(label, ask);
    return null;
  }

  async setDisclosureLevel(account: AccountKey, level: DisclosureLevel, ask: CallContext): Promise<DisclosureLevel> {
    this.calls.push({ method: 'setDisclosureLevel', account, ask });
    if (this.behaviour.setDisclosureLevel) return this.behaviour.setDisclosureLevel(account, level, ask);
    return level;
  }
}

/** A logger writing JSON lines into an array the test can inspect. */
export function captureLogger(): { readonly logger: Logger; readonly lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

export interface Harness {
  readonly running: RunningGrpcServer;
  readonly port: TestPort;
  readonly client: EnclaveServiceClient;
  readonly health: HealthClient;
  readonly lines: string[];
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<GrpcServerOptions> = {}, clientCredentials: ChannelCredentials = channelCredentials.createInsecure()): Promise<Harness> {
  const port = new TestPort();
  const { logger, lines } = captureLogger();
  const running = await startGrpcServer({ host: '127.0.0.1', port: 0, enclave: port, logger, enclaveMode: false, version: '1.2.3', ...overrides });
  const target = `127.0.0.1:${running.port}`;
  const client = new EnclaveServiceClient(target, clientCredentials);
  const health = new HealthClient(target, clientCredentials);
  return {
    running,
    port,
    client,
    health,
    lines,
    async close() {
      client.close();
      health.close();
      await running.close(1_000);
    },
  };
}

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

/** Promisifies one unary call of a generated client (pass the method bound to its client). */
export function unary<Req, Res>(method: Unary<Req, Res>, request: Req, options: Partial<CallOptions> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + 10_000, ...options }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}

export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof Error && 'code' in value && 'details' in value;
}
