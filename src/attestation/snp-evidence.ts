// SNP evidence in the form Trustee's SNP verifier reads: confidential-containers/trustee
// deps/verifier/src/snp/mod.rs deserializes the KBS `tee-evidence` with
//   #[derive(Serialize, Deserialize)] struct SnpEvidence { attestation_report: AttestationReport,
//                                                           cert_chain: Option<Vec<CertTableEntry>> }
// through serde_json::from_value, where AttestationReport and CertTableEntry are virtee/sev's
// (trustee Cargo.toml pins sev at rev d487809188c3c92e397bc92e2cb2a85eb982c980;
// src/firmware/guest/types/snp.rs and src/firmware/host/types/snp.rs there). Their serde form:
//   - u8/u32/u64 as JSON numbers; Option<_> as the value or null;
//   - byte arrays ([u8; N], with serde_big_array for N > 32) as JSON arrays of numbers;
//   - GuestPolicy(u64), PlatformInfo(u64), KeyInfo(u32) are newtype structs: the bare number;
//   - TcbVersion {fmc: Option<u8>, bootloader, tee, snp, microcode} (fmc: Turin only, else null),
//     decoded from the 8-byte TCB_VERSION as Milan/Genoa bytes [0,1,6,7] or Turin bytes [0,1,2,3,7];
//   - Version {major, minor, build} from the bytes build, minor, major;
//   - cpuid_fam_id/cpuid_mod_id/cpuid_step: Some(_) from report version 3, else null;
//     launch_mit_vector/current_mit_vector: Some(_) from version 5, else null;
//   - Signature {r: [72 numbers], s: [72 numbers]} (AMD's little-endian R and S as stored);
//   - CertTableEntry {cert_type: "ARK"|"ASK"|"VCEK"|"VLEK"|"CRL", data: [numbers]} (the DER).
// Reserved bytes are not carried: the verifier re-encodes the report with them zero before
// checking the signature, as AMD requires them to be (MBZ). The report's offsets are the ones
// snp-report.ts reads (AMD SEV-SNP ABI, ATTESTATION_REPORT table).
import { z } from 'zod';
import { ReportFormatError } from './errors.js';
import { SNP_REPORT_SIZE } from './snp-report.js';

const FAMILY_TURIN = 0x1a;

const byteArray = (length: number) => z.array(z.number().int().min(0).max(255)).length(length);
const u8 = z.number().int().min(0).max(0xff);
const u32 = z.number().int().min(0).max(0xffff_ffff);
const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const tcbSchema = z.object({ fmc: u8.nullable(), bootloader: u8, tee: u8, snp: u8, microcode: u8 });
const versionSchema = z.object({ major: u8, minor: u8, build: u8 });

/** virtee/sev's AttestationReport as serde_json writes it (field order as declared there). */
export const trusteeSnpReportSchema = z.object({
  version: u32,
  guest_svn: u32,
  policy: u64,
  family_id: byteArray(16),
  image_id: byteArray(16),
  vmpl: u32,
  sig_algo: u32,
  current_tcb: tcbSchema,
  plat_info: u64,
  key_info: u32,
  report_data: byteArray(64),
  measurement: byteArray(48),
  host_data: byteArray(32),
  id_key_digest: byteArray(48),
  author_key_digest: byteArray(48),
  report_id: byteArray(32),
  report_id_ma: byteArray(32),
  reported_tcb: tcbSchema,
  cpuid_fam_id: u8.nullable(),
  cpuid_mod_id: u8.nullable(),
  cpuid_step: u8.nullable(),
  chip_id: byteArray(64),
  committed_tcb: tcbSchema,
  current: versionSchema,
  committed: versionSchema,
  launch_tcb: tcbSchema,
  launch_mit_vector: u64.nullable(),
  current_mit_vector: u64.nullable(),
  signature: z.object({ r: byteArray(72), s: byteArray(72) }),
});
export type TrusteeSnpReport = z.infer<typeof trusteeSnpReportSchema>;

/** virtee/sev's CertTableEntry (the certificates of an extended report). */
export const trusteeCertTableEntrySchema = z.object({
  cert_type: z.enum(['ARK', 'ASK', 'VCEK', 'VLEK', 'CRL']),
  data: z.array(z.number().int().min(0).max(255)),
});
export type TrusteeCertTableEntry = z.infer<typeof trusteeCertTableEntrySchema>;

type Tcb = z.infer<typeof tcbSchema>;

function decodeTcb(bytes: Buffer, turin: boolean): Tcb {
  return turin
    ? { fmc: bytes[0]!, bootloader: bytes[1]!, tee: bytes[2]!, snp: bytes[3]!, microcode: bytes[7]! }
    : { fmc: null, bootloader: bytes[0]!, tee: bytes[1]!, snp: bytes[6]!, microcode: bytes[7]! };
}

function encodeTcb(tcb: Tcb, turin: boolean): Buffer {
  return turin
    ? Buffer.from([tcb.fmc ?? 0, tcb.bootloader, tcb.tee, tcb.snp, 0, 0, 0, tcb.microcode])
    : Buffer.from([tcb.bootloader, tcb.tee, 0, 0, 0, 0, tcb.snp, tcb.microcode]);
}

function u64At(raw: Buffer, offset: number): number {
  const value = raw.readBigUInt64LE(offset);
  // JSON numbers beyond 2^53 would lose bits on our side: refuse rather than send a wrong report.
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ReportFormatError(`a 64-bit report field at 0x${offset.toString(16)} is too large for exact JSON`);
  return Number(value);
}

/** The raw 1184-byte report in Trustee's (virtee/sev serde) JSON form. */
export function trusteeSnpReport(raw: Uint8Array): TrusteeSnpReport {
  const r = Buffer.from(raw);
  if (r.length !== SNP_REPORT_SIZE) throw new ReportFormatError(`an SEV-SNP report is ${SNP_REPORT_SIZE} bytes, got ${r.length}`);
  const version = r.readUInt32LE(0);
  const hasCpuid = version >= 3;
  const turin = hasCpuid && r[0x188] === FAMILY_TURIN;
  const bytes = (offset: number, length: number): number[] => [...r.subarray(offset, offset + length)];
  const tcb = (offset: number): Tcb => decodeTcb(r.subarray(offset, offset + 8), turin);
  return {
    version,
    guest_svn: r.readUInt32LE(0x04),
    policy: u64At(r, 0x08),
    family_id: bytes(0x10, 16),
    image_id: bytes(0x20, 16),
    vmpl: r.readUInt32LE(0x30),
    sig_algo: r.readUInt32LE(0x34),
    current_tcb: tcb(0x38),
    plat_info: u64At(r, 0x40),
    key_info: r.readUInt32LE(0x48),
    report_data: bytes(0x50, 64),
    measurement: bytes(0x90, 48),
    host_data: bytes(0xc0, 32),
    id_key_digest: bytes(0xe0, 48),
    author_key_digest: bytes(0x110, 48),
    report_id: bytes(0x140, 32),
    report_id_ma: bytes(0x160, 32),
    reported_tcb: tcb(0x180),
    cpuid_fam_id: hasCpuid ? r[0x188]! : null,
    cpuid_mod_id: hasCpuid ? r[0x189]! : null,
    cpuid_step: hasCpuid ? r[0x18a]! : null,
    chip_id: bytes(0x1a0, 64),
    committed_tcb: tcb(0x1e0),
    current: { build: r[0x1e8]!, minor: r[0x1e9]!, major: r[0x1ea]! },
    committed: { build: r[0x1ec]!, minor: r[0x1ed]!, major: r[0x1ee]! },
    launch_tcb: tcb(0x1f0),
    launch_mit_vector: version >= 5 ? u64At(r, 0x1f8) : null,
    current_mit_vector: version >= 5 ? u64At(r, 0x200) : null,
    signature: { r: bytes(0x2a0, 72), s: bytes(0x2e8, 72) },
  };
}

/** The raw report back from Trustee's JSON form (reserved bytes zero), for verifiers that check bytes (the development broker). */
export function rawSnpReport(report: TrusteeSnpReport): Buffer {
  const r = Buffer.alloc(SNP_REPORT_SIZE);
  const turin = report.cpuid_fam_id === FAMILY_TURIN;
  const put = (offset: number, values: readonly number[]): void => { Buffer.from(values).copy(r, offset); };
  r.writeUInt32LE(report.version, 0);
  r.writeUInt32LE(report.guest_svn, 0x04);
  r.writeBigUInt64LE(BigInt(report.policy), 0x08);
  put(0x10, report.family_id);
  put(0x20, report.image_id);
  r.writeUInt32LE(report.vmpl, 0x30);
  r.writeUInt32LE(report.sig_algo, 0x34);
  encodeTcb(report.current_tcb, turin).copy(r, 0x38);
  r.writeBigUInt64LE(BigInt(report.plat_info), 0x40);
  r.writeUInt32LE(report.key_info, 0x48);
  put(0x50, report.report_data);
  put(0x90, report.measurement);
  put(0xc0, report.host_data);
  put(0xe0, report.id_key_digest);
  put(0x110, report.author_key_digest);
  put(0x140, report.report_id);
  put(0x160, report.report_id_ma);
  encodeTcb(report.reported_tcb, turin).copy(r, 0x180);
  r[0x188] = report.cpuid_fam_id ?? 0;
  r[0x189] = report.cpuid_mod_id ?? 0;
  r[0x18a] = report.cpuid_step ?? 0;
  put(0x1a0, report.chip_id);
  encodeTcb(report.committed_tcb, turin).copy(r, 0x1e0);
  put(0x1e8, [report.current.build, report.current.minor, report.current.major]);
  put(0x1ec, [report.committed.build, report.committed.minor, report.committed.major]);
  encodeTcb(report.launch_tcb, turin).copy(r, 0x1f0);
  r.writeBigUInt64LE(BigInt(report.launch_mit_vector ?? 0), 0x1f8);
  r.writeBigUInt64LE(BigInt(report.current_mit_vector ?? 0), 0x200);
  put(0x2a0, report.signature.r);
  put(0x2e8, report.signature.s);
  return r;
}
