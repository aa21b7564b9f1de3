// AMD's endorsement chain for SEV-SNP reports: ARK (root, pinned per product) → ASK (or ASVK for
// VLEKs) → VCEK (or VLEK) that signed the report, the VCEK's AMD extensions, and AMD's CRL.
//
// Pinned ARKs: SHA-256 of the DER of AMD's ARK-Milan, ARK-Genoa and ARK-Turin certificates as
// served by https://kdsintf.amd.com/vcek/v1/{product}/cert_chain (cross-checked against the copies
// in confidential-containers/trustee deps/verifier/src/snp/*_ask_ark_asvk.pem).
//
// VCEK extensions (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
// Specification", pub. 57230; the same OIDs as google/go-sev-guest kds/kds.go and Trustee's
// verifier): 1.3.6.1.4.1.3704.1.3.{1,2,3,8,9} = boot loader, TEE, SNP, microcode, FMC SPL (DER
// INTEGERs); 1.3.6.1.4.1.3704.1.4 = hwID (the 64-byte CHIP_ID, sometimes without an OCTET STRING
// tag, as go-sev-guest notes); 1.3.6.1.4.1.3704.1.5 = CSP id (VLEK only); 1.3.6.1.4.1.3704.1.2 =
// product name.
import { constants, createHash, verify as verifySignature, type KeyObject, type X509Certificate } from 'node:crypto';
import { children, decodeOid, decodeSmallInteger, DER_TAG, integerHex, readTlv, type Tlv } from './der.js';
import { CertificateFormatError } from './errors.js';
import type { SnpReport, TcbVersion } from './snp-report.js';

export const AMD_PRODUCTS = ['Milan', 'Genoa', 'Turin'] as const;
export type AmdProduct = (typeof AMD_PRODUCTS)[number];

/** Hex SHA-256 of AMD's ARK certificate per product. */
export const AMD_ARK_SHA256: Readonly<Record<AmdProduct, readonly string[]>> = {
  Milan: ['69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd'],
  Genoa: ['4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1'],
  Turin: ['1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a'],
};

const OID = {
  bootLoaderSpl: '1.3.6.1.4.1.3704.1.3.1',
  teeSpl: '1.3.6.1.4.1.3704.1.3.2',
  snpSpl: '1.3.6.1.4.1.3704.1.3.3',
  microcodeSpl: '1.3.6.1.4.1.3704.1.3.8',
  fmcSpl: '1.3.6.1.4.1.3704.1.3.9',
  hwId: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
  productName: '1.3.6.1.4.1.3704.1.2',
} as const;

export const VCEK_EXTENSION_OIDS = OID;

/** The product a report comes from, from its CPUID fields (report version ≥ 3); null when unknown. */
export function productOfReport(report: SnpReport): AmdProduct | null {
  if (report.cpuid === null) return null;
  const { family, model } = report.cpuid;
  if (family === 0x19 && model >> 4 === 0x0) return 'Milan';
  if (family === 0x19 && (model >> 4 === 0x1 || model >> 4 === 0xa)) return 'Genoa';
  if (family === 0x1a) return 'Turin';
  return null;
}

export interface VcekExtensions {
  readonly bootLoader: number | null;
  readonly tee: number | null;
  readonly snp: number | null;
  readonly microcode: number | null;
  readonly fmc: number | null;
  readonly hwId: Buffer | null;
  readonly cspId: string | null;
}

/** The extensions block of a certificate: OID → extnValue contents. */
function extensionsOf(der: Buffer): Map<string, Buffer> {
  const certificate = readTlv(der);
  const tbs = children(certificate)[0];
  if (tbs === undefined || tbs.tag !== DER_TAG.sequence) throw new CertificateFormatError('not a certificate');
  const wrapper = children(tbs).find((element) => element.tag === 0xa3);
  const out = new Map<string, Buffer>();
  if (wrapper === undefined) return out;
  const list = children(wrapper)[0];
  if (list === undefined) return out;
  for (const extension of children(list)) {
    const parts = children(extension);
    const oid = parts[0];
    const value = parts.at(-1);
    if (oid?.tag !== DER_TAG.oid || value?.tag !== DER_TAG.octetString) throw new CertificateFormatError('malformed extension');
    out.set(decodeOid(oid.value), value.value);
  }
  return out;
}

function splOf(extensions: Map<string, Buffer>, oid: string): number | null {
  const value = extensions.get(oid);
  if (value === undefined) return null;
  const integer = readTlv(value);
  if (integer.tag !== DER_TAG.integer) throw new CertificateFormatError('an SPL extension is not an INTEGER');
  return decodeSmallInteger(integer.value);
}

/** Reads the AMD extensions of a VCEK or VLEK certificate. */
export function readVcekExtensions(certificate: X509Certificate): VcekExtensions {
  const extensions = extensionsOf(certificate.raw);
  const rawHwId = extensions.get(OID.hwId);
  let hwId: Buffer | null = null;
  if (rawHwId !== undefined) {
    if (rawHwId.length === 64) hwId = Buffer.from(rawHwId);
    else {
      const octet = readTlv(rawHwId);
      if (octet.tag !== DER_TAG.octetString) throw new CertificateFormatError('the hwID extension is not an OCTET STRING');
      hwId = Buffer.from(octet.value);
    }
  }
  const cspRaw = extensions.get(OID.cspId);
  return {
    bootLoader: splOf(extensions, OID.bootLoaderSpl),
    tee: splOf(extensions, OID.teeSpl),
    snp: splOf(extensions, OID.snpSpl),
    microcode: splOf(extensions, OID.microcodeSpl),
    fmc: splOf(extensions, OID.fmcSpl),
    hwId,
    cspId: cspRaw === undefined ? null : readTlv(cspRaw).value.toString('utf8'),
  };
}

/**
 * Compares the VCEK's TCB extensions with REPORTED_TCB (the TCB the VCEK was derived at) and its
 * hwID with CHIP_ID. A VLEK has no hwID (it is not chip-bound). Returns the mismatches.
 */
export function vcekMismatches(extensions: VcekExtensions, report: SnpReport): string[] {
  const problems: string[] = [];
  const tcb: TcbVersion = report.reportedTcb;
  const pairs = [
    ['boot loader', extensions.bootLoader, tcb.bootLoader],
    ['TEE', extensions.tee, tcb.tee],
    ['SNP', extensions.snp, tcb.snp],
    ['microcode', extensions.microcode, tcb.microcode],
  ] as const;
  for (const [name, certified, reported] of pairs) {
    if (certified === null) problems.push(`the certificate has no ${name} SPL extension`);
    else if (certified !== reported) problems.push(`${name} SPL ${reported} in the report, ${certified} in the certificate`);
  }
  if (tcb.fmc !== null && extensions.fmc !== tcb.fmc) problems.push('FMC SPL differs between the report and the certificate');
  if (report.signer.signingKey === 'vcek') {
    if (extensions.hwId === null) problems.push('the VCEK has no hwID extension');
    else if (!report.signer.chipIdMasked && !extensions.hwId.equals(report.chipId)) problems.push('the VCEK hwID is not the report CHIP_ID');
  } else if (report.signer.signingKey === 'vlek' && extensions.cspId === null) {
    problems.push('the VLEK has no CSP id extension');
  }
  return problems;
}

export interface EndorsementChain {
  readonly ark: X509Certificate;
  /** The ASK (for a VCEK) or ASVK (for a VLEK). */
  readonly ask: X509Certificate;
  /** The VCEK or VLEK that signed the report. */
  readonly vcek: X509Certificate;
}

const normalizeFingerprint = (text: string): string => text.replaceAll(':', '').toLowerCase();

/** ARK pinned for `product` and self-signed, ASK signed by the ARK, VCEK by the ASK, all valid at `at`. */
export function chainFailures(chain: EndorsementChain, trustedArkSha256: readonly string[], at: Date): string[] {
  const failures: string[] = [];
  const arkFingerprint = createHash('sha256').update(chain.ark.raw).digest('hex');
  if (!trustedArkSha256.map(normalizeFingerprint).includes(arkFingerprint)) failures.push('the ARK is not one of the pinned roots');
  if (!chain.ark.verify(chain.ark.publicKey)) failures.push('the ARK is not self-signed');
  if (!chain.ask.verify(chain.ark.publicKey)) failures.push('the ASK is not signed by the ARK');
  if (!chain.vcek.verify(chain.ask.publicKey)) failures.push('the VCEK is not signed by the ASK');
  const time = at.getTime();
  for (const [name, cert] of [['ARK', chain.ark], ['ASK', chain.ask], ['VCEK', chain.vcek]] as const) {
    if (time < Date.parse(cert.validFrom) || time > Date.parse(cert.validTo)) failures.push(`the ${name} certificate is not valid at the given time`);
  }
  return failures;
}

const SIGNATURE_OIDS = {
  rsassaPss: '1.2.840.113549.1.1.10',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
} as const;

export interface RevocationList {
  /** Serials (lower-case hex, no leading zero digits) of revoked certificates. */
  readonly revokedSerials: ReadonlySet<string>;
  readonly nextUpdate: Date | null;
  /** True when the list's signature verifies under `issuer`. */
  signedBy(issuer: KeyObject): boolean;
}

function decodeTime(element: Tlv): Date {
  const text = element.value.toString('ascii');
  if (element.tag === DER_TAG.utcTime) {
    const year = Number(text.slice(0, 2));
    return new Date(`${year < 50 ? 2000 + year : 1900 + year}-${text.slice(2, 4)}-${text.slice(4, 6)}T${text.slice(6, 8)}:${text.slice(8, 10)}:${text.slice(10, 12)}Z`);
  }
  return new Date(`${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}T${text.slice(8, 10)}:${text.slice(10, 12)}:${text.slice(12, 14)}Z`);
}

/** Parses a CRL (DER, or PEM "X509 CRL"), as AMD serves it at https://kdsintf.amd.com/vcek/v1/{product}/crl. */
export function parseRevocationList(input: Buffer): RevocationList {
  const text = input.toString('latin1');
  const der = text.includes('-----BEGIN X509 CRL-----')
    ? Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----/gu, '').replace(/\s+/gu, ''), 'base64')
    : input;
  const [tbs, algorithm, signature] = children(readTlv(der));
  if (tbs?.tag !== DER_TAG.sequence || algorithm?.tag !== DER_TAG.sequence || signature?.tag !== DER_TAG.bitString) {
    throw new CertificateFormatError('not a certificate revocation list');
  }
  const fields = children(tbs);
  let index = fields[0]?.tag === DER_TAG.integer ? 1 : 0; // optional version
  index += 2; // signature algorithm, issuer
  index += 1; // thisUpdate
  let nextUpdate: Date | null = null;
  const maybeNext = fields[index];
  if (maybeNext !== undefined && (maybeNext.tag === DER_TAG.utcTime || maybeNext.tag === DER_TAG.generalizedTime)) {
    nextUpdate = decodeTime(maybeNext);
    index += 1;
  }
  const revokedSerials = new Set<string>();
  const revoked = fields[index];
  if (revoked?.tag === DER_TAG.sequence) {
    for (const entry of children(revoked)) {
      const serial = children(entry)[0];
      if (serial?.tag !== DER_TAG.integer) throw new CertificateFormatError('malformed revoked entry');
      revokedSerials.add(normalizeSerial(integerHex(serial.value)));
    }
  }
  const algorithmOid = children(algorithm)[0];
  const oid = algorithmOid === undefined ? '' : decodeOid(algorithmOid.value);
  const signatureBytes = signature.value.subarray(1);
  return {
    revokedSerials,
    nextUpdate,
    signedBy(issuer) {
      switch (oid) {
        case SIGNATURE_OIDS.rsassaPss:
          // AMD signs with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48.
          return verifySignature('sha384', tbs.raw, { key: issuer, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, signatureBytes);
        case SIGNATURE_OIDS.sha384WithRsa:
        case SIGNATURE_OIDS.ecdsaWithSha384:
          return verifySignature('sha384', tbs.raw, issuer, signatureBytes);
        default:
          return false;
      }
    },
  };
}

/** A certificate serial as RevocationList stores it. */
export function serialOf(certificate: X509Certificate): string {
  return normalizeSerial(certificate.serialNumber);
}

function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/u, '');
}
