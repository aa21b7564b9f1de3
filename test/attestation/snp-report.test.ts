import test from 'ava';
import { ReportFormatError } from '../../src/attestation/errors.js';
import { describeSnpReport, parseSnpReport } from '../../src/attestation/snp-report.js';
import { buildSyntheticReport, milanTcb, TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';

test('parses every field of a report built per the ABI table', (t) => {
  const reportData = Buffer.alloc(64);
  for (let i = 0; i < 64; i += 1) reportData[i] = i;
  const bytes = buildSyntheticReport({
    version: 3,
    guestSvn: 42,
    policy: 0x30000n | (1n << 20n),
    vmpl: 1,
    currentTcb: milanTcb(4, 1, 22, 213),
    reportedTcb: milanTcb(3, 0, 21, 210),
    committedTcb: milanTcb(2, 0, 20, 200),
    launchTcb: milanTcb(1, 0, 19, 190),
    platformInfo: 0x3n,
    signerInfo: 0b00110, // MASK_CHIP_KEY, SIGNING_KEY=1 (VLEK)
    reportData,
    cpuid: { family: 0x19, model: 0x11, stepping: 0x01 },
    currentVersion: { major: 1, minor: 55, build: 38 },
    committedVersion: { major: 1, minor: 54, build: 30 },
  });
  const report = parseSnpReport(bytes);
  t.is(report.version, 3);
  t.is(report.guestSvn, 42);
  t.is(report.policy.raw, 0x130000n);
  t.true(report.policy.smtAllowed);
  t.true(report.policy.singleSocket);
  t.false(report.policy.debugAllowed);
  t.is(report.vmpl, 1);
  t.is(report.signatureAlgo, 1);
  t.deepEqual(report.familyId, Buffer.alloc(16, 0x11));
  t.deepEqual(report.imageId, Buffer.alloc(16, 0x22));
  t.like(report.currentTcb, { bootLoader: 4, tee: 1, snp: 22, microcode: 213, fmc: null });
  t.like(report.reportedTcb, { bootLoader: 3, tee: 0, snp: 21, microcode: 210 });
  t.like(report.committedTcb, { bootLoader: 2, snp: 20, microcode: 200 });
  t.like(report.launchTcb, { bootLoader: 1, snp: 19, microcode: 190 });
  t.is(report.platformInfo, 3n);
  t.deepEqual(report.signer, { authorKeyEnabled: false, chipIdMasked: true, signingKey: 'vlek' });
  t.deepEqual(report.reportData, reportData);
  t.deepEqual(report.measurement, TEST_MEASUREMENT);
  t.deepEqual(report.hostData, Buffer.alloc(32, 0x33));
  t.deepEqual(report.idKeyDigest, Buffer.alloc(48, 0x44));
  t.deepEqual(report.authorKeyDigest, Buffer.alloc(48, 0x55));
  t.deepEqual(report.reportId, Buffer.alloc(32, 0x66));
  t.deepEqual(report.reportIdMa, Buffer.alloc(32, 0xff));
  t.deepEqual(report.cpuid, { family: 0x19, model: 0x11, stepping: 0x01 });
  t.deepEqual(report.chipId, Buffer.alloc(64, 0x77));
  t.deepEqual(report.currentVersion, { major: 1, minor: 55, build: 38 });
  t.deepEqual(report.committedVersion, { major: 1, minor: 54, build: 30 });
  t.deepEqual(report.signedBytes, bytes.subarray(0, 0x2a0));
  t.is(describeSnpReport(report)['measurement'], TEST_MEASUREMENT.toString('hex'));
});

test('decodes the Turin TCB layout when the report names CPUID family 0x1A', (t) => {
  const tcb = Buffer.from([9, 4, 1, 24, 0, 0, 0, 77]).readBigUInt64LE(0);
  const report = parseSnpReport(buildSyntheticReport({ cpuid: { family: 0x1a, model: 2, stepping: 0 }, reportedTcb: tcb }));
  t.deepEqual(report.reportedTcb, { raw: tcb, fmc: 9, bootLoader: 4, tee: 1, snp: 24, microcode: 77 });
});

test('a version 2 report has no CPUID fields and uses the Milan/Genoa TCB layout', (t) => {
  const report = parseSnpReport(buildSyntheticReport({ version: 2, cpuid: { family: 0, model: 0, stepping: 0 } }));
  t.is(report.cpuid, null);
  t.is(report.reportedTcb.fmc, null);
});

test('flags a guest policy that allows debugging', (t) => {
  t.true(parseSnpReport(buildSyntheticReport({ policy: 0x30000n | (1n << 19n) })).policy.debugAllowed);
});

test('refuses bytes that are not an SEV-SNP report', (t) => {
  t.throws(() => parseSnpReport(Buffer.alloc(1183)), { instanceOf: ReportFormatError, message: /1184 bytes, got 1183/u });
  t.throws(() => parseSnpReport(Buffer.concat([buildSyntheticReport(), Buffer.of(0)])), { instanceOf: ReportFormatError });
  t.throws(() => parseSnpReport(buildSyntheticReport({ version: 1 })), { instanceOf: ReportFormatError, message: /version 1/u });
  t.throws(() => parseSnpReport(buildSyntheticReport({ policy: 0n })), { instanceOf: ReportFormatError, message: /bit 17/u });
});
