// Sealed credential intake: the ops CLI seals a venue credential to the enclave's X25519 key with
// HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM) so the
// gateway only ever carries ciphertext. The HPKE associated data names the account, so a sealed
// credential moved to another (user_uid, exchange) does not open.
//
// Wire format of a sealed credential (one bytes field), version 3 (sealCredential with a challenge):
//   0x03 ‖ recipient key id (8 bytes, see intakeKeyId) ‖ registration challenge (32 bytes, from
//   GetRegistrationChallenge) ‖ enc (32 bytes, the HPKE encapsulated key) ‖ AEAD ciphertext (+16-byte tag)
// The challenge is single use and expires (src/crypto/registration-challenges.ts), so a recorded
// blob cannot be registered again. Version 2 (no challenge): 0x02 ‖ key id ‖ enc ‖ ciphertext;
// version 1: 0x01 ‖ enc ‖ ciphertext (current intake key). Both still open, but they carry no
// challenge, so the service refuses them in enclave mode (replayable); outside it they stay for
// development and the existing tooling.
// The key id lets the enclave pick the intake key a client sealed to: intake keys are derived from
// the released secret, so every instance of one measurement holds the same key, and after a root
// rotation the previous one still opens what was sealed to it.
// HPKE info:   UTF-8 "track-record-enclave/credential/v1"
// HPKE aad:    UTF-8 "track-record-enclave/credential/v1" ‖ 0x00
//              ‖ u16be(len(user_uid)) ‖ user_uid (UTF-8) ‖ u16be(len(exchange)) ‖ exchange (UTF-8)
//              [‖ recipient key id, versions 2 and 3] [‖ challenge (32 bytes), version 3 only]
// Plaintext:   UTF-8 JSON {"apiKey": string, "secret": string, "passphrase"?: string}
import { createHash, type webcrypto } from 'node:crypto';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { AccountKey } from '../domain/types.js';
import type { VenueCredential } from '../domain/types.js';
import { decodeCredential, encodeCredential } from './credential.js';
import { SealedCredentialError } from './errors.js';
import { lengthPrefixed } from './length-prefixed.js';

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

export const SEALED_CREDENTIAL_VERSION = 3;
const SEALED_CREDENTIAL_VERSION_2 = 2;
const SEALED_CREDENTIAL_VERSION_1 = 1;
/** A registration challenge is 32 random bytes. */
export const REGISTRATION_CHALLENGE_LENGTH = 32;
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


/** The HPKE associated data for an account (exported so other clients can reproduce it). */
export function credentialAssociatedData(account: AccountKey): Buffer {
  return Buffer.concat([INFO, Buffer.of(0), lengthPrefixed(account.userUid), lengthPrefixed(account.exchange)]);
}

export interface SealOptions {
  /** The enclave's registration challenge for this account (GetRegistrationChallenge): seals version 3. Absent: version 2, which enclave mode refuses. */
  readonly challenge?: Uint8Array;
}

/** Client side (ops CLI): seals `credential` for `account` to the enclave's raw X25519 public key. */
export async function sealCredential(enclavePublicKey: Uint8Array, account: AccountKey, credential: VenueCredential, options: SealOptions = {}): Promise<Buffer> {
  if (enclavePublicKey.byteLength !== X25519_PUBLIC_KEY_LENGTH) throw new RangeError('enclave public key must be 32 bytes (raw X25519)');
  const challenge = options.challenge === undefined ? null : Buffer.from(options.challenge);
  if (challenge !== null && challenge.byteLength !== REGISTRATION_CHALLENGE_LENGTH) throw new RangeError('the registration challenge must be 32 bytes');
  const recipientPublicKey = await suite.kem.deserializePublicKey(enclavePublicKey);
  const plaintext = encodeCredential(credential);
  const keyId = intakeKeyId(enclavePublicKey);
  try {
    const bound = challenge === null ? [keyId] : [keyId, challenge];
    const aad = Buffer.concat([credentialAssociatedData(account), ...bound]);
    const { enc, ct } = await suite.seal({ recipientPublicKey, info: INFO }, plaintext, aad);
    const version = challenge === null ? SEALED_CREDENTIAL_VERSION_2 : SEALED_CREDENTIAL_VERSION;
    return Buffer.concat([Buffer.of(version), ...bound, Buffer.from(enc), Buffer.from(ct)]);
  } finally {
    plaintext.fill(0);
  }
}

/** What opening a sealed credential gives: the plaintext and the challenge it was bound to. */
export interface OpenedRegistration {
  /** The credential's JSON bytes: the caller owns this Buffer and must `fill(0)` it when done. */
  readonly credential: Buffer;
  /** The registration challenge authenticated by the AEAD (version 3), or null (versions 1 and 2). */
  readonly challenge: Buffer | null;
}

/**
 * Enclave side: opens a sealed credential for `account`. The challenge is only authenticated
 * here; whether it is live (issued, unexpired, unused) is the caller's check, against its
 * RegistrationChallenges. Anything that is not a credential sealed to this identity for this
 * account throws SealedCredentialError, with no plaintext and no key bytes in it.
 */
export async function openSealedRegistration(identity: IntakeKey, account: AccountKey, sealed: Uint8Array): Promise<OpenedRegistration> {
  const version = sealed[0];
  const header = version === SEALED_CREDENTIAL_VERSION
    ? 1 + INTAKE_KEY_ID_LENGTH + REGISTRATION_CHALLENGE_LENGTH
    : version === SEALED_CREDENTIAL_VERSION_2 ? 1 + INTAKE_KEY_ID_LENGTH : 1;
  if (sealed.byteLength < header + ENC_LENGTH + TAG_LENGTH || sealed.byteLength > SEALED_CREDENTIAL_MAX_BYTES) {
    throw new SealedCredentialError('unopenable');
  }
  if (version !== SEALED_CREDENTIAL_VERSION && version !== SEALED_CREDENTIAL_VERSION_2 && version !== SEALED_CREDENTIAL_VERSION_1) {
    throw new SealedCredentialError('unopenable');
  }
  const keyId = version === SEALED_CREDENTIAL_VERSION_1 ? null : Buffer.from(sealed.subarray(1, 1 + INTAKE_KEY_ID_LENGTH));
  const challenge = version === SEALED_CREDENTIAL_VERSION ? Buffer.from(sealed.subarray(1 + INTAKE_KEY_ID_LENGTH, header)) : null;
  let recipientKey: webcrypto.CryptoKeyPair | undefined = identity.recipientKey;
  if (keyId !== null && identity.keyId !== undefined && !keyId.equals(identity.keyId)) recipientKey = identity.previousKey?.(keyId);
  if (recipientKey === undefined) throw new SealedCredentialError('unopenable');
  let aad: Buffer;
  try {
    aad = Buffer.concat([credentialAssociatedData(account), ...(keyId === null ? [] : [keyId]), ...(challenge === null ? [] : [challenge])]);
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
  return { credential, challenge };
}

/**
 * openSealedRegistration without the challenge: the credential's JSON bytes (the caller zeroes
 * them). It does not check that a challenge is live, so the service does not use it for a
 * registration (src/app/service.ts opens with openSealedRegistration and consumes the challenge).
 */
export async function openSealedCredential(identity: IntakeKey, account: AccountKey, sealed: Uint8Array): Promise<Buffer> {
  return (await openSealedRegistration(identity, account, sealed)).credential;
}
