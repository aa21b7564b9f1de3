// One actor per (user_uid, exchange). It owns the account's connection: it registers and removes
// it (the only place a credential, sealed or stored, is opened), runs its syncs (the activity in
// sync-activity.ts) one at a time, and keeps its own schedule. Replies carry counts only, never a
// fill. Reads of published aggregates do not come here (src/app/reads.ts answers from storage).
//
// The behaviour is a function of (state, message) → next state: everything the actor knows (its
// session, the opened credential and connector while it has them, its timer, the running sync) is
// in the state value nact holds, so every exit path (passivation, crash, stop) releases exactly
// what that value references.
import type { Logger } from 'pino';
import { DEFAULT_LARGE_FLOW_SHARE, type Aggregator, type CostMethod, type DataGap } from '../domain/aggregation.js';
import { DomainError, WritableCredentialError } from '../domain/errors.js';
import { assertReadOnlyPermissions } from '../domain/permissions.js';
import { accountId, assertNever, type AccountKey, type BalanceSnapshot, type EpochMs, type SyncMode, type SyncProgress, type VenuePermissions } from '../domain/types.js';
import { SealedCredentialError } from '../crypto/errors.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { VenueError } from '../exchanges/errors.js';
import type { AccountStore } from '../storage/account-store.js';
import { ShardLeaseLostError, StaleGenerationError, StorageError } from '../storage/errors.js';
import type { MarketData } from './market-data.js';
import { parseEngineEnvelope, runSyncActivity, type SyncOutcome, type SyncPosition } from './sync-activity.js';
import type { Clock, TimerHandle } from './clock.js';
import { AccountFailedError, AccountNotFoundError, ActorError, ConnectionReplacedError, NotShardOwnerError, OverloadedError, ShuttingDownError, VenueUnavailableError } from './errors.js';
import type { ActorMetrics, ActorStateName, SyncResultLabel } from './metrics.js';
import { reply, replyError, spawn, tell, type ActorRef, type CrashDecision, type Parent, type ReplyTo } from './nact.js';

// ---- Protocol ----

export interface Sync {
  readonly type: 'Sync';
  readonly mode: SyncMode;
  readonly replyTo: ReplyTo<SyncResult>;
  /** Counts as the sync advances (local actors only: a function in a message). Joined callers get it too. */
  readonly onProgress?: (progress: SyncProgress) => void;
  /** Sent by the supervisor's wake-up: the account's own schedule, not a caller's request. */
  readonly scheduled?: boolean;
}
/**
 * Stores a connection from a credential sealed to the enclave identity (HPKE). Refusals
 * (SealedCredentialError, WritableCredentialError, a venue that cannot check the key) are replied
 * as errors and store nothing; a sync running with the previous credential is cancelled.
 */
export interface Register {
  readonly type: 'Register';
  readonly sealed: Uint8Array;
  /** The account holder accepts a trading-capable key where the venue issues no read-only ones (stored with the connection). */
  readonly acceptTradingKeyRisk?: boolean;
  /** The call's cancellation, for the venue's permission check (local actors only). */
  readonly signal?: AbortSignal;
  readonly replyTo: ReplyTo<Registered>;
}
/** Cancels a running sync, zeroes the credential, deletes the account's data in one transaction, replies and stops. */
export interface Remove { readonly type: 'Remove'; readonly keepAggregates: boolean; readonly replyTo: ReplyTo<Removed> }
/** Passivate now: zero the credential and stop (after a running sync finishes). */
export interface Stop { readonly type: 'Stop'; readonly replyTo: ReplyTo<Stopped> }

export type AccountMessage = Sync | Register | Remove | Stop;

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

export interface Registered {
  readonly status: 'active';
  /** False when the venue does not report key permissions (the key was accepted unchecked). */
  readonly permissionsChecked: boolean;
}

export interface Removed {
  /** False when no connection was stored. */
  readonly removed: boolean;
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
  /** A flow above this share of equity splits its hour (config LARGE_FLOW_SHARE). */
  readonly largeFlowShare: number;
}

export const DEFAULT_ACCOUNT_SETTINGS: AccountActorSettings = { syncIntervalMs: 3_600_000, syncJitter: 0.1, idleMs: 900_000, costMethod: 'average', largeFlowShare: DEFAULT_LARGE_FLOW_SHARE };

/** One slot of the full-sync limit; `release` may be called more than once (only the first counts). */
export interface GateLease {
  release(): void;
}

/** Limits whole-history syncs across all accounts (full syncs, and scheduled first syncs): they are heavy. */
export interface FullSyncGate {
  /** A lease, or null when every slot is taken. */
  tryAcquire(): GateLease | null;
}

export interface AccountActorDeps {
  readonly store: AccountStore;
  readonly aggregator: Aggregator;
  /** Opens the stored envelope (src/crypto) when a sync needs it; the Buffer is owned and zeroed by the actor. */
  readonly openCredential: (account: AccountKey, envelope: Buffer) => Buffer | Promise<Buffer>;
  /** Opens a credential sealed to the enclave identity (HPKE intake); SealedCredentialError when it cannot. Zeroed by the actor. */
  readonly openSealed: (account: AccountKey, sealed: Uint8Array) => Promise<Buffer>;
  /** Seals opened credential bytes into the storage envelope (the keyring's current key). */
  readonly sealForStorage: (account: AccountKey, plaintext: Buffer) => Buffer;
  readonly connectorFactory: (account: AccountKey, credential: Buffer) => VenueConnector | Promise<VenueConnector>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly settings: AccountActorSettings;
  readonly fullSyncGate?: FullSyncGate;
  readonly metrics?: ActorMetrics;
  readonly logger?: Logger;
  /** The owner of public per-venue series shared by every account (market-data.ts). */
  readonly marketData?: MarketData;
}

/** How the actor's owner hears about its end of life. */
export interface AccountLifecycle {
  /** The actor released its credential and asks to be stopped (idle, Stop or Remove). */
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
  /** The run it reports on (identity, not a counter: a run cancelled by a restart never matches a later one). */
  readonly run: RunId;
  readonly position: SyncPosition;
  readonly outcome: { readonly ok: true; readonly value: SyncResult } | { readonly ok: false; readonly error: unknown };
}
/**
 * Told to itself when it crashes towards a restart, with the idle timer armed then (a reset state
 * starts cold and empty: this carries the timer into it, so a restarted actor nobody asks for
 * still passivates and hands back its schedule).
 */
interface Restarted { readonly type: 'Restarted'; readonly timer: TimerHandle; readonly keepsSchedule: boolean }
type Internal = Tick | SyncSettled | Restarted;
type AnyMessage = AccountMessage | Internal;

type RunId = { readonly run: true };

interface RunningSync {
  readonly id: RunId;
  readonly mode: SyncMode;
  readonly trigger: 'request' | 'schedule';
  readonly waiters: readonly ReplyTo<SyncResult>[];
  /**
   * Progress listeners of the request that started it and of every request that joined it. The
   * one mutable array here: the running activity reads it, so a caller joining later hears too.
   */
  readonly listeners: ((progress: SyncProgress) => void)[];
  readonly abort: AbortController;
  readonly lease: GateLease | null;
  readonly startedAt: EpochMs;
}

interface Session {
  /** The connection's generation when loaded: every write of a sync is fenced by it. */
  readonly generation: number;
  /** The sealed credential as stored (opened only when a sync needs it). */
  readonly envelope: Buffer;
  readonly position: SyncPosition;
}

/** Not started: no session loaded (a fresh actor, or one reset after a crash). */
interface ColdState {
  readonly phase: 'cold';
  /** Armed after a restart: passivates the actor if nothing asks for it. */
  readonly timer: TimerHandle | null;
  /** It ran before the restart: hand its schedule back when passivating. */
  readonly keepsSchedule: boolean;
}

interface ReadyState {
  readonly phase: 'ready';
  readonly session: Session;
  /** The opened credential, while a connector built from it is held; zeroed on every exit path. */
  readonly credential: Buffer | null;
  readonly connector: VenueConnector | null;
  /** The next idle check or scheduled sync. */
  readonly timer: TimerHandle | null;
  readonly running: RunningSync | null;
  /** A full sync asked for while an incremental one runs. */
  readonly queuedFull: readonly ReplyTo<SyncResult>[] | null;
  readonly queuedProgress: readonly ((progress: SyncProgress) => void)[];
  readonly lastActivity: EpochMs;
  readonly nextSyncAt: EpochMs | null;
  readonly stopWaiters: readonly ReplyTo<Stopped>[];
}

interface PassivatedState { readonly phase: 'passivated' }

type AccountState = ColdState | ReadyState | PassivatedState;

const INITIAL_STATE: ColdState = Object.freeze({ phase: 'cold', timer: null, keepsSchedule: false });
const PASSIVATED: PassivatedState = Object.freeze({ phase: 'passivated' });
const TICK: Tick = Object.freeze({ type: 'Tick' });

export interface SpawnAccountOptions {
  readonly parent: Parent;
  readonly name: string;
  readonly account: AccountKey;
  readonly deps: AccountActorDeps;
  readonly lifecycle: AccountLifecycle;
  /** Called with the error class; the owner (supervisor) decides and may wait a backoff. */
  readonly onCrash: (crash: CrashClass, error: unknown) => CrashDecision | Promise<CrashDecision>;
}

/** What the behaviour is a function of besides its state: fixed for the actor's life. */
interface Env {
  readonly account: AccountKey;
  readonly id: string;
  readonly deps: AccountActorDeps;
  readonly lifecycle: AccountLifecycle;
  readonly self: ActorRef<AnyMessage>;
  /** Tells the actor a Tick (one function per actor, not one per timer). */
  readonly onTimer: () => void;
}

export function spawnAccountActor(options: SpawnAccountOptions): ActorRef<AccountMessage> {
  const { account, deps, lifecycle } = options;
  // The ref exists only once spawned; the environment is completed right after (before any message runs).
  const env = { account, id: accountId(account), deps, lifecycle } as { -readonly [K in keyof Env]: Env[K] };
  env.onTimer = () => { tell(env.self, TICK); };
  env.self = spawn<AccountState, AnyMessage>(options.parent, options.name, (state, msg) => receive(env, state, msg), {
    initialState: INITIAL_STATE,
    onCrash: (error) => options.onCrash(crashClassOf(error), error),
    afterStop: (state, undelivered) => afterStop(env, state, undelivered),
  });
  return env.self as ActorRef<AccountMessage>;
}

// ---- Behaviour: (state, message) → next state ----

function isRequest(msg: AnyMessage): msg is AccountMessage {
  return msg.type === 'Sync' || msg.type === 'Register' || msg.type === 'Remove' || msg.type === 'Stop';
}

async function receive(env: Env, state: AccountState, msg: AnyMessage): Promise<AccountState> {
  let next: AccountState;
  try {
    next = await handle(env, state, msg);
  } catch (error) {
    if (isRequest(msg)) replyError(msg.replyTo as ReplyTo<never>, toActorError(error, env.account));
    if (crashClassOf(error) !== 'resume') {
      // Nact keeps (resume) or drops (reset, stop) the state it holds: the one this message started
      // from. Its resources go now; a reset actor hears Restarted and starts its idle timer again.
      setMetricState(env, 'restarting');
      await release(state, () => new ActorError(`${env.id}: restarting`));
      const timer = env.deps.clock.setTimer(env.deps.settings.idleMs, env.onTimer);
      // A cold actor crashed on its first message (a Sync whose start failed, as a scheduled wake's
      // does under storage trouble): that message was its schedule (the supervisor's wake is spent),
      // so it keeps one too, else an account that never synced would never be woken again.
      tell(env.self, { type: 'Restarted', timer, keepsSchedule: state.phase === 'ready' || state.phase === 'cold' });
    }
    throw error;
  }
  return next.phase === 'ready' ? rearm(env, next) : next;
}

async function afterStop(env: Env, state: AccountState, undelivered: readonly AnyMessage[]): Promise<void> {
  await release(state, () => new ShuttingDownError(`${env.id}: stopped`));
  for (const msg of undelivered) if (msg.type === 'Restarted') msg.timer.cancel();
  env.lifecycle.stopped(env.self as ActorRef<AccountMessage>, undelivered.filter(isRequest));
}

function handle(env: Env, state: AccountState, msg: AnyMessage): Promise<AccountState> | AccountState {
  switch (state.phase) {
    case 'passivated':
      if (msg.type === 'Restarted') msg.timer.cancel();
      return state;
    case 'cold':
      return handleCold(env, state, msg);
    case 'ready':
      return handleReady(env, state, msg);
    default:
      return assertNever(state);
  }
}

async function handleCold(env: Env, state: ColdState, msg: AnyMessage): Promise<AccountState> {
  const { deps } = env;
  switch (msg.type) {
    case 'SyncSettled':
      return state; // a sync cancelled by a restart
    case 'Restarted':
      state.timer?.cancel();
      return { phase: 'cold', timer: msg.timer, keepsSchedule: msg.keepsSchedule };
    case 'Tick':
      // Hand the schedule to the supervisor, so an account that crashed still syncs on time.
      return passivateCold(env, state, state.keepsSchedule ? nextSchedule(env, deps.clock.now()) : null);
    case 'Stop':
      reply(msg.replyTo, { stopped: true });
      return passivateCold(env, state, null);
    case 'Remove': {
      // No session is needed: the account may be unknown, parked or stored as failed.
      const removed = await removeStored(env, msg.keepAggregates);
      reply(msg.replyTo, { removed });
      return passivateCold(env, state, null);
    }
    case 'Register': {
      // A new account has no stored row to start from: register first, then start from it.
      const registered = await register(env, msg);
      if (registered === null) return state;
      const started = await start(env);
      if (typeof started === 'string') {
        reply(msg.replyTo, registered.reply);
        return passivateCold(env, state, null); // removed again meanwhile
      }
      state.timer?.cancel();
      // Armed before the reply: whoever hears "registered" finds its schedule running.
      const ready = rearm(env, started);
      reply(msg.replyTo, registered.reply);
      return ready;
    }
    case 'Sync': {
      const started = await start(env);
      if (started === 'missing') {
        replyError(msg.replyTo, new AccountNotFoundError(`no connection for ${env.id}`));
        // Passivate at once: an id nobody connected must not keep an actor and a labelled metric
        // series alive (any well-formed user_uid a caller sends would otherwise add one).
        return passivateCold(env, state, null);
      }
      if (started === 'failed') {
        replyError(msg.replyTo, new AccountFailedError(`${env.id} is marked failed`));
        setMetricState(env, 'failed');
        state.timer?.cancel();
        env.lifecycle.storedFailed(env.self as ActorRef<AccountMessage>);
        return PASSIVATED;
      }
      state.timer?.cancel();
      return handleReady(env, started, msg);
    }
    default:
      return assertNever(msg);
  }
}

async function handleReady(env: Env, state: ReadyState, msg: AnyMessage): Promise<AccountState> {
  const { deps } = env;
  const ready: ReadyState = isRequest(msg) ? { ...state, lastActivity: deps.clock.now() } : state;
  switch (msg.type) {
    case 'Sync': {
      const listeners = msg.onProgress === undefined ? [] : [msg.onProgress];
      const running = ready.running;
      if (running === null) return beginSync(env, ready, msg.mode, msg.scheduled === true ? 'schedule' : 'request', [msg.replyTo], listeners);
      if (msg.mode === 'full' && running.mode === 'incremental') {
        return { ...ready, queuedFull: [...(ready.queuedFull ?? []), msg.replyTo], queuedProgress: [...ready.queuedProgress, ...listeners] };
      }
      running.listeners.push(...listeners);
      return { ...ready, running: { ...running, waiters: [...running.waiters, msg.replyTo] } };
    }
    case 'Register': {
      const registered = await register(env, msg);
      if (registered === null) return ready;
      // The stored connection is new: the old credential, its connector and a sync using them go
      // (the sync's writes carry the old generation: the fence refuses any that comes late).
      const next = await dropConnection(env, ready, new ConnectionReplacedError(`${env.id}: the connection was registered again during the sync`));
      reply(msg.replyTo, registered.reply);
      return { ...next, session: { ...next.session, generation: registered.generation, envelope: registered.envelope } };
    }
    case 'Remove': {
      // Cancel rather than await a running sync: everything it would write is about to be deleted,
      // and a full sync could outlast the call's deadline. Its pages commit atomically with their
      // cursors, and a write still in flight after the delete is refused by the generation fence.
      const next = await dropConnection(env, ready, new AccountNotFoundError(`${env.id}: the connection was removed`));
      const removed = await removeStored(env, msg.keepAggregates);
      reply(msg.replyTo, { removed });
      return passivate(env, { ...next, nextSyncAt: null });
    }
    case 'Stop':
      if (ready.running !== null) return { ...ready, stopWaiters: [...ready.stopWaiters, msg.replyTo] };
      return passivate(env, { ...ready, stopWaiters: [...ready.stopWaiters, msg.replyTo] });
    case 'Tick': {
      const now = deps.clock.now();
      let next = ready;
      if (next.nextSyncAt !== null && next.nextSyncAt <= now) {
        next = next.running === null
          ? await beginSync(env, { ...next, nextSyncAt: nextSchedule(env, now) }, 'incremental', 'schedule', [], [])
          : { ...next, nextSyncAt: nextSchedule(env, now) };
      }
      if (next.running === null && next.queuedFull === null && now - next.lastActivity >= deps.settings.idleMs) return passivate(env, next);
      return next;
    }
    case 'SyncSettled':
      return settle(env, ready, msg);
    case 'Restarted':
      msg.timer.cancel(); // resumed, not reset: the state kept its own timer
      return ready;
    default:
      return assertNever(msg);
  }
}

async function start(env: Env): Promise<ReadyState | 'missing' | 'failed'> {
  const { deps, account } = env;
  setMetricState(env, 'starting');
  // One read where the store offers it (issue 19), else the four reads apart.
  const loaded = deps.store.loadSyncStart === undefined ? null : await deps.store.loadSyncStart(account);
  const connection = loaded === null ? await deps.store.loadConnection(account) : loaded.connection;
  if (connection === null || connection.status === 'disabled') return 'missing';
  // Parked by the crash-loop cut-off (maybe by an earlier process): stays so until revived.
  if (connection.status === 'failed') return 'failed';
  const [fillsCursor, cashFlowsCursor, stored] = loaded !== null ? [loaded.fillsCursor, loaded.cashFlowsCursor, loaded.engineState] : await Promise.all([
    deps.store.loadCursor(account, 'fills'),
    deps.store.loadCursor(account, 'cash_flows'),
    deps.store.loadEngineState(account),
  ]);
  const now = deps.clock.now();
  setMetricState(env, 'idle');
  return {
    phase: 'ready',
    // The credential stays sealed until a sync needs it.
    session: { generation: connection.generation, envelope: connection.envelope, position: { fillsCursor, cashFlowsCursor, engine: parseEngineEnvelope(stored) } },
    credential: null, connector: null, timer: null, running: null, queuedFull: null, queuedProgress: [],
    lastActivity: now, nextSyncAt: nextSchedule(env, now), stopWaiters: [],
  };
}

/**
 * Opens the sealed credential, asks the venue what the key may do through a short-lived
 * connector, and stores the storage envelope (a new generation). Refusals are replied here and
 * return null: nothing is stored and the actor stays as it was. The plaintext is zeroed on every path.
 */
async function register(env: Env, msg: Register): Promise<{ reply: Registered; generation: number; envelope: Buffer } | null> {
  const { deps, account } = env;
  const refuse = (error: Error): null => { replyError(msg.replyTo, error); return null; };
  let plaintext: Buffer;
  try {
    plaintext = await deps.openSealed(account, msg.sealed);
  } catch (error) {
    if (error instanceof SealedCredentialError) return refuse(error);
    throw error;
  }
  try {
    let permissions: VenuePermissions;
    try {
      permissions = await fetchPermissions(env, plaintext, msg.signal);
      assertReadOnlyPermissions(permissions, { acceptTradingRights: msg.acceptTradingKeyRisk === true });
    } catch (error) {
      // The caller went away (its ask already rejected), or the key is refused: not our failure.
      if (msg.signal?.aborted === true) return null;
      if (error instanceof WritableCredentialError) return refuse(error);
      if (error instanceof VenueError) return refuse(toActorError(error, account));
      throw error;
    }
    const envelope = deps.sealForStorage(account, plaintext);
    const generation = await deps.store.saveConnection(account, envelope, { acceptTradingKeyRisk: msg.acceptTradingKeyRisk === true });
    deps.logger?.info({ account: env.id, permissionsChecked: permissions.reported }, 'connection registered');
    return { reply: { status: 'active', permissionsChecked: permissions.reported }, generation, envelope };
  } finally {
    plaintext.fill(0);
  }
}

async function fetchPermissions(env: Env, plaintext: Buffer, signal: AbortSignal | undefined): Promise<VenuePermissions> {
  const connector = await env.deps.connectorFactory(env.account, plaintext);
  try {
    return connector.fetchPermissions === undefined ? { reported: false } : await connector.fetchPermissions(signal);
  } finally {
    await closeQuietly(connector);
  }
}

async function removeStored(env: Env, keepAggregates: boolean): Promise<boolean> {
  const removed = await env.deps.store.removeAccount(env.account, { keepAggregates });
  env.deps.logger?.info({ account: env.id, removed, keepAggregates }, 'connection removed');
  return removed;
}

/** The session's connector, opening the credential first if needed. Nothing is kept when it fails. */
async function withConnector(env: Env, state: ReadyState): Promise<ReadyState & { readonly connector: VenueConnector }> {
  const held = state.connector;
  if (held !== null) return { ...state, connector: held };
  const credential = await env.deps.openCredential(env.account, state.session.envelope);
  try {
    const connector = await env.deps.connectorFactory(env.account, credential);
    return { ...state, credential, connector };
  } catch (error) {
    credential.fill(0);
    throw error;
  }
}

async function beginSync(
  env: Env, state: ReadyState, mode: SyncMode, trigger: 'request' | 'schedule', waiters: readonly ReplyTo<SyncResult>[], listeners: ((progress: SyncProgress) => void)[],
): Promise<ReadyState> {
  const { deps, account } = env;
  // A whole history is heavy: full syncs, and the first syncs the service starts on its own (a
  // shard's onboarding starts hundreds at once), share the gate's few slots. A scheduled first
  // sync finding none waits a little and tries again, with no credential opened; at 1,000 accounts
  // ungated first syncs starved the onboarded accounts' own syncs for minutes (docs/scale-out.md).
  let lease: GateLease | null = null;
  const wholeHistory = mode === 'full' || (trigger === 'schedule' && startsFromNothing(state.session.position));
  if (wholeHistory && deps.fullSyncGate !== undefined) {
    lease = deps.fullSyncGate.tryAcquire();
    if (lease === null) {
      const scheduledFirst = mode !== 'full';
      const error = new OverloadedError(scheduledFirst ? 'every whole-history slot is taken; the schedule tries again shortly' : 'too many full syncs in progress; retry later');
      for (const waiter of waiters) replyError(waiter, error);
      if (scheduledFirst) return { ...state, nextSyncAt: gateRetryAt(env, deps.clock.now()) };
      deps.metrics?.syncFinished(account, 'overloaded', 0, 0, deps.clock.now());
      return state;
    }
  }
  let held: ReadyState & { readonly connector: VenueConnector };
  try {
    held = await withConnector(env, state);
  } catch (error) {
    lease?.release();
    throw error;
  }
  const startedAt = deps.clock.now();
  const run: RunningSync = { id: { run: true }, mode, trigger, waiters, listeners, abort: new AbortController(), lease, startedAt };
  setMetricState(env, 'syncing');
  const position: SyncPosition = mode === 'full' ? { fillsCursor: null, cashFlowsCursor: null, engine: null } : { ...state.session.position };
  const onProgress = (update: SyncProgress): void => {
    for (const listener of run.listeners) {
      try { listener(update); } catch { /* a listener's failure is its caller's, not the sync's */ }
    }
  };
  const activityDeps = { store: deps.store, aggregator: deps.aggregator, clock: deps.clock, costMethod: deps.settings.costMethod, largeFlowShare: deps.settings.largeFlowShare, ...(deps.logger === undefined ? {} : { logger: deps.logger }), ...(deps.marketData === undefined ? {} : { marketData: deps.marketData }) };
  runSyncActivity(activityDeps, { account, generation: state.session.generation, connector: held.connector, mode, position, signal: run.abort.signal, onProgress }).then(
    (outcome) => { tell(env.self, { type: 'SyncSettled', run: run.id, position, outcome: { ok: true, value: syncResult(outcome, mode, trigger, startedAt, deps.clock.now()) } }); },
    (error: unknown) => { tell(env.self, { type: 'SyncSettled', run: run.id, position, outcome: { ok: false, error } }); },
  );
  return { ...held, running: run };
}

async function settle(env: Env, state: ReadyState, msg: SyncSettled): Promise<AccountState> {
  const { deps, account, id } = env;
  const run = state.running;
  if (run?.id !== msg.run) return state; // a sync cancelled by a restart, a Register or a Remove
  run.lease?.release();
  const now = deps.clock.now();
  const durationMs = Math.max(0, now - run.startedAt);
  let next: ReadyState = { ...state, running: null, lastActivity: now, session: { ...state.session, position: msg.position } };
  if (msg.outcome.ok) {
    const result = msg.outcome.value;
    for (const waiter of run.waiters) reply(waiter, result);
    deps.metrics?.syncFinished(account, 'ok', durationMs, result.fillsIngested, now);
    deps.logger?.info({ account: id, mode: result.mode, trigger: result.trigger, fillCount: result.fillsIngested, hourCount: result.hourlyReturnsWritten, durationMs }, 'sync finished');
  } else {
    const failure = msg.outcome.error;
    const label: SyncResultLabel = failure instanceof VenueError ? 'venue_error' : 'error';
    deps.metrics?.syncFinished(account, label, durationMs, 0, now, failure instanceof VenueError ? failure.kind : undefined);
    deps.logger?.warn({ account: id, error: errorClassName(failure) }, 'sync failed');
    if (failure instanceof ShardLeaseLostError) {
      // The shard fence refused a write: the lease was lost, or only past its acting deadline for a
      // moment (a late renewal; the shard is still held). Stop either way (the credential is
      // zeroed), but hand the schedule back, soon: the supervisor keeps it only while this instance
      // still holds the shard (a new owner restores its own). Dropping it left an account that
      // never synced without any schedule on the instance that kept its shard (issue 18).
      const lost = new NotShardOwnerError(`${id}: this instance lost the account's shard during the sync`);
      for (const waiter of [...run.waiters, ...(state.queuedFull ?? [])]) replyError(waiter, lost);
      return passivate(env, { ...next, queuedFull: null, nextSyncAt: fenceRetryAt(env, now) });
    }
    if (failure instanceof StaleGenerationError) {
      // Removed or registered again by someone else while this sync ran: its writes were rolled
      // back. Stop (the credential is zeroed); the next request starts from what storage holds now.
      const gone = new AccountNotFoundError(`${id}: the connection changed during the sync`);
      for (const waiter of [...run.waiters, ...(state.queuedFull ?? [])]) replyError(waiter, gone);
      return passivate(env, { ...next, queuedFull: null, nextSyncAt: null });
    }
    const error = toActorError(failure, account);
    for (const waiter of run.waiters) replyError(waiter, error);
    if (crashClassOf(failure) !== 'resume') {
      // The in-memory view may be ahead of or behind storage: let supervision restart from storage.
      for (const waiter of [...(state.queuedFull ?? []), ...state.stopWaiters]) replyError(waiter, error);
      throw failure;
    }
  }
  next = { ...next, nextSyncAt: nextSchedule(env, now) };
  setMetricState(env, 'idle');
  if (next.queuedFull !== null) {
    const waiters = next.queuedFull;
    const listeners = [...next.queuedProgress];
    return beginSync(env, { ...next, queuedFull: null, queuedProgress: [] }, 'full', 'request', waiters, listeners);
  }
  if (next.stopWaiters.length > 0) return passivate(env, next);
  return next;
}

/** Cancels the running and queued syncs (their callers get `error`), zeroes the credential and closes the connector. */
async function dropConnection(env: Env, state: ReadyState, error: ActorError): Promise<ReadyState> {
  if (state.running !== null) cancelRun(state.running, error);
  for (const waiter of state.queuedFull ?? []) replyError(waiter, error);
  state.credential?.fill(0);
  await closeQuietly(state.connector);
  setMetricState(env, 'idle');
  return { ...state, running: null, queuedFull: null, queuedProgress: [], credential: null, connector: null };
}

async function passivate(env: Env, state: ReadyState): Promise<AccountState> {
  await release(state, () => new ShuttingDownError(`${env.id}: passivated`));
  env.lifecycle.passivate(env.self as ActorRef<AccountMessage>, state.nextSyncAt);
  return PASSIVATED;
}

function passivateCold(env: Env, state: ColdState, nextSyncAt: EpochMs | null): AccountState {
  state.timer?.cancel();
  env.lifecycle.passivate(env.self as ActorRef<AccountMessage>, nextSyncAt);
  return PASSIVATED;
}

/**
 * Releases everything `state` references: timer cancelled, credential zeroed, running sync
 * aborted (its callers answered), connector closed. Safe to run twice on the same state.
 */
async function release(state: AccountState, reason: () => ActorError): Promise<void> {
  if (state.phase === 'passivated') return;
  state.timer?.cancel();
  if (state.phase === 'cold') return;
  state.credential?.fill(0);
  if (state.running !== null) cancelRun(state.running, reason());
  for (const waiter of state.queuedFull ?? []) replyError(waiter, reason());
  for (const waiter of state.stopWaiters) reply(waiter, { stopped: true });
  await closeQuietly(state.connector);
}

function cancelRun(run: RunningSync, error: ActorError): void {
  run.abort.abort(error);
  for (const waiter of run.waiters) replyError(waiter, error);
  run.lease?.release();
}

/** A connector that fails to close must not stop a release (the credential is already zeroed). */
async function closeQuietly(connector: VenueConnector | null): Promise<void> {
  if (connector !== null) await Promise.resolve().then(async () => connector.close()).catch(() => undefined);
}

/** The state's timer re-armed for its next idle check or scheduled sync, whichever comes first. */
function rearm(env: Env, state: ReadyState): ReadyState {
  state.timer?.cancel();
  const { clock, settings } = env.deps;
  const idleAt = state.lastActivity + settings.idleMs;
  const at = state.nextSyncAt === null ? idleAt : Math.min(idleAt, state.nextSyncAt);
  return { ...state, timer: clock.setTimer(Math.max(0, at - clock.now()), env.onTimer) };
}

/** After a write the shard fence refused: in a tenth of the interval (at most a minute), when a late renewal is in. */
function fenceRetryAt(env: Env, from: EpochMs): EpochMs | null {
  const { syncIntervalMs } = env.deps.settings;
  return syncIntervalMs <= 0 ? null : from + Math.max(1, Math.min(60_000, Math.round(syncIntervalMs / 10)));
}

/** When a scheduled first sync that found no slot tries again: soon, spread so the waiters do not wake together. */
function gateRetryAt(env: Env, from: EpochMs): EpochMs {
  const step = Math.max(100, Math.min(5_000, Math.round(env.deps.settings.syncIntervalMs / 20)));
  return from + Math.round(step * (0.5 + env.deps.random()));
}

/** Nothing synced yet: the sync reads the account's whole history. */
function startsFromNothing(position: SyncPosition): boolean {
  return position.fillsCursor === null && position.cashFlowsCursor === null && position.engine === null;
}

function nextSchedule(env: Env, from: EpochMs): EpochMs | null {
  const { syncIntervalMs, syncJitter } = env.deps.settings;
  if (syncIntervalMs <= 0) return null;
  return from + Math.round(syncIntervalMs * (1 + syncJitter * (2 * env.deps.random() - 1)));
}

function setMetricState(env: Env, state: ActorStateName): void {
  env.deps.metrics?.setState(env.account, state);
}

function syncResult(outcome: SyncOutcome, mode: SyncMode, trigger: 'request' | 'schedule', startedAt: EpochMs, finishedAt: EpochMs): SyncResult {
  return {
    mode, trigger, fillsIngested: outcome.fillsIngested, cashFlowsIngested: outcome.cashFlowsIngested, hourlyReturnsWritten: outcome.hourlyReturnsWritten,
    dataGaps: outcome.gaps.length, gapKinds: [...new Set(outcome.gaps.map((gap) => gap.kind))].sort(), snapshot: outcome.snapshot, startedAt, finishedAt,
  };
}

function errorClassName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
