// Issue 13, item 5: `enclave add` verifies the service before it seals. A fake gRPC server with
// its own X25519 key plays the enclave; whatever report it offers short of a genuine one for a
// pinned measurement that binds this nonce, its key and the build hash it reports (the manifest's,
// when pinned), the CLI exits non-zero and the fake never sees a challenge request or a byte of
// ciphertext.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { attestationReportData } from '../../src/attestation/binding.js';
import { AttestationUnavailableError } from '../../src/attestation/errors.js';
import type { Attestation } from '../../src/attestation/configfs-tsm.js';
import { createEnclaveIdentity, type EnclaveIdentity } from '../../src/attestation/identity.js';
import { parseSnpReport } from '../../src/attestation/snp-report.js';
import { runCli } from '../../src/cli/main.js';
import { openSealedRegistration } from '../../src/crypto/sealed-intake.js';
import { startHarness, type Harness } from '../../testkit/support/grpc-client.js';
import { testAmdChain, type TestAmdChain } from '../../testkit/attestation/test-amd-chain.js';
import { buildSyntheticReport, signSyntheticReport, TEST_MEASUREMENT, testSigningKey } from '../../testkit/attestation/synthetic-report.js';

const KEY_TEXT = 'CANARY-KEY-5e0c\nCANARY-SECRET-aa71\n';
/** The build hash the fake enclave reports. */
const BUILD_HASH = 'b1'.repeat(32);

/** REPORT_DATA as the enclave binds it (no TLS on the test channel), by default for BUILD_HASH. */
function bound(nonce: Uint8Array, enclavePublicKey: Uint8Array, buildHash: string = BUILD_HASH): Buffer {
  return attestationReportData({ nonce, enclavePublicKey, tlsCertificateFingerprint: null, buildHash: Buffer.from(buildHash, 'hex') });
}

interface Fake {
  readonly h: Harness;
  readonly identity: EnclaveIdentity;
  /** Every sealed blob RegisterConnection received. */
  readonly received: Uint8Array[];
  readonly challenges: Buffer[];
}

/** A fake enclave: its own intake key, and `report(nonce, key)` for GetAttestation. */
async function startFake(t: ExecutionContext, report: (nonce: Uint8Array, publicKey: Buffer) => Buffer | null): Promise<Fake> {
  const h = await startHarness();
  t.teardown(() => h.close());
  const identity = await createEnclaveIdentity({ serviceVersion: 'fake', buildHash: BUILD_HASH });
  const received: Uint8Array[] = [];
  const challenges: Buffer[] = [];
  h.port.behaviour.identity = async () => ({ publicKey: identity.publicKey, serviceVersion: 'fake', buildHash: BUILD_HASH });
  const offered = (nonce: Uint8Array): Attestation | null => {
    const bytes = report(nonce, identity.publicKey);
    return bytes === null ? null : { report: bytes, parsed: parseSnpReport(bytes), reportData: parseSnpReport(bytes).reportData };
  };
  h.port.behaviour.getAttestation = async (nonce) => {
    const attestation = offered(nonce);
    if (attestation === null) throw new AttestationUnavailableError('no SEV-SNP attestation device (fake enclave)');
    return attestation;
  };
  h.port.behaviour.registrationChallenge = async () => {
    const challenge = Buffer.alloc(32, challenges.length + 1);
    challenges.push(challenge);
    return { challenge, expiresAt: Date.now() + 60_000 };
  };
  h.port.behaviour.registerConnection = async (_account, sealed) => {
    received.push(Buffer.from(sealed));
    return { status: 'active', permissionsChecked: true };
  };
  return { h, identity, received, challenges };
}

interface Pins {
  readonly args: string[];
  readonly chain: TestAmdChain;
}

async function pins(t: ExecutionContext, measurements: readonly Buffer[] = [TEST_MEASUREMENT], buildHash: string | null = null): Promise<Pins> {
  const chain = await testAmdChain();
  const dir = await mkdtemp(path.join(tmpdir(), 'seal-verify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const manifest = path.join(dir, 'release-manifest.json');
  await writeFile(manifest, JSON.stringify({
    schema: 'track-record-enclave/release-manifest/v1', version: '0.1.0', filesSha256: '00', files: [],
    measurement: null, measurements: measurements.map((m) => m.toString('hex')), hostData: null, buildHash,
  }));
  await writeFile(path.join(dir, 'vcek.pem'), chain.vcek.toString());
  await writeFile(path.join(dir, 'chain.pem'), `${chain.ask.toString()}${chain.ark.toString()}`);
  return {
    chain,
    args: ['--manifest', manifest, '--vcek', path.join(dir, 'vcek.pem'), '--cert-chain', path.join(dir, 'chain.pem'), '--trusted-ark-sha256', chain.ark.fingerprint256],
  };
}

async function add(fake: Fake, extra: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['add', 'victim', 'binance', '--target', `127.0.0.1:${fake.h.running.port}`, ...extra], {
    out: (text) => { out += text; },
    err: (text) => { err += text; },
    readStdin: async () => Buffer.from(KEY_TEXT),
    env: {},
  });
  return { code, out, err };
}

function assertNothingSent(t: ExecutionContext, fake: Fake, run: { code: number; out: string; err: string }): void {
  t.is(run.code, 1, run.err);
  t.regex(run.err, /refusing to seal/u);
  t.false(run.err.includes('CANARY'), 'the key is in no output');
  t.deepEqual(fake.received, [], 'the fake received no ciphertext');
  t.false(fake.h.port.calls.some((c) => c.method === 'registrationChallenge' || c.method === 'registerConnection'), 'the fake was asked for nothing after the report');
}

test('the fake-enclave attack: a server with its own key and no report gets no ciphertext', async (t) => {
  const { args } = await pins(t);
  const fake = await startFake(t, () => null); // GetAttestation: FAILED_PRECONDITION, no SEV-SNP device
  assertNothingSent(t, fake, await add(fake, args));
});

test('the fake-enclave attack: a report binding the fake key but signed by a key of its own is refused', async (t) => {
  const { args } = await pins(t);
  const forger = testSigningKey();
  const fake = await startFake(t, (nonce, publicKey) => {
    const report = buildSyntheticReport({ measurement: TEST_MEASUREMENT, reportData: bound(nonce, publicKey) });
    signSyntheticReport(report, forger.privateKey);
    return report;
  });
  const run = await add(fake, args);
  assertNothingSent(t, fake, run);
  t.regex(run.err, /signature/u);
});

test('the fake-enclave attack: a genuine report of another measurement, or of the real enclave for another key, is refused', async (t) => {
  const { args, chain } = await pins(t);
  const otherMeasurement = await startFake(t, (nonce, publicKey) =>
    chain.report({ measurement: Buffer.alloc(48, 0x11), reportData: bound(nonce, publicKey) }));
  const measured = await add(otherMeasurement, args);
  assertNothingSent(t, otherMeasurement, measured);
  t.regex(measured.err, /measurement/u);

  // A relay: the genuine enclave's report (right measurement, this nonce) names the genuine key, not the fake's.
  const genuineKey = (await createEnclaveIdentity({ serviceVersion: 'x', buildHash: 'x' })).publicKey;
  const relay = await startFake(t, (nonce) =>
    chain.report({ measurement: TEST_MEASUREMENT, reportData: bound(nonce, genuineKey) }));
  const relayed = await add(relay, args);
  assertNothingSent(t, relay, relayed);
  t.regex(relayed.err, /report-data/u);
});

test('a genuine report binding another build hash than the service reports, or a build hash the manifest does not pin, is refused', async (t) => {
  const { args, chain } = await pins(t);
  const otherBuild = await startFake(t, (nonce, publicKey) => chain.report({ measurement: TEST_MEASUREMENT, reportData: bound(nonce, publicKey, 'c2'.repeat(32)) }));
  const rebuilt = await add(otherBuild, args);
  assertNothingSent(t, otherBuild, rebuilt);
  t.regex(rebuilt.err, /report-data/u);

  const pinned = await pins(t, [TEST_MEASUREMENT], 'c2'.repeat(32));
  const unpinnedBuild = await startFake(t, (nonce, publicKey) => pinned.chain.report({ measurement: TEST_MEASUREMENT, reportData: bound(nonce, publicKey) }));
  const refused = await add(unpinnedBuild, pinned.args);
  assertNothingSent(t, unpinnedBuild, refused);
  t.regex(refused.err, /the release manifest pins c2/u);
});

test('add without pins is a usage error and asks the service nothing; --insecure-dev seals with a loud warning and does not vouch for the permission check', async (t) => {
  const fake = await startFake(t, () => null);
  const unpinned = await add(fake, []);
  t.is(unpinned.code, 2);
  t.regex(unpinned.err, /--manifest FILE/u);
  t.deepEqual(fake.h.port.calls, []);

  const dev = await add(fake, ['--insecure-dev']);
  t.is(dev.code, 0, dev.err);
  t.regex(dev.err, /WARNING --insecure-dev: the service is NOT verified/u);
  t.regex(dev.out, /unverified service: its permission check is not evidence/u);
  t.false(dev.out.includes('checked read-only'));
  t.is(fake.received.length, 1);
});

test('a verified enclave gets a version-3 blob bound to the challenge it issued, and the reply says the key was checked', async (t) => {
  const { args, chain } = await pins(t, [Buffer.alloc(48, 0x22), TEST_MEASUREMENT], BUILD_HASH);
  const fake = await startFake(t, (nonce, publicKey) =>
    chain.report({ measurement: TEST_MEASUREMENT, reportData: bound(nonce, publicKey) }));
  const run = await add(fake, args);
  t.is(run.code, 0, run.err);
  t.regex(run.out, /added victim on binance: active \(key checked read-only by the verified enclave\)/u);
  t.regex(run.out, new RegExp(`enclave measurement ${TEST_MEASUREMENT.toString('hex')}`, 'u'));
  t.is(fake.received.length, 1);
  const opened = await openSealedRegistration(fake.identity, { userUid: 'victim', exchange: 'binance' }, fake.received[0]!);
  t.is(fake.received[0]![0], 3);
  t.deepEqual(opened.challenge, fake.challenges[0]);
  t.deepEqual(JSON.parse(opened.credential.toString('utf8')), { apiKey: 'CANARY-KEY-5e0c', secret: 'CANARY-SECRET-aa71' });
});
