// Envelope keys by id. Each 32-byte input key is stretched with HKDF-SHA256 (a fixed salt and
// the key id as info) into the AES-256 key, so the configured secret is never used directly and
// one secret reused under two ids still yields unrelated keys. The newest key seals; any key
// opens what it sealed (rotation re-seals everything to the newest, see rotate.ts).
import { KeyNotFoundError, KeyringError } from './errors.js';
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import type { Config } from '../config/config.js';

const HKDF_SALT = Buffer.from('track-record-enclave/credential-envelope/v1', 'utf8');

export interface EnvelopeKey {
  readonly id: number;
  /** Derived AES-256 key; a KeyObject so it is not a readable Buffer in our heap. */
  readonly key: KeyObject;
}

export interface Keyring {
  /** The key new envelopes are sealed with. */
  readonly current: EnvelopeKey;
  /** Throws KeyNotFoundError for an unknown id. */
  get(id: number): EnvelopeKey;
  readonly ids: readonly number[];
}

export interface KeyMaterial {
  readonly id: number;
  /** 32 bytes of input key material (ENCRYPTION_KEY decoded from hex). */
  readonly secret: Buffer;
}

export function deriveEnvelopeKey(material: KeyMaterial): EnvelopeKey {
  if (!Number.isInteger(material.id) || material.id < 0 || material.id > 255) throw new KeyringError('key ids are integers 0..255');
  if (material.secret.length !== 32) throw new KeyringError(`key ${material.id} must be 32 bytes`);
  const info = Buffer.from(`aes-256-gcm key ${material.id}`, 'utf8');
  const derived = Buffer.from(hkdfSync('sha256', material.secret, HKDF_SALT, info, 32));
  const key = createSecretKey(derived);
  derived.fill(0);
  return { id: material.id, key };
}

/** Builds a keyring; `currentId` names the sealing key and must be among `keys`. */
export function createKeyring(keys: readonly KeyMaterial[], currentId: number): Keyring {
  const byId = new Map<number, EnvelopeKey>();
  for (const material of keys) {
    if (byId.has(material.id)) throw new KeyringError(`key id ${material.id} is configured twice`);
    byId.set(material.id, deriveEnvelopeKey(material));
  }
  const current = byId.get(currentId);
  if (current === undefined) throw new KeyNotFoundError(currentId);
  return {
    current,
    ids: [...byId.keys()].sort((a, b) => a - b),
    get(id) {
      const key = byId.get(id);
      if (key === undefined) throw new KeyNotFoundError(id);
      return key;
    },
  };
}

/**
 * Root secrets from configuration: ENCRYPTION_KEY under ENCRYPTION_KEY_ID is current;
 * ENCRYPTION_KEYS ("id:hex,id:hex") are older ones kept to open envelopes not yet rotated.
 * Outside enclave mode only: in enclave mode the configuration refuses these variables and the
 * secrets come from the key broker. Throws KeyringError when ENCRYPTION_KEY is unset.
 */
export function rootSecretsFromConfig(config: Pick<Config, 'ENCRYPTION_KEY' | 'ENCRYPTION_KEY_ID' | 'ENCRYPTION_KEYS'>): { currentId: number; secrets: Map<number, Buffer> } {
  if (config.ENCRYPTION_KEY === undefined) throw new KeyringError('ENCRYPTION_KEY is not set');
  const secrets = new Map<number, Buffer>([[config.ENCRYPTION_KEY_ID, Buffer.from(config.ENCRYPTION_KEY, 'hex')]]);
  for (const pair of config.ENCRYPTION_KEYS?.split(',') ?? []) {
    const [id, hex] = pair.split(':');
    const keyId = Number(id);
    if (keyId === config.ENCRYPTION_KEY_ID) {
      // The same id listed again: only accept it when it is the same key.
      if (hex?.toLowerCase() !== config.ENCRYPTION_KEY.toLowerCase()) throw new KeyringError(`ENCRYPTION_KEYS: id ${keyId} clashes with ENCRYPTION_KEY_ID`);
      continue;
    }
    if (secrets.has(keyId)) throw new KeyringError(`key id ${keyId} is configured twice`);
    secrets.set(keyId, Buffer.from(hex ?? '', 'hex'));
  }
  return { currentId: config.ENCRYPTION_KEY_ID, secrets };
}

/** The keyring from configuration (see rootSecretsFromConfig). */
export function keyringFromConfig(config: Pick<Config, 'ENCRYPTION_KEY' | 'ENCRYPTION_KEY_ID' | 'ENCRYPTION_KEYS'>): Keyring {
  const root = rootSecretsFromConfig(config);
  try {
    return createKeyring([...root.secrets].map(([id, secret]) => ({ id, secret })), root.currentId);
  } finally {
    for (const secret of root.secrets.values()) secret.fill(0);
  }
}
