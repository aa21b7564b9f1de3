// Builds SEV-SNP ATTESTATION_REPORTs byte by byte from the AMD ABI table (offsets written out
// here on purpose, independently of src/attestation/snp-report.ts), optionally signed with an
// ECDSA P-384 key the way the AMD-SP signs (R and S little-endian in 72-byte fields).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface SyntheticReportFields {
  version?: number;
  guestSvn?: number;
  policy?: bigint;
  familyId?: Buffer;
  imageId?: Buffer;
  vmpl?: number;
  signatureAlgo?: number;
  currentTcb?: bigint;
  platformInfo?: bigint;
  signerInfo?: number;
  reportData?: Buffer;
  measurement?: Buffer;
  hostData?: Buffer;
  idKeyDigest?: Buffer;
  authorKeyDigest?: Buffer;
  reportId?: Buffer;
  reportIdMa?: Buffer;
  reportedTcb?: bigint;
  cpuid?: { family: number; model: number; stepping: number };
  chipId?: Buffer;
  committedTcb?: bigint;
  currentVersion?: { major: number; minor: number; build: number };
  committedVersion?: { major: number; minor: number; build: number };
  launchTcb?: bigint;
  signingKey?: KeyObject;
}

export const TEST_MEASUREMENT = Buffer.alloc(48, 0x5a);

/** Milan/Genoa TCB_VERSION: byte0 boot loader, byte1 TEE, byte6 SNP, byte7 microcode. */
export function milanTcb(bootLoader: number, tee: number, snp: number, microcode: number): bigint {
  const bytes = Buffer.alloc(8);
  bytes[0] = bootLoader;
  bytes[1] = tee;
  bytes[6] = snp;
  bytes[7] = microcode;
  return bytes.readBigUInt64LE(0);
}

export function buildSyntheticReport(fields: SyntheticReportFields = {}): Buffer {
  const report = Buffer.alloc(1184);
  const put = (offset: number, value: Buffer | undefined, length: number): void => {
    if (value === undefined) return;
    if (value.length !== length) throw new Error(`field at 0x${offset.toString(16)} needs ${length} bytes`);
    value.copy(report, offset);
  };
  report.writeUInt32LE(fields.version ?? 3, 0x00);
  report.writeUInt32LE(fields.guestSvn ?? 7, 0x04);
  report.writeBigUInt64LE(fields.policy ?? 0x30000n, 0x08);
  put(0x10, fields.familyId ?? Buffer.alloc(16, 0x11), 16);
  put(0x20, fields.imageId ?? Buffer.alloc(16, 0x22), 16);
  report.writeUInt32LE(fields.vmpl ?? 0, 0x30);
  report.writeUInt32LE(fields.signatureAlgo ?? 1, 0x34);
  report.writeBigUInt64LE(fields.currentTcb ?? milanTcb(3, 0, 8, 115), 0x38);
  report.writeBigUInt64LE(fields.platformInfo ?? 1n, 0x40);
  report.writeUInt32LE(fields.signerInfo ?? 0, 0x48);
  put(0x50, fields.reportData ?? Buffer.alloc(64), 64);
  put(0x90, fields.measurement ?? TEST_MEASUREMENT, 48);
  put(0xc0, fields.hostData ?? Buffer.alloc(32, 0x33), 32);
  put(0xe0, fields.idKeyDigest ?? Buffer.alloc(48, 0x44), 48);
  put(0x110, fields.authorKeyDigest ?? Buffer.alloc(48, 0x55), 48);
  put(0x140, fields.reportId ?? Buffer.alloc(32, 0x66), 32);
  put(0x160, fields.reportIdMa ?? Buffer.alloc(32, 0xff), 32);
  report.writeBigUInt64LE(fields.reportedTcb ?? milanTcb(3, 0, 8, 115), 0x180);
  const cpuid = fields.cpuid ?? { family: 0x19, model: 0x01, stepping: 0x01 };
  report[0x188] = cpuid.family;
  report[0x189] = cpuid.model;
  report[0x18a] = cpuid.stepping;
  put(0x1a0, fields.chipId ?? Buffer.alloc(64, 0x77), 64);
  report.writeBigUInt64LE(fields.committedTcb ?? milanTcb(3, 0, 8, 115), 0x1e0);
  const current = fields.currentVersion ?? { major: 1, minor: 55, build: 21 };
  report[0x1e8] = current.build;
  report[0x1e9] = current.minor;
  report[0x1ea] = current.major;
  const committed = fields.committedVersion ?? { major: 1, minor: 55, build: 21 };
  report[0x1ec] = committed.build;
  report[0x1ed] = committed.minor;
  report[0x1ee] = committed.major;
  report.writeBigUInt64LE(fields.launchTcb ?? milanTcb(3, 0, 8, 115), 0x1f0);
  if (fields.signingKey !== undefined) signSyntheticReport(report, fields.signingKey);
  return report;
}

/** Signs bytes 0x000–0x29F and stores R and S little-endian at 0x2A0 and 0x2E8. */
export function signSyntheticReport(report: Buffer, key: KeyObject): void {
  const signature = sign('sha384', report.subarray(0, 0x2a0), { key, dsaEncoding: 'ieee-p1363' });
  report.fill(0, 0x2a0);
  Buffer.from(signature.subarray(0, 48)).reverse().copy(report, 0x2a0);
  Buffer.from(signature.subarray(48, 96)).reverse().copy(report, 0x2a0 + 72);
}

export function testSigningKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' });
}
