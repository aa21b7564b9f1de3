// The SNP evidence the KBS client sends is virtee/sev's AttestationReport in serde JSON form, as
// Trustee's SNP verifier (deps/verifier/src/snp/mod.rs) deserializes it; the development broker
// rebuilds the raw report from it. Field names, order and encodings are pinned here.
import test from 'ava';
import { rawSnpReport, trusteeSnpReport, trusteeSnpReportSchema } from '../../src/attestation/snp-evidence.js';
import { buildSyntheticReport, milanTcb, testSigningKey } from '../../testkit/attestation/synthetic-report.js';

const VIRTEE_FIELDS = [
  'version', 'guest_svn', 'policy', 'family_id', 'image_id', 'vmpl', 'sig_algo', 'current_tcb', 'plat_info', 'key_info',
  'report_data', 'measurement', 'host_data', 'id_key_digest', 'author_key_digest', 'report_id', 'report_id_ma', 'reported_tcb',
  'cpuid_fam_id', 'cpuid_mod_id', 'cpuid_step', 'chip_id', 'committed_tcb', 'current', 'committed', 'launch_tcb',
  'launch_mit_vector', 'current_mit_vector', 'signature',
];

test('a Milan version-3 report becomes virtee/sev serde JSON: numbers, byte arrays as number arrays, TCB without fmc', (t) => {
  const raw = buildSyntheticReport({ version: 3, signingKey: testSigningKey().privateKey, reportData: Buffer.alloc(64, 0xab) });
  const json = trusteeSnpReport(raw);
  t.deepEqual(Object.keys(json), VIRTEE_FIELDS);
  t.is(json.policy, 0x30000);
  t.deepEqual(json.current_tcb, { fmc: null, bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  t.deepEqual(json.report_data, new Array<number>(64).fill(0xab));
  t.is(json.cpuid_fam_id, 0x19);
  t.deepEqual(json.current, { major: 1, minor: 55, build: 21 });
  t.is(json.launch_mit_vector, null, 'mitigation vectors exist from version 5');
  t.is(json.signature.r.length, 72);
  // It survives JSON and parses with the schema the broker uses, back to the same bytes.
  const back = rawSnpReport(trusteeSnpReportSchema.parse(JSON.parse(JSON.stringify(json))));
  t.true(back.equals(raw));
});

test('a Turin report carries fmc and the Turin TCB layout; version 5 carries the mitigation vectors; both round-trip', (t) => {
  const turinTcb = 0x73_00_00_00_08_00_03_01n; // fmc 1, bootloader 3, tee 0, snp 8, microcode 0x73 (little-endian bytes)
  const raw = buildSyntheticReport({ version: 5, cpuid: { family: 0x1a, model: 0x02, stepping: 0 }, currentTcb: turinTcb, reportedTcb: turinTcb, committedTcb: turinTcb, launchTcb: turinTcb });
  raw.writeBigUInt64LE(0b101n, 0x1f8);
  raw.writeBigUInt64LE(0b111n, 0x200);
  const json = trusteeSnpReport(raw);
  t.deepEqual(json.reported_tcb, { fmc: 1, bootloader: 3, tee: 0, snp: 8, microcode: 0x73 });
  t.is(json.launch_mit_vector, 5);
  t.is(json.current_mit_vector, 7);
  t.true(rawSnpReport(json).equals(raw));
  const milan = buildSyntheticReport({ version: 2, currentTcb: milanTcb(1, 2, 3, 4) });
  t.is(trusteeSnpReport(milan).cpuid_fam_id, null, 'version 2 has no CPUID fields');
});
