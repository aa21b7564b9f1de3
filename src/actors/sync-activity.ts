// The sync as an activity (Temporal's workflow/activity split): a plain async function of its
// dependencies. Fetch pages (each committed with its cursor, fenced by the connection's
// generation) → value the new history with the engine in chunks of hours → save aggregates.
// No actor here: the account actor decides when to run it and what to do with its outcome.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { DEFAULT_LARGE_FLOW_SHARE, type AggregationResult, type Aggregator, type CostMethod, type DataGap } from '../domain/aggregation.js';
import { AggregationInputError } from '../domain/errors.js';
import { accountId, type AccountKey, type BalanceSnapshot, type CashFlow, type EpochMs, type Fill, type SyncCursor, type SyncMode, type SyncProgress } from '../domain/types.js';
import type { Page, VenueConnector } from '../exchanges/connector.js';
import type { AccountStore } from '../storage/account-store.js';
import type { Clock } from './clock.js';
import { quarantineGaps, screenCashFlows, screenFills, type QuarantinedRecord, type Screened } from '../domain/quarantine.js';
import { reconcile, type AssetDifference, type WalletBalance } from '../domain/reconcile.js';
import { bookPositions, comparePositions, positionGaps, type PositionDifference } from '../domain/derivatives/positions.js';
import { parseEngineState } from '../domain/engine-state.js';
import { VenueError } from '../exchanges/errors.js';
import { createMinuteMarks } from './minute-marks.js';
import { fetchWantedMinuteMarks } from './minute-mark-fetch.js';
import { ensureHourlyCandles, type MarketData } from './market-data.js';
import { isSpotFill, loadContractFills, mergeFlows, prepareMarkToMarket, publishDerivatives, type DerivativesEnvelope } from './derivatives-valuation.js';
import { bookRealizedFlows, deliveredGaps, type MarkToMarket } from '../domain/derivatives/book.js';
import { isBookRealized } from '../domain/derivatives/records.js';
import { withHistoryCut } from '../domain/history-cut.js';
import { bookHistoryCut } from './history-cut-step.js';

const HOUR = 3_600_000;
export const ENGINE_ENVELOPE_VERSION = 1;
/** Progress reports at most this often (plus always the last one). */
export const PROGRESS_INTERVAL_MS = 200;
/** The engine runs in about this many chunks of hours, so hours done can be reported as it goes. */
const ENGINE_CHUNKS = 10;

export interface PnlTotals {
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
}

/** What the actor stores as `engineState`: the engine's own state plus what a sync needs to resume. */
export interface EngineEnvelope {
  readonly v: typeof ENGINE_ENVELOPE_VERSION;
  readonly engine: unknown;
  readonly computedUntil: EpochMs;
  /** Assets ever held or moved (marks are needed for each). */
  readonly assets: readonly string[];
  readonly totals: PnlTotals;
  readonly snapshot: BalanceSnapshot | null;
  /** Differences the last reconciliation saw (an adjustment is booked when the next one sees it too). */
  readonly unreconciled?: readonly AssetDifference[];
  /** The venue's per-wallet balances at the last reconciliation (venues reporting wallets apart only). */
  readonly walletBalances?: readonly WalletBalance[];
  /** Per stream, from when the venue served history, fixed at the first reconciliation. */
  readonly coverage?: { readonly fills: EpochMs | null; readonly cashFlows: EpochMs | null };
  /** Derivatives carried between syncs (derivatives-valuation.ts); absent without contract fills. */
  readonly derivatives?: DerivativesEnvelope;
}

/** Where a sync stands in storage; updated as pages commit, so a failed sync leaves the stored cursors. */
export interface SyncPosition {
  fillsCursor: SyncCursor | null;
  cashFlowsCursor: SyncCursor | null;
  engine: EngineEnvelope | null;
}

/** What a sync did: counts and aggregates only. */
export interface SyncOutcome {
  readonly fillsIngested: number;
  readonly cashFlowsIngested: number;
  readonly hourlyReturnsWritten: number;
  readonly gaps: readonly DataGap[];
  readonly snapshot: BalanceSnapshot | null;
}

export interface SyncActivityDeps {
  readonly store: AccountStore;
  readonly aggregator: Aggregator;
  readonly clock: Clock;
  readonly costMethod: CostMethod;
  /** Share of equity above which a flow splits its hour (default DEFAULT_LARGE_FLOW_SHARE). */
  readonly largeFlowShare?: number;
  readonly logger?: Logger;
  /** The owner of public per-venue series (candles fetched once per venue and market); absent: each sync fetches its own. */
  readonly marketData?: MarketData;
}

export interface SyncRun {
  readonly account: AccountKey;
  /** The connection's generation the actor loaded: every write transaction checks it. */
  readonly generation: number;
  readonly connector: VenueConnector;
  readonly mode: SyncMode;
  readonly position: SyncPosition;
  readonly signal: AbortSignal;
  /** Called with counts as the sync advances (throttled to PROGRESS_INTERVAL_MS, the last one always). */
  readonly onProgress?: (progress: SyncProgress) => void;
}

export function parseEngineEnvelope(stored: unknown): EngineEnvelope | null {
  if (typeof stored !== 'object' || stored === null) return null;
  const e = stored as Partial<EngineEnvelope>;
  if (e.v !== ENGINE_ENVELOPE_VERSION || typeof e.computedUntil !== 'number' || !Array.isArray(e.assets) || typeof e.totals !== 'object' || e.totals === null) return null;
  return stored as EngineEnvelope;
}

/** Throttles progress: at most one report per interval, and `final` always goes out. */
function progressReporter(clock: Clock, listener: ((progress: SyncProgress) => void) | undefined): { update(patch: Partial<SyncProgress>, final?: boolean): void } {
  let current: SyncProgress = { phase: 'fetching', fillPages: 0, fillsFetched: 0, cashFlowPages: 0, cashFlowsFetched: 0, hoursDone: 0, hoursTotal: 0 };
  let lastSent = Number.NEGATIVE_INFINITY;
  return {
    update(patch, final = false) {
      current = { ...current, ...patch };
      if (listener === undefined) return;
      const now = clock.now();
      if (!final && now - lastSent < PROGRESS_INTERVAL_MS) return;
      lastSent = now;
      listener(current);
    },
  };
}

function assetsOf(fills: readonly Fill[], flows: readonly CashFlow[], known: readonly string[]): string[] {
  const assets = new Set(known);
  for (const f of fills) { assets.add(f.baseAsset); assets.add(f.quoteAsset); assets.add(f.feeAsset); }
  for (const c of flows) assets.add(c.asset);
  return [...assets].sort();
}

/** What differs between the two record streams a sync pulls (fills, cash flows). */
interface RecordStream<T> {
  readonly pages: AsyncIterable<Page<T>>;
  readonly screen: (items: readonly T[]) => Screened<T>;
  readonly timeOf: (item: T) => EpochMs;
  readonly commit: (items: readonly T[], cursor: SyncCursor) => Promise<{ readonly inserted: number }>;
  /** After each page committed with its cursor, with the totals so far. */
  readonly onPage: (cursor: SyncCursor, totals: StreamTotals) => void;
}

interface StreamTotals {
  pages: number;
  fetched: number;
  inserted: number;
  /** Time of the oldest record this sync stored (+∞ when none). */
  earliestNew: number;
}

/** Pulls a stream page by page: screens each page, commits it with its cursor, counts. */
async function ingestStream<T>(stream: RecordStream<T>, signal: AbortSignal, quarantined: QuarantinedRecord[]): Promise<StreamTotals> {
  const totals: StreamTotals = { pages: 0, fetched: 0, inserted: 0, earliestNew: Number.POSITIVE_INFINITY };
  for await (const page of stream.pages) {
    signal.throwIfAborted();
    const screened = stream.screen(page.items);
    quarantined.push(...screened.quarantined);
    const { inserted } = await stream.commit(screened.kept, page.cursor);
    totals.inserted += inserted;
    if (inserted > 0) for (const item of screened.kept) totals.earliestNew = Math.min(totals.earliestNew, stream.timeOf(item));
    totals.pages += 1;
    totals.fetched += page.items.length;
    stream.onPage(page.cursor, totals);
  }
  return totals;
}

/** Runs one sync. `run.position` is updated as pages and aggregates commit. */
export async function runSyncActivity(deps: SyncActivityDeps, run: SyncRun): Promise<SyncOutcome> {
  const { store } = deps;
  const { account, generation, connector, position, signal } = run;
  const progress = progressReporter(deps.clock, run.onProgress);
  progress.update({}, true);
  // A record the engine cannot value is left out and flagged; the rest of its page goes on.
  const quarantined: QuarantinedRecord[] = [];
  const fills = await ingestStream({
    pages: connector.fetchFills(position.fillsCursor, signal), screen: screenFills, timeOf: (f) => f.executedAt,
    commit: (items, cursor) => store.commitFillsPage(account, items, cursor, generation),
    onPage: (cursor, t) => { position.fillsCursor = cursor; progress.update({ fillPages: t.pages, fillsFetched: t.fetched }); },
  }, signal, quarantined);
  const flows = await ingestStream({
    pages: connector.fetchCashFlows(position.cashFlowsCursor, signal), screen: screenCashFlows, timeOf: (c) => c.occurredAt,
    commit: (items, cursor) => store.commitCashFlowsPage(account, items, cursor, generation),
    onPage: (cursor, t) => { position.cashFlowsCursor = cursor; progress.update({ cashFlowPages: t.pages, cashFlowsFetched: t.fetched }); },
  }, signal, quarantined);
  const fillsIngested = fills.inserted;
  const cashFlowsIngested = flows.inserted;
  const earliestNew = Math.min(fills.earliestNew, flows.earliestNew);

  const untilHour = Math.floor(deps.clock.now() / HOUR) * HOUR;
  // A record older than the computed history cannot be appended: recompute from the start.
  let engine = position.engine;
  if (engine !== null && (earliestNew < engine.computedUntil || engine.computedUntil > untilHour)) engine = null;
  const done = async (hours: number, gaps: readonly DataGap[], snapshot: BalanceSnapshot | null, pending?: PendingRecords): Promise<SyncOutcome> => {
    const flagged = [...gaps, ...quarantineGaps(quarantined, untilHour), ...await reconcileAfterSync(deps, run, quarantined.length, pending)];
    progress.update({ phase: 'aggregating', hoursDone: hours, hoursTotal: hours }, true);
    return { fillsIngested, cashFlowsIngested, hourlyReturnsWritten: hours, gaps: flagged, snapshot };
  };
  // Nothing new can be valued before the next hour boundary (newer records wait for it).
  if (engine !== null && engine.computedUntil === untilHour) {
    position.engine = engine;
    return await done(0, [], engine.snapshot);
  }

  const onHours = (hoursDone: number, hoursTotal: number, final: boolean): void => { progress.update({ phase: 'aggregating', hoursDone, hoursTotal }, final); };
  // Coverage per stream is fixed at the first valuation; a fills history cut books the missing opening position once.
  const coverage = position.engine?.coverage ?? { fills: connector.coverageStart?.('fills') ?? null, cashFlows: connector.coverageStart?.('cash_flows') ?? null };
  if (position.engine === null && coverage.fills !== null) {
    await bookHistoryCut(store, { account, generation, connector, cashFlowsCursor: position.cashFlowsCursor, coverageStart: coverage.fills, signal }, deps.logger);
  }
  let valued: Valued;
  try {
    valued = await valueHistory(deps, account, connector, engine, untilHour, signal, onHours, coverage.fills);
  } catch (error) {
    // The saved state does not fit what storage holds (a record older than it, another base
    // currency, a state from an older engine): the whole record is recomputed instead.
    if (!(error instanceof AggregationInputError) || engine === null) throw error;
    deps.logger?.warn({ account: accountId(account) }, 'saved engine state refused: recomputing from the start');
    engine = null;
    valued = await valueHistory(deps, account, connector, null, untilHour, signal, onHours, coverage.fills);
  }
  const { result, assets, mtm, pending } = valued;
  const snapshot = result.snapshot ?? engine?.snapshot ?? null;
  // Hours before a stream's coverage start were valued without that stream's records (issues 15, 16).
  // Derivatives history counts only for accounts with derivatives records (a spot-only account lost nothing).
  const derivativesCoverage = mtm === null && engine?.derivatives === undefined ? null
    : engine?.derivatives?.coverageStart ?? connector.derivativesCoverageStart?.() ?? null;
  let next: EngineEnvelope = {
    v: ENGINE_ENVELOPE_VERSION, engine: result.state, computedUntil: untilHour, assets,
    totals: { realizedPnl: result.realizedPnl, unrealizedPnl: result.unrealizedPnl, totalFees: result.totalFees }, snapshot,
    ...(engine?.unreconciled === undefined ? {} : { unreconciled: engine.unreconciled }),
    ...(engine?.walletBalances === undefined ? {} : { walletBalances: engine.walletBalances }),
    coverage,
  };
  // Hours that could not be valued are published too, with their flag (issue 17).
  const published = withHistoryCut(result.unvaluedHours === undefined || result.unvaluedHours.length === 0 ? result.hourlyReturns
    : [...result.hourlyReturns, ...result.unvaluedHours].sort((a, b) => a.hourStart - b.hourStart), [coverage.fills, coverage.cashFlows, derivativesCoverage]);
  const derivatives = mtm === null ? engine?.derivatives : await publishDerivatives(store, account, generation, {
    mtm, firstHour: valued.firstHour, untilHour, hours: published, engineState: result.state, baseCurrency: connector.baseCurrency,
    previous: engine?.derivatives ?? null, coverageStart: derivativesCoverage,
  });
  if (derivatives !== undefined) next = { ...next, derivatives };
  // The worker's metrics cover the whole record (its accumulator rides in the engine state).
  const performance = { stats: result.metrics, computedUntil: untilHour };
  await store.saveAggregates(account, { hourlyReturns: published, snapshot: result.snapshot, engineState: next, performance }, generation);
  position.engine = next;
  return await done(published.length, mtm === null ? result.gaps : [...result.gaps, ...deliveredGaps(mtm.delivered)], snapshot, pending);
}

/** Records at or after the computed history's end (not valued yet), as loaded for the engine run. */
interface PendingRecords {
  readonly fills: Fill[];
  readonly flows: CashFlow[];
}

/**
 * Compares the rebuilt holdings with the venue's balances (reconcile.ts), books the adjustments
 * that persisted since the previous sync as flagged cash flows, and publishes the account's
 * reconciliation. The venue not answering its balances skips it (logged), never fails the sync.
 */
async function reconcileAfterSync(deps: SyncActivityDeps, run: SyncRun, quarantined: number, pending?: PendingRecords): Promise<DataGap[]> {
  const { store, clock } = deps;
  const { account, connector, position, generation, signal } = run;
  const envelope = position.engine;
  if (envelope === null) return [];
  let balances;
  try {
    balances = await connector.fetchBalances(signal);
  } catch (error) {
    if (!(error instanceof VenueError)) throw error;
    deps.logger?.warn({ account: accountId(account), kind: error.kind }, 'venue balances unavailable: reconciliation skipped this sync');
    return [];
  }
  const state = parseEngineState(envelope.engine);
  // The engine run just loaded them (two statements fewer per sync); else they are read here.
  const [pendingFills, pendingFlows] = pending !== undefined ? [pending.fills, pending.flows] : await loadRecords(store, account, envelope.computedUntil);
  const foundAt = clock.now();
  // The engine holds wallet + unrealized P&L of open contracts; the venue's balances are wallets.
  const unrealized = envelope.derivatives?.unrealized ?? {};
  const positions = state.positions.map((p) => ({ ...p, quantity: p.quantity - (unrealized[p.asset] ?? 0) }));
  // Pending fills of a venue without a P&L ledger (MEXC futures) move the wallet by what the book realizes.
  const realized = pendingFills.some((f) => isBookRealized(f.exchangeTradeId))
    ? bookRealizedFlows(await loadContractFills(store, account, true), envelope.computedUntil) : [];
  const result = reconcile({
    positions, pendingFills: pendingFills.filter(isSpotFill), pendingFlows: [...pendingFlows, ...realized], balances, baseCurrency: connector.baseCurrency, foundAt,
    marks: new Map(state.marks.map((m) => [m.asset, m.price])), previous: envelope.unreconciled ?? [],
    previousWalletBalances: envelope.walletBalances,
  });
  const positionDifferences = await checkVenuePositions(deps, run, envelope.derivatives !== undefined);
  if (result.adjustments.length > 0 && position.cashFlowsCursor !== null) {
    await store.commitCashFlowsPage(account, result.adjustments, position.cashFlowsCursor, generation);
  }
  const coverage = envelope.coverage ?? { fills: connector.coverageStart?.('fills') ?? null, cashFlows: connector.coverageStart?.('cash_flows') ?? null };
  const next: EngineEnvelope = { ...envelope, unreconciled: result.differences, coverage, ...(result.walletBalances.length === 0 ? {} : { walletBalances: result.walletBalances }) };
  // Stored already when nothing the reconciliation keeps has changed (most hourly syncs): one statement fewer.
  const unchanged = isDeepStrictEqual(envelope.unreconciled ?? null, next.unreconciled ?? null) && isDeepStrictEqual(envelope.coverage ?? null, coverage)
    && isDeepStrictEqual(envelope.walletBalances ?? null, next.walletBalances ?? null);
  if (!unchanged) await store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: next, performance: null }, generation);
  position.engine = next;
  await store.saveReconciliation(account, {
    at: foundAt, status: result.differences.length + positionDifferences.length === 0 ? 'reconciled' : 'unreconciled', explainedShare: result.explainedShare,
    differingAssets: result.differences.length, differingPositions: positionDifferences.length, quarantined, coverageStart: coverage,
  }, generation);
  return [...result.gaps, ...positionGaps(positionDifferences, foundAt)];
}

/**
 * The venue's position snapshot against the book rebuilt from every stored contract fill
 * (positions.ts): the contracts that differ. None when the connector reads no positions, or when the
 * venue reports none and the account has no contract records (a spot account loads no fills for it).
 * The venue not answering skips the check (logged), never fails the sync.
 */
async function checkVenuePositions(deps: SyncActivityDeps, run: SyncRun, hasDerivatives: boolean): Promise<PositionDifference[]> {
  const { account, connector, signal } = run;
  if (connector.fetchPositions === undefined) return [];
  let venue;
  try {
    venue = await connector.fetchPositions(signal);
  } catch (error) {
    if (!(error instanceof VenueError)) throw error;
    deps.logger?.warn({ account: accountId(account), kind: error.kind }, 'venue positions unavailable: the position check skipped this sync');
    return [];
  }
  if (venue === null || (venue.length === 0 && !hasDerivatives)) return [];
  const differences = comparePositions(bookPositions(await loadContractFills(deps.store, account, true), deps.clock.now() + 1), venue);
  // A count only: which contracts and how much stay in the enclave.
  if (differences.length > 0) deps.logger?.warn({ account: accountId(account), contracts: differences.length }, 'venue positions differ from the book rebuilt from executions: reported unreconciled');
  return differences;
}

/**
 * Runs the engine over what storage holds after `engine` (everything when null): fills and flows
 * with computedUntil ≤ t < untilHour (later ones wait for the next run), and candles from one
 * hour before the first hour to compute (its close is the opening mark) up to `untilHour`. The
 * hours are valued in about ENGINE_CHUNKS runs, each resuming from the state the previous one
 * returned (exactly what an incremental sync does), so hours done can be reported between them.
 */
async function valueHistory(
  deps: SyncActivityDeps, account: AccountKey, connector: VenueConnector, engine: EngineEnvelope | null, untilHour: EpochMs, signal: AbortSignal,
  onHours: (done: number, total: number, final: boolean) => void, historyCutAt: EpochMs | null,
): Promise<Valued> {
  const { store } = deps;
  const fromMs = engine?.computedUntil ?? 0;
  const [storedFills, storedFlows] = await loadRecords(store, account, fromMs);
  // Contract fills never reach the engine as trades: the derivatives book values them (derivatives-valuation.ts).
  const fills = storedFills.filter((f) => f.executedAt < untilHour && isSpotFill(f));
  const contractFills = (await loadContractFills(store, account, engine?.derivatives !== undefined || storedFills.some((f) => !isSpotFill(f)))).filter((f) => f.executedAt < untilHour);
  const recordedFlows = storedFlows.filter((c) => c.occurredAt < untilHour);
  const base = connector.baseCurrency;
  const firstRecord = Math.min(fills[0]?.executedAt ?? Infinity, recordedFlows[0]?.occurredAt ?? Infinity, contractFills[0]?.executedAt ?? Infinity);
  const firstHour = engine?.computedUntil ?? (Number.isFinite(firstRecord) ? Math.floor(firstRecord / HOUR) * HOUR : untilHour);
  const mtm = await prepareMarkToMarket(store, account, connector, contractFills, firstHour, untilHour, signal);
  const cashFlows = mtm === null ? recordedFlows : mergeFlows(recordedFlows, mtm.flows);
  const assets = assetsOf(fills, cashFlows, engine?.assets ?? []);
  const candleFrom = firstHour - HOUR;
  const symbols = assets.filter((a) => a !== base).map((a) => `${a}/${base}`);
  const needCandles = firstHour < untilHour && symbols.length > 0;
  // Public data: stored once per venue and market by the owner (market-data.ts); this account reads it.
  if (needCandles) await ensureHourlyCandles(deps.marketData, (c) => store.upsertCandles(account.exchange, c), connector, symbols, candleFrom, untilHour, signal);
  const candles = needCandles ? await store.loadCandles(account.exchange, symbols, candleFrom, untilHour) : [];
  // Valuations at a flow's instant use one-minute bars kept once per venue (minute-marks.ts).
  const minuteMarks = store.minuteMarks === undefined ? null : createMinuteMarks(store.minuteMarks, connector, () => deps.clock.now());
  const minuteCandles = minuteMarks !== null && needCandles ? await minuteMarks.known(account.exchange, symbols, firstHour, untilHour) : [];
  signal.throwIfAborted();

  const hoursTotal = Math.max(0, (untilHour - firstHour) / HOUR);
  const step = Math.max(1, Math.ceil(hoursTotal / ENGINE_CHUNKS)) * HOUR;
  onHours(0, hoursTotal, false);
  let state: unknown = engine?.engine ?? null;
  let chunkStart = firstHour;
  const hourlyReturns: AggregationResult['hourlyReturns'][number][] = [];
  const gaps: DataGap[] = [];
  const unvaluedHours: AggregationResult['hourlyReturns'][number][] = [];
  let last: AggregationResult | null = null;
  let fillAt = 0;
  let flowAt = 0;
  let candleAt = 0;
  do {
    const chunkEnd = Math.min(untilHour, chunkStart + step);
    // Records are sorted by time: each chunk takes the next run of them.
    const fillEnd = indexAtOrAfter(fills, fillAt, chunkEnd, (f) => f.executedAt);
    const flowEnd = indexAtOrAfter(cashFlows, flowAt, chunkEnd, (c) => c.occurredAt);
    // A chunk's candles start one hour before it (that close is its opening mark).
    while (candleAt < candles.length && candles[candleAt]!.openTime < chunkStart - HOUR) candleAt += 1;
    const candleEnd = indexAtOrAfter(candles, candleAt, chunkEnd, (c) => c.openTime);
    const from = chunkStart;
    const runChunk = async (): Promise<AggregationResult> => await deps.aggregator.aggregate({
      baseCurrency: base, costMethod: deps.costMethod, state, openingBalances: [],
      fills: fills.slice(fillAt, fillEnd), cashFlows: cashFlows.slice(flowAt, flowEnd), candles: candles.slice(candleAt, candleEnd),
      untilHour: chunkEnd, ...(state === null ? { startHour: firstHour } : {}),
      largeFlowShare: deps.largeFlowShare ?? DEFAULT_LARGE_FLOW_SHARE,
      minuteCandles: minuteCandles.filter((m) => m.openTime >= from && m.openTime < chunkEnd), historyCutAt,
    }, signal);
    let result = await runChunk();
    // The engine names the minute bars a valuation at a flow lacked: fetch those once, run the chunk again.
    if (minuteMarks !== null && (result.minuteMarksWanted?.length ?? 0) > 0) {
      const found = await fetchWantedMinuteMarks(minuteMarks, account, result.minuteMarksWanted ?? [], signal, deps.logger);
      if (found.length > 0) {
        minuteCandles.push(...found);
        result = await runChunk();
      }
    }
    for (const h of result.hourlyReturns) hourlyReturns.push(h);
    for (const g of result.gaps) gaps.push(g);
    for (const h of result.unvaluedHours ?? []) unvaluedHours.push(h);
    state = result.state;
    last = result;
    fillAt = fillEnd;
    flowAt = flowEnd;
    chunkStart = chunkEnd;
    onHours((chunkEnd - firstHour) / HOUR, hoursTotal, false);
  } while (chunkStart < untilHour);
  const pending = { fills: storedFills.filter((f) => f.executedAt >= untilHour), flows: storedFlows.filter((c) => c.occurredAt >= untilHour) };
  return { result: { ...last, hourlyReturns, gaps, unvaluedHours }, assets, mtm, firstHour, pending };
}

interface Valued {
  readonly result: AggregationResult;
  readonly assets: string[];
  /** The derivatives book's events and exposure for the hours valued; null without contract fills. */
  readonly mtm: MarkToMarket | null;
  readonly firstHour: EpochMs;
  /** Records at or after the valued history's end, as loaded (reconciliation reuses them). */
  readonly pending: PendingRecords;
}

/** Fills and cash flows from `fromMs`: in one read where the store offers it (sealed storage), else two. */
async function loadRecords(store: AccountStore, account: AccountKey, fromMs: EpochMs): Promise<[Fill[], CashFlow[]]> {
  if (store.loadRecords !== undefined) {
    const { fills, cashFlows } = await store.loadRecords(account, fromMs);
    return [fills, cashFlows];
  }
  return Promise.all([store.loadFills(account, fromMs), store.loadCashFlows(account, fromMs)]);
}

/** First index ≥ `from` whose time is ≥ `limit` (the slice [from, index) is before `limit`). */
function indexAtOrAfter<T>(items: readonly T[], from: number, limit: EpochMs, timeOf: (item: T) => EpochMs): number {
  let i = from;
  while (i < items.length && timeOf(items[i]!) < limit) i += 1;
  return i;
}
