import test from 'ava';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import {
  AccountFailedError,
  AccountNotFoundError,
  AskTimeoutError,
  ConnectionReplacedError,
  OverloadedError,
  ShuttingDownError,
  VenueUnavailableError,
} from '../../src/actors/errors.js';
import { CallCancelledError } from '../../src/grpc/errors.js';
import { ServingStatus, SyncPhase, SyncStatus, SyncType, type SyncJobProgress } from '../../src/grpc/generated/enclave.js';
import { HealthCheckResponse_ServingStatus } from '../../src/grpc/generated/health/v1/health.js';
import { ServerReflectionClient, type ServerReflectionResponse } from '../../src/grpc/generated/grpc/reflection/v1/reflection.js';
import { defaultExchanges } from '../../src/grpc/service.js';
import type { CallContext } from '../../src/grpc/enclave-api.js';
import { HOUR, T0, isServiceError, samplePerformance, startHarness, unary, type Harness } from '../../testkit/support/grpc-client.js';

const account = { userUid: 'user_123', exchange: 'binance' };

async function rejection(t: { fail(message: string): void }, promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    if (isServiceError(error)) return error;
    throw error;
  }
  t.fail('the call succeeded');
  throw new Error('unreachable');
}

let h: Harness;
test.before(async () => {
  h = await startHarness({ service: { maxRangeMs: 30 * 24 * HOUR } });
});
test.after.always(async () => {
  await h.close();
});

const metrics = (req: { userUid: string; exchange: string }, options = {}) => unary(h.client.getAggregatedMetrics.bind(h.client), req, options);
const returns = (req: { userUid: string; exchange: string; fromMs: number; toMs: number }) =>
  unary(h.client.calculateHistoricalReturns.bind(h.client), req);
const sync = (req: { userUid: string; exchange: string; type: SyncType }) => unary(h.client.processSyncJob.bind(h.client), req);

// ---- replies ----

test.serial('ProcessSyncJob asks the port for the account and mode and returns counts and the latest snapshot', async (t) => {
  h.port.calls.length = 0;
  const reply = await sync({ ...account, type: SyncType.SYNC_TYPE_FULL });
  t.deepEqual(h.port.calls.map((c) => [c.method, c.account, c.mode]), [['sync', { userUid: 'user_123', exchange: 'binance' }, 'full']]);
  t.is(reply.status, SyncStatus.SYNC_STATUS_COMPLETED);
  t.is(reply.fillsSynced, 42);
  t.is(reply.cashFlowsSynced, 1);
  t.is(reply.hourlyReturnsGenerated, 24);
  t.deepEqual(reply.latestSnapshot, { timeMs: T0 + 24 * HOUR, balance: 1000, equity: 10_123.45 });
  t.is(reply.error, '');
});

test.serial('a sync that met data gaps says so with the gap kinds only', async (t) => {
  h.port.behaviour = {
    sync: async () => ({ fillsSynced: 1, cashFlowsSynced: 0, hourlyReturnsGenerated: 0, latestSnapshot: null, gapKinds: ['stale-mark', 'missing-mark', 'stale-mark'] }),
  };
  try {
    const reply = await sync({ ...account, type: SyncType.SYNC_TYPE_INCREMENTAL });
    t.is(reply.status, SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS);
    t.deepEqual(reply.dataGapKinds, ['missing-mark', 'stale-mark']);
    t.is(reply.latestSnapshot, undefined);
    t.not(reply.error, '');
  } finally {
    h.port.behaviour = {};
  }
});

function watch(request: { userUid: string; exchange: string; type: SyncType }): Promise<{ messages: SyncJobProgress[]; error?: ServiceError }> {
  return new Promise((resolve) => {
    const messages: SyncJobProgress[] = [];
    const stream = h.client.watchSyncJob(request, new Metadata(), { deadline: Date.now() + 10_000 });
    stream.on('data', (m: SyncJobProgress) => messages.push(m));
    stream.on('error', (error: ServiceError) => resolve({ messages, error }));
    stream.on('end', () => resolve({ messages }));
  });
}

test.serial('WatchSyncJob streams throttled progress, then the result with phase DONE', async (t) => {
  h.port.behaviour = {
    sync: async (_account, _mode, _ask, onProgress) => {
      for (let i = 1; i <= 500; i++) {
        onProgress?.({ phase: 'fetching', fillPages: i, fillsFetched: i, cashFlowPages: 0, cashFlowsFetched: 0, hoursDone: 0, hoursTotal: 0 });
        if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      onProgress?.({ phase: 'aggregating', fillPages: 500, fillsFetched: 500, cashFlowPages: 1, cashFlowsFetched: 1, hoursDone: 0, hoursTotal: 24 });
      return { fillsSynced: 500, cashFlowsSynced: 1, hourlyReturnsGenerated: 24, latestSnapshot: null, gapKinds: [] };
    },
  };
  try {
    const { messages, error } = await watch({ ...account, type: SyncType.SYNC_TYPE_FULL });
    t.is(error, undefined);
    const phases = messages.map((m) => m.phase);
    t.is(phases[0], SyncPhase.SYNC_PHASE_FETCHING);
    t.true(phases.includes(SyncPhase.SYNC_PHASE_AGGREGATING));
    t.true(messages.length < 20, `${messages.length} messages for 501 progress calls`);
    const last = messages.at(-1)!;
    t.is(last.phase, SyncPhase.SYNC_PHASE_DONE);
    t.is(last.result?.fillsSynced, 500);
    t.is(last.result?.status, SyncStatus.SYNC_STATUS_COMPLETED);
    t.true(messages.slice(0, -1).every((m) => m.result === undefined));
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('WatchSyncJob ends with the mapped status when the sync fails, and validates like ProcessSyncJob', async (t) => {
  h.port.behaviour = {
    sync: async () => {
      throw new VenueUnavailableError('CANARY');
    },
  };
  try {
    const failed = await watch({ ...account, type: SyncType.SYNC_TYPE_INCREMENTAL });
    t.is(failed.error?.code, status.UNAVAILABLE);
    t.false(failed.error?.details.includes('CANARY'));
    const invalidRequest = await watch({ userUid: "'; --", exchange: 'binance', type: SyncType.SYNC_TYPE_INCREMENTAL });
    t.is(invalidRequest.error?.code, status.INVALID_ARGUMENT);
    t.regex(invalidRequest.error?.details ?? '', /^user_uid: /u);
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('CalculateHistoricalReturns returns the port hours in the asked range as hour, return and cumulative return', async (t) => {
  h.port.calls.length = 0;
  const reply = await returns({ ...account, fromMs: T0, toMs: T0 + 5 * HOUR });
  t.deepEqual(h.port.calls[0]?.range, { from: T0, to: T0 + 5 * HOUR });
  t.is(reply.returns.length, 5);
  t.is(reply.returns[0]?.hourStartMs, T0);
  t.is(reply.returns[4]?.hourStartMs, T0 + 4 * HOUR);
  const last = reply.returns[4]!;
  const compounded = reply.returns.reduce((acc, r) => acc * (1 + r.hourlyReturn), 1) - 1;
  t.true(Math.abs(last.cumulativeReturn - compounded) < 1e-12);
});

test.serial('GetAggregatedMetrics carries every metric, with absent values for the undefined ones', async (t) => {
  const reply = await metrics(account);
  t.deepEqual(reply.metrics, {
    hours: 48,
    cumulativeReturn: samplePerformance.cumulativeReturn,
    annualizedReturn: 0.25,
    annualizedVolatility: 0.4,
    maxDrawdown: 0.05,
    maxDrawdownPeakHourMs: T0 + 3 * HOUR,
    maxDrawdownTroughHourMs: T0 + 9 * HOUR,
    sharpe: 1.5,
    sortino: undefined,
    calmar: 5,
    positiveHourShare: 0.55,
    bestHour: 0.01,
    worstHour: -0.02,
    totalFees: 12.5,
    realizedPnl: 100.25,
    unrealizedPnl: -3.5,
    annualizationNote: '',
    currency: 'USDT',
    // The account's published hours carry no flag.
    flaggedHourShare: 0,
    flagShares: [],
  });
});

test.serial('GetSnapshotTimeSeries returns the balance snapshots of the range', async (t) => {
  const reply = await unary(h.client.getSnapshotTimeSeries.bind(h.client), { ...account, fromMs: T0, toMs: T0 + 3 * HOUR });
  t.is(reply.snapshots.length, 3);
  t.deepEqual(reply.snapshots[0], { timeMs: T0 + HOUR, balance: 500, equity: reply.snapshots[0]!.equity });
});

test.serial('HealthCheck reports the port status, mode, version and account counts', async (t) => {
  h.port.behaviour = { health: async () => ({ status: 'degraded', activeAccounts: 7, failedAccounts: 2 }) };
  try {
    const reply = await unary(h.client.healthCheck.bind(h.client), {});
    t.is(reply.status, ServingStatus.SERVING_STATUS_DEGRADED);
    t.false(reply.enclaveMode);
    t.is(reply.version, '1.2.3');
    t.is(reply.activeAccounts, 7);
    t.is(reply.failedAccounts, 2);
    t.true(reply.uptimeMs >= 0);
  } finally {
    h.port.behaviour = {};
  }
});

// ---- validation ----

const invalid: readonly (readonly [string, () => Promise<unknown>, RegExp])[] = [
  ['an empty user_uid', () => metrics({ userUid: '', exchange: 'binance' }), /^user_uid: must be 1-128 characters/u],
  ['a user_uid of 129 characters', () => metrics({ userUid: 'u'.repeat(129), exchange: 'binance' }), /^user_uid: /u],
  ['a user_uid with SQL metacharacters', () => metrics({ userUid: "x'; DROP TABLE trades;--", exchange: 'binance' }), /^user_uid: /u],
  ['a user_uid with a space', () => metrics({ userUid: 'user 1', exchange: 'binance' }), /^user_uid: /u],
  ['a user_uid with a NUL byte', () => metrics({ userUid: 'user\u0000', exchange: 'binance' }), /^user_uid: /u],
  ['a user_uid with non-ASCII letters', () => metrics({ userUid: 'usér', exchange: 'binance' }), /^user_uid: /u],
  ['an exchange outside the supported set', () => metrics({ userUid: 'u1', exchange: 'kraken' }), /^exchange: must be one of binance, bybit/u],
  ['an exchange in another case', () => metrics({ userUid: 'u1', exchange: 'Binance' }), /^exchange: /u],
  ['an unspecified sync type', () => sync({ ...account, type: SyncType.SYNC_TYPE_UNSPECIFIED }), /^type: must be SYNC_TYPE_INCREMENTAL or SYNC_TYPE_FULL/u],
  ['an unknown sync type number', () => sync({ ...account, type: 99 as SyncType }), /^type: /u],
  ['a range that ends before it starts', () => returns({ ...account, fromMs: T0 + HOUR, toMs: T0 }), /^to_ms: must be after from_ms/u],
  ['an empty range', () => returns({ ...account, fromMs: T0, toMs: T0 }), /^to_ms: must be after from_ms/u],
  ['a range wider than the maximum span', () => returns({ ...account, fromMs: T0, toMs: T0 + 31 * 24 * HOUR }), /^to_ms: must be at most 2592000000 ms after from_ms/u],
  ['a negative from_ms', () => returns({ ...account, fromMs: -HOUR, toMs: T0 }), /^from_ms: must be epoch milliseconds/u],
  ['a snapshot range wider than the maximum span', () => unary(h.client.getSnapshotTimeSeries.bind(h.client), { ...account, fromMs: 0, toMs: T0 }), /^to_ms: must be at most/u],
];

for (const [what, call, reason] of invalid) {
  test.serial(`rejects ${what} with INVALID_ARGUMENT and the reason, without asking the port`, async (t) => {
    h.port.calls.length = 0;
    const error = await rejection(t, call());
    t.is(error.code, status.INVALID_ARGUMENT);
    t.regex(error.details, reason);
    t.is(h.port.calls.length, 0);
  });
}

test.serial('reports every invalid field at once and never echoes the value received', async (t) => {
  const canary = 'sk_live_CANARY_0123456789abcdef"; SELECT 1;';
  const error = await rejection(t, metrics({ userUid: canary, exchange: `${canary}x` }));
  t.is(error.code, status.INVALID_ARGUMENT);
  t.regex(error.details, /user_uid: .*; exchange: /u);
  t.false(error.details.includes('CANARY'));
});

test.serial('accepts user ids of the documented alphabet, such as UUIDs and emails', async (t) => {
  for (const userUid of ['3f2b8c1e-9d4a-4b7e-8f00-1234567890ab', 'user_123', 'auth0:abc.def', 'a@b.co', 'u'.repeat(128)]) {
    const reply = await metrics({ userUid, exchange: 'alpaca' });
    t.is(reply.metrics?.hours, 48, userUid);
  }
});

test('enclave mode does not serve the simulated venue by default', (t) => {
  t.true(defaultExchanges(false).includes('simulated'));
  t.false(defaultExchanges(true).includes('simulated'));
  t.true(defaultExchanges(true).includes('binance'));
});

/** A client that sends raw bytes to a method, as a fuzzer or a foreign client would. */
function rawCall(method: string, bytes: Buffer): Promise<Buffer> {
  const client = new Client(`127.0.0.1:${h.running.port}`, credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      `/enclave.v1.EnclaveService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 5_000 },
      (error, reply) => (error === null ? resolve(reply!) : reject(error)),
    );
  }).finally(() => client.close());
}

test.serial('an int64 beyond 2^53 is refused with INVALID_ARGUMENT, not INTERNAL', async (t) => {
  const bytes = new BinaryWriter().uint32(10).string('u1').uint32(18).string('binance').uint32(24).int64('4611686018427387904').uint32(32).int64(T0).finish();
  const error = await rejection(t, rawCall('CalculateHistoricalReturns', Buffer.from(bytes)));
  t.is(error.code, status.INVALID_ARGUMENT);
  t.regex(error.details, /^request: could not be decoded/u);
});

test.serial('malformed request bytes are refused with INVALID_ARGUMENT', async (t) => {
  const error = await rejection(t, rawCall('ProcessSyncJob', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])));
  t.is(error.code, status.INVALID_ARGUMENT);
});

test.serial('a request larger than the size limit is refused with RESOURCE_EXHAUSTED', async (t) => {
  const error = await rejection(t, metrics({ userUid: 'u'.repeat(100 * 1024), exchange: 'binance' }));
  t.is(error.code, status.RESOURCE_EXHAUSTED);
});

// ---- error mapping ----

const mapped: readonly (readonly [string, () => Error, status])[] = [
  ['an unknown account', () => new AccountNotFoundError('binance:user_123 not found'), status.NOT_FOUND],
  ['a venue that is down', () => new VenueUnavailableError('binance: unavailable'), status.UNAVAILABLE],
  ['too much work in flight', () => new OverloadedError('full syncs'), status.RESOURCE_EXHAUSTED],
  ['an ask that timed out', () => new AskTimeoutError('ask'), status.DEADLINE_EXCEEDED],
  ['a parked account', () => new AccountFailedError('binance:user_123 failed'), status.FAILED_PRECONDITION],
  ['a shutdown in progress', () => new ShuttingDownError('stopping'), status.UNAVAILABLE],
  ['a sync cancelled by a new registration', () => new ConnectionReplacedError('binance:user_123 replaced'), status.ABORTED],
  ['an unexpected error', () => new TypeError('boom'), status.UNKNOWN],
];

for (const [what, make, code] of mapped) {
  test.serial(`maps ${what} to ${status[code]} with a fixed message`, async (t) => {
    const canary = 'CANARY-https://api.binance.com/api/v3/myTrades?signature=deadbeef&tradeId=991';
    h.port.behaviour = {
      sync: async () => {
        const error = make();
        error.message = `${error.message} ${canary}`;
        throw error;
      },
    };
    try {
      const error = await rejection(t, sync({ ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }));
      t.is(error.code, code);
      t.false(error.details.includes('CANARY'));
      t.false(error.details.includes('signature'));
      t.false(h.lines.some((line) => line.includes('CANARY')));
    } finally {
      h.port.behaviour = {};
    }
  });
}

test.serial('an unexpected error is answered UNKNOWN with a generic message and logged by class only', async (t) => {
  h.port.behaviour = {
    getPerformance: async () => {
      throw new RangeError('CANARY secret=abc');
    },
  };
  try {
    const error = await rejection(t, metrics(account));
    t.is(error.code, status.UNKNOWN);
    t.is(error.details, 'internal error');
    const line = h.lines.findLast((l) => l.includes('unexpected error in gRPC handler'));
    t.truthy(line);
    t.regex(line!, /"errorClass":"RangeError"/u);
    t.false(line!.includes('CANARY'));
  } finally {
    h.port.behaviour = {};
  }
});

// ---- deadlines ----

test.serial('the call signal aborts at the client deadline', async (t) => {
  let aborted = 0;
  const start = Date.now();
  h.port.behaviour = { getPerformance: hangUntilAborted((ask) => ask.signal.addEventListener('abort', () => { aborted = Date.now(); })) };
  try {
    const error = await t.throwsAsync(metrics(account, { deadline: start + 1_000 }));
    t.is((error as unknown as { code: number }).code, status.DEADLINE_EXCEEDED);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.true(aborted > 0, 'the signal never aborted');
    t.true(aborted - start >= 900 && aborted - start < 2_500, `aborted after ${aborted - start} ms`);
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('a client deadline beyond the server limit is capped at the limit', async (t) => {
  const capped = await startHarness({ service: { maxQueryMs: 800 } });
  let abortedAfter = -1;
  const start = Date.now();
  capped.port.behaviour = { getPerformance: hangUntilAborted((ask) => ask.signal.addEventListener('abort', () => { abortedAfter = Date.now() - start; })) };
  try {
    await t.throwsAsync(unary(capped.client.getAggregatedMetrics.bind(capped.client), { userUid: account.userUid, exchange: account.exchange }, { deadline: Date.now() + 3_600_000 }));
    t.true(abortedAfter >= 700 && abortedAfter < 2_500, `aborted after ${abortedAfter} ms`);
  } finally {
    await capped.close();
  }
});

function hangUntilAborted(seen: (ask: CallContext) => void) {
  return async (_account: unknown, ask: CallContext): Promise<never> => {
    seen(ask);
    return new Promise<never>((_resolve, reject) => ask.signal.addEventListener('abort', () => reject(ask.signal.reason as Error)));
  };
}

test.serial('a port that misses the client deadline yields DEADLINE_EXCEEDED and its signal is aborted', async (t) => {
  let seen: CallContext | undefined;
  h.port.behaviour = { getPerformance: hangUntilAborted((ask) => (seen = ask)) };
  try {
    const error = await rejection(t, metrics(account, { deadline: Date.now() + 300 }));
    t.is(error.code, status.DEADLINE_EXCEEDED);
    await new Promise<void>((resolve) => (seen!.signal.aborted ? resolve() : seen!.signal.addEventListener('abort', () => resolve())));
    t.true(seen!.signal.reason instanceof AskTimeoutError || seen!.signal.reason instanceof CallCancelledError);
  } finally {
    h.port.behaviour = {};
  }
});

test.serial('a call without a deadline still ends at the server limit with DEADLINE_EXCEEDED', async (t) => {
  const quick = await startHarness({ service: { maxQueryMs: 200 } });
  t.teardown(() => quick.close());
  let seen: CallContext | undefined;
  // This port ignores its signal and never settles: the handler must answer by itself.
  quick.port.behaviour = {
    getPerformance: (_account, ask) => {
      seen = ask;
      return new Promise<never>(() => undefined);
    },
  };
  const error = await rejection(t, unary(quick.client.getAggregatedMetrics.bind(quick.client), account, { deadline: Infinity }));
  t.is(error.code, status.DEADLINE_EXCEEDED);
  t.is(error.details, 'no answer before the deadline');
  t.true(seen!.signal.reason instanceof AskTimeoutError);
});

test.serial('a cancelled call aborts the ask with CallCancelledError', async (t) => {
  let seen: CallContext | undefined;
  const asked = new Promise<void>((resolve) => {
    h.port.behaviour = {
      getPerformance: hangUntilAborted((ask) => {
        seen = ask;
        resolve();
      }),
    };
  });
  try {
    const call = h.client.getAggregatedMetrics(account, new Metadata(), { deadline: Date.now() + 10_000 }, () => undefined);
    await asked;
    call.cancel();
    await new Promise<void>((resolve) => (seen!.signal.aborted ? resolve() : seen!.signal.addEventListener('abort', () => resolve())));
    t.true(seen!.signal.reason instanceof CallCancelledError);
  } finally {
    h.port.behaviour = {};
  }
});

// ---- standard services ----

test.serial('the standard health service answers SERVING, and NOT_SERVING once told', async (t) => {
  const check = (service: string) => unary(h.health.check.bind(h.health), { service });
  t.is((await check('')).status, HealthCheckResponse_ServingStatus.SERVING);
  t.is((await check('enclave.v1.EnclaveService')).status, HealthCheckResponse_ServingStatus.SERVING);
  h.running.setServing(false);
  try {
    t.is((await check('enclave.v1.EnclaveService')).status, HealthCheckResponse_ServingStatus.NOT_SERVING);
  } finally {
    h.running.setServing(true);
  }
  const error = await rejection(t, check('no.such.Service'));
  t.is(error.code, status.NOT_FOUND);
});

function reflect(request: Parameters<ReturnType<ServerReflectionClient['serverReflectionInfo']>['write']>[0]): Promise<ServerReflectionResponse> {
  const client = new ServerReflectionClient(`127.0.0.1:${h.running.port}`, credentials.createInsecure());
  return new Promise<ServerReflectionResponse>((resolve, reject) => {
    const stream = client.serverReflectionInfo();
    stream.once('data', (reply: ServerReflectionResponse) => {
      resolve(reply);
      stream.end();
    });
    stream.once('error', reject);
    stream.write(request);
  }).finally(() => client.close());
}

test.serial('server reflection lists EnclaveService and the health service', async (t) => {
  const reply = await reflect({ host: '', listServices: '' });
  const names = reply.listServicesResponse?.service.map((s) => s.name) ?? [];
  t.true(names.includes('enclave.v1.EnclaveService'));
  t.true(names.includes('grpc.health.v1.Health'));
});

test.serial('server reflection describes EnclaveService so stock tools can call it', async (t) => {
  const reply = await reflect({ host: '', fileContainingSymbol: 'enclave.v1.EnclaveService' });
  const files = (reply.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
  const file = files.find((f) => f.package === 'enclave.v1');
  t.truthy(file);
  t.deepEqual(file!.service[0]?.method.map((m) => m.name), ['ProcessSyncJob', 'WatchSyncJob', 'CalculateHistoricalReturns', 'GetAggregatedMetrics', 'GetPerformanceReport', 'GetSnapshotTimeSeries', 'HealthCheck',
    'GetEnclaveIdentity', 'GetRegistrationChallenge', 'RegisterConnection', 'RemoveConnection', 'ListConnections', 'ReviveConnection', 'GetAttestation', 'SetDisclosureLevel', 'GetTrackRecordStatement', 'Whois',
  ]);
});
