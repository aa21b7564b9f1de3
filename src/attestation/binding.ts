// What an attestation report's 64-byte REPORT_DATA binds: the verifier's nonce, the enclave's
// X25519 identity key, the TLS certificate the enclave serves and the build hash of the trusted
// base it runs, so a report cannot be replayed (nonce), and whoever checks it knows which key to
// seal credentials to, which TLS endpoint is the measured one and which code answers there.
//
// REPORT_DATA = SHA-512( u16be(len(nonce)) ‖ nonce
//                      ‖ u16be(32) ‖ enclave X25519 public key (raw, 32 bytes)
//                      ‖ u16be(len(fp)) ‖ fp
//                      ‖ u16be(len(bh)) ‖ bh )
// where fp = SHA-256 over the DER encoding of the TLS leaf certificate (32 bytes; the same value as
// `openssl x509 -noout -fingerprint -sha256`), or empty (length 0) when the service runs without
// TLS, and bh = the build hash (`npm run build:hash`, GetEnclaveIdentity's build_hash) as 32 raw
// bytes, or empty when the service runs unbuilt from sources. Nonces are 16 to 64 bytes. Length
// prefixes keep the concatenation unambiguous.
//
// An enclave that signs track-record statements (issue 14) also binds its Ed25519
// statement-signing public key: `‖ u16be(32) ‖ signing key (raw, 32 bytes)` is appended inside the
// SHA-512. Without a signing key nothing is appended (the layout above, unchanged), so a verifier
// must be told the key (GetEnclaveIdentity's statement_signing_key) to match such a report.
import { createHash, X509Certificate } from 'node:crypto';
import { InvalidAttestationRequestError } from './errors.js';
import { X25519_PUBLIC_KEY_LENGTH } from '../crypto/sealed-intake.js';
import { UNBUILT } from './identity.js';

export const NONCE_MIN_LENGTH = 16;
export const NONCE_MAX_LENGTH = 64;
export const CERTIFICATE_FINGERPRINT_LENGTH = 32;
export const BUILD_HASH_LENGTH = 32;

export interface AttestationBinding {
  readonly nonce: Uint8Array;
  readonly enclavePublicKey: Uint8Array;
  /** SHA-256 of the TLS certificate's DER, or null when no TLS is served. */
  readonly tlsCertificateFingerprint: Uint8Array | null;
  /** The build hash (SHA-256 of the trusted base, raw), or null when the service runs unbuilt. */
  readonly buildHash: Uint8Array | null;
  /** Raw Ed25519 statement-signing public key (32 bytes); absent or null: not bound. */
  readonly statementSigningKey?: Uint8Array | null;
}

export const STATEMENT_SIGNING_KEY_LENGTH = 32;

/** The bytes a reported build hash binds: 32 bytes for 64 hex digits, null for UNBUILT; anything else is refused. */
export function buildHashBytes(buildHash: string): Buffer | null {
  if (buildHash === UNBUILT) return null;
  if (!/^[0-9a-fA-F]{64}$/u.test(buildHash)) throw new InvalidAttestationRequestError(`the build hash must be 32 bytes of hex or "${UNBUILT}"`);
  return Buffer.from(buildHash, 'hex');
}

/** SHA-256 over the DER of a certificate given as PEM text or DER bytes. */
export function certificateFingerprint(certificate: string | Uint8Array): Buffer {
  const parsed = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
  return createHash('sha256').update(parsed.raw).digest();
}

function prefixed(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.byteLength, 0);
  return Buffer.concat([length, bytes]);
}

/** The 64 bytes the enclave writes to configfs-tsm `inblob` (and a verifier recomputes). */
export function attestationReportData(binding: AttestationBinding): Buffer {
  const { nonce, enclavePublicKey, tlsCertificateFingerprint } = binding;
  if (nonce.byteLength < NONCE_MIN_LENGTH || nonce.byteLength > NONCE_MAX_LENGTH) {
    throw new InvalidAttestationRequestError(`the nonce must be ${NONCE_MIN_LENGTH} to ${NONCE_MAX_LENGTH} bytes`);
  }
  if (enclavePublicKey.byteLength !== X25519_PUBLIC_KEY_LENGTH) {
    throw new InvalidAttestationRequestError('the enclave public key must be 32 bytes (raw X25519)');
  }
  const fingerprint = tlsCertificateFingerprint ?? new Uint8Array(0);
  if (fingerprint.byteLength !== 0 && fingerprint.byteLength !== CERTIFICATE_FINGERPRINT_LENGTH) {
    throw new InvalidAttestationRequestError('the TLS certificate fingerprint must be 32 bytes (SHA-256) or absent');
  }
  const buildHash = binding.buildHash ?? new Uint8Array(0);
  if (buildHash.byteLength !== 0 && buildHash.byteLength !== BUILD_HASH_LENGTH) {
    throw new InvalidAttestationRequestError('the build hash must be 32 bytes (SHA-256) or absent (unbuilt)');
  }
  const signingKey = binding.statementSigningKey ?? null;
  if (signingKey !== null && signingKey.byteLength !== STATEMENT_SIGNING_KEY_LENGTH) {
    throw new InvalidAttestationRequestError('the statement-signing key must be 32 bytes (raw Ed25519) or absent');
  }
  const hash = createHash('sha512')
    .update(prefixed(nonce))
    .update(prefixed(enclavePublicKey))
    .update(prefixed(fingerprint))
    .update(prefixed(buildHash));
  if (signingKey !== null) hash.update(prefixed(signingKey));
  return hash.digest();
}
