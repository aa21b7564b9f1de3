// The credential envelope: AES-256-GCM, random 96-bit IV, a versioned binary layout, and
// associated data binding it to one account, so an envelope copied to another account's row
// fails to open.
//
//   byte 0      version (1)
//   byte 1      key id (0..255)
//   bytes 2-13  IV (12 random bytes)
//   bytes 14-29 GCM tag (16 bytes)
//   bytes 30-   ciphertext
//
// The associated data is the 2-byte header plus the length-prefixed user_uid and exchange, so
// changing the version, the key id or the account breaks the tag.
import { EnvelopeOpenError } from './errors.js';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AccountKey } from '../domain/types.js';
import { KeyNotFoundError } from './errors.js';
import { type Keyring } from './keyring.js';

export const ENVELOPE_VERSION = 1;
const HEADER_LENGTH = 2;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const CIPHERTEXT_OFFSET = HEADER_LENGTH + IV_LENGTH + TAG_LENGTH;
const ALGORITHM = 'aes-256-gcm';

function associatedData(version: number, keyId: number, account: AccountKey): Buffer {
  const user = Buffer.from(account.userUid, 'utf8');
  const exchange = Buffer.from(account.exchange, 'utf8');
  const aad = Buffer.allocUnsafe(HEADER_LENGTH + 4 + user.length + 4 + exchange.length);
  let at = aad.writeUInt8(version, 0);
  at = aad.writeUInt8(keyId, at);
  at = aad.writeUInt32BE(user.length, at);
  at += user.copy(aad, at);
  at = aad.writeUInt32BE(exchange.length, at);
  exchange.copy(aad, at);
  return aad;
}

/** Seals `plaintext` for `account` with the keyring's current key. */
export function sealEnvelope(keyring: Keyring, account: AccountKey, plaintext: Buffer): Buffer {
  const key = keyring.current;
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv(ALGORITHM, key.key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(associatedData(ENVELOPE_VERSION, key.id, account));
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  const envelope = Buffer.allocUnsafe(CIPHERTEXT_OFFSET + head.length + tail.length);
  envelope.writeUInt8(ENVELOPE_VERSION, 0);
  envelope.writeUInt8(key.id, 1);
  iv.copy(envelope, HEADER_LENGTH);
  cipher.getAuthTag().copy(envelope, HEADER_LENGTH + IV_LENGTH);
  head.copy(envelope, CIPHERTEXT_OFFSET);
  tail.copy(envelope, CIPHERTEXT_OFFSET + head.length);
  head.fill(0);
  return envelope;
}

/** The id of the key that sealed `envelope` (rotation uses it to find stale envelopes). */
export function envelopeKeyId(envelope: Buffer): number {
  if (envelope.length < CIPHERTEXT_OFFSET) throw new RangeError('not a credential envelope');
  return envelope.readUInt8(1);
}

/**
 * Opens `envelope` for `account`. The plaintext is returned in a fresh Buffer the caller owns
 * and should zero (`.fill(0)`) once done. Any failure is an EnvelopeOpenError.
 */
export function openEnvelope(keyring: Keyring, account: AccountKey, envelope: Buffer): Buffer {
  if (envelope.length < CIPHERTEXT_OFFSET) throw new EnvelopeOpenError(account, 'malformed');
  const version = envelope.readUInt8(0);
  if (version !== ENVELOPE_VERSION) throw new EnvelopeOpenError(account, 'unsupported version');
  const keyId = envelope.readUInt8(1);
  let key;
  try {
    key = keyring.get(keyId);
  } catch (error) {
    if (error instanceof KeyNotFoundError) throw new EnvelopeOpenError(account, 'unknown key');
    throw error;
  }
  const iv = envelope.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH);
  const tag = envelope.subarray(HEADER_LENGTH + IV_LENGTH, CIPHERTEXT_OFFSET);
  const decipher = createDecipheriv(ALGORITHM, key.key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(associatedData(version, keyId, account));
  decipher.setAuthTag(tag);
  const head = decipher.update(envelope.subarray(CIPHERTEXT_OFFSET));
  try {
    const tail = decipher.final();
    if (tail.length === 0) return head;
    const plaintext = Buffer.concat([head, tail]);
    head.fill(0);
    return plaintext;
  } catch {
    // Unauthenticated output must not escape, not even in memory we no longer reference.
    head.fill(0);
    throw new EnvelopeOpenError(account, 'authentication failed');
  }
}
