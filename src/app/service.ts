// The composition root: every part wired once, in dependency order, and torn down in reverse.
// src/main.ts runs it as a process; tests and benchmarks may run it in-process.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { venueBaseUrls, type Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { computePerformanceStats } from '../domain/performance.js';
import { isExchange, type AccountKey } from '../domain/types.js';
import { createActorRuntime, type ActorRuntime } from '../actors/runtime.js';
import { restoreSchedules } from '../actors/restore-schedules.js';
import { createAggregationPool, type AggregationPool } from '../pool/aggregation-pool.js';
import { openStorage, type Storage } from '../storage/open-storage.js';
import { createKeyring, keyringFromConfig, type Keyring } from '../crypto/keyring.js';
import { openEnvelope } from '../crypto/envelope.js';
import { decodeCredential } from '../crypto/credential.js';
import { createConnector } from '../exchanges/registry.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { startGrpcServer, tlsFilesFromConfig, type RunningGrpcServer } from '../grpc/server.js';
import { checkAttestationAtStartup, createAttester } from '../attestation/configfs-tsm.js';
import { certificateFingerprint } from '../attestation/binding.js';
import { createEnclaveIdentity, type EnclaveIdentity } from '../attestation/identity.js';
import { createEnclaveApi } from './enclave-api.js';
import { createReportReader } from './report.js';
import { collectProcessMetrics } from './process-metrics.js';

export interface RunningService {
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly storage: Storage;
  readonly runtime: ActorRuntime;
  readonly keyring: Keyring;
  /** The in-memory X25519 identity served by GetEnclaveIdentity (new at every start). */
  readonly identity: EnclaveIdentity;
  /** Stops taking calls, lets syncs finish within SHUTDOWN_GRACE_MS, zeroes credentials, closes everything. */
  stop(): Promise<void>;
}

/**
 * Outside enclave mode a missing ENCRYPTION_KEY gets a development key kept beside the embedded
 * database (mode 0600), so the demo survives restarts. Enclave mode never reaches this: its
 * configuration requires ENCRYPTION_KEY.
 */
function developmentKeyring(config: Config, logger: Logger): Keyring {
  const file = join(dirname(config.EMBEDDED_DB_DIR), 'dev-encryption.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  logger.warn({ file }, 'ENCRYPTION_KEY is unset: using a development key file (never in production)');
  const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  try {
    return createKeyring([{ id: config.ENCRYPTION_KEY_ID, secret }], config.ENCRYPTION_KEY_ID);
  } finally {
    secret.fill(0);
  }
}

async function startMetricsServer(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

/** In-process callers only (benchmarks): replaces what configuration cannot express. */
export interface ServiceOverrides {
  /** Builds an account's connector from its opened credential (default: the venue registry). */
  readonly connectorFactory?: (account: AccountKey, plaintext: Buffer) => VenueConnector;
}

export async function startService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Promise<RunningService> {
  await checkAttestationAtStartup({ amdSevSnp: config.AMD_SEV_SNP, root: config.TSM_REPORT_ROOT });
  const identity = await createEnclaveIdentity();
  const keyring = config.ENCRYPTION_KEY === undefined ? developmentKeyring(config, logger) : keyringFromConfig(config);
  const baseUrls = venueBaseUrls(config);
  for (const name of baseUrls.keys()) if (!isExchange(name)) throw new Error(`VENUE_BASE_URLS: unknown exchange ${name}`);

  const storage = await openStorage(config, logger);
  const pool: AggregationPool = createAggregationPool({ threads: config.POOL_THREADS });
  const registry = new Registry();
  collectProcessMetrics(registry, pool);

  const connectorFactory = overrides.connectorFactory ?? ((account: AccountKey, plaintext: Buffer): VenueConnector => {
    const baseUrl = baseUrls.get(account.exchange);
    return createConnector(account, decodeCredential(plaintext), {
      enclaveMode: config.ENCLAVE_MODE,
      logger,
      ...(baseUrl === undefined ? {} : { baseUrl }),
    });
  });
  const runtime = createActorRuntime(config, {
    store: storage.accountStore,
    aggregator: pool,
    openCredential: (account, envelope) => openEnvelope(keyring, account, envelope),
    connectorFactory,
    computePerformanceStats,
    registry,
    logger,
  });
  // Stored accounts keep syncing by themselves after a restart, spread over one interval.
  const restored = restoreSchedules(runtime.supervisor, await storage.connections.listConnections(), {
    now: Date.now(), syncIntervalMs: config.SYNC_INTERVAL_MS, random: Math.random,
  });
  logger.info(restored, 'account schedules restored');

  const tls = tlsFilesFromConfig(config);
  const attester = () =>
    createAttester({
      amdSevSnp: config.AMD_SEV_SNP,
      root: config.TSM_REPORT_ROOT,
      identity,
      // Read per report: the certificate file may have been replaced since start.
      tlsCertificateFingerprint: tls === undefined ? null : certificateFingerprint(readFileSync(tls.certFile)),
    });
  const grpc: RunningGrpcServer = await startGrpcServer({
    host: config.ENCLAVE_HOST,
    port: config.ENCLAVE_PORT,
    enclave: {
      ...createEnclaveApi(runtime.supervisor, {
        identity,
        keyring,
        connections: storage.connections,
        connectorFactory,
        attester,
        logger,
        onConnectionRemoved: (account) => runtime.metrics.forget(account),
      }),
      ...createReportReader({ store: storage.accountStore, connections: storage.connections }),
    },
    logger,
    enclaveMode: config.ENCLAVE_MODE,
    ...(tls === undefined ? {} : { tls }),
    version: identity.serviceVersion,
  });
  const metricsServer = await startMetricsServer(registry, config.ENCLAVE_HOST, config.METRICS_PORT);
  const metricsAddress = metricsServer.address();
  const metricsPort = typeof metricsAddress === 'object' && metricsAddress !== null ? metricsAddress.port : config.METRICS_PORT;
  logger.info({ grpcPort: grpc.port, metricsPort }, 'enclave worker started');

  let stopping: Promise<void> | undefined;
  return {
    grpcPort: grpc.port,
    metricsPort,
    storage,
    runtime,
    keyring,
    identity,
    stop() {
      stopping ??= (async () => {
        // Refuse new calls first, then let the runtime drain syncs and zero every credential.
        await Promise.all([grpc.close(config.SHUTDOWN_GRACE_MS), runtime.shutdown()]);
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
