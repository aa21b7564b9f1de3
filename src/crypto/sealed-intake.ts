// Sealed credential intake: the ops CLI seals a venue credential to the enclave's X25519 key with
// HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM) so the
// gateway only ever carries ciphertext. The HPKE associated data names the account, so a sealed
// credential moved to another (user_uid, exchange) does not open.
//
// Wire format of a sealed credential (one bytes field), version 2 (what sealCredential writes):
//   0x02 ‖ recipient key id (8 bytes, see intakeKeyId) ‖ enc (32 bytes, the HPKE encapsulated key)
//   ‖ AEAD ciphertext (+16-byte tag)
// Version 1 (still opened, with the current intake key): 0x01 ‖ enc ‖ ciphertext.
// The key id lets the enclave pick the intake key a client sealed to: intake keys are derived from
// the released secret, so every instance of one measurement holds the same key, and after a root
// rotation the previous one still opens what was sealed to it.
// HPKE info:   UTF-8 "track-record-enclave/credential/v1"
// HPKE aad:    UTF-8 "track-record-enclave/credential/v1" ‖ 0x00
//              ‖ u16be(len(user_uid)) ‖ user_uid (UTF-8) ‖ u16be(len(exchange)) ‖ exchange (UTF-8)
//              [‖ recipient key id, version 2 only]
// Plaintext:   UTF-8 JSON {"apiKey": string, "secret": string, "passphrase"?: string}
import { createHash, type webcrypto } from 'node:crypto';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { AccountKey } from '../domain/types.js';
import type { VenueCredential } from '../domain/types.js';
import { decodeCredential, encodeCredential } from './credential.js';
import { SealedCredentialError } from './errors.js';

/** Length of a raw X25519 public key (RFC 7748). */
export const X25519_PUBLIC_KEY_LENGTH = 32;

/** The private half intake opens with (the enclave identity's key pair; never extractable). */
export interface IntakeKey {
  readonly recipientKey: webcrypto.CryptoKeyPair;
  /** intakeKeyId of recipientKey's public half (absent: only version-1 blobs and matching ids open). */
  readonly keyId?: Uint8Array;
  /** Older intake keys (after a rotation of the released secret), by key id. */
  readonly previousKey?: (keyId: Uint8Array) => webcrypto.CryptoKeyPair | undefined;
}

export const SEALED_CREDENTIAL_VERSION = 2;
const SEALED_CREDENTIAL_VERSION_1 = 1;
export const INTAKE_KEY_ID_LENGTH = 8;

/** The recipient key id a client puts in the sealed blob: SHA-256("track-record-enclave/intake-key-id/v1" ‖ raw public key)[0..8]. */
export function intakeKeyId(publicKey: Uint8Array): Buffer {
  return createHash('sha256').update('track-record-enclave/intake-key-id/v1').update(publicKey).digest().subarray(0, INTAKE_KEY_ID_LENGTH);
}
/** Larger inputs are refused before any crypto runs (a credential is well under 1 KiB). */
export const SEALED_CREDENTIAL_MAX_BYTES = 16 * 1024;

const LABEL = 'track-record-enclave/credential/v1';
const INFO = Buffer.from(LABEL, 'utf8');
const ENC_LENGTH = 32;
const TAG_LENGTH = 16;

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff) throw new RangeError('account field too long');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** The HPKE associated data for an account (exported so other clients can reproduce it). */
export function credentialAssociatedData(account: AccountKey): Buffer {
  return Buffer.concat([INFO, Buffer.of(0), lengthPrefixed(account.userUid), lengthPrefixed(account.exchange)]);
}

/** Client side (ops CLI): seals `credential` for `account` to the enclave's raw X25519 public key. */
export async function sealCredential(enclavePublicKey: Uint8Array, account: AccountKey, credential: VenueCredential): Promise<Buffer> {
  if (enclavePublicKey.byteLength !== X25519_PUBLIC_KEY_LENGTH) throw new RangeError('enclave public key must be 32 bytes (raw X25519)');
  const recipientPublicKey = await suite.kem.deserializePublicKey(enclavePublicKey);
  const plaintext = encodeCredential(credential);
  const keyId = intakeKeyId(enclavePublicKey);
  try {
    const aad = Buffer.concat([credentialAssociatedData(account), keyId]);
    const { enc, ct } = await suite.seal({ recipientPublicKey, info: INFO }, plaintext, aad);
    return Buffer.concat([Buffer.of(SEALED_CREDENTIAL_VERSION), keyId, Buffer.from(enc), Buffer.from(ct)]);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Enclave side: opens a sealed credential for `account`. Returns the credential's JSON bytes in a
 * Buffer the caller owns and must `fill(0)` when done (it is the only copy this function keeps).
 * Anything that is not a credential sealed to this identity for this account throws
 * SealedCredentialError, with no plaintext and no key bytes in it.
 */
export async function openSealedCredential(
  identity: IntakeKey,
  account: AccountKey,
  sealed: Uint8Array,
): Promise<Buffer> {
  const version = sealed[0];
  const header = version === SEALED_CREDENTIAL_VERSION ? 1 + INTAKE_KEY_ID_LENGTH : 1;
  if (sealed.byteLength < header + ENC_LENGTH + TAG_LENGTH || sealed.byteLength > SEALED_CREDENTIAL_MAX_BYTES) {
    throw new SealedCredentialError('unopenable');
  }
  if (version !== SEALED_CREDENTIAL_VERSION && version !== SEALED_CREDENTIAL_VERSION_1) throw new SealedCredentialError('unopenable');
  const keyId = version === SEALED_CREDENTIAL_VERSION ? Buffer.from(sealed.subarray(1, header)) : null;
  let recipientKey: webcrypto.CryptoKeyPair | undefined = identity.recipientKey;
  if (keyId !== null && identity.keyId !== undefined && !keyId.equals(identity.keyId)) recipientKey = identity.previousKey?.(keyId);
  if (recipientKey === undefined) throw new SealedCredentialError('unopenable');
  let aad: Buffer;
  try {
    aad = keyId === null ? credentialAssociatedData(account) : Buffer.concat([credentialAssociatedData(account), keyId]);
  } catch {
    throw new SealedCredentialError('unopenable');
  }
  const enc = sealed.subarray(header, header + ENC_LENGTH);
  const ct = sealed.subarray(header + ENC_LENGTH);
  let opened: ArrayBuffer;
  try {
    opened = await suite.open({ recipientKey, enc, info: INFO }, ct, aad);
  } catch {
    // HPKE's errors carry nothing secret, but the cause is dropped anyway: one answer for every failure.
    throw new SealedCredentialError('unopenable');
  }
  // A view over WebCrypto's fresh output buffer (no pool, no extra copy): zeroing it zeroes the plaintext.
  const credential = Buffer.from(opened);
  try {
    decodeCredential(credential);
  } catch {
    credential.fill(0);
    throw new SealedCredentialError('malformed');
  }
  return credential;
}
