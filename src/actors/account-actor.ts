// One actor per (user_uid, exchange). It owns the decrypted credential (memory only), the sync
// cursors and the engine state (positions); it syncs one page at a time, stores aggregates, and
// answers queries from the last committed state. Replies carry counts and aggregates, never a fill.
import type { Logger } from 'pino';
import type { AggregationResult, Aggregator, CostMethod, DataGap, PerformanceStats } from '../domain/aggregation.js';
import { AggregationInputError } from '../domain/errors.js';
import { accountId, assertNever, type AccountKey, type SyncMode, type BalanceSnapshot, type CashFlow, type EpochMs, type Fill, type HourlyReturn, type SyncCursor } from '../domain/types.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { VenueError } from '../exchanges/errors.js';
import type { AccountStore } from '../storage/account-store.js';
import type { Clock, TimerHandle } from './clock.js';
import { AccountFailedError, AccountNotFoundError, ActorError, OverloadedError, ShuttingDownError, VenueUnavailableError } from './errors.js';
import type { ActorMetrics, ActorStateName, SyncResultLabel } from './metrics.js';
import { reply, replyError, spawn, tell, type ActorRef, type CrashDecision, type Parent, type ReplyTo } from './nact.js';

// ---- Protocol ----


export interface Sync { readonly type: 'Sync'; readonly mode: SyncMode; readonly replyTo: ReplyTo<SyncResult> }
export interface GetReturns { readonly type: 'GetReturns'; readonly from: EpochMs; readonly to: EpochMs; readonly replyTo: ReplyTo<readonly HourlyReturn[]> }
export interface GetPerformance { readonly type: 'GetPerformance'; readonly replyTo: ReplyTo<AccountPerformance> }
export interface GetSnapshots { readonly type: 'GetSnapshots'; readonly from: EpochMs; readonly to: EpochMs; readonly replyTo: ReplyTo<readonly BalanceSnapshot[]> }
/** Passivate now: zero the credential and stop (after a running sync finishes). */
export interface Stop { readonly type: 'Stop'; readonly replyTo: ReplyTo<Stopped> }

export type AccountMessage = Sync | GetReturns | GetPerformance | GetSnapshots | Stop;

/** What a sync did: counts and aggregates only. */
export interface SyncResult {
  readonly mode: SyncMode;
  /** Who started the sync this reply joined: a request, or the actor's own schedule. */
  readonly trigger: 'request' | 'schedule';
  readonly fillsIngested: number;
  readonly cashFlowsIngested: number;
  readonly hourlyReturnsWritten: number;
  readonly dataGaps: number;
  /** Distinct kinds of gap met, sorted (kinds only: no assets, hours or amounts). */
  readonly gapKinds: readonly DataGap['kind'][];
  readonly snapshot: BalanceSnapshot | null;
  readonly startedAt: EpochMs;
  readonly finishedAt: EpochMs;
}

export interface AccountPerformance {
  readonly metrics: PerformanceStats;
  /** Equity at the last computed hour (null before the first sync). */
  readonly snapshot: BalanceSnapshot | null;
  /** End (exclusive) of the computed history. */
  readonly computedUntil: EpochMs | null;
}

export interface Stopped { readonly stopped: true }

// ---- Dependencies ----

export interface PnlTotals {
  readonly realizedPnl: number;
  readonly unrealizedPnl: number;
  readonly totalFees: number;
}

export interface AccountActorSettings {
  /** Own incremental sync every this many ms (0: no schedule). */
  readonly syncIntervalMs: number;
  /** ± fraction of the interval drawn at random for each schedule (spreads load). */
  readonly syncJitter: number;
  /** Passivate after this long without a message or a sync. */
  readonly idleMs: number;
  readonly costMethod: CostMethod;
}

export const DEFAULT_ACCOUNT_SETTINGS: AccountActorSettings = { syncIntervalMs: 3_600_000, syncJitter: 0.1, idleMs: 900_000, costMethod: 'average' };

/** Limits full syncs across all accounts (a full recompute is heavy). */
export interface FullSyncGate {
  tryAcquire(): boolean;
  release(): void;
}

export interface AccountActorDeps {
  readonly store: AccountStore;
  readonly aggregator: Aggregator;
  /** Opens the sealed envelope (src/crypto); the Buffer is owned and zeroed by the actor. */
  readonly openCredential: (account: AccountKey, envelope: Buffer) => Buffer | Promise<Buffer>;
  readonly connectorFactory: (account: AccountKey, credential: Buffer) => VenueConnector | Promise<VenueConnector>;
  /** The domain's metrics over the published returns. */
  readonly computePerformanceStats: (returns: readonly HourlyReturn[], totals: PnlTotals) => PerformanceStats;
  readonly clock: Clock;
  readonly random: () => number;
  readonly settings: AccountActorSettings;
  readonly isTransientStorageError: (error: unknown) => boolean;
  readonly fullSyncGate?: FullSyncGate;
  readonly metrics?: ActorMetrics;
  readonly logger?: Logger;
}

/** How the actor's owner hears about its end of life. */
export interface AccountLifecycle {
  /** The actor released its credential and asks to be stopped (idle or Stop). */
  passivate(self: ActorRef<AccountMessage>, nextSyncAt: EpochMs | null): void;
  /** The actor stopped (any cause); `undelivered` are requests it never handled. */
  stopped(self: ActorRef<AccountMessage>, undelivered: readonly AccountMessage[]): void;
  /** The stored connection is marked failed: the actor refused to start and asks to be stopped. */
  storedFailed(self: ActorRef<AccountMessage>): void;
}

// ---- Crash classes (STYLE 7): refusals resume, transient storage resets, the rest escalates ----

export type CrashClass = 'resume' | 'reset' | 'escalate';

export function crashClassOf(error: unknown, isTransientStorageError: (error: unknown) => boolean): CrashClass {
  if (error instanceof ActorError || error instanceof VenueError) return 'resume';
  if (isTransientStorageError(error)) return 'reset';
  return 'escalate';
}

/** Heuristic for slonik/pg errors that a retry may cure (connection lost, server restarting). */
export function isTransientStorageErrorByShape(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (typeof name === 'string' && ['ConnectionError', 'BackendTerminatedError', 'StatementTimeoutError', 'TransientStorageError'].includes(name)) return true;
  return typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P03' || code === '40001' || code === '40P01' || code === 'ECONNREFUSED' || code === 'ECONNRESET');
}

/** The one translation of a sync failure into the actor error family (never the inner text). */
export function toActorError(error: unknown, account: AccountKey): ActorError {
  if (error instanceof ActorError) return error;
  if (error instanceof VenueError) return new VenueUnavailableError(`${accountId(account)}: venue ${error.kind}`, { cause: error });
  return new ActorError(`${accountId(account)}: internal failure`);
}

// ---- Internal messages and state ----

interface Tick { readonly type: 'Tick' }
interface SyncSettled {
  readonly type: 'SyncSettled';
  readonly runId: number;
  readonly progress: SyncProgress;
  readonly outcome: { readonly ok: true; readonly value: SyncResult } | { readonly ok: false; readonly error: unknown };
}
type Internal = Tick | SyncSettled;
type AnyMessage = AccountMessage | Internal;

const HOUR = 3_600_000;
const ENGINE_ENVELOPE_VERSION = 1;

/** What the actor stores as `engineState`: the engine's own state plus what the actor needs to resume. */
interface EngineEnvelope {
  readonly v: typeof ENGINE_ENVELOPE_VERSION;
  readonly engine: unknown;
  readonly computedUntil: EpochMs;
  /** Assets ever held or moved (marks are needed for each). */
  readonly assets: readonly string[];
  readonly totals: PnlTotals;
  readonly snapshot: BalanceSnapshot | null;
}

interface SyncProgress {
  fillsCursor: SyncCursor | null;
  cashFlowsCursor: SyncCursor | null;
  engine: EngineEnvelope | null;
  /**
   * Metrics over the whole published history when this sync recomputed all of it (the engine's
   * result is then the full record), so GetPerformance answers from memory without reading every
   * return back; null after an appending sync (computed on the next GetPerformance, then kept).
   */
  metrics: AccountPerformance | null;
}

interface RunningSync {
  readonly runId: number;
  readonly mode: SyncMode;
  readonly trigger: 'request' | 'schedule';
  readonly waiters: ReplyTo<SyncResult>[];
  readonly abort: AbortController;
  readonly holdsGate: boolean;
  readonly startedAt: EpochMs;
}

interface Session {
  readonly connector: VenueConnector;
  readonly progress: SyncProgress;
}

interface ReadyState {
  readonly phase: 'ready';
  readonly session: Session;
  readonly running: RunningSync | null;
  /** A full sync asked for while an incremental one runs. */
  readonly queuedFull: readonly ReplyTo<SyncResult>[] | null;
  readonly metrics: AccountPerformance | null;
  readonly lastActivity: EpochMs;
  readonly nextSyncAt: EpochMs | null;
  readonly stopWaiters: readonly ReplyTo<Stopped>[];
}

type AccountState = { readonly phase: 'cold' } | ReadyState | { readonly phase: 'passivated' };

const INITIAL_STATE: AccountState = { phase: 'cold' };

export interface SpawnAccountOptions {
  readonly parent: Parent;
  readonly name: string;
  readonly account: AccountKey;
  readonly deps: AccountActorDeps;
  readonly lifecycle: AccountLifecycle;
  /** Called with the error class; the owner (supervisor) decides and may wait a backoff. */
  readonly onCrash: (crash: CrashClass, error: unknown) => CrashDecision | Promise<CrashDecision>;
}

export function spawnAccountActor(options: SpawnAccountOptions): ActorRef<AccountMessage> {
  const instance = new AccountActor(options);
  return instance.spawn();
}

const TICK: Tick = Object.freeze({ type: 'Tick' });

/**
 * One account actor's resources and behaviour. Secrets and sockets live here, outside nact's
 * state, so every exit path can release them, even a crash in the middle of start-up (before a
 * new state was returned). A class rather than closures: 10,000 actors stay small.
 */
class AccountActor {
  private readonly account: AccountKey;
  private readonly id: string;
  private readonly deps: AccountActorDeps;
  /** The opened credential; zeroed on every exit path. */
  private credential: Buffer | null = null;
  private connector: VenueConnector | null = null;
  private timer: TimerHandle | null = null;
  private running: RunningSync | null = null;
  // Run ids outlive restarts, so a sync cancelled by a restart is never taken for the current one.
  private runCounter = 0;
  private everStarted = false;
  private self!: ActorRef<AnyMessage>;
  private readonly onTimer: () => void;

  constructor(private readonly options: SpawnAccountOptions) {
    this.onTimer = this.tick.bind(this);
    this.account = options.account;
    this.id = accountId(options.account);
    this.deps = options.deps;
  }

  spawn(): ActorRef<AccountMessage> {
    // Bound methods rather than inline closures: cheaper per actor (10,000 of them).
    this.self = spawn<AccountState, AnyMessage>(this.options.parent, this.options.name, this.receive.bind(this), {
      initialState: INITIAL_STATE,
      onCrash: this.crash.bind(this),
      afterStop: this.afterStop.bind(this),
    });
    return this.self as ActorRef<AccountMessage>;
  }

  private crash(error: unknown): CrashDecision | Promise<CrashDecision> {
    return this.options.onCrash(crashClassOf(error, this.deps.isTransientStorageError), error);
  }

  private async afterStop(_state: AccountState, undelivered: readonly AnyMessage[]): Promise<void> {
    await this.release(() => new ShuttingDownError(`${this.id}: stopped`));
    const requests = undelivered.filter((m): m is AccountMessage => m.type !== 'Tick' && m.type !== 'SyncSettled');
    this.options.lifecycle.stopped(this.self as ActorRef<AccountMessage>, requests);
  }

  private async receive(state: AccountState, msg: AnyMessage): Promise<AccountState> {
    try {
      return await this.handle(state, msg);
    } catch (error) {
      const crash = crashClassOf(error, this.deps.isTransientStorageError);
      const replyTo = 'replyTo' in msg ? msg.replyTo : undefined;
      if (replyTo !== undefined) replyError(replyTo as ReplyTo<never>, toActorError(error, this.account));
      if (crash !== 'resume') {
        this.setState('restarting');
        await this.release(() => new ActorError(`${this.id}: restarting`));
        this.armCold();
      }
      throw error;
    }
  }

  private setState(state: ActorStateName): void {
    this.deps.metrics?.setState(this.account, state);
  }

  private async release(reason: () => ActorError): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.credential?.fill(0);
    this.credential = null;
    const running = this.running;
    if (running !== null) {
      const error = reason();
      running.abort.abort(error);
      for (const waiter of running.waiters) replyError(waiter, error);
      if (running.holdsGate) this.deps.fullSyncGate?.release();
      this.running = null;
    }
    const connector = this.connector;
    this.connector = null;
    // A connector that fails to close must not stop the release (the credential is already zeroed).
    if (connector !== null) await Promise.resolve().then(async () => connector.close()).catch(() => undefined);
  }

  private arm(state: ReadyState): void {
    this.timer?.cancel();
    const idleAt = state.lastActivity + this.deps.settings.idleMs;
    const at = state.nextSyncAt === null ? idleAt : Math.min(idleAt, state.nextSyncAt);
    this.timer = this.deps.clock.setTimer(Math.max(0, at - this.deps.clock.now()), this.onTimer);
  }

  /** A cold actor (after a restart, or for an unknown account) passivates after the idle time. */
  private armCold(): void {
    if (this.timer === null) this.timer = this.deps.clock.setTimer(this.deps.settings.idleMs, this.onTimer);
  }

  private tick(): void {
    tell(this.self, TICK);
  }

  private nextSchedule(from: EpochMs): EpochMs | null {
    const { syncIntervalMs, syncJitter } = this.deps.settings;
    if (syncIntervalMs <= 0) return null;
    return from + Math.round(syncIntervalMs * (1 + syncJitter * (2 * this.deps.random() - 1)));
  }

  private async start(): Promise<ReadyState | 'missing' | 'failed'> {
    const { deps, account } = this;
    this.setState('starting');
    const connection = await deps.store.loadConnection(account);
    if (connection === null || connection.status === 'disabled') return 'missing';
    // Parked by the crash-loop cut-off (maybe by an earlier process): stays so until revived.
    if (connection.status === 'failed') return 'failed';
    const credential = await deps.openCredential(account, connection.envelope);
    this.credential?.fill(0);
    this.credential = credential;
    const connector = await deps.connectorFactory(account, credential);
    this.connector = connector;
    const [fillsCursor, cashFlowsCursor, stored] = await Promise.all([
      deps.store.loadCursor(account, 'fills'),
      deps.store.loadCursor(account, 'cash_flows'),
      deps.store.loadEngineState(account),
    ]);
    const now = deps.clock.now();
    const state: ReadyState = {
      phase: 'ready', session: { connector, progress: { fillsCursor, cashFlowsCursor, engine: parseEnvelope(stored), metrics: null } },
      running: null, queuedFull: null, metrics: null, lastActivity: now, nextSyncAt: this.nextSchedule(now), stopWaiters: [],
    };
    this.everStarted = true;
    this.arm(state);
    this.setState('idle');
    return state;
  }

  private beginSync(state: ReadyState, mode: SyncMode, trigger: 'request' | 'schedule', waiters: ReplyTo<SyncResult>[]): ReadyState {
    const { deps } = this;
    let holdsGate = false;
    if (mode === 'full' && deps.fullSyncGate !== undefined) {
      if (!deps.fullSyncGate.tryAcquire()) {
        const error = new OverloadedError('too many full syncs in progress; retry later');
        for (const waiter of waiters) replyError(waiter, error);
        deps.metrics?.syncFinished(this.account, 'overloaded', 0, 0, deps.clock.now());
        return state;
      }
      holdsGate = true;
    }
    this.runCounter += 1;
    const runId = this.runCounter;
    const startedAt = deps.clock.now();
    const run: RunningSync = { runId, mode, trigger, waiters, abort: new AbortController(), holdsGate, startedAt };
    this.running = run;
    this.setState('syncing');
    const progress: SyncProgress = mode === 'full'
      ? { fillsCursor: null, cashFlowsCursor: null, engine: null, metrics: null }
      : { ...state.session.progress, metrics: null };
    const self = this.self;
    runSync(this.account, deps, state.session.connector, mode, trigger, progress, run.abort.signal, startedAt).then(
      (value) => { tell(self, { type: 'SyncSettled', runId, progress, outcome: { ok: true, value } }); },
      (error: unknown) => { tell(self, { type: 'SyncSettled', runId, progress, outcome: { ok: false, error } }); },
    );
    return { ...state, running: run };
  }

  private async passivate(state: ReadyState): Promise<AccountState> {
    await this.release(() => new ShuttingDownError(`${this.id}: passivated`));
    for (const waiter of state.stopWaiters) reply(waiter, { stopped: true });
    this.options.lifecycle.passivate(this.self as ActorRef<AccountMessage>, state.nextSyncAt);
    return PASSIVATED;
  }

  private async settle(state: ReadyState, msg: SyncSettled): Promise<AccountState> {
    const { deps, account, id } = this;
    const run = state.running;
    if (run === null || run.runId !== msg.runId) return state; // a sync cancelled by a restart
    this.running = null;
    if (run.holdsGate) deps.fullSyncGate?.release();
    const now = deps.clock.now();
    const durationMs = Math.max(0, now - run.startedAt);
    let next: ReadyState = { ...state, running: null, lastActivity: now, session: { ...state.session, progress: msg.progress } };
    if (msg.outcome.ok) {
      const result = msg.outcome.value;
      for (const waiter of run.waiters) reply(waiter, result);
      deps.metrics?.syncFinished(account, 'ok', durationMs, result.fillsIngested, now);
      deps.logger?.info({ account: id, mode: result.mode, trigger: result.trigger, fillCount: result.fillsIngested, hourCount: result.hourlyReturnsWritten, durationMs }, 'sync finished');
      // A sync that found nothing new keeps the engine state object, and with it the cached metrics.
      const unchanged = msg.progress.engine !== null && msg.progress.engine === state.session.progress.engine;
      next = { ...next, metrics: msg.progress.metrics ?? (unchanged ? state.metrics : null), nextSyncAt: this.nextSchedule(now) };
    } else {
      const error = toActorError(msg.outcome.error, account);
      for (const waiter of run.waiters) replyError(waiter, error);
      const label: SyncResultLabel = msg.outcome.error instanceof VenueError ? 'venue_error' : 'error';
      deps.metrics?.syncFinished(account, label, durationMs, 0, now, msg.outcome.error instanceof VenueError ? msg.outcome.error.kind : undefined);
      deps.logger?.warn({ account: id, error: errorClassName(msg.outcome.error) }, 'sync failed');
      if (crashClassOf(msg.outcome.error, deps.isTransientStorageError) !== 'resume') {
        // The in-memory view may be ahead of or behind storage: let supervision restart from storage.
        for (const waiter of state.queuedFull ?? []) replyError(waiter, error);
        for (const waiter of state.stopWaiters) replyError(waiter, error);
        throw msg.outcome.error;
      }
      next = { ...next, nextSyncAt: this.nextSchedule(now) };
    }
    this.setState('idle');
    if (next.queuedFull !== null) {
      const waiters = [...next.queuedFull];
      next = this.beginSync({ ...next, queuedFull: null }, 'full', 'request', waiters);
    } else if (next.stopWaiters.length > 0) {
      return this.passivate(next);
    }
    this.arm(next);
    return next;
  }

  private async handle(state: AccountState, msg: AnyMessage): Promise<AccountState> {
    const { deps, account } = this;
    if (state.phase === 'passivated') return state;
    if (state.phase === 'cold') {
      if (msg.type === 'SyncSettled') return state;
      if (msg.type === 'Tick') {
        // Hand the schedule to the supervisor, so an account that crashed still syncs on time.
        this.timer = null;
        this.options.lifecycle.passivate(this.self as ActorRef<AccountMessage>, this.everStarted ? this.nextSchedule(deps.clock.now()) : null);
        return PASSIVATED;
      }
      if (msg.type === 'Stop') {
        reply(msg.replyTo, { stopped: true });
        this.options.lifecycle.passivate(this.self as ActorRef<AccountMessage>, null);
        return PASSIVATED;
      }
      const started = await this.start();
      if (started === 'missing') {
        replyError(msg.replyTo, new AccountNotFoundError(`no connection for ${this.id}`));
        // Passivate at once: an id nobody connected must not keep an actor and a labelled metric
        // series alive (any well-formed user_uid a caller sends would otherwise add one).
        this.options.lifecycle.passivate(this.self as ActorRef<AccountMessage>, null);
        return PASSIVATED;
      }
      if (started === 'failed') {
        replyError(msg.replyTo, new AccountFailedError(`${this.id} is marked failed`));
        this.setState('failed');
        this.options.lifecycle.storedFailed(this.self as ActorRef<AccountMessage>);
        return PASSIVATED;
      }
      return this.handle(started, msg);
    }
    const isRequest = msg.type !== 'Tick' && msg.type !== 'SyncSettled';
    const ready: ReadyState = isRequest ? { ...state, lastActivity: deps.clock.now() } : state;
    switch (msg.type) {
      case 'Sync': {
        if (ready.running === null) return this.beginSync(ready, msg.mode, 'request', [msg.replyTo]);
        if (msg.mode === 'full' && ready.running.mode === 'incremental') {
          return { ...ready, queuedFull: [...(ready.queuedFull ?? []), msg.replyTo] };
        }
        ready.running.waiters.push(msg.replyTo);
        return ready;
      }
      case 'GetReturns':
        reply(msg.replyTo, await deps.store.loadHourlyReturns(account, msg.from, msg.to));
        return ready;
      case 'GetSnapshots':
        reply(msg.replyTo, await deps.store.loadSnapshots(account, msg.from, msg.to));
        return ready;
      case 'GetPerformance': {
        const metrics = ready.metrics ?? await computeAccountMetrics(account, deps, ready.session.progress.engine);
        reply(msg.replyTo, metrics);
        return { ...ready, metrics };
      }
      case 'Stop':
        if (ready.running !== null) return { ...ready, stopWaiters: [...ready.stopWaiters, msg.replyTo] };
        return this.passivate({ ...ready, stopWaiters: [...ready.stopWaiters, msg.replyTo] });
      case 'Tick': {
        const now = deps.clock.now();
        let next = ready;
        if (next.nextSyncAt !== null && next.nextSyncAt <= now) {
          next = next.running === null
            ? this.beginSync({ ...next, nextSyncAt: this.nextSchedule(now) }, 'incremental', 'schedule', [])
            : { ...next, nextSyncAt: this.nextSchedule(now) };
        }
        if (next.running === null && next.queuedFull === null && now - next.lastActivity >= deps.settings.idleMs) return this.passivate(next);
        this.arm(next);
        return next;
      }
      case 'SyncSettled':
        return this.settle(ready, msg);
      default:
        return assertNever(msg);
    }
  }
}

const PASSIVATED: AccountState = Object.freeze({ phase: 'passivated' });

function errorClassName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function parseEnvelope(stored: unknown): EngineEnvelope | null {
  if (typeof stored !== 'object' || stored === null) return null;
  const e = stored as Partial<EngineEnvelope>;
  if (e.v !== ENGINE_ENVELOPE_VERSION || typeof e.computedUntil !== 'number' || !Array.isArray(e.assets) || typeof e.totals !== 'object' || e.totals === null) return null;
  return stored as EngineEnvelope;
}

async function computeAccountMetrics(account: AccountKey, deps: AccountActorDeps, engine: EngineEnvelope | null): Promise<AccountPerformance> {
  const until = engine?.computedUntil ?? null;
  const returns = until === null ? [] : await deps.store.loadHourlyReturns(account, 0, until);
  const totals = engine?.totals ?? { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 };
  return { metrics: deps.computePerformanceStats(returns, totals), snapshot: engine?.snapshot ?? null, computedUntil: until };
}

function assetsOf(fills: readonly Fill[], flows: readonly CashFlow[], known: readonly string[]): string[] {
  const assets = new Set(known);
  for (const f of fills) { assets.add(f.baseAsset); assets.add(f.quoteAsset); assets.add(f.feeAsset); }
  for (const c of flows) assets.add(c.asset);
  return [...assets].sort();
}

/**
 * One sync: pull fill and cash-flow pages (each page committed with its cursor), then value the
 * new history with the engine and store returns, snapshot and engine state together. `progress`
 * is updated as pages commit, so a failed sync still leaves the actor with the stored cursors.
 */
async function runSync(
  account: AccountKey, deps: AccountActorDeps, connector: VenueConnector, mode: SyncMode, trigger: 'request' | 'schedule',
  progress: SyncProgress, signal: AbortSignal, startedAt: EpochMs,
): Promise<SyncResult> {
  const { store } = deps;
  let fillsIngested = 0;
  let cashFlowsIngested = 0;
  let earliestNew = Number.POSITIVE_INFINITY;
  for await (const page of connector.fetchFills(progress.fillsCursor, signal)) {
    signal.throwIfAborted();
    const { inserted } = await store.commitFillsPage(account, page.items, page.cursor);
    progress.fillsCursor = page.cursor;
    fillsIngested += inserted;
    if (inserted > 0) for (const f of page.items) earliestNew = Math.min(earliestNew, f.executedAt);
  }
  for await (const page of connector.fetchCashFlows(progress.cashFlowsCursor, signal)) {
    signal.throwIfAborted();
    const { inserted } = await store.commitCashFlowsPage(account, page.items, page.cursor);
    progress.cashFlowsCursor = page.cursor;
    cashFlowsIngested += inserted;
    if (inserted > 0) for (const c of page.items) earliestNew = Math.min(earliestNew, c.occurredAt);
  }

  const untilHour = Math.floor(deps.clock.now() / HOUR) * HOUR;
  // A record older than the computed history cannot be appended: recompute from the start.
  let engine = progress.engine;
  if (engine !== null && (earliestNew < engine.computedUntil || engine.computedUntil > untilHour)) engine = null;
  const finish = (hours: number, gaps: readonly DataGap[], snapshot: BalanceSnapshot | null): SyncResult => ({
    mode, trigger, fillsIngested, cashFlowsIngested, hourlyReturnsWritten: hours, dataGaps: gaps.length,
    gapKinds: [...new Set(gaps.map((gap) => gap.kind))].sort(), snapshot, startedAt, finishedAt: deps.clock.now(),
  });
  // Nothing new can be valued before the next hour boundary (newer records wait for it).
  if (engine !== null && engine.computedUntil === untilHour) {
    progress.engine = engine;
    return finish(0, [], engine.snapshot);
  }

  let result: AggregationResult;
  let assets: string[];
  try {
    ({ result, assets } = await valueHistory(account, deps, connector, engine, untilHour, signal));
  } catch (error) {
    // The saved state does not fit what storage holds (a record older than it, another base
    // currency, a state from an older engine): the whole record is recomputed instead.
    if (!(error instanceof AggregationInputError) || engine === null) throw error;
    deps.logger?.warn({ account: accountId(account) }, 'saved engine state refused: recomputing from the start');
    engine = null;
    ({ result, assets } = await valueHistory(account, deps, connector, null, untilHour, signal));
  }
  const snapshot = result.snapshot ?? engine?.snapshot ?? null;
  const next: EngineEnvelope = {
    v: ENGINE_ENVELOPE_VERSION, engine: result.state, computedUntil: untilHour, assets,
    totals: { realizedPnl: result.realizedPnl, unrealizedPnl: result.unrealizedPnl, totalFees: result.totalFees }, snapshot,
  };
  await store.saveAggregates(account, { hourlyReturns: result.hourlyReturns, snapshot: result.snapshot, engineState: next });
  progress.engine = next;
  if (engine === null) progress.metrics = { metrics: deps.computePerformanceStats(result.hourlyReturns, next.totals), snapshot, computedUntil: untilHour };
  return finish(result.hourlyReturns.length, result.gaps, snapshot);
}

/**
 * Runs the engine over what storage holds after `engine` (everything when null): fills and flows
 * with computedUntil ≤ t < untilHour (later ones wait for the next run), and candles from one
 * hour before the first hour to compute (its close is the opening mark) up to `untilHour`.
 */
async function valueHistory(
  account: AccountKey, deps: AccountActorDeps, connector: VenueConnector, engine: EngineEnvelope | null, untilHour: EpochMs, signal: AbortSignal,
): Promise<{ result: AggregationResult; assets: string[] }> {
  const { store } = deps;
  const fromMs = engine?.computedUntil ?? 0;
  const [storedFills, storedFlows] = await Promise.all([store.loadFills(account, fromMs), store.loadCashFlows(account, fromMs)]);
  const fills = storedFills.filter((f) => f.executedAt < untilHour);
  const cashFlows = storedFlows.filter((c) => c.occurredAt < untilHour);
  const base = connector.baseCurrency;
  const assets = assetsOf(fills, cashFlows, engine?.assets ?? []);
  const firstRecord = Math.min(fills[0]?.executedAt ?? Infinity, cashFlows[0]?.occurredAt ?? Infinity);
  const firstHour = engine?.computedUntil ?? (Number.isFinite(firstRecord) ? Math.floor(firstRecord / HOUR) * HOUR : untilHour);
  const candleFrom = firstHour - HOUR;
  const symbols = assets.filter((a) => a !== base).map((a) => `${a}/${base}`);
  const needCandles = firstHour < untilHour && symbols.length > 0;
  if (needCandles) {
    for (const symbol of symbols) {
      const candles = await connector.fetchHourlyCandles(symbol, candleFrom, untilHour, signal);
      if (candles.length > 0) await store.upsertCandles(account.exchange, candles);
    }
  }
  const candles = needCandles ? await store.loadCandles(account.exchange, symbols, candleFrom, untilHour) : [];
  signal.throwIfAborted();
  const result = await deps.aggregator.aggregate({
    baseCurrency: base, costMethod: deps.settings.costMethod, state: engine?.engine ?? null, openingBalances: [],
    fills, cashFlows, candles, untilHour,
  }, signal);
  return { result, assets };
}
