import { createHash, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import './reflect-metadata-shim.js';
import * as x509 from '@peculiar/x509';
import test from 'ava';
import { certificateFingerprint } from '../../src/attestation/binding.js';
import { createAttester } from '../../src/attestation/configfs-tsm.js';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { verifyAttestationReport, verifyVcekChain, type VerifyExpectations } from '../../src/attestation/verify.js';
import { runVerifyAttestation } from '../../src/cli/verify-attestation.js';
import { startFakeConfigfs } from './fake-configfs.js';
import { buildSyntheticReport, milanTcb, signSyntheticReport, TEST_MEASUREMENT, testSigningKey } from './synthetic-report.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const fingerprint = createHash('sha256').update('served certificate').digest();
const vcekKey = testSigningKey();

/** A report as the enclave would produce it: through the attester, against the fake kernel. */
async function goodAttestation(): Promise<{ report: Buffer; expected: VerifyExpectations }> {
  const fake = await startFakeConfigfs({ report: { signingKey: vcekKey.privateKey } });
  try {
    const identity = await createEnclaveIdentity();
    const nonce = randomBytes(32);
    const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: fingerprint });
    const { report } = await attester.getAttestation(nonce);
    return {
      report,
      expected: { measurement: TEST_MEASUREMENT, nonce, enclavePublicKey: identity.publicKey, tlsCertificateFingerprint: fingerprint },
    };
  } finally {
    await fake.stop();
  }
}

function failed(verdict: ReturnType<typeof verifyAttestationReport>): string[] {
  return verdict.checks.filter((check) => check.status === 'fail').map((check) => check.name);
}

test('accepts the enclave report for the expected measurement, nonce, key and certificate', async (t) => {
  const { report, expected } = await goodAttestation();
  const verdict = verifyAttestationReport(report, { ...expected, vcek: vcekKey.publicKey, minimumTcb: { bootLoader: 3, snp: 8 } });
  t.true(verdict.ok);
  t.deepEqual(failed(verdict), []);
  t.is(verdict.checks.find((check) => check.name === 'signature')?.status, 'pass');
});

test('rejects a report for another measurement', async (t) => {
  const { report, expected } = await goodAttestation();
  const other = Buffer.from(TEST_MEASUREMENT);
  other[47] = other[47]! ^ 1;
  const verdict = verifyAttestationReport(report, { ...expected, measurement: other });
  t.false(verdict.ok);
  t.deepEqual(failed(verdict), ['measurement']);
});

test('rejects a report made for another nonce', async (t) => {
  const { report, expected } = await goodAttestation();
  const verdict = verifyAttestationReport(report, { ...expected, nonce: randomBytes(32) });
  t.false(verdict.ok);
  t.deepEqual(failed(verdict), ['binding']);
});

test('rejects a report that binds another enclave key or another certificate', async (t) => {
  const { report, expected } = await goodAttestation();
  t.deepEqual(failed(verifyAttestationReport(report, { ...expected, enclavePublicKey: randomBytes(32) })), ['binding']);
  t.deepEqual(failed(verifyAttestationReport(report, { ...expected, tlsCertificateFingerprint: randomBytes(32) })), ['binding']);
  t.deepEqual(failed(verifyAttestationReport(report, { ...expected, tlsCertificateFingerprint: null })), ['binding']);
});

test('rejects a signed report with a changed byte, or checked against another VCEK', async (t) => {
  const { report, expected } = await goodAttestation();
  const tampered = Buffer.from(report);
  tampered[0x04] = tampered[0x04]! ^ 1; // GUEST_SVN: not covered by any other check
  t.deepEqual(failed(verifyAttestationReport(tampered, { ...expected, vcek: vcekKey.publicKey })), ['signature']);
  t.deepEqual(failed(verifyAttestationReport(report, { ...expected, vcek: testSigningKey().publicKey })), ['signature']);
});

test('rejects a debuggable guest unless explicitly allowed, and a TCB below the minimum', (t) => {
  const nonce = randomBytes(32);
  const enclavePublicKey = randomBytes(32);
  const expected = { measurement: TEST_MEASUREMENT, nonce, enclavePublicKey, tlsCertificateFingerprint: null };
  const bound = buildSyntheticReport({
    policy: 0x30000n | (1n << 19n),
    reportedTcb: milanTcb(2, 0, 8, 100),
    reportData: Buffer.from(
      createHash('sha512')
        .update(Buffer.concat([Buffer.of(0, 32), nonce, Buffer.of(0, 32), enclavePublicKey, Buffer.of(0, 0)]))
        .digest(),
    ),
  });
  t.deepEqual(failed(verifyAttestationReport(bound, expected)), ['policy']);
  t.deepEqual(failed(verifyAttestationReport(bound, { ...expected, allowDebug: true })), []);
  t.deepEqual(failed(verifyAttestationReport(bound, { ...expected, allowDebug: true, minimumTcb: { bootLoader: 3, microcode: 100 } })), ['tcb']);
});

test('a truncated report is a format failure, not an exception', (t) => {
  const verdict = verifyAttestationReport(Buffer.alloc(100), {
    measurement: TEST_MEASUREMENT,
    nonce: randomBytes(32),
    enclavePublicKey: randomBytes(32),
    tlsCertificateFingerprint: null,
  });
  t.false(verdict.ok);
  t.deepEqual(failed(verdict), ['format']);
});

async function certificateChain(): Promise<{ ark: X509Certificate; ask: X509Certificate; vcek: X509Certificate }> {
  const rsa = { name: 'RSA-PSS', hash: 'SHA-384', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
  const signingAlgorithm = { name: 'RSA-PSS', saltLength: 48 };
  const arkKeys = (await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const askKeys = (await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const vcekKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ark = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=ARK-Test', keys: arkKeys, signingAlgorithm });
  const ask = await x509.X509CertificateGenerator.create({
    subject: 'CN=SEV-Test',
    issuer: ark.subject,
    publicKey: askKeys.publicKey,
    signingKey: arkKeys.privateKey,
    signingAlgorithm,
  });
  const vcek = await x509.X509CertificateGenerator.create({
    subject: 'CN=SEV-VCEK',
    issuer: ask.subject,
    publicKey: vcekKeys.publicKey,
    signingKey: askKeys.privateKey,
    signingAlgorithm,
  });
  return { ark: new X509Certificate(ark.toString('pem')), ask: new X509Certificate(ask.toString('pem')), vcek: new X509Certificate(vcek.toString('pem')) };
}

test('the VCEK chain holds for a pinned ARK and fails for an unpinned root or a swapped link', async (t) => {
  const chain = await certificateChain();
  const pinned = [chain.ark.fingerprint256];
  t.deepEqual(verifyVcekChain({ ...chain, trustedArkSha256: pinned }), []);
  t.deepEqual(verifyVcekChain({ ...chain, trustedArkSha256: ['00'.repeat(32)] }), ['the ARK is not one of the pinned roots']);
  const other = await certificateChain();
  t.true(verifyVcekChain({ ...chain, vcek: other.vcek, trustedArkSha256: pinned }).includes('the VCEK is not signed by the ASK'));
  t.true(verifyVcekChain({ ...chain, at: new Date(Date.now() + 5 * 365 * 86_400_000), trustedArkSha256: pinned }).length > 0);
  // The TLS fingerprint helper hashes the DER, whatever the input form.
  t.deepEqual(certificateFingerprint(chain.vcek.toString()), createHash('sha256').update(chain.vcek.raw).digest());
  t.deepEqual(certificateFingerprint(chain.vcek.raw), createHash('sha256').update(chain.vcek.raw).digest());
});

test('the CLI prints ACCEPTED with exit 0 for the good report and REJECTED with exit 1 for a wrong nonce', async (t) => {
  const { report, expected } = await goodAttestation();
  const dir = await mkdtemp(path.join(tmpdir(), 'verify-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const reportFile = path.join(dir, 'report.bin');
  await writeFile(reportFile, report);
  const hexFile = path.join(dir, 'report.hex');
  await writeFile(hexFile, `${report.toString('hex')}\n`);
  const args = (file: string, nonce: Uint8Array): string[] => [
    '--report', file,
    '--measurement', TEST_MEASUREMENT.toString('hex'),
    '--nonce', Buffer.from(nonce).toString('hex'),
    '--public-key', Buffer.from(expected.enclavePublicKey).toString('base64'),
    '--tls-fingerprint', fingerprint.toString('hex'),
  ];
  const run = (argv: string[]): { code: number; out: string[]; err: string[] } => {
    const out: string[] = [];
    const err: string[] = [];
    const code = runVerifyAttestation(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
    return { code, out, err };
  };
  const good = run(args(reportFile, expected.nonce));
  t.is(good.code, 0);
  t.is(good.out.at(-1), 'ACCEPTED');
  t.is(run(args(hexFile, expected.nonce)).code, 0, 'hex text reports are read too');
  const wrong = run(args(reportFile, randomBytes(32)));
  t.is(wrong.code, 1);
  t.is(wrong.out.at(-1), 'REJECTED');
  t.true(wrong.out.some((line) => line.startsWith('FAIL') && line.includes('binding')));
  const json = run([...args(reportFile, expected.nonce), '--json']);
  const parsed = JSON.parse(json.out[0]!) as { verdict: string; report: { measurement: string } };
  t.is(parsed.verdict, 'accepted');
  t.is(parsed.report.measurement, TEST_MEASUREMENT.toString('hex'));
  const usage = run(['--report', reportFile]);
  t.is(usage.code, 2);
  t.regex(usage.err.join('\n'), /exactly one of --tls-cert/u);
});

test('re-signing after a change makes the signature valid again (the check covers exactly the signed bytes)', (t) => {
  const report = buildSyntheticReport({ signingKey: vcekKey.privateKey });
  report[0x04] = 99;
  signSyntheticReport(report, vcekKey.privateKey);
  const verdict = verifyAttestationReport(report, {
    measurement: TEST_MEASUREMENT,
    nonce: randomBytes(32),
    enclavePublicKey: randomBytes(32),
    tlsCertificateFingerprint: null,
    vcek: vcekKey.publicKey,
  });
  t.is(verdict.checks.find((check) => check.name === 'signature')?.status, 'pass');
});
