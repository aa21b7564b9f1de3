// Wires the actor runtime from the validated configuration: what the composition root (src/app/service.ts) calls once.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { AccountKey, EpochMs } from '../domain/types.js';
import { DEFAULT_ACCOUNT_SETTINGS, type AccountActorDeps, type AccountActorSettings } from './account-actor.js';
import { systemClock, type Clock } from './clock.js';
import { ActorMetrics } from './metrics.js';
import { createSupervisor, type ActorLifecycle, type CrashPolicy, type Supervisor } from './supervisor.js';

/** The account actors' own dependencies (store, engine, credential openers and sealer, connectors), plus the runtime's. */
export interface ActorRuntimeDeps extends Pick<AccountActorDeps, 'store' | 'aggregator' | 'openCredential' | 'openSealed' | 'sealForStorage' | 'connectorFactory' | 'marketData'> {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Classifies storage errors a restart may cure (default: by error name and SQLSTATE). */
  readonly crashPolicy?: Partial<CrashPolicy>;
  readonly maxConcurrentFullSyncs?: number;
  readonly settings?: Partial<AccountActorSettings>;
  /** Scale-out (issue 18): whether this instance holds the account's shard (default: always). */
  readonly owns?: (account: AccountKey) => boolean;
  /** Scale-out: whether the account's shard is in the lease book, usable now or not (schedules are kept while it is). */
  readonly holds?: (account: AccountKey) => boolean;
  /** Scale-out: when a wake finds the lease momentarily unusable, it tries again after this long. */
  readonly leaseRetryMs?: number;
  /** Scale-out: told when an account's actor starts and stops (the lease book pins the actor's epoch). */
  readonly actorLifecycle?: ActorLifecycle;
  /** Stores each account's next scheduled sync for the shard's next owner. */
  readonly saveNextSyncAt?: (account: AccountKey, at: EpochMs | null) => Promise<void>;
  /** The metrics' account label (default `exchange:user_uid`; the service passes a keyed pseudonym). */
  readonly accountLabel?: (account: AccountKey) => string;
}

export interface ActorRuntime {
  readonly supervisor: Supervisor;
  readonly metrics: ActorMetrics;
  /** Stops taking work and zeroes every credential within SHUTDOWN_GRACE_MS. */
  shutdown(): Promise<void>;
}

export function createActorRuntime(config: Config, deps: ActorRuntimeDeps): ActorRuntime {
  const clock = deps.clock ?? systemClock;
  const metrics = new ActorMetrics(deps.registry, config.METRICS_ACCOUNT_CAP, {
    syncIntervalMs: config.SYNC_INTERVAL_MS, now: () => clock.now(), ...(deps.accountLabel === undefined ? {} : { accountLabel: deps.accountLabel }),
  });
  const supervisor = createSupervisor({
    deps: {
      store: deps.store, aggregator: deps.aggregator, openCredential: deps.openCredential, openSealed: deps.openSealed, sealForStorage: deps.sealForStorage,
      connectorFactory: deps.connectorFactory, clock, random: Math.random,
      settings: { ...DEFAULT_ACCOUNT_SETTINGS, syncIntervalMs: config.SYNC_INTERVAL_MS, idleMs: config.ACTOR_IDLE_MS, largeFlowShare: config.LARGE_FLOW_SHARE, ...deps.settings },
      logger: deps.logger,
      ...(deps.marketData === undefined ? {} : { marketData: deps.marketData }),
    },
    metrics,
    logger: deps.logger,
    ...(deps.crashPolicy === undefined ? {} : { crashPolicy: deps.crashPolicy }),
    ...(deps.maxConcurrentFullSyncs === undefined ? {} : { maxConcurrentFullSyncs: deps.maxConcurrentFullSyncs }),
    ...(deps.owns === undefined ? {} : { owns: deps.owns }),
    ...(deps.holds === undefined ? {} : { holds: deps.holds }),
    ...(deps.leaseRetryMs === undefined ? {} : { leaseRetryMs: deps.leaseRetryMs }),
    ...(deps.actorLifecycle === undefined ? {} : { actorLifecycle: deps.actorLifecycle }),
    ...(deps.saveNextSyncAt === undefined ? {} : { saveNextSyncAt: deps.saveNextSyncAt }),
  });
  return { supervisor, metrics, shutdown: () => supervisor.shutdown(config.SHUTDOWN_GRACE_MS) };
}
