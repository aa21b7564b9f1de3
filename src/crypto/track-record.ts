// Signed track-record statements (issue 14, part 3): the hash chain over an account's published
// hours, signed checkpoints, account pseudonyms and the statement envelope. The byte layouts are
// specified in docs/statements.md so that anyone can check a statement without this code.
//
//   pseudonym  = "acct_" ‖ hex(HMAC-SHA-256(pseudonym key, user_uid ‖ 0x00 ‖ exchange))[0..32]
//   genesis    = SHA-256("track-record-chain/v1" ‖ 0x00 ‖ pseudonym)
//   leaf(h)    = "track-record-hour/v1" ‖ 0x00 ‖ u64be(hour_start_ms) ‖ f64be(return) ‖ u32be(flags mask)
//   head_i     = SHA-256(head_{i-1} ‖ leaf(h_i)), head_0 = genesis
//   checkpoint = Ed25519 over canonical JSON {"v":1,"type":"track-record-checkpoint","account":…,"hours":n,"lastHourMs":…,"head":hex,"signedAtMs":…}
//   hand-over  = Ed25519 by the previous key over {"v":1,"type":"track-record-key-handover", the checkpoint's members…, "nextSigningKey":hex}
//   statement  = {"statement": {…, "v": 2}, "signature": base64(Ed25519(canonical JSON of "statement"))} (statement.ts; v 1 still verifies)
import { createHash, createHmac, createPublicKey, verify as verifySignature, webcrypto, type KeyObject } from 'node:crypto';
import type { Canonical } from '../domain/canonical-json.js';
import type { AccountKey, EpochMs } from '../domain/types.js';
import { CryptoError } from './errors.js';

/** The checkpoint document's version (checkpointDocument); statements have their own (statement.ts STATEMENT_FORMAT_VERSION). */
export const STATEMENT_VERSION = 1;
const GENESIS_LABEL = 'track-record-chain/v1';
const LEAF_LABEL = 'track-record-hour/v1';
// SubjectPublicKeyInfo header of a raw Ed25519 public key (RFC 8410).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A statement or checkpoint that does not verify (the reason names what failed, never a value). */
export class StatementVerificationError extends CryptoError {
  override name = 'StatementVerificationError';
}

/** One published hour as the chain covers it: what hourly_returns holds for it. */
export interface ChainedHour {
  readonly hourStart: EpochMs;
  readonly return: number;
  /** The flags bit mask (hourly_returns.flags). */
  readonly flags: number;
}

/** The account's public pseudonym: stable per deployment, says nothing about the account without the key. */
export function accountPseudonym(key: KeyObject, account: AccountKey): string {
  const mac = createHmac('sha256', key).update(Buffer.from(`${account.userUid}\u0000${account.exchange}`, 'utf8')).digest('hex');
  return `acct_${mac.slice(0, 32)}`;
}

export function chainGenesis(pseudonym: string): Buffer {
  return createHash('sha256').update(`${GENESIS_LABEL}\u0000${pseudonym}`, 'utf8').digest();
}

export function hourLeaf(hour: ChainedHour): Buffer {
  const fixed = Buffer.alloc(8 + 8 + 4);
  fixed.writeBigUInt64BE(BigInt(hour.hourStart), 0);
  fixed.writeDoubleBE(hour.return, 8);
  fixed.writeUInt32BE(hour.flags >>> 0, 16);
  return Buffer.concat([Buffer.from(`${LEAF_LABEL}\u0000`, 'utf8'), fixed]);
}

/** Extends `head` over `hours` (oldest first); `onHead` sees the head after each hour. */
export function extendChain(head: Buffer, hours: readonly ChainedHour[], onHead?: (head: Buffer, index: number) => void): Buffer {
  let current = head;
  hours.forEach((h, i) => {
    current = createHash('sha256').update(current).update(hourLeaf(h)).digest();
    onHead?.(current, i);
  });
  return current;
}

/** A signed checkpoint: the chain head after `hours` published hours, the last starting at `lastHourMs`. */
export interface Checkpoint {
  readonly account: string;
  readonly hours: number;
  readonly lastHourMs: EpochMs;
  /** Hex SHA-256. */
  readonly head: string;
  readonly signedAtMs: EpochMs;
}

export function checkpointDocument(c: Checkpoint): Canonical {
  return { v: STATEMENT_VERSION, type: 'track-record-checkpoint', account: c.account, hours: c.hours, lastHourMs: c.lastHourMs, head: c.head, signedAtMs: c.signedAtMs };
}

/**
 * A key hand-over: after a rotation of the statement-signing key, the previous key signs that the
 * chain at `head` (after `hours` hours) continues under `nextSigningKey` (hex raw Ed25519). A
 * verifier who trusts the previous key (attested before) thereby trusts the next one for this chain.
 */
export interface KeyHandover extends Checkpoint {
  readonly nextSigningKey: string;
}

export function handoverDocument(h: KeyHandover): Canonical {
  return { v: STATEMENT_VERSION, type: 'track-record-key-handover', account: h.account, hours: h.hours, lastHourMs: h.lastHourMs, head: h.head, signedAtMs: h.signedAtMs, nextSigningKey: h.nextSigningKey };
}

/** Signs text with the enclave's (non-extractable) Ed25519 key. */
export async function signText(privateKey: webcrypto.CryptoKey, text: string): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.sign({ name: 'Ed25519' }, privateKey, Buffer.from(text, 'utf8')));
}

/** The last key built (every checkpoint write verifies the previous one under the enclave's one key: ~0.2 ms each to rebuild). */
let lastPublicKey: { readonly raw: Buffer; readonly key: KeyObject } | null = null;

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new StatementVerificationError('the signing public key must be 32 bytes (raw Ed25519)');
  if (lastPublicKey !== null && lastPublicKey.raw.equals(raw)) return lastPublicKey.key;
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  lastPublicKey = { raw: Buffer.from(raw), key };
  return key;
}

export function verifyText(publicKeyRaw: Uint8Array, text: string, signature: Uint8Array): boolean {
  return verifySignature(null, Buffer.from(text, 'utf8'), ed25519PublicKey(publicKeyRaw), signature);
}

export interface CheckpointSigner {
  readonly publicKey: Buffer;
  pseudonym(account: AccountKey): string;
  sign(text: string): Promise<Buffer>;
  /** Signs with an earlier statement-signing key of this deployment (hex public key); null when it is not one. */
  signWithPrevious(publicKeyHex: string, text: string): Promise<Buffer> | null;
  now(): EpochMs;
}

type SigningPair = { readonly publicKey: Buffer; readonly privateKey: webcrypto.CryptoKey };

export function createCheckpointSigner(keys: { readonly statementSigning: SigningPair; readonly previousStatementSigning?: ReadonlyMap<string, SigningPair>; readonly pseudonymKey: KeyObject }, now: () => EpochMs = Date.now): CheckpointSigner {
  return {
    publicKey: keys.statementSigning.publicKey,
    pseudonym: (account) => accountPseudonym(keys.pseudonymKey, account),
    sign: (text) => signText(keys.statementSigning.privateKey, text),
    signWithPrevious(publicKeyHex, text) {
      const previous = keys.previousStatementSigning?.get(publicKeyHex);
      return previous === undefined ? null : signText(previous.privateKey, text);
    },
    now,
  };
}
