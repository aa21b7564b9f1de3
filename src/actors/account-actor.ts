// One actor per (user_uid, exchange). It owns the decrypted credential (memory only), the sync
// cursors and the engine state (positions); it syncs one page at a time, stores aggregates, and
// answers queries from the last committed state. Replies carry counts and aggregates, never a fill.
import type { Logger } from 'pino';
import type { Aggregator, CostMethod, DataGap, PerformanceStats } from '../domain/aggregation.js';
import { DomainError } from '../domain/errors.js';
import { accountId, assertNever, type AccountKey, type SyncMode, type SyncProgress, type BalanceSnapshot, type EpochMs, type HourlyReturn } from '../domain/types.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { VenueError } from '../exchanges/errors.js';
import type { AccountStore } from '../storage/account-store.js';
import { StaleGenerationError, StorageError } from '../storage/errors.js';
import { parseEngineEnvelope, runSyncActivity, type EngineEnvelope, type PnlTotals, type SyncOutcome, type SyncPosition } from './sync-activity.js';
import type { Clock, TimerHandle } from './clock.js';
import { AccountFailedError, AccountNotFoundError, ActorError, OverloadedError, ShuttingDownError, VenueUnavailableError } from './errors.js';
import type { ActorMetrics, ActorStateName, SyncResultLabel } from './metrics.js';
import { reply, replyError, spawn, tell, type ActorRef, type CrashDecision, type Parent, type ReplyTo } from './nact.js';

// ---- Protocol ----


export interface Sync {
  readonly type: 'Sync';
  readonly mode: SyncMode;
  readonly replyTo: ReplyTo<SyncResult>;
  /** Counts as the sync advances (local actors only: a function in a message). Joined callers get it too. */
  readonly onProgress?: (progress: SyncProgress) => void;
}
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

export type { PnlTotals } from './sync-activity.js';

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
  /** Opens the sealed envelope (src/crypto) when a sync needs it; the Buffer is owned and zeroed by the actor. */
  readonly openCredential: (account: AccountKey, envelope: Buffer) => Buffer | Promise<Buffer>;
  readonly connectorFactory: (account: AccountKey, credential: Buffer) => VenueConnector | Promise<VenueConnector>;
  /** The domain's metrics over the published returns. */
  readonly computePerformanceStats: (returns: readonly HourlyReturn[], totals: PnlTotals) => PerformanceStats;
  readonly clock: Clock;
  readonly random: () => number;
  readonly settings: AccountActorSettings;
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

/**
 * By class, never by name: refusals (ours, the venue's except a refused key, the domain's) resume; the storage family's
 * transient errors (StorageUnavailableError: the database is down or dropped the connection) reset
 * from storage without counting towards the cut-off; anything else escalates.
 */
export function crashClassOf(error: unknown): CrashClass {
  // A key the venue refuses will not heal by retrying: it counts towards the cut-off and parks
  // the account (reason venue_auth) instead of failing every sync forever.
  if (error instanceof VenueError && error.kind === 'auth') return 'escalate';
  if (error instanceof ActorError || error instanceof VenueError || error instanceof DomainError) return 'resume';
  if (error instanceof StorageError && error.transient) return 'reset';
  return 'escalate';
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
  readonly progress: SyncProgressState;
  readonly outcome: { readonly ok: true; readonly value: SyncResult } | { readonly ok: false; readonly error: unknown };
}
type Internal = Tick | SyncSettled;
type AnyMessage = AccountMessage | Internal;

/** Where the actor stands in storage, plus the metrics of the last full recompute (GetPerformance answers from it). */
interface SyncProgressState extends SyncPosition {
  metrics: AccountPerformance | null;
}

interface RunningSync {
  readonly runId: number;
  readonly mode: SyncMode;
  readonly trigger: 'request' | 'schedule';
  readonly waiters: ReplyTo<SyncResult>[];
  /** Progress listeners of the request that started it and of every request that joined it. */
  readonly listeners: ((progress: SyncProgress) => void)[];
  readonly abort: AbortController;
  readonly holdsGate: boolean;
  readonly startedAt: EpochMs;
}

interface Session {
  /** The connection's generation when loaded: every write of a sync is fenced by it. */
  readonly generation: number;
  readonly progress: SyncProgressState;
}

interface ReadyState {
  readonly phase: 'ready';
  readonly session: Session;
  readonly running: RunningSync | null;
  /** A full sync asked for while an incremental one runs. */
  readonly queuedFull: readonly ReplyTo<SyncResult>[] | null;
  readonly queuedProgress: readonly ((progress: SyncProgress) => void)[];
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
  /** The sealed credential as loaded (opened only when a sync needs it). */
  private envelope: Buffer | null = null;
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
    return this.options.onCrash(crashClassOf(error), error);
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
      const crash = crashClassOf(error);
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
    // The credential stays sealed until a sync needs it: a query never decrypts a key.
    this.envelope = connection.envelope;
    const [fillsCursor, cashFlowsCursor, stored] = await Promise.all([
      deps.store.loadCursor(account, 'fills'),
      deps.store.loadCursor(account, 'cash_flows'),
      deps.store.loadEngineState(account),
    ]);
    const now = deps.clock.now();
    const state: ReadyState = {
      phase: 'ready', session: { generation: connection.generation, progress: { fillsCursor, cashFlowsCursor, engine: parseEngineEnvelope(stored), recomputed: null, metrics: null } },
      running: null, queuedFull: null, queuedProgress: [], metrics: null, lastActivity: now, nextSyncAt: this.nextSchedule(now), stopWaiters: [],
    };
    this.everStarted = true;
    this.arm(state);
    this.setState('idle');
    return state;
  }

  /** Opens the credential and builds the venue client, once per actor life (zeroed on release). */
  private async connectorFor(): Promise<VenueConnector> {
    if (this.connector !== null) return this.connector;
    const envelope = this.envelope;
    if (envelope === null) throw new ActorError(`${this.id}: no stored connection loaded`);
    const credential = await this.deps.openCredential(this.account, envelope);
    this.credential?.fill(0);
    this.credential = credential;
    this.connector = await this.deps.connectorFactory(this.account, credential);
    return this.connector;
  }

  private async beginSync(
    state: ReadyState, mode: SyncMode, trigger: 'request' | 'schedule', waiters: ReplyTo<SyncResult>[], listeners: ((progress: SyncProgress) => void)[],
  ): Promise<ReadyState> {
    const { deps } = this;
    const connector = await this.connectorFor();
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
    const run: RunningSync = { runId, mode, trigger, waiters, listeners, abort: new AbortController(), holdsGate, startedAt };
    this.running = run;
    this.setState('syncing');
    const progress: SyncProgressState = mode === 'full'
      ? { fillsCursor: null, cashFlowsCursor: null, engine: null, recomputed: null, metrics: null }
      : { ...state.session.progress, recomputed: null, metrics: null };
    const self = this.self;
    const onProgress = (update: SyncProgress): void => {
      for (const listener of run.listeners) {
        try { listener(update); } catch { /* a listener's failure is its caller's, not the sync's */ }
      }
    };
    const activityDeps = { store: deps.store, aggregator: deps.aggregator, clock: deps.clock, costMethod: deps.settings.costMethod, ...(deps.logger === undefined ? {} : { logger: deps.logger }) };
    runSyncActivity(activityDeps, { account: this.account, generation: state.session.generation, connector, mode, position: progress, signal: run.abort.signal, onProgress }).then(
      (outcome) => {
        if (progress.recomputed !== null && progress.engine !== null) {
          progress.metrics = { metrics: deps.computePerformanceStats(progress.recomputed.hourlyReturns, progress.engine.totals), snapshot: progress.engine.snapshot, computedUntil: progress.engine.computedUntil };
        }
        progress.recomputed = null;
        tell(self, { type: 'SyncSettled', runId, progress, outcome: { ok: true, value: syncResult(outcome, mode, trigger, startedAt, deps.clock.now()) } });
      },
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
      if (!(msg.outcome.error instanceof StaleGenerationError)) for (const waiter of run.waiters) replyError(waiter, error);
      const label: SyncResultLabel = msg.outcome.error instanceof VenueError ? 'venue_error' : 'error';
      deps.metrics?.syncFinished(account, label, durationMs, 0, now, msg.outcome.error instanceof VenueError ? msg.outcome.error.kind : undefined);
      deps.logger?.warn({ account: id, error: errorClassName(msg.outcome.error) }, 'sync failed');
      if (msg.outcome.error instanceof StaleGenerationError) {
        // Removed or registered again while this sync ran: its writes were rolled back. Stop (the
        // credential is zeroed); the next request starts from what storage holds now.
        const gone = new AccountNotFoundError(`${id}: the connection changed during the sync`);
        for (const waiter of run.waiters) replyError(waiter, gone);
        for (const waiter of state.queuedFull ?? []) replyError(waiter, gone);
        return this.passivate({ ...next, queuedFull: null, nextSyncAt: null });
      }
      if (crashClassOf(msg.outcome.error) !== 'resume') {
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
      next = await this.beginSync({ ...next, queuedFull: null }, 'full', 'request', waiters, [...next.queuedProgress]);
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
        const listeners = msg.onProgress === undefined ? [] : [msg.onProgress];
        if (ready.running === null) return this.beginSync(ready, msg.mode, 'request', [msg.replyTo], listeners);
        if (msg.mode === 'full' && ready.running.mode === 'incremental') {
          return { ...ready, queuedFull: [...(ready.queuedFull ?? []), msg.replyTo], queuedProgress: [...ready.queuedProgress, ...listeners] };
        }
        ready.running.waiters.push(msg.replyTo);
        ready.running.listeners.push(...listeners);
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
            ? await this.beginSync({ ...next, nextSyncAt: this.nextSchedule(now) }, 'incremental', 'schedule', [], [])
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

function syncResult(outcome: SyncOutcome, mode: SyncMode, trigger: 'request' | 'schedule', startedAt: EpochMs, finishedAt: EpochMs): SyncResult {
  return {
    mode, trigger, fillsIngested: outcome.fillsIngested, cashFlowsIngested: outcome.cashFlowsIngested, hourlyReturnsWritten: outcome.hourlyReturnsWritten,
    dataGaps: outcome.gaps.length, gapKinds: [...new Set(outcome.gaps.map((gap) => gap.kind))].sort(), snapshot: outcome.snapshot, startedAt, finishedAt,
  };
}

function errorClassName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

async function computeAccountMetrics(account: AccountKey, deps: AccountActorDeps, engine: EngineEnvelope | null): Promise<AccountPerformance> {
  const until = engine?.computedUntil ?? null;
  const returns = until === null ? [] : await deps.store.loadHourlyReturns(account, 0, until);
  const totals = engine?.totals ?? { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 };
  return { metrics: deps.computePerformanceStats(returns, totals), snapshot: engine?.snapshot ?? null, computedUntil: until };
}

