// Parser for the AMD SEV-SNP ATTESTATION_REPORT (1184 bytes, little-endian), the `outblob` of the
// configfs-tsm `sev_guest` provider.
//
// Offsets from AMD's "SEV Secure Nested Paging Firmware ABI Specification" (pub. 56860), table
// ATTESTATION_REPORT, cross-checked against google/go-sev-guest abi/abi.go (ReportToProto /
// ReportToAbiBytes) and the `snp_report` structs in the virtee/libkrun and certifier-framework
// sources. TCB_VERSION byte layouts (Milan/Genoa vs Turin) cross-checked against virtee/sev
// (TcbVersionMilanGenoa / TcbVersionTurin).
//
//   0x000 VERSION u32          0x004 GUEST_SVN u32        0x008 POLICY u64
//   0x010 FAMILY_ID [16]       0x020 IMAGE_ID [16]        0x030 VMPL u32
//   0x034 SIGNATURE_ALGO u32   0x038 CURRENT_TCB u64      0x040 PLATFORM_INFO u64
//   0x048 signer info u32 (bit0 AUTHOR_KEY_EN, bit1 MASK_CHIP_KEY, bits 2-4 SIGNING_KEY)
//   0x04C reserved             0x050 REPORT_DATA [64]     0x090 MEASUREMENT [48]
//   0x0C0 HOST_DATA [32]       0x0E0 ID_KEY_DIGEST [48]   0x110 AUTHOR_KEY_DIGEST [48]
//   0x140 REPORT_ID [32]       0x160 REPORT_ID_MA [32]    0x180 REPORTED_TCB u64
//   0x188 CPUID_FAM_ID u8, 0x189 CPUID_MOD_ID u8, 0x18A CPUID_STEP u8 (report version ≥ 3)
//   0x1A0 CHIP_ID [64]         0x1E0 COMMITTED_TCB u64
//   0x1E8 CURRENT_BUILD, CURRENT_MINOR, CURRENT_MAJOR u8   0x1EC COMMITTED_BUILD, _MINOR, _MAJOR u8
//   0x1F0 LAUNCH_TCB u64       0x2A0 SIGNATURE [512]: R [72] LE, S [72] LE (ECDSA P-384/SHA-384)
// The signature covers bytes 0x000–0x29F.
import { ReportFormatError } from './errors.js';

export const SNP_REPORT_SIZE = 0x4a0;
export const SNP_SIGNED_LENGTH = 0x2a0;
export const SNP_REPORT_DATA_OFFSET = 0x50;
export const SNP_REPORT_DATA_LENGTH = 64;
export const SNP_MEASUREMENT_OFFSET = 0x90;
export const SNP_MEASUREMENT_LENGTH = 48;
/** SIGNATURE_ALGO value for ECDSA P-384 with SHA-384. */
export const SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1;
/** CPUID family of Turin (Zen 5); Milan and Genoa are 0x19. Decides the TCB_VERSION layout. */
const FAMILY_TURIN = 0x1a;

export interface TcbVersion {
  /** The whole 64-bit value, for comparisons and display. */
  readonly raw: bigint;
  readonly bootLoader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only (FMC firmware SVN); null on Milan/Genoa. */
  readonly fmc: number | null;
}

export interface GuestPolicy {
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  readonly smtAllowed: boolean;
  readonly migrationAgentAllowed: boolean;
  /** True when the host may debug (decrypt) the guest: never acceptable in production. */
  readonly debugAllowed: boolean;
  readonly singleSocket: boolean;
}

export type SigningKey = 'vcek' | 'vlek' | 'none' | 'reserved';

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: GuestPolicy;
  readonly familyId: Buffer;
  readonly imageId: Buffer;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: TcbVersion;
  readonly platformInfo: bigint;
  readonly signer: { readonly authorKeyEnabled: boolean; readonly chipIdMasked: boolean; readonly signingKey: SigningKey };
  readonly reportData: Buffer;
  readonly measurement: Buffer;
  readonly hostData: Buffer;
  readonly idKeyDigest: Buffer;
  readonly authorKeyDigest: Buffer;
  readonly reportId: Buffer;
  readonly reportIdMa: Buffer;
  readonly reportedTcb: TcbVersion;
  /** CPUID family/model/stepping of the chip (report version ≥ 3), else null. */
  readonly cpuid: { readonly family: number; readonly model: number; readonly stepping: number } | null;
  readonly chipId: Buffer;
  readonly committedTcb: TcbVersion;
  readonly currentVersion: FirmwareVersion;
  readonly committedVersion: FirmwareVersion;
  readonly launchTcb: TcbVersion;
  /** ECDSA R and S as stored: 72 bytes each, little-endian. */
  readonly signature: { readonly r: Buffer; readonly s: Buffer };
  /** Bytes 0x000–0x29F, what the VCEK/VLEK signed. */
  readonly signedBytes: Buffer;
  /** The whole report, copied. */
  readonly raw: Buffer;
}

function decodeTcb(raw: bigint, turin: boolean): TcbVersion {
  const byte = (index: number): number => Number((raw >> BigInt(index * 8)) & 0xffn);
  return turin
    ? { raw, fmc: byte(0), bootLoader: byte(1), tee: byte(2), snp: byte(3), microcode: byte(7) }
    : { raw, fmc: null, bootLoader: byte(0), tee: byte(1), snp: byte(6), microcode: byte(7) };
}

function decodePolicy(raw: bigint): GuestPolicy {
  const bit = (index: number): boolean => ((raw >> BigInt(index)) & 1n) === 1n;
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smtAllowed: bit(16),
    migrationAgentAllowed: bit(18),
    debugAllowed: bit(19),
    singleSocket: bit(20),
  };
}

function signingKey(value: number): SigningKey {
  if (value === 0) return 'vcek';
  if (value === 1) return 'vlek';
  if (value === 7) return 'none';
  return 'reserved';
}

/** Parses a raw report. Throws ReportFormatError for anything that is not a v2+ SNP report. */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  if (bytes.byteLength !== SNP_REPORT_SIZE) {
    throw new ReportFormatError(`an SEV-SNP attestation report is ${SNP_REPORT_SIZE} bytes, got ${bytes.byteLength}`);
  }
  const raw = Buffer.from(bytes);
  const version = raw.readUInt32LE(0x00);
  if (version < 2 || version > 0xff) throw new ReportFormatError(`unsupported SEV-SNP report version ${version}`);
  const policyRaw = raw.readBigUInt64LE(0x08);
  if (((policyRaw >> 17n) & 1n) !== 1n) throw new ReportFormatError('guest policy bit 17 (reserved, must be one) is zero');
  const cpuid = version >= 3 ? { family: raw[0x188]!, model: raw[0x189]!, stepping: raw[0x18a]! } : null;
  const turin = cpuid?.family === FAMILY_TURIN;
  const slice = (offset: number, length: number): Buffer => Buffer.from(raw.subarray(offset, offset + length));
  const tcb = (offset: number): TcbVersion => decodeTcb(raw.readBigUInt64LE(offset), turin);
  const signerInfo = raw.readUInt32LE(0x48);
  return {
    version,
    guestSvn: raw.readUInt32LE(0x04),
    policy: decodePolicy(policyRaw),
    familyId: slice(0x10, 16),
    imageId: slice(0x20, 16),
    vmpl: raw.readUInt32LE(0x30),
    signatureAlgo: raw.readUInt32LE(0x34),
    currentTcb: tcb(0x38),
    platformInfo: raw.readBigUInt64LE(0x40),
    signer: { authorKeyEnabled: (signerInfo & 1) === 1, chipIdMasked: (signerInfo & 2) === 2, signingKey: signingKey((signerInfo >> 2) & 7) },
    reportData: slice(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_LENGTH),
    measurement: slice(SNP_MEASUREMENT_OFFSET, SNP_MEASUREMENT_LENGTH),
    hostData: slice(0xc0, 32),
    idKeyDigest: slice(0xe0, 48),
    authorKeyDigest: slice(0x110, 48),
    reportId: slice(0x140, 32),
    reportIdMa: slice(0x160, 32),
    reportedTcb: tcb(0x180),
    cpuid,
    chipId: slice(0x1a0, 64),
    committedTcb: tcb(0x1e0),
    currentVersion: { build: raw[0x1e8]!, minor: raw[0x1e9]!, major: raw[0x1ea]! },
    committedVersion: { build: raw[0x1ec]!, minor: raw[0x1ed]!, major: raw[0x1ee]! },
    launchTcb: tcb(0x1f0),
    signature: { r: slice(SNP_SIGNED_LENGTH, 72), s: slice(SNP_SIGNED_LENGTH + 72, 72) },
    signedBytes: slice(0, SNP_SIGNED_LENGTH),
    raw,
  };
}

/** A plain-JSON view (hex strings for bytes and 64-bit values) for CLIs and replies. */
export function describeSnpReport(report: SnpReport): Record<string, unknown> {
  const hex = (value: Buffer): string => value.toString('hex');
  const tcb = (value: TcbVersion): Record<string, unknown> => ({ ...value, raw: `0x${value.raw.toString(16).padStart(16, '0')}` });
  return {
    version: report.version,
    guestSvn: report.guestSvn,
    policy: { ...report.policy, raw: `0x${report.policy.raw.toString(16)}` },
    familyId: hex(report.familyId),
    imageId: hex(report.imageId),
    vmpl: report.vmpl,
    signatureAlgo: report.signatureAlgo,
    currentTcb: tcb(report.currentTcb),
    reportedTcb: tcb(report.reportedTcb),
    committedTcb: tcb(report.committedTcb),
    launchTcb: tcb(report.launchTcb),
    platformInfo: `0x${report.platformInfo.toString(16)}`,
    signer: report.signer,
    cpuid: report.cpuid,
    currentVersion: report.currentVersion,
    committedVersion: report.committedVersion,
    reportData: hex(report.reportData),
    measurement: hex(report.measurement),
    hostData: hex(report.hostData),
    idKeyDigest: hex(report.idKeyDigest),
    authorKeyDigest: hex(report.authorKeyDigest),
    reportId: hex(report.reportId),
    chipId: hex(report.chipId),
  };
}
