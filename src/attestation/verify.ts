// The relying party's verifier: is this SEV-SNP report genuine (signed by a VCEK/VLEK that chains
// to AMD's pinned root for its product, not revoked, certified for the TCB and chip it reports),
// fresh (it carries the report data I asked for: my nonce and the keys it binds) and from an
// acceptable guest (measurement allow-list, HOST_DATA, policy, VMPL, TCB floors, ID block)?
//
// The signature is always required: there is no "no VCEK" mode. The checks follow google/go-sev-guest
// validate.Options and verify.SnpReport, and Trustee's SNP verifier (deps/verifier/src/snp); the
// README's "Trust chain" section lists which of theirs we match.
//
// Getting the certificates (not fetched here: verification is offline and deterministic):
//   VCEK: https://kdsintf.amd.com/vcek/v1/{Milan|Genoa|Turin}/{CHIP_ID hex}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..
//   ARK+ASK: https://kdsintf.amd.com/vcek/v1/{product}/cert_chain   CRL: https://kdsintf.amd.com/vcek/v1/{product}/crl
//   or the certificate table the host returns with an extended report (configfs-tsm `auxblob`).
import { verify as verifySignature } from 'node:crypto';
import {
  AMD_ARK_SHA256,
  chainFailures,
  parseRevocationList,
  productOfReport,
  readVcekExtensions,
  serialOf,
  vcekMismatches,
  type AmdProduct,
  type EndorsementChain,
} from './amd-certificates.js';
import { attestationReportData, type AttestationBinding } from './binding.js';
import { AttestationError, ReportFormatError } from './errors.js';
import { parseSnpReport, SNP_MEASUREMENT_LENGTH, SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384, type SnpReport, type TcbVersion } from './snp-report.js';

export interface MinimumTcb {
  readonly bootLoader?: number;
  readonly tee?: number;
  readonly snp?: number;
  readonly microcode?: number;
  readonly fmc?: number;
}

/** What the relying party accepts: the policy half of go-sev-guest's validate.Options. */
export interface AttestationPolicy {
  /** Allowed launch measurements (48 bytes each); at least one. */
  readonly measurements: readonly Uint8Array[];
  /** Expected HOST_DATA (32 bytes: the hash of the measured configuration); unchecked when absent. */
  readonly hostData?: Uint8Array;
  /** Accept a guest whose policy lets the host debug it. Default false (never in production). */
  readonly allowDebug?: boolean;
  /** Accept a guest that may be migrated by a migration agent. Default false. */
  readonly allowMigrationAgent?: boolean;
  /** Refuse a guest whose policy allows SMT, or a platform that runs with SMT enabled. Default false. */
  readonly requireSmtDisabled?: boolean;
  /** The VMPL the report must have been requested at. Default 0 (the most privileged level). */
  readonly vmpl?: number;
  /** Floor for CURRENT_TCB, COMMITTED_TCB, REPORTED_TCB and LAUNCH_TCB. */
  readonly minimumTcb?: MinimumTcb;
  /** A separate floor for LAUNCH_TCB (default: minimumTcb). */
  readonly minimumLaunchTcb?: MinimumTcb;
  readonly minimumGuestSvn?: number;
  /** Lowest guest policy ABI version. */
  readonly minimumAbi?: { readonly major: number; readonly minor: number };
  /** PLATFORM_INFO bits that must be set (e.g. 0b10 = TSME enabled). */
  readonly platformInfoRequired?: bigint;
  /** Require an ID block signed by one of these ID keys (SHA-384 digests, 48 bytes each). */
  readonly idKeyDigests?: readonly Uint8Array[];
  /** Lowest accepted report version (default 2). */
  readonly minimumReportVersion?: number;
}

/** The certificates and revocation data the verifier checks the signature against. */
export interface Endorsements extends EndorsementChain {
  /** AMD's CRL for the product (DER or PEM), checked when given. */
  readonly crl?: Buffer;
  /** Pinned ARK SHA-256 per product (default AMD_ARK_SHA256; tests pin their own root). */
  readonly trustedArks?: Readonly<Partial<Record<AmdProduct, readonly string[]>>>;
  /** The product when the report does not say (report version 2). */
  readonly product?: AmdProduct;
}

/** What the report must carry in REPORT_DATA: the gRPC binding (nonce, enclave key, TLS, build hash) or raw bytes. */
export type ExpectedReportData = { readonly binding: AttestationBinding } | { readonly reportData: Uint8Array };

export interface VerifyOptions {
  readonly expected: ExpectedReportData;
  readonly policy: AttestationPolicy;
  readonly endorsements: Endorsements;
  /** Certificate validity and CRL freshness are checked at this time (default now). */
  readonly at?: Date;
}

export type CheckName =
  | 'format' | 'signature' | 'chain' | 'certificate-tcb' | 'revocation' | 'report-data' | 'measurement' | 'host-data'
  | 'debug' | 'migration-agent' | 'smt' | 'vmpl' | 'tcb' | 'guest-svn' | 'abi' | 'platform-info' | 'id-block' | 'version';

export interface VerifyCheck {
  readonly name: CheckName;
  readonly status: 'pass' | 'fail';
  readonly detail: string;
}

export interface Verdict {
  readonly ok: boolean;
  readonly checks: readonly VerifyCheck[];
  readonly report: SnpReport | null;
}

/** The verdict as an exception, for callers that only proceed on success (the broker, the CLI's seal step). */
export class AttestationRejectedError extends AttestationError {
  override name = 'AttestationRejectedError';
  constructor(readonly failed: readonly VerifyCheck[]) {
    super(`attestation rejected: ${failed.map((check) => `${check.name} (${check.detail})`).join('; ')}`);
  }
}

const pass = (name: CheckName, detail: string): VerifyCheck => ({ name, status: 'pass', detail });
const fail = (name: CheckName, detail: string): VerifyCheck => ({ name, status: 'fail', detail });

/** AMD stores R and S as 72-byte little-endian integers; P-384 needs 48 big-endian bytes each. */
function p1363Signature(report: SnpReport): Buffer | null {
  const component = (value: Buffer): Buffer | null => (value.subarray(48).some((byte) => byte !== 0) ? null : Buffer.from(value.subarray(0, 48)).reverse());
  const r = component(report.signature.r);
  const s = component(report.signature.s);
  return r === null || s === null ? null : Buffer.concat([r, s]);
}

function checkEndorsement(report: SnpReport, endorsements: Endorsements, at: Date): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  const product = productOfReport(report) ?? endorsements.product ?? null;
  const pins = product === null ? undefined : (endorsements.trustedArks ?? AMD_ARK_SHA256)[product];
  if (product === null || pins === undefined || pins.length === 0) {
    checks.push(fail('chain', 'the report does not name a known product (Milan, Genoa, Turin) and none was given'));
  } else {
    const failures = chainFailures(endorsements, pins, at);
    checks.push(failures.length === 0 ? pass('chain', `VCEK → ASK → pinned ${product} ARK`) : fail('chain', failures.join('; ')));
  }

  if (report.signatureAlgo !== SNP_SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    checks.push(fail('signature', `unsupported signature algorithm ${report.signatureAlgo}`));
  } else if (report.signer.signingKey !== 'vcek' && report.signer.signingKey !== 'vlek') {
    checks.push(fail('signature', `the report is signed by no VCEK or VLEK (signing key ${report.signer.signingKey})`));
  } else {
    const key = endorsements.vcek.publicKey;
    const signature = p1363Signature(report);
    const ecP384 = key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    const valid = ecP384 && signature !== null && verifySignature('sha384', report.signedBytes, { key, dsaEncoding: 'ieee-p1363' }, signature);
    checks.push(valid ? pass('signature', `ECDSA P-384/SHA-384 under the ${report.signer.signingKey.toUpperCase()}`) : fail('signature', 'the report signature does not verify under the given VCEK/VLEK'));
  }

  try {
    const mismatches = vcekMismatches(readVcekExtensions(endorsements.vcek), report);
    checks.push(mismatches.length === 0 ? pass('certificate-tcb', 'the certificate is for this chip at the reported TCB') : fail('certificate-tcb', mismatches.join('; ')));
  } catch (error) {
    if (!(error instanceof AttestationError)) throw error;
    checks.push(fail('certificate-tcb', `the certificate extensions do not parse: ${error.message}`));
  }

  if (endorsements.crl !== undefined) {
    try {
      const crl = parseRevocationList(endorsements.crl);
      const revoked = [endorsements.ask, endorsements.vcek].filter((cert) => crl.revokedSerials.has(serialOf(cert)));
      if (!crl.signedBy(endorsements.ark.publicKey)) checks.push(fail('revocation', 'the CRL is not signed by the ARK'));
      else if (crl.nextUpdate !== null && crl.nextUpdate.getTime() < at.getTime()) checks.push(fail('revocation', 'the CRL is out of date'));
      else if (revoked.length > 0) checks.push(fail('revocation', 'a certificate of the chain is revoked'));
      else checks.push(pass('revocation', 'no certificate of the chain is on the CRL'));
    } catch (error) {
      if (!(error instanceof AttestationError)) throw error;
      checks.push(fail('revocation', `the CRL does not parse: ${error.message}`));
    }
  }
  return checks;
}

function tcbBelow(tcb: TcbVersion, minimum: MinimumTcb | undefined): string[] {
  if (minimum === undefined) return [];
  const below: string[] = [];
  for (const part of ['bootLoader', 'tee', 'snp', 'microcode', 'fmc'] as const) {
    const floor = minimum[part];
    if (floor === undefined) continue;
    const actual = tcb[part] ?? 0;
    if (actual < floor) below.push(`${part} ${actual} < ${floor}`);
  }
  return below;
}

function checkGuest(report: SnpReport, policy: AttestationPolicy): VerifyCheck[] {
  const checks: VerifyCheck[] = [];
  const minVersion = policy.minimumReportVersion ?? 2;
  checks.push(report.version >= minVersion ? pass('version', `report version ${report.version}`) : fail('version', `report version ${report.version} < ${minVersion}`));

  const measurement = report.measurement.toString('hex');
  const allowed = policy.measurements.filter((m) => m.byteLength === SNP_MEASUREMENT_LENGTH).map((m) => Buffer.from(m).toString('hex'));
  checks.push(allowed.includes(measurement) ? pass('measurement', `measurement ${measurement}`) : fail('measurement', `measurement ${measurement} is not on the allow-list`));

  if (policy.hostData !== undefined) {
    checks.push(report.hostData.equals(Buffer.from(policy.hostData)) ? pass('host-data', 'HOST_DATA is the expected configuration hash') : fail('host-data', `HOST_DATA ${report.hostData.toString('hex')} is not the expected one`));
  }
  checks.push(report.policy.debugAllowed && policy.allowDebug !== true ? fail('debug', 'the guest policy allows host debugging') : pass('debug', 'debugging off (or explicitly allowed)'));
  checks.push(
    report.policy.migrationAgentAllowed && policy.allowMigrationAgent !== true
      ? fail('migration-agent', 'the guest policy allows a migration agent')
      : pass('migration-agent', 'no migration agent (or explicitly allowed)'),
  );
  if (policy.requireSmtDisabled === true) {
    const platformSmt = (report.platformInfo & 1n) === 1n;
    checks.push(report.policy.smtAllowed || platformSmt ? fail('smt', 'SMT is allowed by the guest policy or enabled on the platform') : pass('smt', 'SMT disabled'));
  }
  const vmpl = policy.vmpl ?? 0;
  checks.push(report.vmpl === vmpl ? pass('vmpl', `VMPL ${vmpl}`) : fail('vmpl', `the report was requested at VMPL ${report.vmpl}, expected ${vmpl}`));

  const below = [
    ...tcbBelow(report.currentTcb, policy.minimumTcb).map((text) => `current ${text}`),
    ...tcbBelow(report.committedTcb, policy.minimumTcb).map((text) => `committed ${text}`),
    ...tcbBelow(report.reportedTcb, policy.minimumTcb).map((text) => `reported ${text}`),
    ...tcbBelow(report.launchTcb, policy.minimumLaunchTcb ?? policy.minimumTcb).map((text) => `launch ${text}`),
  ];
  if (policy.minimumTcb !== undefined || policy.minimumLaunchTcb !== undefined) {
    checks.push(below.length === 0 ? pass('tcb', 'current, committed, reported and launch TCB meet the minimum') : fail('tcb', below.join(', ')));
  }
  if (policy.minimumGuestSvn !== undefined) {
    checks.push(report.guestSvn >= policy.minimumGuestSvn ? pass('guest-svn', `guest SVN ${report.guestSvn}`) : fail('guest-svn', `guest SVN ${report.guestSvn} < ${policy.minimumGuestSvn}`));
  }
  if (policy.minimumAbi !== undefined) {
    const { major, minor } = policy.minimumAbi;
    const ok = report.policy.abiMajor > major || (report.policy.abiMajor === major && report.policy.abiMinor >= minor);
    checks.push(ok ? pass('abi', `ABI ${report.policy.abiMajor}.${report.policy.abiMinor}`) : fail('abi', `guest policy ABI ${report.policy.abiMajor}.${report.policy.abiMinor} < ${major}.${minor}`));
  }
  if (policy.platformInfoRequired !== undefined) {
    const missing = policy.platformInfoRequired & ~report.platformInfo;
    checks.push(missing === 0n ? pass('platform-info', `platform info 0x${report.platformInfo.toString(16)}`) : fail('platform-info', `platform info lacks bits 0x${missing.toString(16)}`));
  }
  if (policy.idKeyDigests !== undefined) {
    const trusted = policy.idKeyDigests.map((digest) => Buffer.from(digest).toString('hex'));
    checks.push(trusted.includes(report.idKeyDigest.toString('hex')) ? pass('id-block', 'the ID block is signed by a trusted ID key') : fail('id-block', 'the ID key digest is not a trusted one'));
  }
  return checks;
}

function checkReportData(report: SnpReport, expected: ExpectedReportData): VerifyCheck {
  let wanted: Buffer;
  try {
    wanted = 'binding' in expected ? attestationReportData(expected.binding) : Buffer.from(expected.reportData);
  } catch (error) {
    if (!(error instanceof AttestationError)) throw error;
    return fail('report-data', error.message);
  }
  return report.reportData.equals(wanted)
    ? pass('report-data', 'REPORT_DATA carries the expected nonce and keys (fresh)')
    : fail('report-data', 'REPORT_DATA is not the expected one (another nonce, key or TLS certificate: stale or replayed)');
}

/** Checks a raw report. Never throws for a bad report or bad certificates: the verdict says why. */
export function verifyAttestationReport(reportBytes: Uint8Array, options: VerifyOptions): Verdict {
  let report: SnpReport;
  try {
    report = parseSnpReport(reportBytes);
  } catch (error) {
    if (!(error instanceof ReportFormatError)) throw error;
    return { ok: false, report: null, checks: [fail('format', error.message)] };
  }
  const at = options.at ?? new Date();
  const checks: VerifyCheck[] = [
    pass('format', `SEV-SNP report version ${report.version}`),
    ...checkEndorsement(report, options.endorsements, at),
    checkReportData(report, options.expected),
    ...checkGuest(report, options.policy),
  ];
  return { ok: checks.every((check) => check.status === 'pass'), checks, report };
}

/** verifyAttestationReport for callers that proceed only on success: returns the parsed report or throws AttestationRejectedError. */
export function assertAttestationReport(reportBytes: Uint8Array, options: VerifyOptions): SnpReport {
  const verdict = verifyAttestationReport(reportBytes, options);
  if (!verdict.ok || verdict.report === null) throw new AttestationRejectedError(verdict.checks.filter((check) => check.status === 'fail'));
  return verdict.report;
}
