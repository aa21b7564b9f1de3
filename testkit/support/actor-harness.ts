// Message injection for actor tests. `createActorHarness()` wires the supervisor (or, with
// `spawnAccount`, one bare account actor) to the real parts: the slonik AccountStore on a
// throw-away PostgreSQL database, credentials sealed with a test keyring and opened by the real
// `openEnvelope`, the real engine (in-process by default; pass the worker pool as `aggregator`)
// and the HPKE intake of a test enclave identity. A test sends messages and asserts on replies, on the
// database and on metrics, with no network:
//
//   const db = useTestDatabase(test);
//   const h = createActorHarness({ database: db(), clock: new ManualClock(t0) });
//   await h.addAccount(alice);                 // a stored connection sealing a canary credential
//   const result = await h.supervisor.sync(alice, 'incremental');
//   t.true(await h.store.fillCount(alice) > 0);
//
// Every dependency can be replaced per test: `store` + `putConnection`, `aggregator`,
// `connectorFactory`, `openCredential`, `clock`, `random`, settings, crash policy, metrics
// registry, `openSealed` (default: the HPKE intake with TEST_IDENTITY; seal with
// `sealForTest`). `h.reads` is the read side (src/app/reads.ts) on the same store. Whatever the store, `h.store` wraps it to count calls and inject failures
// (instrumented-store.ts), and `h.aggregator` wraps the engine the same way. Opened credential
// Buffers are kept in `openedCredentials` so a test can check that they were zeroed.
import { FULL_DISCLOSURE } from './memory-account-store.js';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/config/logger.js';
import {
  DEFAULT_ACCOUNT_SETTINGS,
  spawnAccountActor,
  type AccountActorDeps,
  type AccountActorSettings,
  type AccountLifecycle,
  type AccountMessage,
} from '../../src/actors/account-actor.js';
import { systemClock, type Clock } from '../../src/actors/clock.js';
import { createMarketData } from '../../src/actors/market-data.js';
import { createMarketDataStore } from '../../src/storage/market-data-store.js';
import { ActorMetrics } from '../../src/actors/metrics.js';
import { ask, startSystem, stop, stopSystem, type ActorRef, type ActorSystem, type ReplyTo } from '../../src/actors/nact.js';
import { createSupervisor, type CrashPolicy, type Supervisor } from '../../src/actors/supervisor.js';
import { sealEnvelope, openEnvelope } from '../../src/crypto/envelope.js';
import { createKeyring, type Keyring } from '../../src/crypto/keyring.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import type { AggregationInput, Aggregator } from '../../src/domain/aggregation.js';
import { createReads, type Reads } from '../../src/app/reads.js';
import { createEnclaveIdentity, type EnclaveIdentity } from '../../src/attestation/identity.js';
import type { VenueCredential } from '../../src/domain/types.js';
import { openSealedCredential, sealCredential } from '../../src/crypto/sealed-intake.js';
import type { AccountKey, EpochMs } from '../../src/domain/types.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import type { SealedStore } from '../../src/storage/sealed-store.js';
import type { TestDatabase } from './database.js';
import { instrumentStore, type InstrumentedStore } from './instrumented-store.js';

/** A secret that must never show up outside the actor (logs, metrics, replies). */
export const CANARY_SECRET = 'canary-secret-7f3a9c';

export interface HarnessOptions {
  /** The throw-away database the real store runs on (testkit/support/database.ts). */
  readonly database?: TestDatabase;
  /** With `database`: the store's sealed storage, as the service runs it (default: the plaintext layout). */
  readonly sealed?: SealedStore;
  /** Instead of `database`: any store, with the function that stores a connection row. */
  readonly store?: AccountStore;
  readonly putConnection?: (account: AccountKey, envelope: Buffer) => Promise<void>;
  /** Default: the real engine in-process (`inProcessAggregator`). */
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
  /** Default: `openEnvelope` with TEST_KEYRING (what sealed the stored envelope). */
  readonly openCredential?: (account: AccountKey, envelope: Buffer) => Buffer | Promise<Buffer>;
  /** Default: `openSealedCredential` with TEST_IDENTITY (what `sealForTest` seals to). */
  readonly openSealed?: (account: AccountKey, sealed: Uint8Array) => Promise<Buffer>;
  /** Scale-out: the supervisor's shard checks (default: every account is ours). */
  readonly owns?: (account: AccountKey) => boolean;
  readonly holds?: (account: AccountKey) => boolean;
  readonly leaseRetryMs?: number;
}

/** An instrumented engine: records every input and can be told to fail its next run. */
export interface InstrumentedAggregator extends Aggregator {
  /** Every input the engine was given, in order. */
  readonly inputs: AggregationInput[];
  /** The next run throws `error`. */
  failNext(error: Error): void;
}

export function instrumentAggregator(inner: Aggregator): InstrumentedAggregator {
  const inputs: AggregationInput[] = [];
  const failures: Error[] = [];
  return {
    inputs,
    failNext: (error) => { failures.push(error); },
    aggregate: async (input, signal) => {
      inputs.push(input);
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      return inner.aggregate(input, signal);
    },
  };
}

/** The envelope key of every test process (random: nothing sealed here outlives the run). */
export const TEST_KEYRING: Keyring = createKeyring([{ id: 1, secret: randomBytes(32) }], 1);

/** The enclave identity test Register messages are sealed to (created once per process). */
const testIdentity: Promise<EnclaveIdentity> = createEnclaveIdentity({ serviceVersion: 'test', buildHash: 'test' });

/** A credential sealed for `account` to the harness's enclave identity, as a client would send it. */
export async function sealForTest(account: AccountKey, credential: VenueCredential): Promise<Buffer> {
  return sealCredential((await testIdentity).publicKey, account, credential);
}

const DAY = 24 * 3_600_000;

/**
 * Where the simulated history of the harness's default connector starts: two whole days before
 * `now`'s day. Day-aligned, so every test in a file (sharing one database, whose candles are
 * shared by exchange) sees one price path per market, whatever the hour it runs in.
 */
export function historyStart(now: EpochMs): EpochMs {
  return Math.floor(now / DAY) * DAY - 2 * DAY;
}

export interface ActorHarness {
  readonly supervisor: Supervisor;
  /** The read side on the same store, parked as the supervisor knows it. */
  readonly reads: Reads;
  readonly store: InstrumentedStore;
  /** The engine given (default: the real one in-process), wrapped to record inputs and inject failures. */
  readonly aggregator: InstrumentedAggregator;
  readonly clock: Clock;
  readonly registry: Registry;
  readonly metrics: ActorMetrics;
  readonly deps: HarnessDeps;
  /** Every credential Buffer handed to a connector, in order. */
  readonly openedCredentials: Buffer[];
  /** Every log line the actors wrote. */
  readonly logLines: string[];
  /** Stores a connection whose sealed envelope holds a canary credential. */
  addAccount(account: AccountKey, status?: 'active' | 'failed' | 'disabled'): Promise<unknown>;
  passivate(account: AccountKey): Promise<void>;
  close(): Promise<void>;
}


/** The plaintext credential test accounts get (a canary: it must never leave the actor). */
export function canaryCredential(): Buffer {
  return Buffer.from(JSON.stringify({ apiKey: `key-${CANARY_SECRET}`, secret: CANARY_SECRET }));
}

type PutConnection = (account: AccountKey, envelope: Buffer, status?: 'active' | 'failed' | 'disabled') => Promise<unknown>;

function storeOf(options: HarnessOptions): { raw: AccountStore; putConnection: PutConnection } {
  if (options.database !== undefined) {
    const connections = createConnectionRepository(options.database.pool);
    return { raw: createAccountStore(options.database.pool, options.sealed === undefined ? {} : { sealed: options.sealed }), putConnection: (account, envelope, status) => connections.saveConnection(account, envelope, status) };
  }
  if (options.store !== undefined && options.putConnection !== undefined) {
    const put = options.putConnection;
    return { raw: options.store, putConnection: (account, envelope) => put(account, envelope) };
  }
  throw new TypeError('the actor harness needs a test database (or a store with putConnection)');
}

export type HarnessDeps = Omit<AccountActorDeps, 'metrics' | 'fullSyncGate'> & { readonly aggregator: InstrumentedAggregator };

export function harnessDeps(options: HarnessOptions, opened: Buffer[], logLines: string[] = []): { deps: HarnessDeps; store: InstrumentedStore; putConnection: PutConnection } {
  const { raw, putConnection } = storeOf(options);
  const store = instrumentStore(raw);
  const clock = options.clock ?? systemClock;
  const startMs = historyStart(clock.now());
  const deps: HarnessDeps = {
    store,
    aggregator: instrumentAggregator(options.aggregator ?? inProcessAggregator),
    openCredential: options.openCredential ?? ((account, envelope) => openEnvelope(TEST_KEYRING, account, envelope)),
    openSealed: options.openSealed ?? (async (account, sealed) => openSealedCredential(await testIdentity, account, sealed)),
    sealForStorage: (account, plaintext) => sealEnvelope(TEST_KEYRING, account, plaintext),
    connectorFactory: async (account, credential) => {
      opened.push(credential);
      if (options.connectorFactory !== undefined) return options.connectorFactory(account, credential);
      return createSimulatedConnector(account, { seed: 7, clock, startMs, fillsPerHour: 0.5, pageSize: 5 });
    },
    clock,
    random: options.random ?? Math.random,
    settings: { ...DEFAULT_ACCOUNT_SETTINGS, ...options.settings },
    logger: createLogger('debug', { write: (line: string) => { logLines.push(line); } }),
    // On a real database, public candles go through the one owner, as in the service.
    ...(options.database === undefined ? {} : { marketData: createMarketData({ store: createMarketDataStore(options.database.pool), clock }) }),
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
    ...(options.owns === undefined ? {} : { owns: options.owns }),
    ...(options.holds === undefined ? {} : { holds: options.holds }),
    ...(options.leaseRetryMs === undefined ? {} : { leaseRetryMs: options.leaseRetryMs }),
    // Generous: on a loaded shared machine a real-database sync can take seconds; a hang still fails.
    defaultTimeoutMs: options.defaultTimeoutMs ?? 60_000,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
  });
  const reads = createReads(store, (account) => supervisor.status(account) === 'failed', FULL_DISCLOSURE);
  return {
    supervisor, reads, store, aggregator: deps.aggregator, clock: deps.clock, registry, metrics, deps, openedCredentials, logLines,
    addAccount: (account, status) => putConnection(account, sealEnvelope(TEST_KEYRING, account, canaryCredential()), status),
    passivate: (account) => supervisor.passivate(account),
    close: () => supervisor.shutdown(1_000),
  };
}

/** One bare account actor (no supervisor): crashes stop it, passivation stops it. */
export interface SingleActorHarness {
  readonly ref: ActorRef<AccountMessage>;
  /** The read side on the same store (nothing parked: a bare actor has no supervisor). */
  readonly reads: Reads;
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
  await putConnection(account, sealEnvelope(TEST_KEYRING, account, canaryCredential()));
  const system: ActorSystem = startSystem();
  const passivations: (EpochMs | null)[] = [];
  const lifecycle: AccountLifecycle = {
    passivate: (self, nextSyncAt) => { passivations.push(nextSyncAt); void stop(self as ActorRef<never>); },
    stopped: () => undefined,
    storedFailed: (self) => { void stop(self as ActorRef<never>); },
  };
  const ref = spawnAccountActor({ parent: system, name: 'account-under-test', account, deps, lifecycle, onCrash: (crash) => (crash === 'resume' ? 'resume' : 'reset') });
  return {
    ref, reads: createReads(store, () => false, FULL_DISCLOSURE), store, aggregator: deps.aggregator, deps, openedCredentials, passivations,
    send: (make, timeoutMs = 60_000) => ask(ref, make, timeoutMs),
    close: async () => { await stop(ref as ActorRef<never>); stopSystem(system); },
  };
}
