// Every key the enclave holds, derived from root secrets it receives only from the key broker
// after attestation (enclave mode), or from ENCRYPTION_KEY / the development key file outside it.
// One HKDF-SHA256 per purpose, each with its own salt label, so no derived key says anything about
// another or about the root:
//   credential envelopes   salt "track-record-enclave/credential-envelope/v1", info "aes-256-gcm key <id>" (keyring.ts, unchanged)
//   intake (HPKE X25519)   salt "track-record-enclave/intake-hpke/v1",          info "x25519 key <id>"
//   statement signing      salt "track-record-enclave/statement-signing/v1",    info "ed25519 key <id>"
//   per-account data keys  salt "track-record-enclave/account-data/v1",         info "<id>" ‖ u16be(len) user_uid ‖ u16be(len) exchange
//   peer TLS (issue 18)    salt "track-record-enclave/peer-tls/v1",           info "p-256 ca key <id>" / "hmac-sha256 tag key <id>" (peer-tls.ts)
//   account pseudonyms     salt "track-record-enclave/account-pseudonym/v1",    info "hmac-sha256 key <id>" (metric labels, statements)
// Root secrets are versioned by id like today's ENCRYPTION_KEY_ID: the current id seals and signs,
// older ids still open (rotation re-seals envelopes, see rotate.ts). Every instance released the
// same secrets derives the same keys, so the intake key is the same across restarts and instances.
import { createPrivateKey, createPublicKey, createSecretKey, hkdfSync, webcrypto, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { AccountKey } from '../domain/types.js';
import { KeyNotFoundError, KeyringError } from './errors.js';
import { lengthPrefixed } from './length-prefixed.js';
import { createKeyring, type Keyring } from './keyring.js';
import { intakeKeyId, type IntakeKey } from './sealed-intake.js';
import { createPeerTls, type PeerTls } from './peer-tls.js';

/** Root secrets by id (32 bytes each) and the id that is current. */
export interface RootSecrets {
  readonly currentId: number;
  readonly secrets: ReadonlyMap<number, Buffer>;
}

const LABEL = {
  intake: 'track-record-enclave/intake-hpke/v1',
  signing: 'track-record-enclave/statement-signing/v1',
  accountData: 'track-record-enclave/account-data/v1',
  pseudonym: 'track-record-enclave/account-pseudonym/v1',
} as const;

// PKCS#8 headers for a raw 32-byte private key (RFC 8410): X25519 (1.3.101.110) and Ed25519 (1.3.101.112).
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The released resource: JSON {"version": 1, "current": <id>, "keys": {"<id>": "<64 hex>", ...}}.
 * This is what the broker stores at the resource path (Trustee: `kbs-client set-resource`).
 */
const releasedSchema = z
  .object({
    version: z.literal(1),
    current: z.number().int().min(0).max(255),
    keys: z.record(z.string().regex(/^\d{1,3}$/u), z.string().regex(/^[0-9a-fA-F]{64}$/u)),
  })
  .strict();

/** Parses the released resource. Throws KeyringError (never echoing the content). */
export function parseReleasedSecrets(bytes: Uint8Array): RootSecrets {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new KeyringError('the released secret is not JSON');
  }
  const parsed = releasedSchema.safeParse(value);
  if (!parsed.success) throw new KeyringError('the released secret is not {version: 1, current, keys}');
  const secrets = new Map<number, Buffer>();
  for (const [id, hex] of Object.entries(parsed.data.keys)) {
    const keyId = Number(id);
    if (keyId > 255) throw new KeyringError('root secret ids are 0..255');
    secrets.set(keyId, Buffer.from(hex, 'hex'));
  }
  if (!secrets.has(parsed.data.current)) throw new KeyNotFoundError(parsed.data.current);
  return { currentId: parsed.data.current, secrets };
}

/** The resource text for `root` (the dev broker and tests store this). */
export function encodeReleasedSecrets(root: RootSecrets): Buffer {
  const keys = Object.fromEntries([...root.secrets].map(([id, secret]) => [String(id), secret.toString('hex')]));
  return Buffer.from(JSON.stringify({ version: 1, current: root.currentId, keys }), 'utf8');
}

function derive(secret: Buffer, salt: string, info: Buffer | string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(salt, 'utf8'), typeof info === 'string' ? Buffer.from(info, 'utf8') : info, 32));
}

export interface IntakeKeyPair {
  readonly publicKey: Buffer;
  readonly keyId: Buffer;
  readonly recipientKey: webcrypto.CryptoKeyPair;
}

/** X25519 key pair from a 32-byte seed; the private half is imported non-extractable. */
async function x25519FromSeed(seed: Buffer): Promise<IntakeKeyPair> {
  const pkcs8 = Buffer.concat([X25519_PKCS8_PREFIX, seed]);
  try {
    const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    if (jwk.x === undefined) throw new KeyringError('X25519 public key derivation failed');
    const publicKey = Buffer.from(jwk.x, 'base64url');
    const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
    const publicCryptoKey = await webcrypto.subtle.importKey('raw', publicKey, { name: 'X25519' }, true, []);
    return { publicKey, keyId: intakeKeyId(publicKey), recipientKey: { privateKey, publicKey: publicCryptoKey } };
  } finally {
    pkcs8.fill(0);
  }
}

export interface StatementSigningKey {
  /** Raw 32-byte Ed25519 public key (published with the attested identity). */
  readonly publicKey: Buffer;
  /** Non-extractable WebCrypto Ed25519 key: signs, cannot be exported. */
  readonly privateKey: webcrypto.CryptoKey;
}

async function ed25519FromSeed(seed: Buffer): Promise<StatementSigningKey> {
  const pkcs8 = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
    if (jwk.x === undefined) throw new KeyringError('Ed25519 public key derivation failed');
    const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
    return { publicKey: Buffer.from(jwk.x, 'base64url'), privateKey };
  } finally {
    pkcs8.fill(0);
  }
}

export interface EnclaveKeys {
  readonly keyring: Keyring;
  /** The current intake key and, by key id, the older ones (IntakeKey for openSealedCredential). */
  readonly intake: IntakeKeyPair & Required<Pick<IntakeKey, 'previousKey'>>;
  readonly statementSigning: StatementSigningKey;
  /**
   * The statement-signing keys of the older roots still released (by hex public key): they sign the
   * hand-over of an account's chain to the current key after a rotation (docs/statements.md).
   */
  readonly previousStatementSigning: ReadonlyMap<string, StatementSigningKey>;
  /** The AES-256 data key of one account under root `id` (default: current). */
  accountDataKey(account: AccountKey, id?: number): KeyObject;
  /** HMAC-SHA-256 key of account pseudonyms (stable per deployment: from the current root). */
  readonly pseudonymKey: KeyObject;
  /** How instances of this deployment authenticate each other (forwarded commands). */
  readonly peerTls: PeerTls;
}


/** Derives every key from `root`. The caller may zero root's buffers afterwards. */
export async function deriveEnclaveKeys(root: RootSecrets): Promise<EnclaveKeys> {
  const current = root.secrets.get(root.currentId);
  if (current === undefined) throw new KeyNotFoundError(root.currentId);
  for (const secret of root.secrets.values()) if (secret.length !== 32) throw new KeyringError('root secrets are 32 bytes');
  const keyring = createKeyring([...root.secrets].map(([id, secret]) => ({ id, secret })), root.currentId);

  const intakeById = new Map<string, IntakeKeyPair>();
  let currentIntake: IntakeKeyPair | undefined;
  for (const [id, secret] of root.secrets) {
    const seed = derive(secret, LABEL.intake, `x25519 key ${id}`);
    const pair = await x25519FromSeed(seed);
    seed.fill(0);
    intakeById.set(pair.keyId.toString('hex'), pair);
    if (id === root.currentId) currentIntake = pair;
  }
  if (currentIntake === undefined) throw new KeyNotFoundError(root.currentId);

  const signingSeed = derive(current, LABEL.signing, `ed25519 key ${root.currentId}`);
  const statementSigning = await ed25519FromSeed(signingSeed);
  signingSeed.fill(0);
  const previousStatementSigning = new Map<string, StatementSigningKey>();
  for (const [id, secret] of root.secrets) {
    if (id === root.currentId) continue;
    const seed = derive(secret, LABEL.signing, `ed25519 key ${id}`);
    const key = await ed25519FromSeed(seed);
    seed.fill(0);
    previousStatementSigning.set(key.publicKey.toString('hex'), key);
  }

  // Kept as KeyObjects (not readable Buffers) to derive account keys on demand.
  const accountRoots = new Map<number, KeyObject>();
  for (const [id, secret] of root.secrets) {
    const material = derive(secret, LABEL.accountData, `root ${id}`);
    accountRoots.set(id, createSecretKey(material));
    material.fill(0);
  }
  const pseudonymMaterial = derive(current, LABEL.pseudonym, `hmac-sha256 key ${root.currentId}`);
  const pseudonymKey = createSecretKey(pseudonymMaterial);
  pseudonymMaterial.fill(0);
  return {
    keyring,
    pseudonymKey,
    peerTls: createPeerTls(current, root.currentId),
    intake: { ...currentIntake, previousKey: (keyId) => intakeById.get(Buffer.from(keyId).toString('hex'))?.recipientKey },
    statementSigning,
    previousStatementSigning,
    accountDataKey(account, id = root.currentId) {
      const accountRoot = accountRoots.get(id);
      if (accountRoot === undefined) throw new KeyNotFoundError(id);
      const info = Buffer.concat([lengthPrefixed(account.userUid), lengthPrefixed(account.exchange)]);
      const material = Buffer.from(hkdfSync('sha256', accountRoot, Buffer.from(LABEL.accountData, 'utf8'), info, 32));
      const key = createSecretKey(material);
      material.fill(0);
      return key;
    },
  };
}
