// Pure round trips of wire.ts (no server): domain → message → bytes → message → domain is the
// identity, so the service's mapping and the CLI's reading of it cannot drift apart.
import { DISCLOSURE_LEVELS } from '../../src/domain/disclosure.js';
import test from 'ava';
import fc from 'fast-check';
import type { PerformanceStats } from '../../src/domain/aggregation.js';
import { EXCHANGES, PARKED_REASONS, type BalanceSnapshot, type HourlyReturn, type SyncProgress } from '../../src/domain/types.js';
import type { ConnectionInfo, SyncReport } from '../../src/grpc/enclave-api.js';
import { WireFormatError } from '../../src/grpc/errors.js';
import {
  BalanceSnapshot as BalanceSnapshotMessage,
  Connection,
  ConnectionStatus,
  HourlyReturn as HourlyReturnMessage,
  ParkedReason,
  PerformanceMetrics,
  ProcessSyncJobResponse,
  SyncJobProgress,
  SyncPhase,
  SyncType,
} from '../../src/grpc/generated/enclave.js';
import {
  balanceSnapshotFromWire,
  balanceSnapshotToWire,
  connectionInfoFromWire,
  connectionInfoToWire,
  exchangeFromWire,
  hourlyReturnFromWire,
  hourlyReturnToWire,
  performanceStatsFromWire,
  performanceStatsToWire,
  syncDoneToWire,
  syncModeFromWire,
  syncModeToWire,
  syncProgressToWire,
  syncReportFromWire,
  syncReportToWire,
  watchedSyncFromWire,
} from '../../src/grpc/wire.js';

// Finite doubles; -0 becomes 0 (proto3 does not write a zero scalar, so -0 reads back as 0).
const double = fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => (Object.is(v, -0) ? 0 : v));
const epochMs = fc.integer({ min: 0, max: 8_640_000_000_000_000 });
const count = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const orNull = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });

const hourlyReturn: fc.Arbitrary<HourlyReturn> = fc.record({ hourStart: epochMs, return: double, cumulativeReturn: double, equityEnd: double, netFlow: double });
const snapshot: fc.Arbitrary<BalanceSnapshot> = fc.record({ at: epochMs, balance: double, equity: double });
const stats: fc.Arbitrary<PerformanceStats> = fc.record({
  hours: count,
  cumulativeReturn: double,
  annualizedReturn: double,
  annualizedVolatility: double,
  maxDrawdown: double,
  maxDrawdownPeakHour: orNull(epochMs),
  maxDrawdownTroughHour: orNull(epochMs),
  sharpe: orNull(double),
  sortino: orNull(double),
  calmar: orNull(double),
  positiveHourShare: double,
  bestHour: orNull(double),
  worstHour: orNull(double),
  totalFees: double,
  realizedPnl: double,
  unrealizedPnl: double,
});
const gapKind = fc.constantFrom('oversold', 'stale-mark', 'missing-mark', 'non-positive-equity' as const);
// The wire sends each kind once, sorted: that is the canonical domain form.
const report: fc.Arbitrary<SyncReport> = fc.record({
  fillsSynced: count,
  cashFlowsSynced: count,
  hourlyReturnsGenerated: count,
  latestSnapshot: orNull(snapshot),
  gapKinds: fc.uniqueArray(gapKind).map((kinds) => [...kinds].sort()),
  disclosureLevel: fc.constantFrom(...DISCLOSURE_LEVELS),
});
const progress: fc.Arbitrary<SyncProgress> = fc.record({
  phase: fc.constantFrom('fetching', 'aggregating' as const),
  fillPages: count,
  fillsFetched: count,
  cashFlowPages: count,
  cashFlowsFetched: count,
  hoursDone: count,
  hoursTotal: count,
});
const connection: fc.Arbitrary<ConnectionInfo> = fc.oneof(
  fc.record({ account: fc.record({ userUid: fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,128}$/u), exchange: fc.constantFrom(...EXCHANGES) }), status: fc.constantFrom('active', 'disabled' as const), parkedReason: fc.constant(null), disclosureLevel: fc.constantFrom(...DISCLOSURE_LEVELS) }),
  fc.record({ account: fc.record({ userUid: fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,128}$/u), exchange: fc.constantFrom(...EXCHANGES) }), status: fc.constant('failed' as const), parkedReason: orNull(fc.constantFrom(...PARKED_REASONS)), disclosureLevel: fc.constantFrom(...DISCLOSURE_LEVELS) }),
);

/** Through the bytes too: proves every field has a place in the message. */
function viaBytes<T>(codec: { encode(message: T): { finish(): Uint8Array }; decode(bytes: Uint8Array): T }, message: T): T {
  return codec.decode(codec.encode(message).finish());
}

test('an hourly return survives domain → wire → domain unchanged', (t) => {
  fc.assert(fc.property(hourlyReturn, (r) => t.deepEqual(hourlyReturnFromWire(viaBytes(HourlyReturnMessage, hourlyReturnToWire(r))), r)));
});

test('a balance snapshot survives domain → wire → domain unchanged', (t) => {
  fc.assert(fc.property(snapshot, (s) => t.deepEqual(balanceSnapshotFromWire(viaBytes(BalanceSnapshotMessage, balanceSnapshotToWire(s))), s)));
});

test('performance stats survive the round trip, undefined ones staying null', (t) => {
  fc.assert(fc.property(stats, (s) => t.deepEqual(performanceStatsFromWire(viaBytes(PerformanceMetrics, performanceStatsToWire(s))), s)));
});

test('a sync report survives the round trip; gap kinds go out once each, sorted', (t) => {
  fc.assert(fc.property(report, (r) => t.deepEqual(syncReportFromWire(viaBytes(ProcessSyncJobResponse, syncReportToWire(r))), r)));
  const wire = syncReportToWire({ fillsSynced: 1, cashFlowsSynced: 0, hourlyReturnsGenerated: 2, latestSnapshot: null, gapKinds: ['stale-mark', 'missing-mark', 'stale-mark'] });
  t.deepEqual(wire.dataGapKinds, ['missing-mark', 'stale-mark']);
});

test('sync progress and the final DONE message survive the round trip', (t) => {
  fc.assert(
    fc.property(progress, report, (p, r) => {
      t.deepEqual(watchedSyncFromWire(viaBytes(SyncJobProgress, syncProgressToWire(p))), { done: false, progress: p });
      const done = { ...p, phase: 'aggregating' as const };
      t.deepEqual(watchedSyncFromWire(viaBytes(SyncJobProgress, syncDoneToWire(done, r))), { done: true, progress: done, report: r });
    }),
  );
});

test('a connection with its status and parked reason survives the round trip', (t) => {
  fc.assert(fc.property(connection, (c) => t.deepEqual(connectionInfoFromWire(viaBytes(Connection, connectionInfoToWire(c))), c)));
});

test('sync modes and exchange names map both ways', (t) => {
  for (const mode of ['incremental', 'full'] as const) t.is(syncModeFromWire(syncModeToWire(mode)), mode);
  t.is(syncModeFromWire(SyncType.SYNC_TYPE_UNSPECIFIED), null);
  t.is(syncModeFromWire(99 as SyncType), null);
  for (const exchange of EXCHANGES) t.is(exchangeFromWire(exchange), exchange);
  t.throws(() => exchangeFromWire('kraken'), { instanceOf: WireFormatError });
});

test('a reply from a newer schema is a WireFormatError, not a guess', (t) => {
  const base = { userUid: 'u1', exchange: 'binance', status: ConnectionStatus.CONNECTION_STATUS_FAILED, parkedReason: ParkedReason.PARKED_REASON_TAMPER, disclosureLevel: 0 };
  t.deepEqual(connectionInfoFromWire(base).parkedReason, 'tamper');
  t.throws(() => connectionInfoFromWire({ ...base, status: 42 as ConnectionStatus }), { instanceOf: WireFormatError });
  t.throws(() => connectionInfoFromWire({ ...base, parkedReason: 42 as ParkedReason }), { instanceOf: WireFormatError });
  const unspecified = SyncJobProgress.create({ phase: SyncPhase.SYNC_PHASE_UNSPECIFIED });
  t.throws(() => watchedSyncFromWire(unspecified), { instanceOf: WireFormatError });
  t.throws(() => watchedSyncFromWire(SyncJobProgress.create({ phase: SyncPhase.SYNC_PHASE_DONE })), { instanceOf: WireFormatError });
  t.throws(() => syncReportFromWire(ProcessSyncJobResponse.create({ dataGapKinds: ['a-new-kind'] })), { instanceOf: WireFormatError });
});
