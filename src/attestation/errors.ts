// The attestation layer's error family. gRPC maps these at integration:
// AttestationUnavailableError → FAILED_PRECONDITION, the rest → INTERNAL/UNKNOWN.
// Messages are fixed sentences: never a credential, key byte, nonce or report byte.

export class AttestationError extends Error {
  override name = 'AttestationError';
}



/** No SEV-SNP attestation device here (and AMD_SEV_SNP is not true), or the device is not SNP. */
export class AttestationUnavailableError extends AttestationError {
  override name = 'AttestationUnavailableError';
}

/** The device answered but the exchange failed (I/O error, generation race, wrong report data). */
export class AttestationDeviceError extends AttestationError {
  override name = 'AttestationDeviceError';
}

/** AMD_SEV_SNP=true but no attestation device: the service must not start. */
export class AttestationStartupError extends AttestationError {
  override name = 'AttestationStartupError';
}

/** Bytes that are not an SEV-SNP ATTESTATION_REPORT. */
export class ReportFormatError extends AttestationError {
  override name = 'ReportFormatError';
}

/** A malformed attestation request (nonce length, key length, fingerprint length). */
export class InvalidAttestationRequestError extends AttestationError {
  override name = 'InvalidAttestationRequestError';
}

/** A certificate or CRL that does not parse as the DER we expect. */
export class CertificateFormatError extends AttestationError {
  override name = 'CertificateFormatError';
}

/** The key broker released nothing (unreachable, wrong pin, refused our report, malformed reply). */
export class KeyReleaseError extends AttestationError {
  override name = 'KeyReleaseError';
}
