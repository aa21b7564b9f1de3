// The one facade over nact. Everything else in src/ talks to actors through this file only:
// branded refs (sending the wrong message is a compile error), tell, ask with our own replyTo
// (nact's `query` loses replies under concurrency: 31-bit random ids collide), named spawns with
// an explicit crash policy, and stop.
import { createRequire } from 'node:module';
import * as nact from 'nact';
import { AskTimeoutError, ActorError } from './errors.js';

// nact's `dispatch` drops a message to a stopped actor silently; its system map tells us whether
// the actor still exists, so `tell` can report a non-delivery instead.
const systemMap = createRequire(import.meta.url)('nact/lib/system-map.js') as {
  find(systemName: string, reference: unknown): unknown;
};

declare const protocol: unique symbol;
declare const replyBrand: unique symbol;

/** A reference that accepts exactly the messages `M` (contravariant: a ref to `A | B` is a ref to `A`). */
export interface ActorRef<M> {
  readonly [protocol]: (message: M) => void;
  /** The actor's name, unique among its siblings. */
  readonly name: string;
}

/** The root of an actor system: parent of top-level actors. */
export interface ActorSystem {
  readonly kind: 'system';
  readonly name: string;
}

export type Parent = ActorSystem | ActorRef<never>;

/** Where an `ask` expects its one reply of type `R`. Put it in the request; answer with `reply`/`replyError`. */
export interface ReplyTo<R> {
  readonly [replyBrand]: (value: R) => void;
  readonly askId: number;
}

/** What the actor's own policy decides when its handler throws. */
export type CrashDecision = 'resume' | 'reset' | 'stop' | 'escalate';
/** What a parent decides for a child that escalated to it. */
export type ChildCrashDecision = 'resetChild' | 'stopChild';

export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
}

export type Handler<S, M> = (state: S, message: M, ctx: ActorContext<M>) => S | Promise<S>;

export interface SpawnOptions<S, M> {
  /** Explicit initial state (also the state after a `reset`). */
  readonly initialState: S;
  /** Decides per error; may wait (a backoff) before answering. */
  readonly onCrash: (error: unknown, message: M | undefined) => CrashDecision | Promise<CrashDecision>;
  /** For parents: decides what happens to a child that escalated. */
  readonly onChildCrash?: (child: ActorRef<never>, error: unknown) => ChildCrashDecision | Promise<ChildCrashDecision>;
  /** Runs once after the actor stopped, with its last state and the messages it never handled. */
  readonly afterStop?: (state: S, undelivered: readonly M[]) => void | Promise<void>;
}

// ---- internals: what a branded ref really is ----

interface RefRecord {
  readonly systemName: string;
  nactRef: nact.Ref<unknown>;
  readonly name: string;
  /** Messages told but not yet taken by the handler. */
  queued: number;
  isStopped: boolean;
  /** Resolvers waiting for the stop (created on demand: most actors are never awaited). */
  stopWaiters: (() => void)[] | null;
  /** Children by name, so a parent's policy gets the branded ref of the child that escalated. */
  children: Map<string, ActorRef<never>> | null;
  /** Runs this actor's child policy for a child that stopped before its escalation arrived. */
  hearStoppedChild(child: ActorRef<never>, error: unknown): Promise<void>;
}

// The record rides on the ref under a private symbol (a WeakMap per ref costs more at 10k actors).
const RECORD = Symbol('actor record');
type WithRecord = { [RECORD]?: RefRecord };
const records = {
  get: (ref: object): RefRecord | undefined => (ref as WithRecord)[RECORD],
  set: (ref: object, record: RefRecord): void => { Object.defineProperty(ref, RECORD, { value: record, enumerable: false }); },
};
const systems = new WeakMap<object, { ref: nact.ActorSystemRef; name: string }>();

function recordOf(ref: ActorRef<never>): RefRecord {
  const record = records.get(ref);
  if (record === undefined) throw new TypeError('not an actor ref of this facade');
  return record;
}

function nactParent(parent: Parent): nact.Ref<unknown> {
  if ((parent as ActorSystem).kind === 'system') {
    const system = systems.get(parent);
    if (system === undefined) throw new TypeError('unknown actor system');
    return system.ref;
  }
  return recordOf(parent as ActorRef<never>).nactRef;
}

function systemNameOf(parent: Parent): string {
  if ((parent as ActorSystem).kind === 'system') return (parent as ActorSystem).name;
  return recordOf(parent as ActorRef<never>).systemName;
}

let systemSeq = 0;

/** Starts an actor system (no nact logging: our actors log through pino themselves). */
export function startSystem(name = `enclave-${process.pid}-${(systemSeq += 1)}`): ActorSystem {
  const ref = nact.start({ name } as unknown as nact.Plugin);
  const system: ActorSystem = Object.freeze({ kind: 'system' as const, name });
  systems.set(system, { ref, name });
  return system;
}

/** Stops every actor of the system (their afterStop hooks run on the next turn). */
export function stopSystem(system: ActorSystem): void {
  const entry = systems.get(system);
  if (entry !== undefined) nact.stop(entry.ref);
}

/** Names are mandatory: nact's anonymous names are random and collide. */
export function spawn<S, M>(parent: Parent, name: string, handler: Handler<S, M>, options: SpawnOptions<S, M>): ActorRef<M> {
  const ref = { name } as ActorRef<M>;
  const parentRecord = (parent as ActorSystem).kind === 'system' ? undefined : recordOf(parent as ActorRef<never>);
  const cell = new Cell<S, M>(ref, systemNameOf(parent), handler, options, parentRecord);
  const nactRef = nact.spawn(nactParent(parent), cell.receive.bind(cell) as nact.ActorFunc<S, M, nact.Ref<unknown>>, name, {
    initialState: options.initialState,
    onCrash: cell.crash.bind(cell) as unknown as nact.SupervisionActorFunc<M, nact.Ref<unknown>, nact.Ref<unknown>>,
    afterStop: cell.afterStop.bind(cell) as unknown as (state: S, ctx: nact.ActorContextWithMailbox<M, nact.Ref<unknown>>) => Promise<void>,
  });
  cell.nactRef = nactRef;
  records.set(ref, cell);
  if (parentRecord !== undefined) (parentRecord.children ??= new Map()).set(name, ref as ActorRef<never>);
  return ref;
}

/** What nact runs for one actor: the handler, the crash policy and the stop hook (methods, not closures). */
class Cell<S, M> implements RefRecord {
  nactRef = undefined as unknown as nact.Ref<unknown>;
  readonly name: string;
  queued = 0;
  isStopped = false;
  stopWaiters: (() => void)[] | null = null;
  children: Map<string, ActorRef<never>> | null = null;
  private readonly ctx: ActorContext<M>;

  constructor(
    private readonly ref: ActorRef<M>,
    readonly systemName: string,
    private readonly handler: Handler<S, M>,
    private readonly options: SpawnOptions<S, M>,
    private readonly parentRecord: RefRecord | undefined,
  ) {
    this.name = ref.name;
    this.ctx = { self: ref, name: ref.name };
  }

  async receive(state: S, message: M): Promise<S> {
    this.queued = Math.max(0, this.queued - 1);
    const next = await this.handler(state, message, this.ctx);
    // An `undefined` state would silently reset the actor in nact: make it a crash instead.
    if (next === undefined) throw new TypeError(`actor ${this.name} returned no state`);
    return next;
  }

  async crash(message: M | undefined, error: Error | undefined, sctx: nact.SupervisionContext<M, nact.Ref<unknown>>, child: nact.Ref<unknown> | undefined): Promise<symbol> {
    if (child !== undefined) {
      const childName = (child as unknown as { name: string }).name;
      const childRef = this.children?.get(childName);
      let decision: ChildCrashDecision = 'stopChild';
      try {
        if (childRef !== undefined && this.options.onChildCrash !== undefined) decision = await this.options.onChildCrash(childRef, error);
      } catch {
        decision = 'stopChild';
      }
      // nact dereferences the child without checking: if it stopped meanwhile (a shutdown during
      // the backoff), leave the parent as it is.
      const current = this.children?.get(childName);
      if (current === undefined || !isAlive(current)) return sctx.resume as symbol;
      return sctx[decision] as symbol;
    }
    let decision: CrashDecision;
    try {
      decision = await this.options.onCrash(error, message);
    } catch {
      decision = 'stop';
    }
    // Stopped while the failing message ran (a passivation, a shard handed back, a shutdown): nact's
    // stop deleted the parent, so its escalate would throw in an unawaited promise and end the
    // process, and a second stop would run afterStop twice. Resume is a no-op on a stopped actor;
    // the parent's policy still hears an escalated error (a tamper must still park the account).
    if (!isAlive(this.ref as ActorRef<never>)) {
      if (decision === 'escalate') await this.parentRecord?.hearStoppedChild(this.ref as ActorRef<never>, error);
      return sctx.resume as symbol;
    }
    if (decision === 'reset') this.queued = sctx.mailbox.length;
    return sctx[decision] as symbol;
  }

  /** A child that stopped before its escalated error reached this parent: the policy runs for its effects only. */
  async hearStoppedChild(child: ActorRef<never>, error: unknown): Promise<void> {
    try {
      await this.options.onChildCrash?.(child, error);
    } catch {
      // The child is gone either way; the policy reports its own failures.
    }
  }

  async afterStop(state: S, sctx: nact.ActorContextWithMailbox<M, nact.Ref<unknown>>): Promise<void> {
    const siblings = this.parentRecord?.children;
    if (siblings?.get(this.name) === this.ref) siblings.delete(this.name);
    this.queued = 0;
    try {
      const undelivered = (sctx.mailbox as unknown as { message: M }[]).map((entry) => entry.message);
      await this.options.afterStop?.(state, undelivered);
    } catch {
      // nact runs this hook unawaited: a failure here would be an unhandled rejection. The hooks
      // report their own failures; the stop itself has happened either way.
    } finally {
      this.isStopped = true;
      const waiters = this.stopWaiters ?? [];
      this.stopWaiters = null;
      for (const resolve of waiters) resolve();
    }
  }
}

/** Sends without waiting. Returns false when the actor no longer exists (nothing was delivered). */
export function tell<M>(ref: ActorRef<M>, message: M): boolean {
  const record = recordOf(ref as ActorRef<never>);
  if (systemMap.find(record.systemName, record.nactRef) === undefined) return false;
  record.queued += 1;
  nact.dispatch(record.nactRef, message);
  return true;
}

/** Messages told to this actor that its handler has not taken yet. */
export function mailboxDepth(ref: ActorRef<never>): number {
  return records.get(ref)?.queued ?? 0;
}

/** True while the actor exists. */
export function isAlive(ref: ActorRef<never>): boolean {
  const record = records.get(ref);
  return record !== undefined && systemMap.find(record.systemName, record.nactRef) !== undefined;
}

/** The actor is gone: an ask could not be delivered. */
export class ActorStoppedError extends ActorError {
  override name = 'ActorStoppedError';
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Undoes the ask's timer or signal listener. */
  readonly done: () => void;
}

const pending = new Map<number, Pending>();
let nextAskId = 0;

/**
 * Request/response: `make` builds the message around a fresh `replyTo` (unique, monotonically
 * numbered); the promise settles with the first reply. `until` is the call's AbortSignal (the one
 * deadline of a gRPC call: the ask rejects with `signal.reason` when it aborts), or, for work no
 * call carries (schedules, shutdown, tests), a timeout in ms (AskTimeoutError).
 */
export function ask<M, R>(ref: ActorRef<M>, make: (replyTo: ReplyTo<R>) => M, until: AbortSignal | number): Promise<R> {
  nextAskId += 1;
  const askId = nextAskId;
  const replyTo = { askId } as ReplyTo<R>;
  return new Promise<R>((resolve, reject) => {
    let done: () => void;
    if (typeof until === 'number') {
      const timer = setTimeout(() => {
        pending.delete(askId);
        reject(new AskTimeoutError(`no reply from ${ref.name} within ${until} ms`));
      }, Math.max(0, Math.min(until, 2_147_483_647)));
      done = () => { clearTimeout(timer); };
    } else {
      if (until.aborted) {
        reject(until.reason as Error);
        return;
      }
      const onAbort = (): void => {
        pending.delete(askId);
        reject(until.reason as Error);
      };
      until.addEventListener('abort', onAbort, { once: true });
      done = () => { until.removeEventListener('abort', onAbort); };
    }
    pending.set(askId, { resolve: resolve as (value: unknown) => void, reject, done });
    if (!tell(ref, make(replyTo))) {
      done();
      pending.delete(askId);
      reject(new ActorStoppedError(`actor ${ref.name} is stopped`));
    }
  });
}

/** Answers an ask. Returns false when nobody waits any more (timed out or already answered). */
export function reply<R>(to: ReplyTo<R>, value: R): boolean {
  const entry = pending.get(to.askId);
  if (entry === undefined) return false;
  pending.delete(to.askId);
  entry.done();
  entry.resolve(value);
  return true;
}

/** Answers an ask with an error (an ActorError subclass: it reaches the caller as is). */
export function replyError(to: ReplyTo<never>, error: Error): boolean {
  const entry = pending.get(to.askId);
  if (entry === undefined) return false;
  pending.delete(to.askId);
  entry.done();
  entry.reject(error);
  return true;
}

/** Asks still waiting for a reply (for tests and diagnostics). */
export function pendingAsks(): number {
  return pending.size;
}

/** Stops the actor; resolves after its afterStop hook ran. */
export function stop(ref: ActorRef<never>): Promise<void> {
  const record = recordOf(ref);
  nact.stop(record.nactRef);
  return stopped(ref);
}

/** Resolves once the actor has stopped (by any cause) and its afterStop hook ran. */
export function stopped(ref: ActorRef<never>): Promise<void> {
  const record = recordOf(ref);
  if (record.isStopped) return Promise.resolve();
  return new Promise((resolve) => { (record.stopWaiters ??= []).push(resolve); });
}

/** A signal that aborts with AskTimeoutError after `ms`: a deadline for work no call carries. */
export function deadlineSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => { controller.abort(new AskTimeoutError(`no reply within ${ms} ms`)); }, Math.max(0, Math.min(ms, 2_147_483_647)));
  timer.unref();
  return controller.signal;
}
