// Wires the storage layer from configuration, once, for the composition root (src/app/service.ts) and the CLIs:
// DATABASE_URL or the embedded database, migrations, the slonik pool and (on a real server)
// the COPY bulk path.
import type { DatabasePool } from 'slonik';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import type { AccountStore } from './account-store.js';
import { createConnectionRepository, type ConnectionRepository } from './connections.js';
import { createCheckpointStore, type CheckpointStore } from './checkpoint-store.js';
import type { CheckpointSigner } from '../crypto/track-record.js';
import { createDisclosureStore, type DisclosureStore } from './disclosure-store.js';
import { createCopyIngest, type CopyIngest } from './copy-ingest.js';
import { createAccountStore } from './create-account-store.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.js';
import { createMarketDataStore, type MarketDataStore } from './market-data-store.js';
import { migrate } from './migrate.js';
import type { ShardFence } from './shard-fence.js';
import { createDatabasePool } from './pool.js';
import { createAccountSealer, type AccountKeySource } from '../crypto/sealed-rows.js';
import { createSealedStore } from './sealed-store.js';
import { createSealedAmounts } from './sealed-amounts.js';
import type { RollbackAnchors } from './rollback-anchors.js';

export interface Storage {
  readonly pool: DatabasePool;
  /**
   * The shard lease keeper's own connection (issue 18): renewals never wait for a connection behind
   * sync work on `pool`. The embedded database serves one session: there it is `pool`.
   */
  readonly leasePool: DatabasePool;
  /**
   * Where the lease renewal worker opens its own connection (lease-renewer.ts); null on the
   * embedded database, whose one session is this process's: the keeper renews in the event loop there.
   */
  readonly leaseRenewalUrl: string | null;
  readonly accountStore: AccountStore;
  readonly connections: ConnectionRepository;
  /** Public per-venue series and their covered ranges (market-data-store.ts). */
  readonly marketData: MarketDataStore;
  /** Signed checkpoints of the published chains (statements). */
  readonly checkpoints: CheckpointStore;
  /** Disclosure levels and the rewrite of published rows at a level change. */
  readonly disclosure: DisclosureStore;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * `accountKeys`: the per-account data keys (EnclaveKeys): the account store then seals every
 * private row (sealed-store.ts). The service always passes them; maintenance CLIs that never touch
 * private rows need not. `fence`: this instance's shard leases (issue 18); every write checks them.
 * `checkpoints`: signs the account's track-record checkpoint with every write that publishes hours.
 */
export async function openStorage(
  config: Pick<Config, 'DATABASE_URL' | 'EMBEDDED_DB_DIR'>, logger: Logger,
  options: { readonly accountKeys?: AccountKeySource; readonly fence?: ShardFence; readonly checkpoints?: CheckpointSigner; readonly anchors?: RollbackAnchors } = {},
): Promise<Storage> {
  const { accountKeys } = options;
  let embedded: EmbeddedDatabase | null = null;
  if (config.DATABASE_URL === undefined) {
    embedded = await startEmbeddedDatabase(config.EMBEDDED_DB_DIR);
    logger.info({ dir: config.EMBEDDED_DB_DIR }, 'using the embedded database (DATABASE_URL is unset)');
  }
  const url = config.DATABASE_URL ?? embedded!.url;
  let pool: DatabasePool | undefined;
  let leasePool: DatabasePool | undefined;
  let copy: CopyIngest | undefined;
  try {
    await migrate(url, logger);
    pool = await createDatabasePool(url, embedded === null ? {} : { maxPoolSize: embedded.maxPoolSize });
    // A renewal later than the lease margin is worthless: a short statement timeout frees the connection.
    leasePool = embedded === null ? await createDatabasePool(url, { maxPoolSize: 1, statementTimeoutMs: 10_000 }) : pool;
    // COPY through pglite-socket is untested and PGlite serves one session: small-page path only.
    copy = embedded === null ? createCopyIngest(url, 2, options.fence) : undefined;
  } catch (error) {
    if (leasePool !== pool) await leasePool?.end();
    await pool?.end();
    await embedded?.stop();
    throw error;
  }
  const openPool = pool;
  // One sealer for the private rows and the exact amounts; the disclosure store shares the amounts'
  // instance (its in-process high-water marks) with the account store.
  // `anchors`: the sealed records' write counters kept at the key broker (rollback-anchors.ts).
  const anchored = options.anchors === undefined ? {} : { anchors: options.anchors };
  const sealed = accountKeys === undefined ? undefined : createSealedStore(createAccountSealer(accountKeys), anchored);
  const amounts = sealed === undefined ? undefined : createSealedAmounts(sealed.sealer, anchored);
  const openLeasePool = leasePool;
  return {
    pool: openPool,
    leasePool: openLeasePool,
    leaseRenewalUrl: embedded === null ? url : null,
    accountStore: createAccountStore(openPool, {
      ...(copy === undefined ? {} : { copy }),
      ...(sealed === undefined || amounts === undefined ? {} : { sealed, amounts }),
      ...(options.fence === undefined ? {} : { fence: options.fence }),
      ...(options.checkpoints === undefined ? {} : { checkpoints: options.checkpoints }),
      namedStatements: embedded === null,
    }),
    checkpoints: createCheckpointStore(openPool),
    connections: createConnectionRepository(openPool),
    disclosure: createDisclosureStore(openPool, amounts),
    marketData: createMarketDataStore(openPool),
    embedded: embedded !== null,
    async close() {
      await copy?.end();
      if (openLeasePool !== openPool) await openLeasePool.end();
      await openPool.end();
      await embedded?.stop();
    },
  };
}
