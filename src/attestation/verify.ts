// Verifier: does this report come from the expected image, for my nonce, binding the key and TLS
// certificate I was given? Optionally (when the caller holds AMD's certificates) is it signed by
// a VCEK that chains to a pinned ARK?
//
// Deployment step for the certificate chain (not fetched here: the enclave and tests are offline):
//   1. From the report take CHIP_ID and REPORTED_TCB; fetch the VCEK from AMD KDS
//      https://kdsintf.amd.com/vcek/v1/{Milan|Genoa|Turin}/{chip_id hex}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
//      and the ARK/ASK chain from https://kdsintf.amd.com/vcek/v1/{product}/cert_chain
//      (or use the certificates the host hands out with the extended report / auxblob).
//   2. Pin the ARK by its SHA-256 fingerprint, obtained once out of band from AMD.
//   3. Run verifyVcekChain (ARK self-signed and pinned, ASK signed by ARK, VCEK signed by ASK) and
//      pass the VCEK to verifyAttestationReport so the report's ECDSA P-384 signature is checked.
//   The VCEK's TCB extensions (blSPL, teeSPL, snpSPL, ucodeSPL, hwID) should equal REPORTED_TCB and
//   CHIP_ID; that comparison is left to the deployment's verifier policy.
import { createPublicKey, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { attestationReportData, type AttestationBinding } from './binding.js';
import { ReportFormatError } from './errors.js';
import { parseSnpReport, SNP_MEASUREMENT_LENGTH, SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384, type SnpReport, type TcbVersion } from './snp-report.js';

export interface MinimumTcb {
  readonly bootLoader?: number;
  readonly tee?: number;
  readonly snp?: number;
  readonly microcode?: number;
  readonly fmc?: number;
}

export interface VerifyExpectations extends AttestationBinding {
  /** The 48-byte launch measurement of the expected image. */
  readonly measurement: Uint8Array;
  /** Accept a guest whose policy allows host debugging (never in production). Default false. */
  readonly allowDebug?: boolean;
  /** The VCEK (or VLEK) certificate; when given, the report signature must verify under it. */
  readonly vcek?: X509Certificate | KeyObject;
  /** Lowest acceptable REPORTED_TCB components. */
  readonly minimumTcb?: MinimumTcb;
}

export interface VerifyCheck {
  readonly name: 'format' | 'measurement' | 'binding' | 'policy' | 'signature' | 'tcb';
  readonly status: 'pass' | 'fail' | 'skipped';
  readonly detail: string;
}

export interface Verdict {
  readonly ok: boolean;
  readonly checks: readonly VerifyCheck[];
  readonly report: SnpReport | null;
}

/** AMD stores R and S as 72-byte little-endian integers; P-384 needs 48 big-endian bytes each. */
function p1363Signature(report: SnpReport): Buffer | null {
  const component = (value: Buffer): Buffer | null => (value.subarray(48).some((byte) => byte !== 0) ? null : Buffer.from(value.subarray(0, 48)).reverse());
  const r = component(report.signature.r);
  const s = component(report.signature.s);
  return r === null || s === null ? null : Buffer.concat([r, s]);
}

function checkSignature(report: SnpReport, vcek: X509Certificate | KeyObject | undefined): VerifyCheck {
  if (vcek === undefined) return { name: 'signature', status: 'skipped', detail: 'no VCEK given: signature and certificate chain not checked' };
  if (report.signatureAlgo !== SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    return { name: 'signature', status: 'fail', detail: `unsupported signature algorithm ${report.signatureAlgo}` };
  }
  const key = vcek instanceof X509Certificate ? vcek.publicKey : vcek.type === 'public' ? vcek : createPublicKey(vcek);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    return { name: 'signature', status: 'fail', detail: 'the VCEK is not an ECDSA P-384 key' };
  }
  const signature = p1363Signature(report);
  const valid = signature !== null && verifySignature('sha384', report.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, signature);
  return valid
    ? { name: 'signature', status: 'pass', detail: 'ECDSA P-384/SHA-384 signature verifies under the VCEK' }
    : { name: 'signature', status: 'fail', detail: 'the report signature does not verify under the VCEK' };
}

function checkTcb(tcb: TcbVersion, minimum: MinimumTcb | undefined): VerifyCheck {
  if (minimum === undefined) return { name: 'tcb', status: 'skipped', detail: 'no minimum TCB given' };
  const below: string[] = [];
  for (const part of ['bootLoader', 'tee', 'snp', 'microcode', 'fmc'] as const) {
    const floor = minimum[part];
    if (floor === undefined) continue;
    const actual = tcb[part] ?? 0;
    if (actual < floor) below.push(`${part} ${actual} < ${floor}`);
  }
  return below.length === 0
    ? { name: 'tcb', status: 'pass', detail: 'reported TCB meets the minimum' }
    : { name: 'tcb', status: 'fail', detail: `reported TCB below minimum: ${below.join(', ')}` };
}

/** Checks a raw report against expectations. Never throws for a bad report: the verdict says why. */
export function verifyAttestationReport(reportBytes: Uint8Array, expected: VerifyExpectations): Verdict {
  let report: SnpReport;
  try {
    report = parseSnpReport(reportBytes);
  } catch (error) {
    if (!(error instanceof ReportFormatError)) throw error;
    return { ok: false, report: null, checks: [{ name: 'format', status: 'fail', detail: error.message }] };
  }
  const checks: VerifyCheck[] = [{ name: 'format', status: 'pass', detail: `SEV-SNP report version ${report.version}` }];

  if (expected.measurement.byteLength !== SNP_MEASUREMENT_LENGTH) {
    checks.push({ name: 'measurement', status: 'fail', detail: 'the expected measurement is not 48 bytes' });
  } else if (report.measurement.equals(expected.measurement)) {
    checks.push({ name: 'measurement', status: 'pass', detail: `measurement ${report.measurement.toString('hex')}` });
  } else {
    checks.push({ name: 'measurement', status: 'fail', detail: `measurement ${report.measurement.toString('hex')} is not the expected one` });
  }

  let binding: Buffer | null = null;
  try {
    binding = attestationReportData(expected);
  } catch (error) {
    checks.push({ name: 'binding', status: 'fail', detail: error instanceof Error ? error.message : 'invalid expectations' });
  }
  if (binding !== null) {
    checks.push(
      report.reportData.equals(binding)
        ? { name: 'binding', status: 'pass', detail: 'report data binds the nonce, enclave key and TLS certificate' }
        : { name: 'binding', status: 'fail', detail: 'report data does not match the nonce, enclave key and TLS certificate' },
    );
  }

  checks.push(
    report.policy.debugAllowed && expected.allowDebug !== true
      ? { name: 'policy', status: 'fail', detail: 'the guest policy allows host debugging' }
      : { name: 'policy', status: 'pass', detail: `guest policy 0x${report.policy.raw.toString(16)}` },
  );
  checks.push(checkSignature(report, expected.vcek));
  checks.push(checkTcb(report.reportedTcb, expected.minimumTcb));
  return { ok: checks.every((check) => check.status !== 'fail'), checks, report };
}

export interface VcekChain {
  readonly ark: X509Certificate;
  readonly ask: X509Certificate;
  readonly vcek: X509Certificate;
  /** Hex SHA-256 fingerprints of ARK certificates the deployment trusts (pinned out of band). */
  readonly trustedArkSha256: readonly string[];
  /** Validity is checked at this time (default now). */
  readonly at?: Date;
}

/** Checks ARK (pinned, self-signed) → ASK → VCEK. Returns the failures; empty means the chain holds. */
export function verifyVcekChain(chain: VcekChain): string[] {
  const failures: string[] = [];
  const normalize = (text: string): string => text.replaceAll(':', '').toLowerCase();
  const arkFingerprint = normalize(chain.ark.fingerprint256);
  if (!chain.trustedArkSha256.map(normalize).includes(arkFingerprint)) failures.push('the ARK is not one of the pinned roots');
  if (!chain.ark.verify(chain.ark.publicKey)) failures.push('the ARK is not self-signed');
  if (!chain.ask.verify(chain.ark.publicKey)) failures.push('the ASK is not signed by the ARK');
  if (!chain.vcek.verify(chain.ask.publicKey)) failures.push('the VCEK is not signed by the ASK');
  const at = (chain.at ?? new Date()).getTime();
  for (const [name, cert] of [['ARK', chain.ark], ['ASK', chain.ask], ['VCEK', chain.vcek]] as const) {
    if (at < Date.parse(cert.validFrom) || at > Date.parse(cert.validTo)) failures.push(`the ${name} certificate is not valid at the given time`);
  }
  return failures;
}
