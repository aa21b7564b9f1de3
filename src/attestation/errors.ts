// The attestation layer's error family. gRPC maps these at integration:
// SealedCredentialError and WritableCredentialError → INVALID_ARGUMENT,
// AttestationUnavailableError → FAILED_PRECONDITION, the rest → INTERNAL/UNKNOWN.
// Messages are fixed sentences: never a credential, key byte, nonce or report byte.

export class AttestationError extends Error {
  override name = 'AttestationError';
}

/**
 * A sealed credential was refused: sealed for another account or another enclave key, tampered
 * with, truncated, or its plaintext is not a credential. The message never says which, on purpose
 * (no oracle), and never carries plaintext or key bytes.
 */
export class SealedCredentialError extends AttestationError {
  override name = 'SealedCredentialError';
  constructor(readonly reason: 'unopenable' | 'malformed', options?: ErrorOptions) {
    super(
      reason === 'unopenable'
        ? 'the sealed credential cannot be opened for this account by this enclave'
        : 'the sealed credential does not hold an API key and secret',
      options,
    );
  }
}

/** The venue reports rights beyond reading (trade, withdraw, transfer) or no read right. */
export class WritableCredentialError extends AttestationError {
  override name = 'WritableCredentialError';
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
