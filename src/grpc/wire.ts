// Every conversion between domain values and enclave.v1 messages, both directions, as pure
// functions. The service maps replies with the *ToWire half; the CLI reads replies with the
// *FromWire half, so the two sides cannot drift apart. A reply this client cannot represent (an
// enum value from a newer schema, a missing required message) is a WireFormatError.
import { DISCLOSURE_LEVELS, type DisclosureLevel } from '../domain/disclosure.js';
import type { DataGap, PerformanceStats } from '../domain/aggregation.js';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';
import {
  isExchange,
  PARKED_REASONS,
  type AccountKey,
  type BalanceSnapshot,
  type ConnectionStatus,
  type Exchange,
  type HourlyReturn,
  type ParkedReason,
  type SyncMode,
  type SyncProgress,
} from '../domain/types.js';
import type { TcbVersion as SnpTcbVersion } from '../attestation/snp-report.js';
import type { Attestation } from '../attestation/configfs-tsm.js';
import {
  ConnectionStatus as ConnectionStatusMessage,
  ParkedReason as ParkedReasonMessage,
  DisclosureLevel as DisclosureLevelMessage,
  ServingStatus,
  SyncPhase,
  SyncStatus,
  SyncType,
  ReportPeriod,
  type BalanceSnapshot as BalanceSnapshotMessage,
  type CalendarReturn as CalendarReturnMessage,
  type GetPerformanceReportResponse,
  type Connection as ConnectionMessage,
  type GetAttestationResponse,
  type HourlyReturn as HourlyReturnMessage,
  type DerivativesMetrics as DerivativesMetricsMessage,
  type PerformanceMetrics as PerformanceStatsMessage,
  type ProcessSyncJobResponse,
  type SyncJobProgress,
  type TcbVersion as TcbVersionMessage,
} from './generated/enclave.js';
import type { AccountReport, ApiHealth, ConnectionInfo, SyncReport } from './enclave-api.js';
import { isHourFlag, type HourFlag } from '../domain/hour-flags.js';
import { PERIODS, type PeriodKind } from '../domain/report/periods.js';
import type { CalendarReturn, PerformanceReport } from '../domain/report/report.js';
import { WireFormatError } from './errors.js';

// ---- accounts and exchanges ----

export function accountToWire(account: AccountKey): { readonly userUid: string; readonly exchange: string } {
  return { userUid: account.userUid, exchange: account.exchange };
}

/** The exchange name of a reply; requests are checked by validate.ts against the served set. */
export function exchangeFromWire(name: string): Exchange {
  if (!isExchange(name)) throw new WireFormatError('the service named an exchange this client does not know');
  return name;
}

export function accountFromWire(message: { readonly userUid: string; readonly exchange: string }): AccountKey {
  return { userUid: message.userUid, exchange: exchangeFromWire(message.exchange) };
}

// ---- sync mode ----

export function syncModeToWire(mode: SyncMode): SyncType {
  switch (mode) {
    case 'incremental':
      return SyncType.SYNC_TYPE_INCREMENTAL;
    case 'full':
      return SyncType.SYNC_TYPE_FULL;
  }
}

/** Null for UNSPECIFIED and numbers from a newer schema (validation reports them). */
export function syncModeFromWire(type: SyncType): SyncMode | null {
  switch (type) {
    case SyncType.SYNC_TYPE_INCREMENTAL:
      return 'incremental';
    case SyncType.SYNC_TYPE_FULL:
      return 'full';
    default:
      return null;
  }
}

// ---- returns, snapshots, performance ----

const optionalToWire = (value: number | null): number | undefined => (value === null ? undefined : value);
const optionalFromWire = (value: number | undefined): number | null => value ?? null;

/** `leverage`: the hour's derivatives leverage, when it has one (absent on the wire otherwise). */
export function hourlyReturnToWire(r: HourlyReturn, leverage?: number): HourlyReturnMessage {
  return { hourStartMs: r.hourStart, hourlyReturn: r.return, cumulativeReturn: r.cumulativeReturn, equityEnd: r.equityEnd, netFlow: r.netFlow, flags: [...(r.flags ?? [])], leverage };
}

/** The hourly returns reply: each hour with its leverage from the derivatives aggregates (if any). */
export function hourlyReturnsToWire(returns: readonly HourlyReturn[], derivatives: PublishedDerivatives | null): HourlyReturnMessage[] {
  const leverage = new Map((derivatives?.hours ?? []).map((h) => [h.hourStart, h.leverage]));
  return returns.map((r) => hourlyReturnToWire(r, leverage.get(r.hourStart)));
}

export function derivativesToWire(d: PublishedDerivatives | null): DerivativesMetricsMessage | undefined {
  if (d === null) return undefined;
  return { maxLeverage: d.maxLeverage, fundingShare: optionalToWire(d.fundingShare), liquidations: d.liquidations, coverageStartMs: optionalToWire(d.coverageStart), computedUntilMs: d.computedUntil };
}

/** The summary without hours (the metrics reply carries none); null when the reply had none. */
export function derivativesFromWire(m: DerivativesMetricsMessage | undefined): PublishedDerivatives | null {
  if (m === undefined) return null;
  return { maxLeverage: m.maxLeverage, fundingShare: optionalFromWire(m.fundingShare), liquidations: m.liquidations, coverageStart: optionalFromWire(m.coverageStartMs), computedUntil: m.computedUntilMs, hours: [] };
}

/** Flags this client does not know (a newer service) are dropped; a clean hour has no `flags` key. */
export function hourlyReturnFromWire(m: HourlyReturnMessage): HourlyReturn {
  const base = { hourStart: m.hourStartMs, return: m.hourlyReturn, cumulativeReturn: m.cumulativeReturn, equityEnd: m.equityEnd, netFlow: m.netFlow };
  const flags = m.flags.filter(isHourFlag);
  return flags.length === 0 ? base : { ...base, flags };
}

export function balanceSnapshotToWire(snapshot: BalanceSnapshot): BalanceSnapshotMessage {
  return { timeMs: snapshot.at, balance: snapshot.balance, equity: snapshot.equity };
}

export function balanceSnapshotFromWire(m: BalanceSnapshotMessage): BalanceSnapshot {
  return { at: m.timeMs, balance: m.balance, equity: m.equity };
}


export const ANNUALIZATION_NOTE = 'not annualized: the history is shorter than one year (8,760 hours)';

export function performanceStatsToWire(s: PerformanceStats, currency = ''): PerformanceStatsMessage {
  return {
    hours: s.hours,
    cumulativeReturn: s.cumulativeReturn,
    annualizedReturn: optionalToWire(s.annualizedReturn),
    annualizationNote: s.annualizedReturn === null ? ANNUALIZATION_NOTE : '',
    currency,
    annualizedVolatility: s.annualizedVolatility,
    maxDrawdown: s.maxDrawdown,
    maxDrawdownPeakHourMs: optionalToWire(s.maxDrawdownPeakHour),
    maxDrawdownTroughHourMs: optionalToWire(s.maxDrawdownTroughHour),
    sharpe: optionalToWire(s.sharpe),
    sortino: optionalToWire(s.sortino),
    calmar: optionalToWire(s.calmar),
    positiveHourShare: s.positiveHourShare,
    bestHour: optionalToWire(s.bestHour),
    worstHour: optionalToWire(s.worstHour),
    totalFees: s.totalFees,
    realizedPnl: s.realizedPnl,
    unrealizedPnl: s.unrealizedPnl,
    flaggedHourShare: s.flaggedHourShare ?? 0,
    flagShares: (s.flagShares ?? []).map((f) => ({ flag: f.flag, share: f.share })),
  };
}

export function performanceStatsFromWire(m: PerformanceStatsMessage): PerformanceStats {
  return {
    hours: m.hours,
    cumulativeReturn: m.cumulativeReturn,
    annualizedReturn: optionalFromWire(m.annualizedReturn),
    annualizedVolatility: m.annualizedVolatility,
    maxDrawdown: m.maxDrawdown,
    maxDrawdownPeakHour: optionalFromWire(m.maxDrawdownPeakHourMs),
    maxDrawdownTroughHour: optionalFromWire(m.maxDrawdownTroughHourMs),
    sharpe: optionalFromWire(m.sharpe),
    sortino: optionalFromWire(m.sortino),
    calmar: optionalFromWire(m.calmar),
    positiveHourShare: m.positiveHourShare,
    bestHour: optionalFromWire(m.bestHour),
    worstHour: optionalFromWire(m.worstHour),
    totalFees: m.totalFees,
    realizedPnl: m.realizedPnl,
    unrealizedPnl: m.unrealizedPnl,
    // Older servers send neither field: the figures stay absent rather than claim 0 % flagged.
    ...(m.flagShares.length === 0 && m.flaggedHourShare === 0 ? {} : {
      flaggedHourShare: m.flaggedHourShare,
      flagShares: m.flagShares.filter((f) => isHourFlag(f.flag)).map((f) => ({ flag: f.flag as HourFlag, share: f.share })),
    }),
  };
}

// ---- sync result and progress ----

const GAP_KIND_SET = { oversold: true, 'stale-mark': true, 'missing-mark': true, 'non-positive-equity': true, quarantined: true, unreconciled: true } as const satisfies Record<DataGap['kind'], true>;
const isGapKind = (kind: string): kind is DataGap['kind'] => Object.hasOwn(GAP_KIND_SET, kind);

/** Fixed text of a result with gaps: the kinds say what, nothing says where. */
export const GAP_DESCRIPTION = 'some hours could not be valued as given; see data_gap_kinds';

/** Gap kinds go out once each, sorted: the order the engine met them says nothing to a client. */
export function syncReportToWire(report: SyncReport): ProcessSyncJobResponse {
  const gapKinds = [...new Set(report.gapKinds)].sort();
  return {
    status: gapKinds.length === 0 ? SyncStatus.SYNC_STATUS_COMPLETED : SyncStatus.SYNC_STATUS_COMPLETED_WITH_GAPS,
    fillsSynced: report.fillsSynced,
    cashFlowsSynced: report.cashFlowsSynced,
    hourlyReturnsGenerated: report.hourlyReturnsGenerated,
    latestSnapshot: report.latestSnapshot === null ? undefined : balanceSnapshotToWire(report.latestSnapshot),
    dataGapKinds: gapKinds,
    error: gapKinds.length === 0 ? '' : GAP_DESCRIPTION,
    disclosureLevel: disclosureLevelToWire(report.disclosureLevel ?? 'full'),
  };
}

export function syncReportFromWire(m: ProcessSyncJobResponse): SyncReport {
  const gapKinds = m.dataGapKinds.map((kind) => {
    if (!isGapKind(kind)) throw new WireFormatError('the service reported a data gap kind this client does not know');
    return kind;
  });
  return {
    fillsSynced: m.fillsSynced,
    cashFlowsSynced: m.cashFlowsSynced,
    hourlyReturnsGenerated: m.hourlyReturnsGenerated,
    latestSnapshot: m.latestSnapshot === undefined ? null : balanceSnapshotFromWire(m.latestSnapshot),
    gapKinds,
    ...(disclosureLevelFromWire(m.disclosureLevel) === null ? {} : { disclosureLevel: disclosureLevelFromWire(m.disclosureLevel)! }),
  };
}

export function syncProgressToWire(p: SyncProgress): SyncJobProgress {
  return {
    phase: p.phase === 'fetching' ? SyncPhase.SYNC_PHASE_FETCHING : SyncPhase.SYNC_PHASE_AGGREGATING,
    fillPages: p.fillPages,
    fillsFetched: p.fillsFetched,
    cashFlowPages: p.cashFlowPages,
    cashFlowsFetched: p.cashFlowsFetched,
    hoursDone: p.hoursDone,
    hoursTotal: p.hoursTotal,
    result: undefined,
    disclosureLevel: DisclosureLevelMessage.DISCLOSURE_LEVEL_UNSPECIFIED,
  };
}

/** The last message of WatchSyncJob: the final counts (phase DONE) and the result. */
export function syncDoneToWire(p: SyncProgress, report: SyncReport): SyncJobProgress {
  return { ...syncProgressToWire(p), phase: SyncPhase.SYNC_PHASE_DONE, result: syncReportToWire(report) };
}

/** One WatchSyncJob message, read back: progress while the sync runs, then the report. */
export type WatchedSync =
  | { readonly done: false; readonly progress: SyncProgress }
  | { readonly done: true; readonly progress: SyncProgress; readonly report: SyncReport };

export function watchedSyncFromWire(m: SyncJobProgress): WatchedSync {
  const counts = {
    fillPages: m.fillPages,
    fillsFetched: m.fillsFetched,
    cashFlowPages: m.cashFlowPages,
    cashFlowsFetched: m.cashFlowsFetched,
    hoursDone: m.hoursDone,
    hoursTotal: m.hoursTotal,
  };
  switch (m.phase) {
    case SyncPhase.SYNC_PHASE_FETCHING:
      return { done: false, progress: { phase: 'fetching', ...counts } };
    case SyncPhase.SYNC_PHASE_AGGREGATING:
      return { done: false, progress: { phase: 'aggregating', ...counts } };
    case SyncPhase.SYNC_PHASE_DONE:
      if (m.result === undefined) throw new WireFormatError('the service ended the sync without a result');
      return { done: true, progress: { phase: 'aggregating', ...counts }, report: syncReportFromWire(m.result) };
    default:
      throw new WireFormatError('the service reported a sync phase this client does not know');
  }
}

// ---- connections ----

export function connectionStatusToWire(s: ConnectionStatus): ConnectionStatusMessage {
  switch (s) {
    case 'active':
      return ConnectionStatusMessage.CONNECTION_STATUS_ACTIVE;
    case 'failed':
      return ConnectionStatusMessage.CONNECTION_STATUS_FAILED;
    case 'disabled':
      return ConnectionStatusMessage.CONNECTION_STATUS_DISABLED;
  }
}

export function connectionStatusFromWire(s: ConnectionStatusMessage): ConnectionStatus {
  switch (s) {
    case ConnectionStatusMessage.CONNECTION_STATUS_ACTIVE:
      return 'active';
    case ConnectionStatusMessage.CONNECTION_STATUS_FAILED:
      return 'failed';
    case ConnectionStatusMessage.CONNECTION_STATUS_DISABLED:
      return 'disabled';
    default:
      throw new WireFormatError('the service reported a connection status this client does not know');
  }
}

const PARKED_REASON_TO_WIRE = {
  venue_auth: ParkedReasonMessage.PARKED_REASON_VENUE_AUTH,
  venue_unavailable: ParkedReasonMessage.PARKED_REASON_VENUE_UNAVAILABLE,
  internal: ParkedReasonMessage.PARKED_REASON_INTERNAL,
  tamper: ParkedReasonMessage.PARKED_REASON_TAMPER,
} as const satisfies Record<ParkedReason, ParkedReasonMessage>;

export function parkedReasonToWire(reason: ParkedReason | null): ParkedReasonMessage {
  return reason === null ? ParkedReasonMessage.PARKED_REASON_UNSPECIFIED : PARKED_REASON_TO_WIRE[reason];
}

/** UNSPECIFIED means "not parked". */
export function parkedReasonFromWire(reason: ParkedReasonMessage): ParkedReason | null {
  if (reason === ParkedReasonMessage.PARKED_REASON_UNSPECIFIED) return null;
  const found = PARKED_REASONS.find((r) => PARKED_REASON_TO_WIRE[r] === reason);
  if (found === undefined) throw new WireFormatError('the service reported a parked reason this client does not know');
  return found;
}

export function connectionInfoToWire(c: ConnectionInfo): ConnectionMessage {
  return { ...accountToWire(c.account), status: connectionStatusToWire(c.status), parkedReason: parkedReasonToWire(c.parkedReason), disclosureLevel: disclosureLevelToWire(c.disclosureLevel) };
}

export function connectionInfoFromWire(m: ConnectionMessage): ConnectionInfo {
  return {
    account: accountFromWire(m), status: connectionStatusFromWire(m.status), parkedReason: parkedReasonFromWire(m.parkedReason),
    // A service from before disclosure levels published everything.
    disclosureLevel: disclosureLevelFromWire(m.disclosureLevel) ?? 'full',
  };
}

// ---- disclosure levels ----

const DISCLOSURE_LEVEL_TO_WIRE = {
  returns: DisclosureLevelMessage.DISCLOSURE_LEVEL_RETURNS,
  equity: DisclosureLevelMessage.DISCLOSURE_LEVEL_EQUITY,
  full: DisclosureLevelMessage.DISCLOSURE_LEVEL_FULL,
} as const satisfies Record<DisclosureLevel, DisclosureLevelMessage>;

export function disclosureLevelToWire(level: DisclosureLevel): DisclosureLevelMessage {
  return DISCLOSURE_LEVEL_TO_WIRE[level];
}

/** UNSPECIFIED (or a value this build does not know) is null. */
export function disclosureLevelFromWire(level: DisclosureLevelMessage): DisclosureLevel | null {
  return DISCLOSURE_LEVELS.find((l) => DISCLOSURE_LEVEL_TO_WIRE[l] === level) ?? null;
}

// ---- health and attestation (replies only the service builds) ----

export function servingStatusToWire(s: ApiHealth['status']): ServingStatus {
  switch (s) {
    case 'serving':
      return ServingStatus.SERVING_STATUS_SERVING;
    case 'degraded':
      return ServingStatus.SERVING_STATUS_DEGRADED;
    case 'not-serving':
      return ServingStatus.SERVING_STATUS_NOT_SERVING;
  }
}

function tcbToWire(tcb: SnpTcbVersion): TcbVersionMessage {
  return { bootLoader: tcb.bootLoader, tee: tcb.tee, snp: tcb.snp, microcode: tcb.microcode, fmc: tcb.fmc ?? undefined };
}

export function attestationToWire({ report, reportData, parsed }: Attestation): GetAttestationResponse {
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
    currentTcb: tcbToWire(parsed.currentTcb),
    reportedTcb: tcbToWire(parsed.reportedTcb),
    committedTcb: tcbToWire(parsed.committedTcb),
    launchTcb: tcbToWire(parsed.launchTcb),
  };
}

// ---- performance reports ----

const PERIOD_TO_WIRE = {
  '1D': ReportPeriod.REPORT_PERIOD_1D,
  '7D': ReportPeriod.REPORT_PERIOD_7D,
  '30D': ReportPeriod.REPORT_PERIOD_30D,
  '90D': ReportPeriod.REPORT_PERIOD_90D,
  YTD: ReportPeriod.REPORT_PERIOD_YTD,
  '1Y': ReportPeriod.REPORT_PERIOD_1Y,
  '3Y': ReportPeriod.REPORT_PERIOD_3Y,
  SI: ReportPeriod.REPORT_PERIOD_SINCE_INCEPTION,
  CUSTOM: ReportPeriod.REPORT_PERIOD_CUSTOM,
} as const satisfies Record<PeriodKind, ReportPeriod>;

export function reportPeriodToWire(kind: PeriodKind): ReportPeriod {
  return PERIOD_TO_WIRE[kind];
}

/** Null for UNSPECIFIED and numbers from a newer schema. */
export function reportPeriodFromWire(period: ReportPeriod): PeriodKind | null {
  return PERIODS.find((k) => PERIOD_TO_WIRE[k] === period) ?? null;
}

function calendarToWire(c: CalendarReturn): CalendarReturnMessage {
  return { label: c.label, fromMs: c.from, toMs: c.to, periodReturn: c.return, partial: c.partial, flaggedShare: c.flaggedShare };
}

function calendarFromWire(m: CalendarReturnMessage): CalendarReturn {
  return { label: m.label, from: m.fromMs, to: m.toMs, return: m.periodReturn, partial: m.partial, flaggedShare: m.flaggedShare };
}

export function performanceReportToWire({ report: r, baseCurrency, exchanges, nettedTransferHours, derivatives }: AccountReport): GetPerformanceReportResponse {
  const b = r.benchmark;
  const p = r.tradeStatistics;
  return {
    currency: r.currency,
    baseCurrency,
    period: reportPeriodToWire(r.period.kind),
    fromMs: r.period.from,
    toMs: r.period.to,
    exchanges: [...exchanges],
    hours: r.hours,
    valuedHours: r.valuedHours,
    flaggedHourShare: r.flaggedHourShare,
    flagShares: r.flagShares.map((f) => ({ flag: f.flag, share: f.share })),
    timeWeightedReturn: r.timeWeightedReturn,
    annualizedReturn: optionalToWire(r.annualizedReturn),
    moneyWeightedReturn: optionalToWire(r.moneyWeightedReturn),
    annualizedMoneyWeightedReturn: optionalToWire(r.annualizedMoneyWeightedReturn),
    annualizedVolatility: optionalToWire(r.annualizedVolatility),
    threeYearStandardDeviation: optionalToWire(r.threeYearStandardDeviation),
    sharpe: optionalToWire(r.sharpe),
    sortino: optionalToWire(r.sortino),
    calmar: optionalToWire(r.calmar),
    calmarMonths: optionalToWire(r.calmarMonths),
    maxDrawdown: {
      depth: r.drawdown.depth,
      peakMs: optionalToWire(r.drawdown.peakAt),
      troughMs: optionalToWire(r.drawdown.troughAt),
      recoveredMs: optionalToWire(r.drawdown.recoveredAt),
      recoveryHours: optionalToWire(r.drawdown.recoveryHours),
    },
    bestMonth: r.bestMonth === null ? undefined : calendarToWire(r.bestMonth),
    worstMonth: r.worstMonth === null ? undefined : calendarToWire(r.worstMonth),
    positiveMonthShare: optionalToWire(r.positiveMonthShare),
    monthly: r.monthly.map(calendarToWire),
    yearly: r.yearly.map(calendarToWire),
    benchmark: b === null ? undefined : {
      name: b.name, hours: b.hours, benchmarkReturn: b.benchmarkReturn, excessReturn: b.excessReturn,
      beta: optionalToWire(b.beta), correlation: optionalToWire(b.correlation), trackingError: optionalToWire(b.trackingError),
      informationRatio: optionalToWire(b.informationRatio), upCapture: optionalToWire(b.upCapture), downCapture: optionalToWire(b.downCapture),
    },
    positionStatistics: p === null ? undefined : {
      winRate: p.winRate, profitFactor: optionalToWire(p.profitFactor), averageWinLossRatio: optionalToWire(p.averageWinLossRatio),
      averageHoldingHours: p.averageHoldingHours, longestLosingStreak: p.longestLosingStreak,
    },
    riskFreeRate: r.riskFreeRate,
    sortinoTarget: r.sortinoTarget,
    notes: [...r.notes],
    nettedTransferHours,
    derivatives: (derivatives ?? []).map((d) => ({ exchange: d.exchange, metrics: derivativesToWire(d.metrics) })),
  };
}

export function performanceReportFromWire(m: GetPerformanceReportResponse): AccountReport {
  const kind = reportPeriodFromWire(m.period);
  if (kind === null) throw new WireFormatError('the service reported a period this client does not know');
  const b = m.benchmark;
  const p = m.positionStatistics;
  const d = m.maxDrawdown;
  const report: PerformanceReport = {
    currency: m.currency,
    period: { kind, from: m.fromMs, to: m.toMs },
    hours: m.hours,
    valuedHours: m.valuedHours,
    flaggedHourShare: m.flaggedHourShare,
    flagShares: m.flagShares.flatMap((f) => (isHourFlag(f.flag) ? [{ flag: f.flag as HourFlag, share: f.share }] : [])),
    timeWeightedReturn: m.timeWeightedReturn,
    annualizedReturn: optionalFromWire(m.annualizedReturn),
    moneyWeightedReturn: optionalFromWire(m.moneyWeightedReturn),
    annualizedMoneyWeightedReturn: optionalFromWire(m.annualizedMoneyWeightedReturn),
    annualizedVolatility: optionalFromWire(m.annualizedVolatility),
    threeYearStandardDeviation: optionalFromWire(m.threeYearStandardDeviation),
    sharpe: optionalFromWire(m.sharpe),
    sortino: optionalFromWire(m.sortino),
    calmar: optionalFromWire(m.calmar),
    calmarMonths: optionalFromWire(m.calmarMonths),
    drawdown: {
      depth: d?.depth ?? 0,
      peakAt: optionalFromWire(d?.peakMs), troughAt: optionalFromWire(d?.troughMs),
      recoveredAt: optionalFromWire(d?.recoveredMs), recoveryHours: optionalFromWire(d?.recoveryHours),
    },
    bestMonth: m.bestMonth === undefined ? null : calendarFromWire(m.bestMonth),
    worstMonth: m.worstMonth === undefined ? null : calendarFromWire(m.worstMonth),
    positiveMonthShare: optionalFromWire(m.positiveMonthShare),
    monthly: m.monthly.map(calendarFromWire),
    yearly: m.yearly.map(calendarFromWire),
    benchmark: b === undefined ? null : {
      name: b.name, hours: b.hours, benchmarkReturn: b.benchmarkReturn, excessReturn: b.excessReturn,
      beta: optionalFromWire(b.beta), correlation: optionalFromWire(b.correlation), trackingError: optionalFromWire(b.trackingError),
      informationRatio: optionalFromWire(b.informationRatio), upCapture: optionalFromWire(b.upCapture), downCapture: optionalFromWire(b.downCapture),
    },
    tradeStatistics: p === undefined ? null : {
      winRate: p.winRate, profitFactor: optionalFromWire(p.profitFactor), averageWinLossRatio: optionalFromWire(p.averageWinLossRatio),
      averageHoldingHours: p.averageHoldingHours, longestLosingStreak: p.longestLosingStreak,
    },
    riskFreeRate: m.riskFreeRate,
    sortinoTarget: m.sortinoTarget,
    notes: [...m.notes],
  };
  const derivatives = m.derivatives.flatMap((d) => {
    const metrics = derivativesFromWire(d.metrics);
    return metrics === null ? [] : [{ exchange: exchangeFromWire(d.exchange), metrics }];
  });
  return { report, baseCurrency: m.baseCurrency, exchanges: m.exchanges.map(exchangeFromWire), nettedTransferHours: m.nettedTransferHours, ...(derivatives.length === 0 ? {} : { derivatives }) };
}
