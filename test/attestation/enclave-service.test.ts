// The service in enclave mode, in-process: secrets only from the broker, the TLS key made in
// memory and bound in reports, the offline-decrypt attack, and the refusals at start.
import { execFile } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { credentials } from '@grpc/grpc-js';
import test from 'ava';
import { startService, type RunningService } from '../../src/app/service.js';
import { buildHashBytes } from '../../src/attestation/binding.js';
import { KeyReleaseError } from '../../src/attestation/errors.js';
import { verifyAttestationReport } from '../../src/attestation/verify.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { measuredConfiguration } from '../../src/config/measured-config.js';
import { KeyringError } from '../../src/crypto/errors.js';
import { openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { createKeyring, keyringFromConfig } from '../../src/crypto/keyring.js';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';
import { startTestBroker, startTestGuest, type BrokerAddress } from '../../testkit/attestation/test-broker.js';
import { testAmdChain } from '../../testkit/attestation/test-amd-chain.js';
import { createTestDatabase, type TestDatabase } from '../../testkit/support/database.js';
import { captureLogger, unary } from '../../testkit/support/grpc-client.js';
import { createCa } from '../grpc/certificates.js';

const gatewayCa = createCa('Gateway Test CA');
const gateway = gatewayCa.issue('gateway', 'client');

interface Scene {
  readonly scratch: string;
  readonly db: TestDatabase;
  readonly caFile: string;
  readonly tsmRoot: string;
}

async function scene(t: { teardown(fn: () => Promise<void> | void): void }): Promise<Scene> {
  const scratch = mkdtempSync(join(tmpdir(), 'enclave-service-'));
  const db = await createTestDatabase();
  const caFile = join(scratch, 'gateway-ca.pem');
  writeFileSync(caFile, gatewayCa.cert);
  t.teardown(async () => {
    await db.drop();
    rmSync(scratch, { recursive: true, force: true });
  });
  return { scratch, db, caFile, tsmRoot: join(scratch, 'tsm-not-yet') };
}

/** An enclave-mode configuration (local PostgreSQL has no TLS, so it is built past loadConfig's sslmode rule). */
function enclaveConfig(s: Scene, broker: BrokerAddress, tsmRoot: string): Config {
  return {
    ...loadConfig({ DATABASE_URL: s.db.url, ENCLAVE_PORT: '0', METRICS_PORT: '0', EMBEDDED_DB_DIR: join(s.scratch, 'pglite'), TSM_REPORT_ROOT: tsmRoot }, []),
    ENCLAVE_MODE: true,
    AMD_SEV_SNP: true,
    TLS_CA_FILE: s.caFile,
    KEY_BROKER_URL: broker.url,
    KEY_BROKER_CERT_SHA256: broker.certSha256,
  };
}

/** The served certificate, read with a TLS handshake (mTLS: the gateway presents its certificate). */
async function servedCertificate(port: number): Promise<X509Certificate> {
  const socket = connect({ host: '127.0.0.1', servername: 'localhost', port, cert: gateway.cert, key: gateway.key, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const raw = socket.getPeerCertificate().raw;
  socket.destroy();
  return new X509Certificate(raw);
}

/** A gRPC client that trusts exactly the certificate it was shown (after checking the report binds it). */
function pinnedClient(port: number, served: X509Certificate): EnclaveServiceClient {
  return new EnclaveServiceClient(`127.0.0.1:${port}`, credentials.createSsl(Buffer.from(served.toString()), Buffer.from(gateway.key), Buffer.from(gateway.cert)));
}

/** A guest and a broker that approves its configuration (HOST_DATA depends on the broker's address, so it is set once that is known). */
async function approvedEnclave(s: Scene, t: { teardown(fn: () => Promise<void> | void): void }): Promise<{ config: Config; broker: Awaited<ReturnType<typeof startTestBroker>>; inblobs: Buffer[] }> {
  const chain = await testAmdChain();
  const fields: { hostData?: Buffer } = {};
  const guest = await startTestGuest(chain, fields);
  let config: Config | undefined;
  const broker = await startTestBroker((address) => {
    config = enclaveConfig(s, address, guest.root);
    fields.hostData = measuredConfiguration(config, Buffer.from(gatewayCa.cert)).hostData;
    return fields.hostData;
  });
  t.teardown(async () => {
    await broker.close();
    await guest.stop();
  });
  return { config: config!, broker, inblobs: guest.inblobs };
}

async function startQuietly(config: Config): Promise<RunningService> {
  return startService(config, captureLogger().logger);
}

test.serial('two enclave-mode instances released by the same broker share the intake key and bind their in-memory TLS certificates in their reports', async (t) => {
  const s = await scene(t);
  const { config, broker } = await approvedEnclave(s, t);
  const a = await startQuietly(config);
  t.teardown(() => a.stop());
  const b = await startQuietly(config);
  t.teardown(() => b.stop());
  t.is(broker.broker.released(), 2);
  for (const service of [a, b]) {
    const served = await servedCertificate(service.grpcPort);
    const client = pinnedClient(service.grpcPort, served);
    t.teardown(() => client.close());
    const identity = await unary(client.getEnclaveIdentity.bind(client), {});
    t.deepEqual(Buffer.from(identity.hpkePublicKey), a.identity.publicKey, 'same intake key on both instances');
    const nonce = randomBytes(32);
    const attestation = await unary(client.getAttestation.bind(client), { nonce });
    t.is(identity.statementSigningKey.byteLength, 32, 'the statement-signing key is reported');
    const verdictFor = (statementSigningKey: Uint8Array | null) => verifyAttestationReport(attestation.report, {
      expected: {
        binding: {
          nonce,
          enclavePublicKey: identity.hpkePublicKey,
          tlsCertificateFingerprint: Buffer.from(served.fingerprint256.replaceAll(':', ''), 'hex'),
          buildHash: buildHashBytes(identity.buildHash),
          statementSigningKey,
        },
      },
      policy: { measurements: [TEST_MEASUREMENT], hostData: measuredConfiguration(config, Buffer.from(gatewayCa.cert)).hostData },
      endorsements: { ark: broker.chain.ark, ask: broker.chain.ask, vcek: broker.chain.vcek, trustedArks: broker.chain.trustedArks },
    });
    const verdict = verdictFor(identity.statementSigningKey);
    t.deepEqual(verdict.checks.filter((c) => c.status === 'fail'), [], 'the report binds the certificate this connection was served and the statement-signing key');
    t.true(verdictFor(null).checks.some((c) => c.status === 'fail'), 'a report verified without the signing key fails: the key is bound');
    t.true(verdictFor(randomBytes(32)).checks.some((c) => c.status === 'fail'), 'another signing key fails');
  }
  t.notDeepEqual((await servedCertificate(a.grpcPort)).raw, (await servedCertificate(b.grpcPort)).raw, 'each instance made its own TLS key');
  t.false(existsSync(join(s.scratch, 'dev-encryption.key')), 'no key file in enclave mode');
});

test.serial('the offline-decrypt attack (database dump + launch configuration, no broker) recovers nothing', async (t) => {
  const s = await scene(t);
  const { config } = await approvedEnclave(s, t);
  const service = await startQuietly(config);
  const account = { userUid: 'victim', exchange: 'binance' } as const;
  const canary = Buffer.from(JSON.stringify({ apiKey: 'canary-key', secret: 'canary-secret' }));
  await service.storage.connections.saveConnection(account, sealEnvelope(service.keyring, account, canary));
  await service.stop();

  // The attacker's material: the dump, every launch variable and value, the HOST_DATA, the public constants.
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: s.db.url });
  await client.connect();
  const { rows } = await client.query<{ envelope: Buffer }>('SELECT envelope FROM exchange_connections');
  await client.end();
  t.is(rows.length, 1);
  const dump = rows[0]!.envelope;
  t.throws(() => keyringFromConfig(config), { instanceOf: KeyringError }, 'the launch configuration holds no key');
  const launchValues = Object.values(config).filter((v): v is string => typeof v === 'string');
  const candidates = [
    ...launchValues.map((v) => Buffer.from(v.padEnd(64, '0').slice(0, 64), 'hex')).filter((b) => b.length === 32),
    ...launchValues.map((v) => createHashOf(v)),
    measuredConfiguration(config, Buffer.from(gatewayCa.cert)).hostData,
    service.identity.publicKey,
    Buffer.alloc(32),
  ];
  let opened = 0;
  for (const secret of candidates) {
    for (const id of [0, 1, config.ENCRYPTION_KEY_ID]) {
      try {
        openEnvelope(createKeyring([{ id, secret: Buffer.from(secret) }], id), account, dump);
        opened += 1;
      } catch {
        // expected: nothing the operator holds is the key
      }
    }
  }
  t.is(opened, 0);
  t.false(dump.includes(Buffer.from('canary')));
});

function createHashOf(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

test.serial('enclave mode refuses to start without a release: broker unreachable, or a configuration the broker did not approve', async (t) => {
  const s = await scene(t);
  const { config, broker } = await approvedEnclave(s, t);
  await t.throwsAsync(startQuietly({ ...config, KEY_BROKER_URL: 'https://127.0.0.1:9' }), { instanceOf: KeyReleaseError });
  // Another database host: HOST_DATA (what the guest was launched with) no longer describes the configuration.
  await t.throwsAsync(startQuietly({ ...config, DATABASE_URL: s.db.url.replace('127.0.0.1', 'localhost') }), { instanceOf: KeyReleaseError, message: /HOST_DATA/u });
  t.is(broker.broker.released(), 0);
});

test.serial('the process refuses to start in enclave mode with NODE_OPTIONS set (exit 2, before anything runs)', async (t) => {
  const env = {
    PATH: process.env.PATH ?? '',
    ENCLAVE_MODE: 'true',
    AMD_SEV_SNP: 'true',
    TLS_CA_FILE: 'ca.pem',
    KEY_BROKER_URL: 'https://127.0.0.1:9',
    KEY_BROKER_CERT_SHA256: 'ab'.repeat(32),
    DATABASE_URL: 'postgresql://u@127.0.0.1/x?sslmode=verify-full',
    NODE_OPTIONS: '--max-old-space-size=200',
  };
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, cwd: process.cwd(), timeout: 60_000 }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
  });
  t.is(result.code, 2);
  t.regex(result.stderr, /NODE_OPTIONS: not allowed when ENCLAVE_MODE=true/u);
});
