// A track-record statement checked all the way down (docs/statements.md "Verifying"): the SEV-SNP
// report that vouches for the signing key (AMD signature and chain, the release's measurements,
// the guest policy), that its REPORT_DATA binds the statement-signing key and the statement's build
// hash (codeMeasurement, which must be the release manifest's when it pins one), then the
// statement itself (signature, hand-overs from the attested key, the published series).
import { verifyStatement, type StatementCheck, type SignedStatement } from '../crypto/statement.js';
import { StatementVerificationError, type ChainedHour } from '../crypto/track-record.js';
import { buildHashBytes } from './binding.js';
import { AttestationError } from './errors.js';
import { verifyAttestationReport, type AttestationPolicy, type Endorsements, type Verdict } from './verify.js';

/** The attestation evidence a verifier holds: what `enclave attest` and verify-attestation work with. */
export interface StatementAttestation {
  /** The raw SEV-SNP report. */
  readonly report: Uint8Array;
  /** The verifier's nonce the report was requested with. */
  readonly nonce: Uint8Array;
  /** The enclave's intake public key (raw X25519) the report binds. */
  readonly enclavePublicKey: Uint8Array;
  /** SHA-256 of the enclave's TLS certificate, or null when it serves none. */
  readonly tlsCertificateFingerprint: Uint8Array | null;
  /**
   * The statement-signing key the report binds (raw Ed25519). Default: the statement's own
   * `signingKey`; give an earlier key (from an earlier attestation) to follow hand-overs from it.
   */
  readonly statementSigningKey?: Uint8Array;
  /** The release's measurements (and HOST_DATA, when pinned) and the guest policy. */
  readonly policy: AttestationPolicy;
  readonly endorsements: Endorsements;
  /** The build hash the release manifest pins (hex); the statement's codeMeasurement must be it. Null or absent: none pinned. */
  readonly pinnedBuildHash?: string | null;
  /** Certificate validity time (default now). */
  readonly at?: Date;
}

export interface AttestedStatementCheck extends StatementCheck {
  /** The attestation verdict (every check passed when this returns). */
  readonly attestation: Verdict;
}

/** Verifies the attestation, then the statement. StatementVerificationError on the first failure. */
export function verifyAttestedStatement(signed: SignedStatement, attestation: StatementAttestation, options: { readonly series?: readonly ChainedHour[] } = {}): AttestedStatementCheck {
  const { statement } = signed;
  const pinned = attestation.pinnedBuildHash ?? null;
  if (pinned !== null && pinned.toLowerCase() !== statement.codeMeasurement.toLowerCase()) {
    throw new StatementVerificationError('the statement was signed by another build than the release manifest pins');
  }
  let buildHash: Buffer | null;
  try {
    buildHash = buildHashBytes(statement.codeMeasurement);
  } catch (error) {
    if (error instanceof AttestationError) throw new StatementVerificationError('the statement\'s code measurement is not a build hash');
    throw error;
  }
  const key = attestation.statementSigningKey === undefined ? Buffer.from(statement.signingKey, 'hex') : Buffer.from(attestation.statementSigningKey);
  let verdict: Verdict;
  try {
    verdict = verifyAttestationReport(attestation.report, {
      expected: { binding: { nonce: attestation.nonce, enclavePublicKey: attestation.enclavePublicKey, tlsCertificateFingerprint: attestation.tlsCertificateFingerprint, buildHash, statementSigningKey: key } },
      policy: attestation.policy,
      endorsements: attestation.endorsements,
      ...(attestation.at === undefined ? {} : { at: attestation.at }),
    });
  } catch (error) {
    if (error instanceof AttestationError) throw new StatementVerificationError(`the attestation evidence is unusable (${error.message})`);
    throw error;
  }
  if (!verdict.ok) {
    const failed = verdict.checks.filter((c) => c.status === 'fail').map((c) => c.name);
    throw new StatementVerificationError(`the attestation does not vouch for the signing key (failed: ${failed.join(', ')})`);
  }
  const check = verifyStatement(signed, { trustedPublicKey: key, ...(options.series === undefined ? {} : { series: options.series }) });
  return { ...check, attestation: verdict };
}
