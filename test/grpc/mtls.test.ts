import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';
import { GrpcServerConfigError, TlsMaterialError } from '../../src/grpc/errors.js';
import { startGrpcServer, tlsFilesFromConfig } from '../../src/grpc/server.js';
import type { TlsFilePaths } from '../../src/grpc/tls.js';
import { createCa, type Pem, type TestCa } from './certificates.js';
import { captureLogger, isServiceError, startHarness, TestPort, unary, type Harness } from '../../testkit/support/grpc-client.js';

interface Pki {
  readonly dir: string;
  readonly files: TlsFilePaths;
  readonly ca: TestCa;
  readonly client: Pem;
  write(ca: TestCa, server: Pem): void;
}

async function pki(t: { teardown(fn: () => void): void }): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key'), refreshIntervalMs: 100 };
  const ca = createCa('Enclave Test CA');
  const write = (authority: TestCa, server: Pem): void => {
    writeFileSync(files.caFile, authority.cert);
    writeFileSync(files.certFile, server.cert);
    writeFileSync(files.keyFile, server.key);
  };
  write(ca, ca.issue('enclave', 'server'));
  return { dir, files, ca, client: ca.issue('gateway', 'client'), write };
}

function clientCredentials(trusted: TestCa, identity?: Pem): ChannelCredentials {
  return identity === undefined
    ? credentials.createSsl(Buffer.from(trusted.cert))
    : credentials.createSsl(Buffer.from(trusted.cert), Buffer.from(identity.key), Buffer.from(identity.cert));
}

async function healthOf(h: Harness, creds: ChannelCredentials): Promise<'ok' | status> {
  // The certificate names 127.0.0.1 too; the override only avoids Node's IP-as-SNI warning.
  const client = new EnclaveServiceClient(`127.0.0.1:${h.running.port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
  try {
    await unary(client.healthCheck.bind(client), {}, { deadline: Date.now() + 15_000 });
    return 'ok';
  } catch (error) {
    if (isServiceError(error)) return error.code;
    throw error;
  } finally {
    client.close();
  }
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

test('a client with a certificate from the configured CA is served', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  t.is(await healthOf(h, clientCredentials(p.ca, p.client)), 'ok');
  t.false(h.lines.some((l) => l.includes('plaintext')));
});

test('a client without a certificate is refused', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  t.is(await healthOf(h, clientCredentials(p.ca)), status.UNAVAILABLE);
  t.is(h.port.calls.length, 0);
});

test('a client with a certificate from another CA is refused', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  const rogue = createCa('Rogue CA');
  t.is(await healthOf(h, clientCredentials(p.ca, rogue.issue('gateway', 'client'))), status.UNAVAILABLE);
  t.is(h.port.calls.length, 0);
});

test('a plaintext client is refused by an mTLS server', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  t.is(await healthOf(h, credentials.createInsecure()), status.UNAVAILABLE);
});

test('rotated certificate and CA files are picked up without a restart', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  t.is(await healthOf(h, clientCredentials(p.ca, p.client)), 'ok');

  const next = createCa('Enclave Test CA 2');
  const nextClient = next.issue('gateway', 'client');
  t.is(await healthOf(h, clientCredentials(next, nextClient)), status.UNAVAILABLE, 'the new CA is not trusted before rotation');
  p.write(next, next.issue('enclave', 'server'));

  t.true(await eventually(async () => (await healthOf(h, clientCredentials(next, nextClient))) === 'ok'), 'the rotated files were not picked up');
  t.is(await healthOf(h, clientCredentials(p.ca, p.client)), status.UNAVAILABLE, 'the old CA is no longer trusted');
  t.true(h.lines.some((l) => l.includes('TLS certificate files changed')));
});

test('a broken rotation keeps the certificates in service and says so once', async (t) => {
  const p = await pki(t);
  const h = await startHarness({ tls: p.files, enclaveMode: true });
  t.teardown(() => h.close());
  const other = p.ca.issue('other', 'server');
  writeFileSync(p.files.keyFile, other.key); // a key that does not match the certificate
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.is(await healthOf(h, clientCredentials(p.ca, p.client)), 'ok');
  const warnings = h.lines.filter((l) => l.includes('TLS files not reloaded'));
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /does not match the certificate/u);
  t.false(warnings[0]!.includes('PRIVATE KEY'));
});

test('enclave mode refuses to start without TLS files', async (t) => {
  const { logger } = captureLogger();
  await t.throwsAsync(startGrpcServer({ host: '127.0.0.1', port: 0, enclave: new TestPort(), logger, enclaveMode: true }), { instanceOf: GrpcServerConfigError });
});

test('the server refuses to start on unreadable or mismatched TLS files', async (t) => {
  const p = await pki(t);
  const { logger } = captureLogger();
  const base = { host: '127.0.0.1', port: 0, enclave: new TestPort(), logger, enclaveMode: true };
  await t.throwsAsync(startGrpcServer({ ...base, tls: { ...p.files, keyFile: join(p.dir, 'missing.key') } }), { instanceOf: TlsMaterialError });
  writeFileSync(p.files.keyFile, p.ca.issue('x', 'server').key);
  await t.throwsAsync(startGrpcServer({ ...base, tls: p.files }), { instanceOf: TlsMaterialError, message: /does not match/u });
});

test('plaintext outside enclave mode works and logs one warning line', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  t.is(await healthOf(h, credentials.createInsecure()), 'ok');
  t.is(h.lines.filter((l) => l.includes('plaintext')).length, 1);
});

test('TLS files come from the configuration all together or not at all', (t) => {
  t.is(tlsFilesFromConfig({}), undefined);
  t.deepEqual(tlsFilesFromConfig({ TLS_CA_FILE: 'ca', TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k' }), { caFile: 'ca', certFile: 'c', keyFile: 'k' });
  t.throws(() => tlsFilesFromConfig({ TLS_CA_FILE: 'ca' }), { instanceOf: GrpcServerConfigError });
});
