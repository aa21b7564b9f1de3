// The enclave's identity: its intake X25519 key pair (the private half is a non-extractable
// WebCrypto key, so no code path can write or serialize it), plus what the service says it is
// (version from package.json, hash of its built files). The key is derived from the released
// secret (src/crypto/key-hierarchy.ts), so every instance of one measurement shares it; without
// one (tests, benchmarks) a fresh key is made.
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { intakeKeyId, X25519_PUBLIC_KEY_LENGTH } from '../crypto/sealed-intake.js';
import type { IntakeKeyPair } from '../crypto/key-hierarchy.js';
import { computeTrustedBaseHash } from './build-hash.js';


/** Build hash reported when the service runs from TypeScript sources (tests, `tsx`). */
export const UNBUILT = 'unbuilt';

export interface EnclaveIdentity {
  /** Raw 32-byte X25519 public key; a fresh copy on every read. */
  readonly publicKey: Buffer;
  /** The key pair HPKE opens with. The private key is non-extractable. */
  readonly recipientKey: webcrypto.CryptoKeyPair;
  /** The recipient key id clients put in sealed blobs (intakeKeyId of publicKey). */
  readonly keyId: Buffer;
  /** Older intake keys by key id (after a root rotation); undefined for an unknown id. */
  readonly previousKey?: (keyId: Uint8Array) => webcrypto.CryptoKeyPair | undefined;
  readonly serviceVersion: string;
  /** Hex SHA-256 of the trusted base it runs from (see build-hash.ts), or UNBUILT. */
  readonly buildHash: string;
}

export interface IdentityOptions {
  readonly serviceVersion?: string;
  readonly buildHash?: string;
  /** The intake key derived from the released secret (default: a fresh random key). */
  readonly intakeKey?: IntakeKeyPair & { readonly previousKey?: (keyId: Uint8Array) => webcrypto.CryptoKeyPair | undefined };
}

function isKeyPair(value: webcrypto.CryptoKey | webcrypto.CryptoKeyPair): value is webcrypto.CryptoKeyPair {
  return 'privateKey' in value;
}

async function freshIntakeKey(): Promise<IntakeKeyPair> {
  const generated = await webcrypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  if (!isKeyPair(generated)) throw new Error('X25519 key generation returned a single key');
  const publicKey = Buffer.from(await webcrypto.subtle.exportKey('raw', generated.publicKey));
  return { publicKey, keyId: intakeKeyId(publicKey), recipientKey: generated };
}

/** The identity around the derived intake key, or a fresh one. Nothing of it is ever persisted. */
export async function createEnclaveIdentity(options: IdentityOptions = {}): Promise<EnclaveIdentity> {
  const intake = options.intakeKey ?? (await freshIntakeKey());
  const rawPublic = Buffer.from(intake.publicKey);
  if (rawPublic.length !== X25519_PUBLIC_KEY_LENGTH) throw new Error('unexpected X25519 public key length');
  const version = options.serviceVersion ?? readServiceVersion();
  const buildHash = options.buildHash ?? (await resolveBuildHash());
  return Object.freeze({
    get publicKey(): Buffer {
      return Buffer.from(rawPublic);
    },
    recipientKey: intake.recipientKey,
    keyId: Buffer.from(intake.keyId),
    ...(options.intakeKey?.previousKey === undefined ? {} : { previousKey: options.intakeKey.previousKey }),
    serviceVersion: version,
    buildHash,
  });
}

const packageJsonUrl = new URL('../../package.json', import.meta.url);

/** `version` from package.json (two levels up from both src/attestation and dist/attestation). */
export function readServiceVersion(): string {
  const parsed: unknown = JSON.parse(readFileSync(packageJsonUrl, 'utf8'));
  if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
    return parsed.version;
  }
  throw new Error('package.json has no version');
}

/**
 * The trusted-base hash of the project this module runs from when it runs built
 * (dist/attestation/identity.js → dist/, and the project around it, and this process's Node
 * binary), the same value `npm run build:hash` prints; UNBUILT when running from sources.
 */
export async function resolveBuildHash(moduleUrl: string = import.meta.url, nodeBinary: string = process.execPath): Promise<string> {
  if (!moduleUrl.endsWith('.js')) return UNBUILT;
  const distRoot = path.dirname(path.dirname(fileURLToPath(moduleUrl)));
  return computeTrustedBaseHash({ projectRoot: path.dirname(distRoot), distRoot, nodeBinary });
}
