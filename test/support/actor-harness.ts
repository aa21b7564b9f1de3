// Message injection for actor tests. `createActorHarness()` wires the supervisor (or, with
// `spawnAccount`, one bare account actor) to injectable dependencies, so a test sends messages
// and asserts on replies, on the store and on metrics, with no network:
//
//   const h = createActorHarness({ clock: new ManualClock(t0) });
//   h.addAccount(alice);                       // a stored connection with a canary credential
//   const result = await h.supervisor.sync(alice, 'incremental');
//   t.true(h.store.fillCount(alice) > 0);
//
// Every dependency can be replaced per test: `store` + `putConnection` (the real PostgreSQL store
// at integration), `aggregator` (the real engine + pool), `connectorFactory`, `openCredential`,
// `clock`, `random`, settings, crash policy, metrics registry. Whatever the store, `h.store`
// wraps it to count calls and inject failures (instrumented-store.ts). Opened credential Buffers
// are kept in `openedCredentials` so a test can check that they were zeroed.
import { Registry } from 'prom-client';
import { createLogger } from '../../src/config/logger.js';
import {
  DEFAULT_ACCOUNT_SETTINGS,
  isTransientStorageErrorByShape,
  spawnAccountActor,
  type AccountActorDeps,
  type AccountActorSettings,
  type AccountLifecycle,
  type AccountMessage,
} from '../../src/actors/account-actor.js';
import { systemClock, type Clock } from '../../src/actors/clock.js';
import { ActorMetrics } from '../../src/actors/metrics.js';
import { ask, startSystem, stop, stopSystem, type ActorRef, type ActorSystem, type ReplyTo } from '../../src/actors/nact.js';
import { createSupervisor, type CrashPolicy, type Supervisor } from '../../src/actors/supervisor.js';
import type { Aggregator } from '../../src/domain/aggregation.js';
import type { AccountKey, EpochMs } from '../../src/domain/types.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { instrumentStore, type InstrumentedStore } from './instrumented-store.js';
import { MemoryAccountStore } from './memory-account-store.js';
import { instrumentAggregator, StandInAggregator, standInMetrics, type InstrumentedAggregator } from './stand-in-aggregator.js';

/** A secret that must never show up outside the actor (logs, metrics, replies). */
export const CANARY_SECRET = 'canary-secret-7f3a9c';

export interface HarnessOptions {
  /** Default: a fresh MemoryAccountStore. */
  readonly store?: AccountStore;
  /** Stores a connection row; required with a store other than MemoryAccountStore. */
  readonly putConnection?: (account: AccountKey, envelope: Buffer) => Promise<void>;
  readonly aggregator?: Aggregator;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly settings?: Partial<AccountActorSettings>;
  readonly crashPolicy?: Partial<CrashPolicy>;
  readonly maxConcurrentFullSyncs?: number;
  readonly metricsAccountCap?: number;
  readonly defaultTimeoutMs?: number;
  /** Default: the simulated venue with seed 7, history starting 48 hours before the clock's start. */
  readonly connectorFactory?: (account: AccountKey, credential: Buffer) => VenueConnector | Promise<VenueConnector>;
  /** Default: the envelope is the plaintext credential (tests only); the result is a fresh Buffer. */
  readonly openCredential?: (account: AccountKey, envelope: Buffer) => Buffer | Promise<Buffer>;
}

export interface ActorHarness {
  readonly supervisor: Supervisor;
  readonly store: InstrumentedStore;
  /** The engine given (default: the stand-in), wrapped to record inputs and inject failures. */
  readonly aggregator: InstrumentedAggregator;
  readonly clock: Clock;
  readonly registry: Registry;
  readonly metrics: ActorMetrics;
  readonly deps: HarnessDeps;
  /** Every credential Buffer handed to a connector, in order. */
  readonly openedCredentials: Buffer[];
  /** Every log line the actors wrote. */
  readonly logLines: string[];
  /** Stores a connection whose envelope holds a canary credential. */
  addAccount(account: AccountKey): Promise<void>;
  passivate(account: AccountKey): Promise<void>;
  close(): Promise<void>;
}

const HOUR = 3_600_000;

/** The envelope test accounts get: in tests the "sealed" credential is the plaintext itself. */
export function canaryEnvelope(): Buffer {
  return Buffer.from(JSON.stringify({ apiKey: `key-${CANARY_SECRET}`, secret: CANARY_SECRET }));
}

function connectionWriter(options: HarnessOptions, store: AccountStore): (account: AccountKey, envelope: Buffer) => Promise<void> {
  if (options.putConnection !== undefined) return options.putConnection;
  if (store instanceof MemoryAccountStore) return async (account, envelope) => { store.putConnection(account, envelope); };
  throw new TypeError('pass putConnection with a store other than MemoryAccountStore');
}

export type HarnessDeps = Omit<AccountActorDeps, 'metrics' | 'fullSyncGate'> & { readonly aggregator: InstrumentedAggregator };

export function harnessDeps(options: HarnessOptions, opened: Buffer[], logLines: string[] = []): { deps: HarnessDeps; store: InstrumentedStore; putConnection: (account: AccountKey, envelope: Buffer) => Promise<void> } {
  const raw = options.store ?? new MemoryAccountStore();
  const putConnection = connectionWriter(options, raw);
  const store = instrumentStore(raw);
  const clock = options.clock ?? systemClock;
  const startMs = Math.floor(clock.now() / HOUR) * HOUR - 48 * HOUR;
  const deps: HarnessDeps = {
    store,
    aggregator: instrumentAggregator(options.aggregator ?? new StandInAggregator()),
    openCredential: options.openCredential ?? ((_account, envelope) => Buffer.from(envelope)),
    connectorFactory: async (account, credential) => {
      opened.push(credential);
      if (options.connectorFactory !== undefined) return options.connectorFactory(account, credential);
      return createSimulatedConnector(account, { seed: 7, clock, startMs, fillsPerHour: 0.5, pageSize: 5 });
    },
    computeMetrics: standInMetrics,
    clock,
    random: options.random ?? Math.random,
    settings: { ...DEFAULT_ACCOUNT_SETTINGS, ...options.settings },
    isTransientStorageError: isTransientStorageErrorByShape,
    logger: createLogger('debug', { write: (line: string) => { logLines.push(line); } }),
  };
  return { deps, store, putConnection };
}

export function createActorHarness(options: HarnessOptions = {}): ActorHarness {
  const openedCredentials: Buffer[] = [];
  const logLines: string[] = [];
  const { deps, store, putConnection } = harnessDeps(options, openedCredentials, logLines);
  const registry = new Registry();
  const metrics = new ActorMetrics(registry, options.metricsAccountCap ?? 10_000);
  const supervisor = createSupervisor({
    deps, metrics,
    crashPolicy: { backoffBaseMs: 2, backoffMaxMs: 20, ...options.crashPolicy },
    ...(options.maxConcurrentFullSyncs === undefined ? {} : { maxConcurrentFullSyncs: options.maxConcurrentFullSyncs }),
    defaultTimeoutMs: options.defaultTimeoutMs ?? 10_000,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
  });
  return {
    supervisor, store, aggregator: deps.aggregator, clock: deps.clock, registry, metrics, deps, openedCredentials, logLines,
    addAccount: (account) => putConnection(account, canaryEnvelope()),
    passivate: (account) => supervisor.passivate(account),
    close: () => supervisor.shutdown(1_000),
  };
}

/** One bare account actor (no supervisor): crashes stop it, passivation stops it. */
export interface SingleActorHarness {
  readonly ref: ActorRef<AccountMessage>;
  readonly store: InstrumentedStore;
  readonly aggregator: InstrumentedAggregator;
  readonly deps: HarnessDeps;
  readonly openedCredentials: Buffer[];
  /** Sends a request built around a replyTo and awaits the reply. */
  send<R>(make: (replyTo: ReplyTo<R>) => AccountMessage, timeoutMs?: number): Promise<R>;
  /** Resolves with the next scheduled-sync wake-up handed back at passivation. */
  readonly passivations: (EpochMs | null)[];
  close(): Promise<void>;
}

/** Spawns one bare account actor for `account` (its connection stored first). */
export async function spawnAccount(account: AccountKey, options: HarnessOptions = {}): Promise<SingleActorHarness> {
  const openedCredentials: Buffer[] = [];
  const { deps, store, putConnection } = harnessDeps(options, openedCredentials);
  await putConnection(account, canaryEnvelope());
  const system: ActorSystem = startSystem();
  const passivations: (EpochMs | null)[] = [];
  const lifecycle: AccountLifecycle = {
    passivate: (self, nextSyncAt) => { passivations.push(nextSyncAt); void stop(self as ActorRef<never>); },
    stopped: () => undefined,
  };
  const ref = spawnAccountActor({ parent: system, name: 'account-under-test', account, deps, lifecycle, onCrash: (crash) => (crash === 'resume' ? 'resume' : 'reset') });
  return {
    ref, store, aggregator: deps.aggregator, deps, openedCredentials, passivations,
    send: (make, timeoutMs = 10_000) => ask(ref, make, timeoutMs),
    close: async () => { await stop(ref as ActorRef<never>); stopSystem(system); },
  };
}
