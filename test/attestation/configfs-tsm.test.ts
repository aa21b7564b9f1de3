import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { tmpdir } from 'node:os';
import test from 'ava';
import { attestationReportData } from '../../src/attestation/binding.js';
import { checkAttestationAtStartup, createAttester } from '../../src/attestation/configfs-tsm.js';
import {
  AttestationDeviceError,
  AttestationStartupError,
  AttestationUnavailableError,
  InvalidAttestationRequestError,
} from '../../src/attestation/errors.js';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { startFakeConfigfs } from '../../testkit/attestation/fake-configfs.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';

const fingerprint = createHash('sha256').update('test certificate DER').digest();
const buildHash = createHash('sha256').update('the trusted base').digest();

/** The documented encoding, spelled out independently of src/attestation/binding.ts (an unbuilt service binds an empty build hash). */
function expectedReportData(nonce: Buffer, publicKey: Buffer, certFingerprint: Buffer, build: Buffer = Buffer.alloc(0)): Buffer {
  return createHash('sha512')
    .update(Buffer.concat([Buffer.from([nonce.length >> 8, nonce.length & 0xff]), nonce]))
    .update(Buffer.concat([Buffer.from([0, 32]), publicKey]))
    .update(Buffer.concat([Buffer.from([0, certFingerprint.length]), certFingerprint]))
    .update(Buffer.concat([Buffer.from([0, build.length]), build]))
    .digest();
}

const missingRoot = path.join(tmpdir(), `no-tsm-${process.pid}`, 'tsm', 'report');

test('binds nonce, enclave key, TLS fingerprint and build hash byte for byte through inblob and the report', async (t) => {
  const fake = await startFakeConfigfs();
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity({ buildHash: buildHash.toString('hex') });
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: fingerprint });
  const nonce = randomBytes(32);
  const attestation = await attester.getAttestation(nonce);
  const expected = expectedReportData(nonce, identity.publicKey, fingerprint, buildHash);
  t.is(fake.inblobs.length, 1);
  t.deepEqual(fake.inblobs[0], expected, 'inblob written to the device');
  t.deepEqual(attestation.reportData, expected);
  t.deepEqual(attestation.parsed.reportData, expected, 'report data inside the returned report');
  t.deepEqual(attestation.report.subarray(0x50, 0x90), expected, 'raw report bytes at REPORT_DATA');
  t.deepEqual(attestation.parsed.measurement, TEST_MEASUREMENT);
  t.is(attestation.report.length, 1184);
  t.deepEqual(await readdir(fake.root), [], 'the entry directory is removed');
});

test('without TLS the fingerprint is an empty component', async (t) => {
  const fake = await startFakeConfigfs();
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: false, identity, tlsCertificateFingerprint: null });
  const nonce = randomBytes(16);
  const attestation = await attester.getAttestation(nonce);
  t.deepEqual(attestation.reportData, expectedReportData(nonce, identity.publicKey, Buffer.alloc(0)));
});

test('concurrent requests each get their own entry and their own binding', async (t) => {
  const fake = await startFakeConfigfs();
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: fingerprint });
  const nonces = Array.from({ length: 6 }, () => randomBytes(24));
  const results = await Promise.all(nonces.map((nonce) => attester.getAttestation(nonce)));
  results.forEach((result, index) => t.deepEqual(result.reportData, expectedReportData(nonces[index]!, identity.publicKey, fingerprint)));
  t.is(fake.entries.size, 6);
});

test('writes privlevel before inblob when a VMPL is configured, and accepts generation 2', async (t) => {
  const fake = await startFakeConfigfs();
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: null, privlevel: 2 });
  const nonce = randomBytes(32);
  const attestation = await attester.getAttestation(nonce);
  t.deepEqual(fake.privlevels, [2]);
  t.deepEqual(attestation.reportData, expectedReportData(nonce, identity.publicKey, Buffer.alloc(0)));
});

test('answers "not available" when there is no device and AMD_SEV_SNP is not true', async (t) => {
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: missingRoot, amdSevSnp: false, identity, tlsCertificateFingerprint: null });
  const error = await t.throwsAsync(attester.getAttestation(randomBytes(32)), { instanceOf: AttestationUnavailableError });
  t.regex(error!.message, /no SEV-SNP attestation device/u);
});

test('refuses a nonce of the wrong length before touching the device', async (t) => {
  const fake = await startFakeConfigfs();
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: null });
  await t.throwsAsync(attester.getAttestation(randomBytes(8)), { instanceOf: InvalidAttestationRequestError });
  await t.throwsAsync(attester.getAttestation(randomBytes(65)), { instanceOf: InvalidAttestationRequestError });
  t.is(fake.entries.size, 0);
});

test('a non-SNP provider is "not available"', async (t) => {
  const fake = await startFakeConfigfs({ provider: 'tdx_guest' });
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: false, identity, tlsCertificateFingerprint: null });
  await t.throwsAsync(attester.getAttestation(randomBytes(32)), { instanceOf: AttestationUnavailableError, message: /tdx_guest/u });
});

test('a generation that moved under us is a device error', async (t) => {
  const fake = await startFakeConfigfs({ generationAfterWrite: 2 });
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: null });
  await t.throwsAsync(attester.getAttestation(randomBytes(32)), { instanceOf: AttestationDeviceError, message: /generation/u });
  t.deepEqual(await readdir(fake.root), [], 'the entry is removed on failure too');
});

test('a report that does not carry the requested report data is refused', async (t) => {
  const fake = await startFakeConfigfs({
    tamper: (outblob) => {
      outblob[0x50] = outblob[0x50]! ^ 0xff;
      return outblob;
    },
  });
  t.teardown(() => fake.stop());
  const identity = await createEnclaveIdentity();
  const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: null });
  await t.throwsAsync(attester.getAttestation(randomBytes(32)), { instanceOf: AttestationDeviceError, message: /report data/u });
});

test('start-up fails with AMD_SEV_SNP=true and no device, and passes without the flag', async (t) => {
  const error = await t.throwsAsync(checkAttestationAtStartup({ amdSevSnp: true, root: missingRoot }), { instanceOf: AttestationStartupError });
  t.regex(error!.message, /AMD_SEV_SNP=true but no configfs-tsm report interface/u);
  t.false(await checkAttestationAtStartup({ amdSevSnp: false, root: missingRoot }));
});

test('start-up passes with AMD_SEV_SNP=true when an SNP provider answers, and fails for another provider', async (t) => {
  const snp = await startFakeConfigfs();
  t.teardown(() => snp.stop());
  t.true(await checkAttestationAtStartup({ amdSevSnp: true, root: snp.root }));
  t.deepEqual(await readdir(snp.root), [], 'the probe entry is removed');
  t.is(snp.inblobs.length, 0, 'the probe generates no report');
  const tdx = await startFakeConfigfs({ provider: 'tdx_guest' });
  t.teardown(() => tdx.stop());
  await t.throwsAsync(checkAttestationAtStartup({ amdSevSnp: true, root: tdx.root }), { instanceOf: AttestationStartupError, message: /tdx_guest/u });
});

test('the library encoder agrees with the documented encoding', (t) => {
  const nonce = randomBytes(40);
  const key = randomBytes(32);
  t.deepEqual(
    attestationReportData({ nonce, enclavePublicKey: key, tlsCertificateFingerprint: fingerprint, buildHash }),
    expectedReportData(nonce, key, fingerprint, buildHash),
  );
  t.deepEqual(
    attestationReportData({ nonce, enclavePublicKey: key, tlsCertificateFingerprint: fingerprint, buildHash: null }),
    expectedReportData(nonce, key, fingerprint),
  );
});
