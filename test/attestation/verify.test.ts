import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { certificateFingerprint, type AttestationBinding } from '../../src/attestation/binding.js';
import { createAttester } from '../../src/attestation/configfs-tsm.js';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { AMD_ARK_SHA256 } from '../../src/attestation/amd-certificates.js';
import { assertAttestationReport, AttestationRejectedError, verifyAttestationReport, type VerifyOptions } from '../../src/attestation/verify.js';
import { startFakeConfigfs } from '../../testkit/attestation/fake-configfs.js';
import { milanTcb, TEST_MEASUREMENT, testSigningKey, signSyntheticReport } from '../../testkit/attestation/synthetic-report.js';
import { testAmdChain, type TestAmdChain } from '../../testkit/attestation/test-amd-chain.js';

const fingerprint = createHash('sha256').update('served certificate').digest();
const HOST_DATA = Buffer.alloc(32, 0x33);
const BUILD_HASH = createHash('sha256').update('the trusted base').digest();

function failed(verdict: ReturnType<typeof verifyAttestationReport>): string[] {
  return verdict.checks.filter((check) => check.status === 'fail').map((check) => check.name);
}

/** A report as the enclave produces it (attester → fake kernel signing with the test VCEK), and the options that accept it. */
async function goodAttestation(chain: TestAmdChain): Promise<{ report: Buffer; options: VerifyOptions; publicKey: Buffer; nonce: Buffer }> {
  const fake = await startFakeConfigfs({ report: { signingKey: chain.vcekPrivateKey } });
  try {
    const identity = await createEnclaveIdentity({ buildHash: BUILD_HASH.toString('hex') });
    const nonce = randomBytes(32);
    const attester = createAttester({ root: fake.root, amdSevSnp: true, identity, tlsCertificateFingerprint: fingerprint });
    const { report } = await attester.getAttestation(nonce);
    return {
      report,
      nonce,
      publicKey: identity.publicKey,
      options: {
        expected: { binding: { nonce, enclavePublicKey: identity.publicKey, tlsCertificateFingerprint: fingerprint, buildHash: BUILD_HASH } },
        policy: { measurements: [TEST_MEASUREMENT], hostData: HOST_DATA, minimumTcb: { bootLoader: 3, snp: 8 } },
        endorsements: { ark: chain.ark, ask: chain.ask, vcek: chain.vcek, trustedArks: chain.trustedArks },
      },
    };
  } finally {
    await fake.stop();
  }
}

/** Options for a report built directly (not through the attester), bound to raw report data. */
function optionsFor(chain: TestAmdChain, reportData: Buffer): VerifyOptions {
  return {
    expected: { reportData },
    policy: { measurements: [TEST_MEASUREMENT], hostData: HOST_DATA },
    endorsements: { ark: chain.ark, ask: chain.ask, vcek: chain.vcek, trustedArks: chain.trustedArks },
  };
}

test('accepts the enclave report signed by a VCEK chaining to the pinned root, for the expected nonce, key, certificate and configuration', async (t) => {
  const chain = await testAmdChain();
  const { report, options } = await goodAttestation(chain);
  const verdict = verifyAttestationReport(report, options);
  t.deepEqual(failed(verdict), []);
  t.true(verdict.ok);
  t.is(assertAttestationReport(report, options).measurement.toString('hex'), TEST_MEASUREMENT.toString('hex'));
});

test('refuses a hand-made report: there is no "no VCEK" mode, a report signed by an unknown key fails the signature', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const unsigned = chain.report({ reportData });
  unsigned.fill(0, 0x2a0); // signature stripped
  t.deepEqual(failed(verifyAttestationReport(unsigned, optionsFor(chain, reportData))), ['signature']);
  const forged = chain.report({ reportData });
  signSyntheticReport(forged, testSigningKey().privateKey);
  t.deepEqual(failed(verifyAttestationReport(forged, optionsFor(chain, reportData))), ['signature']);
  t.throws(() => assertAttestationReport(forged, optionsFor(chain, reportData)), { instanceOf: AttestationRejectedError });
});

test('refuses a self-signed "VCEK" and a chain to an unpinned root (AMD roots by default)', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const report = chain.report({ reportData });
  // The test chain is not AMD's: with the default pins it is refused.
  const { trustedArks: _ignored, ...unpinned } = optionsFor(chain, reportData).endorsements;
  t.deepEqual(failed(verifyAttestationReport(report, { ...optionsFor(chain, reportData), endorsements: unpinned })), ['chain']);
  // A "VCEK" presented as its own root and issuer.
  const selfSigned = { ark: chain.vcek, ask: chain.vcek, vcek: chain.vcek, trustedArks: { Milan: [chain.vcek.fingerprint256] } };
  t.true(failed(verifyAttestationReport(report, { ...optionsFor(chain, reportData), endorsements: selfSigned })).includes('chain'));
  t.is(AMD_ARK_SHA256.Milan.length, 1);
});

test('refuses a VCEK certified for another TCB or another chip', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const otherTcb = await testAmdChain({ tcb: { bootLoader: 4, tee: 0, snp: 8, microcode: 115 } });
  const report = otherTcb.report({ reportData });
  const endorsements = { ark: otherTcb.ark, ask: otherTcb.ask, vcek: otherTcb.vcek, trustedArks: otherTcb.trustedArks };
  t.deepEqual(failed(verifyAttestationReport(report, { ...optionsFor(chain, reportData), endorsements })), ['certificate-tcb']);
  const otherChip = chain.report({ reportData, chipId: Buffer.alloc(64, 0x78) });
  t.deepEqual(failed(verifyAttestationReport(otherChip, optionsFor(chain, reportData))), ['certificate-tcb']);
});

test('refuses a chain whose ASK is on the ARK-signed CRL, an out-of-date CRL, and a CRL not signed by the ARK', async (t) => {
  const chain = await testAmdChain();
  const other = await testAmdChain({ tcb: { bootLoader: 3, tee: 0, snp: 8, microcode: 115 } });
  const reportData = randomBytes(64);
  const report = chain.report({ reportData });
  const withCrl = (crl: Buffer): VerifyOptions => ({ ...optionsFor(chain, reportData), endorsements: { ...optionsFor(chain, reportData).endorsements, crl } });
  t.deepEqual(failed(verifyAttestationReport(report, withCrl(await chain.crl(['7f'])))), []);
  t.deepEqual(failed(verifyAttestationReport(report, withCrl(await chain.crl(['02'])))), ['revocation']);
  t.deepEqual(failed(verifyAttestationReport(report, withCrl(await chain.crl([], new Date(Date.now() - 60_000))))), ['revocation']);
  t.deepEqual(failed(verifyAttestationReport(report, withCrl(await other.crl([])))), ['revocation']);
});

test('refuses a debuggable guest, a migration agent, VMPL 3, SMT where it must be off', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const options = optionsFor(chain, reportData);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, policy: 0x30000n | (1n << 19n) }), options)), ['debug']);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, policy: 0x30000n | (1n << 18n) }), options)), ['migration-agent']);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, vmpl: 3 }), options)), ['vmpl']);
  const smt = chain.report({ reportData, policy: 0x30000n | (1n << 16n) });
  t.deepEqual(failed(verifyAttestationReport(smt, options)), []);
  t.deepEqual(failed(verifyAttestationReport(smt, { ...options, policy: { ...options.policy, requireSmtDisabled: true } })), ['smt']);
});

test('refuses an old current, committed or launch TCB, a low guest SVN or ABI, missing platform bits and an untrusted ID key', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const base = optionsFor(chain, reportData);
  const floor = { ...base, policy: { ...base.policy, minimumTcb: { bootLoader: 3, snp: 8, microcode: 115 } } };
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData }), floor)), []);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, currentTcb: milanTcb(3, 0, 7, 115) }), floor)), ['tcb']);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, committedTcb: milanTcb(3, 0, 8, 100) }), floor)), ['tcb']);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, launchTcb: milanTcb(2, 0, 8, 115) }), floor)), ['tcb']);
  const strict = { ...base, policy: { ...base.policy, minimumGuestSvn: 8, minimumAbi: { major: 1, minor: 0 }, platformInfoRequired: 0b10n, idKeyDigests: [Buffer.alloc(48, 0x45)] } };
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData }), strict)), ['guest-svn', 'abi', 'platform-info', 'id-block']);
  t.deepEqual(
    failed(verifyAttestationReport(chain.report({ reportData, guestSvn: 8, policy: 0x30100n, platformInfo: 0b11n, idKeyDigest: Buffer.alloc(48, 0x45) }), strict)),
    [],
  );
});

test('refuses a wrong HOST_DATA (unapproved configuration) and a measurement not on the allow-list', async (t) => {
  const chain = await testAmdChain();
  const reportData = randomBytes(64);
  const options = optionsFor(chain, reportData);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, hostData: Buffer.alloc(32, 0x34) }), options)), ['host-data']);
  const other = Buffer.from(TEST_MEASUREMENT);
  other[47] = other[47]! ^ 1;
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, measurement: other }), options)), ['measurement']);
  t.deepEqual(failed(verifyAttestationReport(chain.report({ reportData, measurement: other }), { ...options, policy: { ...options.policy, measurements: [TEST_MEASUREMENT, other] } })), []);
});

test('refuses a stale report (another nonce), another enclave key, another TLS certificate or another build hash', async (t) => {
  const chain = await testAmdChain();
  const { report, options, nonce, publicKey } = await goodAttestation(chain);
  const rebind = (binding: AttestationBinding): VerifyOptions => ({ ...options, expected: { binding } });
  const good = { nonce, enclavePublicKey: publicKey, tlsCertificateFingerprint: fingerprint, buildHash: BUILD_HASH };
  t.deepEqual(failed(verifyAttestationReport(report, rebind(good))), []);
  t.deepEqual(failed(verifyAttestationReport(report, rebind({ ...good, nonce: randomBytes(32) }))), ['report-data']);
  t.deepEqual(failed(verifyAttestationReport(report, rebind({ ...good, enclavePublicKey: randomBytes(32) }))), ['report-data']);
  t.deepEqual(failed(verifyAttestationReport(report, rebind({ ...good, tlsCertificateFingerprint: null }))), ['report-data']);
  t.deepEqual(failed(verifyAttestationReport(report, rebind({ ...good, buildHash: randomBytes(32) }))), ['report-data']);
  t.deepEqual(failed(verifyAttestationReport(report, rebind({ ...good, buildHash: null }))), ['report-data']);
  t.deepEqual(certificateFingerprint(chain.vcek.raw), createHash('sha256').update(chain.vcek.raw).digest());
});

test('a truncated report is a format failure, not an exception', async (t) => {
  const chain = await testAmdChain();
  const verdict = verifyAttestationReport(Buffer.alloc(100), optionsFor(chain, randomBytes(64)));
  t.false(verdict.ok);
  t.deepEqual(failed(verdict), ['format']);
});
