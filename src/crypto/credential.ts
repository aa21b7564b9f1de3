// VenueCredential <-> the plaintext Buffer inside an envelope. JSON, because the fields are
// strings anyway; the Buffer is the caller's to zero after use.
import { CredentialFormatError } from './errors.js';
import { z } from 'zod';
import type { VenueCredential } from '../domain/types.js';

const credentialSchema = z
  .object({ apiKey: z.string().min(1), secret: z.string(), passphrase: z.string().optional() })
  .strict();

export function encodeCredential(credential: VenueCredential): Buffer {
  const plain: { apiKey: string; secret: string; passphrase?: string } = { apiKey: credential.apiKey, secret: credential.secret };
  if (credential.passphrase !== undefined) plain.passphrase = credential.passphrase;
  return Buffer.from(JSON.stringify(plain), 'utf8');
}

/**
 * Parses plaintext bytes (a Buffer or any Uint8Array view, e.g. an HPKE open result); exactly
 * {apiKey: non-empty string, secret: string, passphrase?: string}. Does not zero them (the caller owns them).
 */
export function decodeCredential(plaintext: Uint8Array): VenueCredential {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString('utf8'));
  } catch {
    throw new CredentialFormatError();
  }
  const parsed = credentialSchema.safeParse(value);
  if (!parsed.success) throw new CredentialFormatError();
  const { apiKey, secret, passphrase } = parsed.data;
  return passphrase === undefined ? { apiKey, secret } : { apiKey, secret, passphrase };
}
