// The supervisor owns the map of account actors: it spawns one on the first message for an
// account, routes requests to it, restarts it after a crash with exponential backoff and jitter,
// parks it as failed after too many crashes in a window, passivates it when idle (credential
// zeroed, actor stopped, its next scheduled sync kept as a wake-up), and shuts everything down.
// This is the typed API the gRPC layer's adapter calls for everything an account actor owns
// (sync, register, remove); listing is a query of the supervisor itself (storage plus what it
// knows in memory). Reads of published aggregates do not come here (src/app/reads.ts).
import type { DisclosureLevel } from '../domain/disclosure.js';
import type { Logger } from 'pino';
import { accountId, type AccountKey, type ConnectionStatus, type EpochMs } from '../domain/types.js';
import {
  spawnAccountActor, type AccountActorDeps, type AccountLifecycle, type AccountMessage, type CrashClass, type FullSyncGate, type Registered, type Removed, type SyncResult,
} from './account-actor.js';
import { type ParkedReason, type SyncMode, type SyncProgress } from '../domain/types.js';
import { EnvelopeOpenError } from '../crypto/errors.js';
import { TamperDetectedError } from '../storage/errors.js';
import { VenueError } from '../exchanges/errors.js';
import { backoffDelay, sleepOn, type TimerHandle } from './clock.js';
import { AccountFailedError, ActorError, NotShardOwnerError, OverloadedError, ShuttingDownError } from './errors.js';
import { NO_PARKED, type ActorMetrics, type RuntimeTotals } from './metrics.js';
import {
  ActorStoppedError, ask, isAlive, mailboxDepth, replyError, spawn, startSystem, stop, stopped, stopSystem, tell,
  type ActorRef, type ActorSystem, type ChildCrashDecision, type CrashDecision, type ReplyTo,
} from './nact.js';

export interface CrashPolicy {
  /** Crashes (escalated errors) within `windowMs` that park the account as failed. */
  readonly maxCrashes: number;
  readonly windowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_CRASH_POLICY: CrashPolicy = { maxCrashes: 5, windowMs: 600_000, backoffBaseMs: 1_000, backoffMaxMs: 60_000 };

export interface SupervisorOptions {
  /** Everything an account actor needs, wired once (src/app/service.ts) or per test. */
  readonly deps: Omit<AccountActorDeps, 'metrics' | 'fullSyncGate'>;
  readonly metrics?: ActorMetrics;
  readonly crashPolicy?: Partial<CrashPolicy>;
  /** Full syncs running at once across all accounts; more are refused with OverloadedError. */
  readonly maxConcurrentFullSyncs?: number;
  /** Ask timeout when the caller gives no signal (scheduled work, internal stops). */
  readonly defaultTimeoutMs?: number;
  readonly system?: ActorSystem;
  readonly logger?: Logger;
  /**
   * Scale-out (issue 18): whether this instance holds the account's shard. Commands for other
   * accounts are refused with NotShardOwnerError and scheduled wakes of theirs are dropped.
   * Default: every account is ours (one instance).
   */
  readonly owns?: (account: AccountKey) => boolean;
  /**
   * Scale-out: whether the account's shard is in this instance's lease book at all, usable now or
   * only past its acting deadline for a moment (a late renewal). Schedules are kept while it is:
   * a wake that finds the lease unusable comes back after `leaseRetryMs` instead of being dropped
   * (the shard's loss stops and forgets its accounts through stopWhere). Default: `owns`.
   */
  readonly holds?: (account: AccountKey) => boolean;
  /** When a wake finds the account's lease momentarily unusable, it tries again after this long (default 1 s; the service: one lease poll). */
  readonly leaseRetryMs?: number;
  /**
   * Scale-out: an account's actor started (after `owns` said yes) or stopped. The lease book pins
   * the shard's epoch at the start, and the actor's writes are fenced with that epoch (issue 18).
   */
  readonly actorLifecycle?: ActorLifecycle;
  /** Keeps each account's next scheduled sync in storage, so a shard's next owner keeps the schedule. */
  readonly saveNextSyncAt?: (account: AccountKey, at: EpochMs | null) => Promise<void>;
}

export type AccountRuntimeStatus = 'alive' | 'passivated' | 'failed' | 'unknown';

/** What a request carries: the call's cancellation (its one deadline) and, for a sync, a progress listener. */
export interface SyncCall {
  /** Aborts the ask (reason: the signal's reason). Without it the supervisor's default timeout applies. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: SyncProgress) => void;
}

/** One stored connection as the runtime sees it: a parked actor is failed even before its row says so. */
export interface ConnectionListing {
  readonly account: AccountKey;
  readonly status: ConnectionStatus;
  /** Why it is parked (a fixed class); null unless failed. */
  readonly parkedReason: ParkedReason | null;
  /** What the account publishes (src/domain/disclosure.ts). */
  readonly disclosureLevel: DisclosureLevel;
}

export interface Supervisor {
  /** Runs (or joins) a sync. */
  sync(account: AccountKey, mode: SyncMode, call?: SyncCall): Promise<SyncResult>;
  /**
   * Registers a credential sealed to the enclave identity through the account's actor (which
   * alone opens it). Refusals reject with SealedCredentialError, WritableCredentialError or
   * VenueUnavailableError, and store nothing. A parked account takes a new credential: it is
   * un-parked once the credential is stored.
   */
  register(account: AccountKey, sealed: Uint8Array, signal?: AbortSignal, options?: { readonly acceptTradingKeyRisk?: boolean }): Promise<Registered>;
  /** Deletes the account through its actor (a running sync is cancelled), parked or not; then forgets it. */
  remove(account: AccountKey, keepAggregates: boolean, signal?: AbortSignal): Promise<Removed>;
  /** Every stored connection, with the failed state this process knows before its row does. */
  list(): Promise<readonly ConnectionListing[]>;
  /** Passivates the account's actor now (after a running sync). */
  passivate(account: AccountKey): Promise<void>;
  /** Makes a passivated account sync by itself at `at` (the composition root calls this for stored accounts at start). */
  scheduleWake(account: AccountKey, at: EpochMs): void;
  /** Clears the failed mark, in storage first, then in memory (an operator fixed the cause). True when it was parked. */
  revive(account: AccountKey): Promise<boolean>;
  status(account: AccountKey): AccountRuntimeStatus;
  /** Why the account is parked in this process (null when it is not, or only storage knows). */
  parkedReason(account: AccountKey): ParkedReason | null;
  totals(): RuntimeTotals;
  /**
   * Stops (after their running sync, within `graceMs`) and forgets the actors of every account that
   * matches, with their scheduled wakes: their shard went to another instance. Credentials are zeroed.
   */
  stopWhere(matches: (account: AccountKey) => boolean, graceMs: number): Promise<void>;
  /** Stops taking work, lets running syncs finish within `graceMs`, then stops every actor; every credential is zeroed when it resolves. */
  shutdown(graceMs: number): Promise<void>;
}

interface SupervisorHooks {
  onPassivated(entry: Entry, nextSyncAt: EpochMs | null): void;
  onStopped(entry: Entry, self: ActorRef<AccountMessage>, undelivered: readonly AccountMessage[]): void;
  onStoredFailed(entry: Entry): void;
  onCrash(entry: Entry, crash: CrashClass): Promise<CrashDecision>;
}

/** One account's place in the supervisor's map; also the lifecycle its actor reports to. */
class Entry implements AccountLifecycle {
  ref: ActorRef<AccountMessage> | null = null;
  name: string | null = null;
  crashes: EpochMs[] = [];
  resets = 0;
  failed = false;
  /** Failed by the stored status (found at start), not by crashes in this process. */
  failedInStorage = false;
  /** Why it is parked: the class of the error that parked it. */
  parkedReason: ParkedReason | null = null;
  wake: TimerHandle | null = null;
  // Bound once per account (cheaper than closures per spawn).
  readonly onCrash: (crash: CrashClass) => Promise<CrashDecision>;
  readonly mailbox: () => number;

  constructor(readonly account: AccountKey, private readonly hooks: SupervisorHooks) {
    this.onCrash = this.crash.bind(this);
    this.mailbox = this.depth.bind(this);
  }

  passivate(self: ActorRef<AccountMessage>, nextSyncAt: EpochMs | null): void {
    if (this.ref === self) this.ref = null;
    void stop(self as ActorRef<never>);
    this.hooks.onPassivated(this, nextSyncAt);
  }

  stopped(self: ActorRef<AccountMessage>, undelivered: readonly AccountMessage[]): void {
    if (this.ref === self) this.ref = null;
    this.hooks.onStopped(this, self, undelivered);
  }

  storedFailed(self: ActorRef<AccountMessage>): void {
    if (this.ref === self) this.ref = null;
    void stop(self as ActorRef<never>);
    this.hooks.onStoredFailed(this);
  }

  private crash(crash: CrashClass): Promise<CrashDecision> {
    return this.hooks.onCrash(this, crash);
  }

  private depth(): number {
    return this.ref === null ? 0 : mailboxDepth(this.ref as ActorRef<never>);
  }
}

type Request<R> = (replyTo: ReplyTo<R>) => AccountMessage;

export interface ActorLifecycle {
  started(account: AccountKey): void;
  stopped(account: AccountKey): void;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { deps, metrics, logger } = options;
  const owns = options.owns ?? (() => true);
  const holds = options.holds ?? owns;
  const leaseRetryMs = options.leaseRetryMs ?? 1_000;
  const persistNext = (account: AccountKey, at: EpochMs | null): void => {
    options.saveNextSyncAt?.(account, at).catch(() => {
      logger?.warn({ account: accountId(account) }, 'could not store the next sync time');
    });
  };
  const clock = deps.clock;
  const policy: CrashPolicy = { ...DEFAULT_CRASH_POLICY, ...options.crashPolicy };
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const ownSystem = options.system === undefined;
  const system = options.system ?? startSystem();
  const entries = new Map<string, Entry>();
  const byName = new Map<string, Entry>();
  let spawnSeq = 0;
  let shuttingDown = false;

  const maxFull = options.maxConcurrentFullSyncs ?? 2;
  let fullRunning = 0;
  const fullSyncGate: FullSyncGate = {
    tryAcquire: () => {
      if (fullRunning >= maxFull) return null;
      fullRunning += 1;
      let held = true;
      return { release: () => { if (held) { held = false; fullRunning -= 1; } } };
    },
  };
  const actorDeps: AccountActorDeps = { ...deps, fullSyncGate, ...(metrics === undefined ? {} : { metrics }) };

  const decideChild = async (child: ActorRef<never>, error: unknown): Promise<ChildCrashDecision> => {
    const entry = byName.get(child.name);
    if (entry === undefined) return 'stopChild';
    // The actor stopped before its error arrived (nact.ts): a tamper still parks the account; any
    // other error is not counted against the account's next actor.
    if (entry.ref !== child) {
      if (error instanceof TamperDetectedError && !shuttingDown) markFailed(entry, 'tamper');
      return 'stopChild';
    }
    const now = clock.now();
    entry.crashes = [...entry.crashes.filter((t) => now - t < policy.windowMs), now];
    // The error's class only: its message may carry what a venue or driver said.
    logger?.warn({ account: accountId(entry.account), error: error instanceof Error ? error.name : typeof error, crashes: entry.crashes.length }, 'account actor crashed');
    // Sealed storage failed its integrity check: parked at once (no retry would heal it, and a
    // re-sync must not write over the evidence); the operator alert fires.
    if (error instanceof TamperDetectedError) {
      if (!shuttingDown) markFailed(entry, 'tamper');
      return 'stopChild';
    }
    if (entry.crashes.length >= policy.maxCrashes || shuttingDown) {
      if (!shuttingDown) markFailed(entry, parkedReasonOf(error));
      return 'stopChild';
    }
    metrics?.restarted(entry.account);
    await sleepOn(clock, backoffDelay(entry.crashes.length, policy.backoffBaseMs, policy.backoffMaxMs, deps.random));
    return 'resetChild';
  };

  // Parent of every account actor: its policy is where escalated crashes land.
  const parent = spawn<null, never>(system, 'accounts', (state) => state, {
    initialState: null,
    onCrash: () => 'resume',
    onChildCrash: decideChild,
  });

  const markFailed = (entry: Entry, reason: ParkedReason): void => {
    entry.failed = true;
    entry.parkedReason = reason;
    metrics?.setState(entry.account, 'failed');
    if (reason === 'tamper') metrics?.tamperDetected();
    logger?.error({ account: accountId(entry.account), crashes: entry.crashes.length, reason }, reason === 'tamper' ? 'account parked: tamper detected' : 'account failed: too many crashes');
    deps.store.setConnectionStatus(entry.account, 'failed', reason).catch(() => {
      logger?.warn({ account: accountId(entry.account) }, 'could not store the failed status');
    });
  };

  const hooks: SupervisorHooks = {
    onPassivated: (entry, nextSyncAt) => {
      // `holds`, not `owns`: a passivation while the lease is only late must not drop the schedule.
      if (nextSyncAt !== null && !shuttingDown && holds(entry.account)) {
        scheduleWakeOf(entry, nextSyncAt);
        persistNext(entry.account, nextSyncAt);
      }
    },
    onStopped: (entry, self, undelivered) => {
      if (entry.ref === null && byName.get(self.name) === entry) byName.delete(self.name);
      // Only when no newer actor of the account runs (it pinned its own epoch when it started).
      if (entry.ref === null) options.actorLifecycle?.stopped(entry.account);
      if (!entry.failed) metrics?.untrack(entry.account);
      for (const message of undelivered) redeliver(entry, message);
    },
    onCrash: (entry, crash) => crashDecision(entry, crash),
    onStoredFailed: (entry) => {
      entry.failed = true;
      entry.failedInStorage = true;
      metrics?.setState(entry.account, 'failed');
    },
  };

  const crashDecision = async (entry: Entry, crash: CrashClass): Promise<CrashDecision> => {
    switch (crash) {
      case 'resume':
        return 'resume';
      case 'reset':
        // Transient storage trouble: restart from storage after a backoff, without counting
        // towards the failed cut-off (an outage must not park every account).
        entry.resets += 1;
        metrics?.restarted(entry.account);
        await sleepOn(clock, backoffDelay(entry.resets, policy.backoffBaseMs, policy.backoffMaxMs, deps.random));
        return 'reset';
      case 'escalate':
        return 'escalate';
      default:
        return crash satisfies never;
    }
  };

  const entryOf = (account: AccountKey): Entry => {
    const id = accountId(account);
    let entry = entries.get(id);
    if (entry === undefined) {
      entry = new Entry({ userUid: account.userUid, exchange: account.exchange }, hooks);
      entries.set(id, entry);
    }
    return entry;
  };

  const liveRef = (entry: Entry): ActorRef<AccountMessage> => {
    if (entry.ref !== null && isAlive(entry.ref)) return entry.ref;
    entry.wake?.cancel();
    entry.wake = null;
    spawnSeq += 1;
    const name = `account-${spawnSeq}`;
    if (entry.name !== null) byName.delete(entry.name);
    entry.name = name;
    byName.set(name, entry);
    options.actorLifecycle?.started(entry.account);
    const ref = spawnAccountActor({ parent, name, account: entry.account, deps: actorDeps, onCrash: entry.onCrash, lifecycle: entry });
    entry.ref = ref;
    metrics?.track(entry.account, entry.mailbox);
    return ref;
  };

  // A request that reached an actor as it stopped: answer it or hand it to a fresh actor.
  const redeliver = (entry: Entry, message: AccountMessage): void => {
    const refuse = shuttingDown ? new ShuttingDownError('shutting down') : entry.failed && !reachesParked(message) ? failedError(entry) : null;
    if (refuse !== null) {
      replyError(message.replyTo as ReplyTo<never>, refuse);
      return;
    }
    let delivered = false;
    try {
      delivered = tell(liveRef(entry), message);
    } catch {
      delivered = false;
    }
    if (!delivered) replyError(message.replyTo as ReplyTo<never>, new ActorError(`${accountId(entry.account)}: actor unavailable`));
  };

  const failedError = (entry: Entry): AccountFailedError => new AccountFailedError(entry.failedInStorage
    ? `${accountId(entry.account)} is marked failed`
    : `${accountId(entry.account)} is failed after ${policy.maxCrashes} crashes`);

  const scheduleWakeOf = (entry: Entry, at: EpochMs): void => {
    entry.wake?.cancel();
    entry.wake = clock.setTimer(Math.max(0, at - clock.now()), () => {
      entry.wake = null;
      if (shuttingDown || entry.failed || entry.ref !== null || !holds(entry.account)) return;
      if (!owns(entry.account)) {
        // Held, but past the acting deadline until a late renewal is in: try again, do not drop it
        // (a dropped wake was the account's only schedule: it never synced again here).
        logger?.info({ account: accountId(entry.account) }, 'scheduled sync deferred: the lease renewal is late');
        scheduleWakeOf(entry, clock.now() + leaseRetryMs);
        return;
      }
      route(entry.account, (replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo, scheduled: true }), undefined).catch((error: unknown) => {
        // A first sync waiting for a whole-history slot: the live actor keeps its retry.
        if (error instanceof OverloadedError) return;
        logger?.warn({ account: accountId(entry.account), error: error instanceof Error ? error.name : typeof error }, 'scheduled sync failed');
      });
    });
  };

  /** `parked: 'reach'` for the messages a parked account still takes (Register, Remove). */
  const route = async <R>(account: AccountKey, make: Request<R>, signal: AbortSignal | undefined, parked: 'refuse' | 'reach' = 'refuse'): Promise<R> => {
    if (shuttingDown) throw new ShuttingDownError('shutting down: no new work');
    if (!owns(account)) throw new NotShardOwnerError(`${accountId(account)}: its shard is not held by this instance`);
    const entry = entryOf(account);
    if (entry.failed && parked === 'refuse') throw failedError(entry);
    const until = signal ?? defaultTimeoutMs;
    try {
      return await ask(liveRef(entry), make, until);
    } catch (error) {
      // The actor stopped between lookup and delivery (passivation): one fresh attempt.
      if (error instanceof ActorStoppedError && !shuttingDown && (parked === 'reach' || !entry.failed)) return ask(liveRef(entry), make, until);
      throw error;
    }
  };

  /** Forgets a parked state (a new credential, or no connection any more): the account starts afresh. */
  const unpark = (entry: Entry): void => {
    if (!entry.failed) return;
    entry.failed = false;
    entry.failedInStorage = false;
    entry.parkedReason = null;
    entry.crashes = [];
    entry.resets = 0;
    if (entry.ref === null) metrics?.untrack(entry.account);
  };

  const totals = (): RuntimeTotals => {
    let alive = 0; let passivated = 0; let failed = 0;
    const parked = { ...NO_PARKED };
    for (const entry of entries.values()) {
      if (entry.failed) {
        failed += 1;
        parked[entry.parkedReason ?? 'internal'] += 1;
      } else if (entry.ref !== null) alive += 1;
      else passivated += 1;
    }
    return { alive, passivated, failed, parked };
  };
  metrics?.setTotalsProbe(totals);
  metrics?.setFullSyncGateProbe(() => ({ inUse: fullRunning, capacity: maxFull }));

  return {
    sync: (account, mode, call) => route<SyncResult>(account, (replyTo) => ({
      type: 'Sync', mode, replyTo, ...(call?.onProgress === undefined ? {} : { onProgress: call.onProgress }),
    }), call?.signal),
    register: async (account, sealed, signal, options) => {
      const acceptTradingKeyRisk = options?.acceptTradingKeyRisk === true;
      const registered = await route<Registered>(account, (replyTo) => ({
        type: 'Register', sealed, acceptTradingKeyRisk, replyTo, ...(signal === undefined ? {} : { signal }),
      }), signal, 'reach');
      unpark(entryOf(account));
      return registered;
    },
    remove: async (account, keepAggregates, signal) => {
      const removed = await route<Removed>(account, (replyTo) => ({ type: 'Remove', keepAggregates, replyTo }), signal, 'reach');
      const entry = entryOf(account);
      entry.wake?.cancel();
      entry.wake = null;
      unpark(entry);
      // The metrics stop counting it (as stale, or at all).
      metrics?.forget(account);
      return removed;
    },
    list: async () => (await deps.store.listConnections()).map((c) => {
      // A parked actor is failed even before its row says so; its reason is then the one in memory.
      const entry = entries.get(accountId(c.account));
      const parkedHere = entry?.failed === true ? entry.parkedReason ?? 'internal' : null;
      const status = parkedHere !== null ? 'failed' : c.status;
      return { account: c.account, status, parkedReason: status === 'failed' ? parkedHere ?? c.parkedReason ?? 'internal' : null, disclosureLevel: c.disclosureLevel };
    }),
    passivate: async (account) => {
      const entry = entries.get(accountId(account));
      const ref = entry?.ref ?? null;
      if (ref === null) return;
      await ask(ref, (replyTo) => ({ type: 'Stop' as const, replyTo }), defaultTimeoutMs).catch((error: unknown) => {
        if (!(error instanceof ActorStoppedError)) throw error;
      });
      await stopped(ref as ActorRef<never>);
    },
    scheduleWake: (account, at) => {
      const entry = entryOf(account);
      if (entry.ref === null && !entry.failed) scheduleWakeOf(entry, at);
    },
    revive: async (account) => {
      // Storage first: an actor started after this must not find the failed status.
      // Only a failed connection becomes active again (a disabled one stays disabled).
      const storedFailed = (await deps.store.loadConnection(account))?.status === 'failed';
      if (storedFailed) await deps.store.setConnectionStatus(account, 'active');
      const entry = entries.get(accountId(account));
      if (entry === undefined) return storedFailed;
      const parked = storedFailed || entry.failed;
      unpark(entry);
      return parked;
    },
    parkedReason: (account) => {
      const entry = entries.get(accountId(account));
      return entry?.failed === true ? entry.parkedReason ?? 'internal' : null;
    },
    status: (account) => {
      const entry = entries.get(accountId(account));
      if (entry === undefined) return 'unknown';
      if (entry.failed) return 'failed';
      return entry.ref !== null ? 'alive' : 'passivated';
    },
    totals,
    stopWhere: async (matches, graceMs) => {
      const leaving = [...entries.values()].filter((entry) => matches(entry.account));
      const live: ActorRef<AccountMessage>[] = [];
      for (const entry of leaving) {
        entry.wake?.cancel();
        entry.wake = null;
        if (entry.ref !== null) live.push(entry.ref);
      }
      await Promise.allSettled(live.map((ref) => ask(ref, (replyTo) => ({ type: 'Stop' as const, replyTo }), Math.max(1, graceMs))));
      await Promise.all(live.map((ref) => (isAlive(ref as ActorRef<never>) ? stop(ref as ActorRef<never>) : stopped(ref as ActorRef<never>))));
      for (const entry of leaving) {
        // Another passivation may have re-armed a wake meanwhile: none of this shard stays here.
        entry.wake?.cancel();
        entry.wake = null;
        if (entry.ref === null) {
          entries.delete(accountId(entry.account));
          metrics?.forget(entry.account);
        }
      }
    },
    shutdown: async (graceMs) => {
      if (shuttingDown) return;
      shuttingDown = true;
      const live: ActorRef<AccountMessage>[] = [];
      for (const entry of entries.values()) {
        entry.wake?.cancel();
        entry.wake = null;
        if (entry.ref !== null) live.push(entry.ref);
      }
      // Stop waits for a running sync; past the grace period actors are stopped regardless
      // (their running syncs are aborted). Either way afterStop zeroes the credential.
      const graceful = Promise.allSettled(live.map((ref) => ask(ref, (replyTo) => ({ type: 'Stop' as const, replyTo }), Math.max(1, graceMs))));
      await graceful;
      await Promise.all(live.map((ref) => (isAlive(ref as ActorRef<never>) ? stop(ref as ActorRef<never>) : stopped(ref as ActorRef<never>))));
      await stop(parent as ActorRef<never>);
      if (ownSystem) stopSystem(system);
    },
  };
}

/** Register and Remove reach a parked account: a new credential or a deletion is how it leaves that state. */
function reachesParked(message: AccountMessage): boolean {
  return message.type === 'Register' || message.type === 'Remove';
}

/**
 * The fixed class an operator sees for a parked account, from the error that parked it (never its
 * message): the venue refused the key, the venue kept failing, a sealed credential failed its
 * integrity check, or our own failure.
 */
export function parkedReasonOf(error: unknown): ParkedReason {
  if (error instanceof VenueError) return error.kind === 'auth' ? 'venue_auth' : 'venue_unavailable';
  if (error instanceof EnvelopeOpenError || error instanceof TamperDetectedError) return 'tamper';
  return 'internal';
}
