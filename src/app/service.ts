// The composition root: every part wired once, in dependency order, and torn down in reverse.
// src/main.ts runs it as a process; tests and benchmarks may run it in-process.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { instanceAddress, venueBaseUrls, type Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { isExchange, type AccountKey } from '../domain/types.js';
import { createActorRuntime, type ActorRuntime } from '../actors/runtime.js';
import { restoreSchedules } from '../actors/restore-schedules.js';
import { createMarketData } from '../actors/market-data.js';
import { systemClock, type Clock } from '../actors/clock.js';
import { createAggregationPool, type AggregationPool } from '../pool/aggregation-pool.js';
import { openStorage, type Storage } from '../storage/open-storage.js';
import { createLeaseBook } from '../storage/shard-fence.js';
import { createPlacementRepository } from '../storage/placement.js';
import { startLeaseRenewer, type RenewalHandlers } from '../storage/lease-renewer.js';
import { createScheduleRepository } from '../storage/schedules.js';
import { createShardLeaseKeeper } from './shard-leases.js';
import { withShardRouting } from './shard-routing.js';
import { renewIntervalMs } from '../domain/shards.js';
import { rootSecretsFromConfig, type Keyring } from '../crypto/keyring.js';
import { deriveEnclaveKeys, parseReleasedSecrets, type EnclaveKeys, type RootSecrets } from '../crypto/key-hierarchy.js';
import { createSelfSignedCertificate } from '../crypto/self-signed-certificate.js';
import type { PeerTls } from '../crypto/peer-tls.js';
import { createPeerForwarder, peerChannel } from '../grpc/peer-forwarding.js';
import { measuredConfiguration } from '../config/measured-config.js';
import { releaseKeys, type KeyReleaseOptions } from '../attestation/key-release.js';
import { createRollbackAnchorClient } from '../attestation/rollback-anchor-client.js';
import { createRollbackAnchors, type RollbackAnchors } from '../storage/rollback-anchors.js';
import { openEnvelope, sealEnvelope } from '../crypto/envelope.js';
import { createRegistrationChallenges } from '../crypto/registration-challenges.js';
import { createSealedIntake } from './sealed-intake.js';
import { decodeCredential } from '../crypto/credential.js';
import { createConnector } from '../exchanges/registry.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { startGrpcServer, tlsFilesFromConfig, type RunningGrpcServer } from '../grpc/server.js';
import type { TlsFiles } from '../grpc/tls.js';
import { checkAttestationAtStartup, createAttester } from '../attestation/configfs-tsm.js';
import { certificateFingerprint } from '../attestation/binding.js';
import { createEnclaveIdentity, type EnclaveIdentity } from '../attestation/identity.js';
import { createEnclaveApi } from './enclave-api.js';
import { createReads, type Reads } from './reads.js';
import { createStatementIssuer, statementApi, whoisApi } from './statements.js';
import { accountPseudonym, createCheckpointSigner } from '../crypto/track-record.js';
import { readMetricsToken, startMetricsServer } from './metrics-server.js';
import { createReportReader } from './report.js';
import { collectProcessMetrics } from './process-metrics.js';

export interface RunningService {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly storage: Storage;
  readonly runtime: ActorRuntime;
  /** Published aggregates from storage (no actor, no credential). */
  readonly reads: Reads;
  readonly keyring: Keyring;
  /** Every key derived from the root secrets (intake, statement signing, per-account data keys). */
  readonly keys: EnclaveKeys;
  /** The X25519 intake identity served by GetEnclaveIdentity, derived from the root secrets. */
  readonly identity: EnclaveIdentity;
  /** Stops taking calls, lets syncs finish within SHUTDOWN_GRACE_MS, zeroes credentials, closes everything. */
  stop(): Promise<void>;
}

/** Shard leases on the embedded database (one process only): a day, renewed every 8 hours. */
const EMBEDDED_LEASE_TTL_MS = 86_400_000;

/**
 * Outside enclave mode a missing ENCRYPTION_KEY gets a development key kept beside the embedded
 * database (mode 0600), so the demo survives restarts. Enclave mode never reaches this: its
 * secrets come from the key broker.
 */
function developmentRootSecrets(config: Config, logger: Logger): RootSecrets {
  const file = join(dirname(config.EMBEDDED_DB_DIR), 'dev-encryption.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  logger.warn({ file }, 'ENCRYPTION_KEY is unset: using a development key file (never in production)');
  return { currentId: config.ENCRYPTION_KEY_ID, secrets: new Map([[config.ENCRYPTION_KEY_ID, Buffer.from(readFileSync(file, 'utf8').trim(), 'hex')]]) };
}

/**
 * The root secrets: released by the key broker to this guest's verified report when
 * KEY_BROKER_URL is set (always in enclave mode), else ENCRYPTION_KEY or the development file.
 */
/** The broker channel's options (key release and rollback anchors); null without a broker. */
function brokerChannel(config: Config): Omit<KeyReleaseOptions, 'resourcePath'> | null {
  if (config.KEY_BROKER_URL === undefined) return null;
  const gatewayCa = config.TLS_CA_FILE === undefined ? null : readFileSync(config.TLS_CA_FILE);
  return {
    brokerUrl: config.KEY_BROKER_URL,
    ...(config.KEY_BROKER_CERT_SHA256 === undefined ? {} : { brokerCertSha256: config.KEY_BROKER_CERT_SHA256 }),
    tsm: { root: config.TSM_REPORT_ROOT },
    expectedHostData: measuredConfiguration(config, gatewayCa).hostData,
  };
}

/**
 * How often the rollback anchors that moved are pushed to the broker (one request for all
 * accounts). A rollback to a state inside the last interval before a crash is not caught.
 */
const ANCHOR_FLUSH_MS = 30_000;

async function obtainRootSecrets(config: Config, logger: Logger): Promise<RootSecrets> {
  const channel = brokerChannel(config);
  if (channel === null) {
    return config.ENCRYPTION_KEY === undefined ? developmentRootSecrets(config, logger) : rootSecretsFromConfig(config);
  }
  const release = await releaseKeys({ ...channel, resourcePath: config.KEY_BROKER_RESOURCE });
  try {
    logger.info({ measurement: release.report.measurement.toString('hex') }, 'root secrets released by the key broker');
    return parseReleasedSecrets(release.resource);
  } finally {
    release.resource.fill(0);
  }
}

/** Enclave mode: the gateway CA read once (it is measured) and a key pair made in memory. */
function enclaveTls(config: Config, peer: PeerTls): TlsFiles | undefined {
  if (!config.ENCLAVE_MODE || config.TLS_CA_FILE === undefined) return tlsFilesFromConfig(config);
  const names = [...new Set([config.ENCLAVE_HOST, 'localhost'])];
  // The peer tag: the other instances recognise this server by it (src/crypto/peer-tls.ts).
  return { inMemory: { ca: readFileSync(config.TLS_CA_FILE), ...createSelfSignedCertificate({ names, namesOfKey: (spki) => peer.tagNames(spki) }) } };
}

/**
 * The server certificate of the mTLS /metrics: the gRPC one (in enclave mode the in-memory
 * certificate whose fingerprint the attestation report binds, so a scraper can pin it), else a
 * fresh in-memory one.
 */
function metricsCertificate(tls: TlsFiles | undefined, config: Config): { readonly cert: Buffer; readonly key: Buffer } {
  if (tls !== undefined && 'inMemory' in tls) return { cert: tls.inMemory.cert, key: tls.inMemory.key };
  if (tls !== undefined) return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  const names = [...new Set([config.METRICS_HOST ?? config.ENCLAVE_HOST, 'localhost'])];
  const created = createSelfSignedCertificate({ names });
  return { cert: Buffer.from(created.cert), key: Buffer.from(created.key) };
}

/** In-process callers only (benchmarks): replaces what configuration cannot express. */
export interface ServiceOverrides {
  /** Builds an account's connector from its opened credential (default: the venue registry). */
  readonly connectorFactory?: (account: AccountKey, plaintext: Buffer) => VenueConnector;
  /** The actors' and market data's clock (default: the system clock); the capacity bench moves it. */
  readonly clock?: Clock;
}

export async function startService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Promise<RunningService> {
  await checkAttestationAtStartup({ amdSevSnp: config.AMD_SEV_SNP, root: config.TSM_REPORT_ROOT });
  const root = await obtainRootSecrets(config, logger);
  const keys = await deriveEnclaveKeys(root).finally(() => {
    for (const secret of root.secrets.values()) secret.fill(0);
  });
  const keyring = keys.keyring;
  const identity = await createEnclaveIdentity({ intakeKey: keys.intake });
  const baseUrls = venueBaseUrls(config);
  for (const name of baseUrls.keys()) if (!isExchange(name)) throw new Error(`VENUE_BASE_URLS: unknown exchange ${name}`);

  // Every aggregate write that publishes hours also signs the account's chain checkpoint.
  const signer = createCheckpointSigner(keys);
  // Scale-out (issue 18): a new instance id at every start; the lease book fences every write.
  const leases = createLeaseBook(randomUUID(), config.SHARD_COUNT);
  // Whole-account rollback (docs/sealed-storage.md): with a key broker, the sealed records' write
  // counters are anchored there, fetched now (before any account loads) and pushed in batches.
  const anchorChannel = brokerChannel(config);
  const anchorClient = anchorChannel === null ? null : createRollbackAnchorClient(anchorChannel);
  let anchors: RollbackAnchors | undefined;
  if (anchorClient !== null) {
    anchors = createRollbackAnchors(keys.pseudonymKey);
    anchors.load(await anchorClient.fetch());
  }
  const flushAnchors = async (): Promise<void> => {
    if (anchorClient === null || anchors === undefined) return;
    const change = anchors.take();
    try {
      await anchorClient.push(change);
    } catch (error) {
      anchors.restore(change);
      logger.warn({ err: error instanceof Error ? error.name : 'error' }, 'rollback anchors not pushed; retried at the next flush');
    }
  };
  const anchorTimer = anchorClient === null ? undefined : setInterval(() => { void flushAnchors(); }, ANCHOR_FLUSH_MS);
  anchorTimer?.unref();
  // Private rows are sealed under per-account data keys derived from the released secret.
  const storage = await openStorage(config, logger, {
    accountKeys: { currentId: keyring.current.id, accountDataKey: (account, id) => keys.accountDataKey(account, id) },
    fence: leases,
    checkpoints: signer,
    ...(anchors === undefined ? {} : { anchors }),
  });
  const schedules = createScheduleRepository(storage.pool);
  const pool: AggregationPool = createAggregationPool({ threads: config.POOL_THREADS });
  const registry = new Registry();
  collectProcessMetrics(registry, pool);

  const connectorFactory = overrides.connectorFactory ?? ((account: AccountKey, plaintext: Buffer): VenueConnector => {
    const baseUrl = baseUrls.get(account.exchange);
    return createConnector(account, decodeCredential(plaintext), {
      enclaveMode: config.ENCLAVE_MODE,
      logger,
      ...(baseUrl === undefined ? {} : { baseUrl }),
      ...(config.VENUE_RATE_LIMIT_MS === undefined ? {} : { rateLimitMs: config.VENUE_RATE_LIMIT_MS }),
    });
  });
  const challenges = createRegistrationChallenges();
  const runtime = createActorRuntime(config, {
    store: storage.accountStore,
    aggregator: pool,
    openCredential: (account, envelope) => openEnvelope(keyring, account, envelope),
    // The HPKE intake: only an account actor calls it, for a Register of its own account.
    openSealed: createSealedIntake({ identity, challenges, enclaveMode: config.ENCLAVE_MODE }),
    sealForStorage: (account, plaintext) => sealEnvelope(keyring, account, plaintext),
    connectorFactory,
    // Public market data: fetched and stored once per venue and market, read by every account.
    marketData: createMarketData({ store: storage.marketData, clock: overrides.clock ?? systemClock }),
    ...(overrides.clock === undefined ? {} : { clock: overrides.clock }),
    registry,
    logger,
    owns: (account) => leases.owns(account),
    // In the book, usable or only late: schedules survive a renewal that comes in late.
    holds: (account) => leases.epochOf(leases.shardOf(account)) !== undefined,
    leaseRetryMs: renewIntervalMs(config.LEASE_TTL_MS),
    // Each actor's writes are fenced with the epoch its shard had when it started.
    actorLifecycle: { started: (account) => leases.pin(account), stopped: (account) => leases.unpin(account) },
    saveNextSyncAt: (account, at) => schedules.save(account, at),
    // Metric labels name a keyed pseudonym, never the account (enclave whois maps it back).
    accountLabel: (account) => accountPseudonym(keys.pseudonymKey, account),
  });
  // Stored accounts of the shards this instance claims keep syncing by themselves: their stored
  // schedule, else spread over one interval. Claimed at start (one instance: every shard) and later.
  const placement = createPlacementRepository(storage.pool);
  // The embedded database belongs to this process alone (PGlite in-process): no other instance can
  // take a shard over, so leases there must not lapse when one session is busy with a long sync
  // (renewals queue behind it): a day-long TTL, and what an earlier run left is void.
  const leaseTtlMs = storage.embedded ? EMBEDDED_LEASE_TTL_MS : config.LEASE_TTL_MS;
  if (storage.embedded) await placement.resetForSoleInstance();
  const renewalUrl = storage.leaseRenewalUrl;
  const keeper = createShardLeaseKeeper({
    // Its own connection: renewals never queue behind sync work for one of the pool's.
    placement: createPlacementRepository(storage.leasePool),
    book: leases,
    addr: instanceAddress(config),
    ttlMs: leaseTtlMs,
    stopShards: (shards) => {
      const leaving = new Set(shards);
      return runtime.supervisor.stopWhere((account) => leaving.has(leases.shardOf(account)), config.SHUTDOWN_GRACE_MS);
    },
    shardsGained: async (shards) => {
      // Only the claimed shards' rows (indexed by shard, sql/018); the hash in the process double-checks.
      const gained = new Set(shards);
      const stored = (await schedules.listShards(shards)).filter((s) => gained.has(leases.shardOf(s.account)));
      const restored = restoreSchedules(runtime.supervisor, stored, { now: Date.now(), syncIntervalMs: config.SYNC_INTERVAL_MS, random: Math.random });
      logger.info({ ...restored, shards: shards.length }, 'account schedules restored');
    },
    registry,
    logger,
    // Renewed from a worker thread on its own connection: a busy event loop cannot make it late.
    ...(renewalUrl === null ? {} : {
      offLoop: (deadline: BigInt64Array, handlers: RenewalHandlers) => startLeaseRenewer(
        { url: renewalUrl, instanceId: leases.instanceId, addr: instanceAddress(config), ttlMs: leaseTtlMs, deadline }, handlers),
    }),
  });
  await keeper.start();
  // The disclosure store and the account store share one database: the metrics read takes the level from its own statement.
  const reads = createReads(storage.accountStore, (account) => runtime.supervisor.status(account) === 'failed', storage.disclosure, { levelWithMetrics: true });

  const tls = enclaveTls(config, keys.peerTls);
  // Commands for another instance's shard are forwarded to it (one hop, peer mTLS).
  const forwarder = createPeerForwarder({ ...peerChannel(tls, keys.peerTls), registry, logger });
  const retryAfterMs = renewIntervalMs(config.LEASE_TTL_MS);
  const ownerElsewhere = async (account: AccountKey): Promise<string | null> => {
    if (leases.owns(account)) return null;
    const owner = await placement.ownerOf(leases.shardOf(account));
    return owner === null || owner.instanceId === leases.instanceId ? null : owner.addr;
  };
  const attester = () =>
    createAttester({
      amdSevSnp: config.AMD_SEV_SNP,
      root: config.TSM_REPORT_ROOT,
      identity,
      // Statements are signed with this key: the report vouches for it (binding.ts).
      statementSigningKey: keys.statementSigning.publicKey,
      // Read per report: the certificate file may have been replaced since start.
      tlsCertificateFingerprint: tls === undefined ? null : certificateFingerprint('inMemory' in tls ? tls.inMemory.cert : readFileSync(tls.certFile)),
    });
  const grpc: RunningGrpcServer = await startGrpcServer({
    host: config.ENCLAVE_HOST,
    port: config.ENCLAVE_PORT,
    enclave: {
      ...createEnclaveApi(
        withShardRouting(runtime.supervisor, { book: leases, placement, retryAfterMs }), reads,
        { identity, attester, challenges, statementSigningKey: keys.statementSigning.publicKey }, storage.disclosure, () => keeper.health(),
      ),
      ...createReportReader({ store: storage.accountStore, connections: storage.connections }),
      ...whoisApi(() => storage.connections.listConnections(), (account) => accountPseudonym(keys.pseudonymKey, account)),
      ...statementApi(createStatementIssuer({ checkpoints: storage.checkpoints, store: storage.accountStore, signer, codeMeasurement: identity.buildHash })),
    },
    logger,
    enclaveMode: config.ENCLAVE_MODE,
    ...(tls === undefined ? {} : { tls, peerCa: keys.peerTls.ca }),
    service: { peers: { forwarder, ownerElsewhere, retryAfterMs } },
    version: identity.serviceVersion,
  });
  const metricsServer = await startMetricsServer(registry, {
    host: config.METRICS_HOST ?? config.ENCLAVE_HOST, port: config.METRICS_PORT,
    token: config.METRICS_TOKEN_FILE === undefined ? null : readMetricsToken(config.METRICS_TOKEN_FILE),
    anonymous: !config.ENCLAVE_MODE,
    ...(config.METRICS_CLIENT_CA === undefined ? {} : { mtls: { clientCa: readFileSync(config.METRICS_CLIENT_CA), certificate: metricsCertificate(tls, config) } }),
  });
  const metricsAddress = metricsServer.address();
  const metricsPort = typeof metricsAddress === 'object' && metricsAddress !== null ? metricsAddress.port : config.METRICS_PORT;
  logger.info({ grpcPort: grpc.port, metricsPort, instanceId: leases.instanceId, shards: leases.size }, 'enclave worker started');

  let stopping: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    metricsPort,
    storage,
    runtime,
    reads,
    keyring,
    keys,
    identity,
    stop() {
      stopping ??= (async () => {
        // Refuse new calls first, then let the runtime drain syncs and zero every credential.
        await Promise.all([grpc.close(config.SHUTDOWN_GRACE_MS), runtime.shutdown()]);
        forwarder.close();
        // Drained: hand the shards back at once instead of letting them expire.
        await keeper.stop();
        // The last counters written before the stop: anchored before the process goes.
        clearInterval(anchorTimer);
        await flushAnchors();
        metricsServer.closeAllConnections();
        metricsServer.close();
        await pool.close();
        await storage.close();
        logger.info('enclave worker stopped');
      })();
      return stopping;
    },
  };
}
