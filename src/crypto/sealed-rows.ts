// Sealing of an account's private rows (issue 14 part 1; format in docs/sealed-storage.md).
// Two keys per account, both HKDF-SHA256 from the account data key (key-hierarchy.ts, label
// "track-record-enclave/account-data/v1"), under their own salts so neither says anything about
// the other:
//   sealing key      salt "track-record-enclave/sealed-storage/v1", info "aes-256-gcm"
//   blind-index key  salt "track-record-enclave/sealed-storage/v1", info "blind-index hmac-sha256" (version 1)
//   blind-index key  salt "track-record-enclave/sealed-storage/v1", info "blind-index aes-256-cbc-mac" (version 2)
//   index-sum key    salt "track-record-enclave/sealed-storage/v1", info "blind-index sum aes-256-ecb"
// Everything is node:crypto directly: one AES-256-GCM per page or record; blind indexes are one
// HMAC per row (version 1) or a few AES-ECB calls per batch of rows (version 2).
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { AccountKey } from '../domain/types.js';
import { SealedDataError } from './errors.js';
import { lengthPrefixed } from './length-prefixed.js';

export const SEALED_FORMAT_VERSION = 1;
const SALT = Buffer.from('track-record-enclave/sealed-storage/v1', 'utf8');
const AAD_MAGIC = Buffer.from('tre-sealed', 'utf8');
const CHAIN_LABEL = Buffer.from('track-record-enclave/sealed-chain/v1', 'utf8');
/**
 * 128-bit blind indexes: HMAC-SHA-256 truncated (version 1; RFC 2104 §5, NIST SP 800-107 allow it)
 * or one AES block (version 2). Collisions within an account are negligible (birthday bound 2^64),
 * and the unique btree they feed is a third smaller than with 32 bytes, which is most of the ingest
 * cost (docs/sealed-storage.md, Performance).
 */
export const BLIND_INDEX_BYTES = 16;
/**
 * Which keyed function makes an account's blind indexes (recorded in its sealed account record):
 * 1 = HMAC-SHA-256 truncated to 16 bytes (issue 14), 2 = AES-256 CBC-MAC of the length-prefixed
 * input (issue 19, batched). An account keeps the version of its first write: its stored indexes
 * are the dedup keys.
 */
export type BlindIndexVersion = 1 | 2;
export const CURRENT_BLIND_INDEX_VERSION = 2 satisfies BlindIndexVersion;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
/** The chain head of a stream with no page yet. */
export const EMPTY_CHAIN_HEAD = Buffer.alloc(32);

/** Where the account data keys come from: EnclaveKeys (key-hierarchy.ts) plus the current root id. */
export interface AccountKeySource {
  /** Root secret id new pages and records are sealed under. */
  readonly currentId: number;
  accountDataKey(account: AccountKey, id?: number): KeyObject;
}

/** What a sealed page or record is in the database: the root id, the nonce, the tag, the ciphertext. */
export interface SealedBox {
  readonly keyId: number;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/**
 * What the associated data binds: the account, the table (page stream or record kind) and the
 * row's identity (a page's sequence number; 0 for a per-account record).
 */
export interface SealedAddress {
  readonly account: AccountKey;
  readonly table: string;
  readonly seq: number;
  /**
   * The row's own key where a table has one box per row (the sealed amounts: the hour or the
   * snapshot time, as decimal epoch ms). Appended to the AAD as lp(row); absent for pages and records.
   */
  readonly row?: string;
}


/** AAD = "tre-sealed" ‖ u8 version ‖ u8 keyId ‖ lp(user_uid) ‖ lp(exchange) ‖ lp(table) ‖ u32be seq [‖ lp(row)]. */
export function sealedAad(address: SealedAddress, keyId: number): Buffer {
  const head = Buffer.from([SEALED_FORMAT_VERSION, keyId]);
  const seq = Buffer.alloc(4);
  seq.writeUInt32BE(address.seq, 0);
  const parts = [AAD_MAGIC, head, lengthPrefixed(address.account.userUid), lengthPrefixed(address.account.exchange), lengthPrefixed(address.table), seq];
  if (address.row !== undefined) parts.push(lengthPrefixed(address.row));
  return Buffer.concat(parts);
}

/** chain' = SHA-256(label ‖ chain ‖ u32be seq ‖ tag): binds every page's tag, in order. */
export function nextChainHead(head: Buffer, seq: number, tag: Buffer): Buffer {
  const seqBytes = Buffer.alloc(4);
  seqBytes.writeUInt32BE(seq, 0);
  return createHash('sha256').update(CHAIN_LABEL).update(head).update(seqBytes).update(tag).digest();
}

export interface AccountSealer {
  readonly currentId: number;
  seal(address: SealedAddress, plaintext: Buffer): SealedBox;
  /** SealedDataError when the box does not open under this address (edited, moved, another key). */
  open(address: SealedAddress, box: SealedBox): Buffer;
  /**
   * The blind index of each id under the account's blind-index key of `version` (root
   * `indexKeyId`), with the stream in the MAC input, BLIND_INDEX_BYTES each: the results
   * concatenated in order. Version 1 (the default): HMAC-SHA-256 truncated; version 2: AES-256
   * CBC-MAC of u32be(len) ‖ lp(stream) ‖ id, batched (blindIndexCbcMac).
   */
  blindIndexes(account: AccountKey, indexKeyId: number, stream: string, ids: readonly string[], version?: BlindIndexVersion): Buffer;
  /**
   * Keyed multiset sum of blind indexes (concatenated, BLIND_INDEX_BYTES each): Σ AES-256_k(bᵢ)
   * mod 2^128 under the account's index-sum key (root `indexKeyId`), 16 bytes. A load compares the
   * stored index set with the sum kept in the sealed account record without an HMAC per row; the
   * key is secret, so no set other than the recorded one sums to it (MSet-Add-Hash, Clarke et al. 2003).
   */
  indexSum(account: AccountKey, indexKeyId: number, blindIndexes: Buffer): Buffer;
}

/** (a + b) mod 2^128 of two 16-byte big-endian numbers. */
export function addIndexSums(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(INDEX_SUM_BYTES);
  let carry = 0;
  for (let i = INDEX_SUM_BYTES - 4; i >= 0; i -= 4) {
    const v = a.readUInt32BE(i) + b.readUInt32BE(i) + carry;
    out.writeUInt32BE(v >>> 0, i);
    carry = v > 0xffff_ffff ? 1 : 0;
  }
  return out;
}

export const INDEX_SUM_BYTES = 16;
/** The index sum of an empty set. */
export const EMPTY_INDEX_SUM = Buffer.alloc(INDEX_SUM_BYTES);

interface AccountKeys {
  readonly seal: KeyObject;
  readonly index: KeyObject;
  readonly indexMac: KeyObject;
  readonly indexSum: KeyObject;
}

/** Derived keys cached per (root id, account); bounded, the oldest goes first. */
const CACHE_LIMIT = 10_000;

export function createAccountSealer(source: AccountKeySource): AccountSealer {
  const cache = new Map<string, AccountKeys>();
  const keysOf = (account: AccountKey, id: number): AccountKeys => {
    const name = `${id}\u0000${account.userUid}\u0000${account.exchange}`;
    const hit = cache.get(name);
    if (hit !== undefined) return hit;
    const dataKey = source.accountDataKey(account, id);
    const sealBytes = Buffer.from(hkdfSync('sha256', dataKey, SALT, Buffer.from('aes-256-gcm', 'utf8'), 32));
    const indexBytes = Buffer.from(hkdfSync('sha256', dataKey, SALT, Buffer.from('blind-index hmac-sha256', 'utf8'), 32));
    const macBytes = Buffer.from(hkdfSync('sha256', dataKey, SALT, Buffer.from('blind-index aes-256-cbc-mac', 'utf8'), 32));
    const sumBytes = Buffer.from(hkdfSync('sha256', dataKey, SALT, Buffer.from('blind-index sum aes-256-ecb', 'utf8'), 32));
    const keys = { seal: createSecretKey(sealBytes), index: createSecretKey(indexBytes), indexMac: createSecretKey(macBytes), indexSum: createSecretKey(sumBytes) };
    sealBytes.fill(0);
    indexBytes.fill(0);
    macBytes.fill(0);
    sumBytes.fill(0);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(name, keys);
    return keys;
  };
  return {
    currentId: source.currentId,
    seal(address, plaintext) {
      const keyId = source.currentId;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keysOf(address.account, keyId).seal, iv);
      cipher.setAAD(sealedAad(address, keyId));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { keyId, iv, tag: cipher.getAuthTag(), ciphertext };
    },
    open(address, box) {
      if (box.iv.length !== IV_BYTES || box.tag.length !== TAG_BYTES) throw new SealedDataError(address.account, address.table);
      let keys: AccountKeys;
      try {
        keys = keysOf(address.account, box.keyId);
      } catch {
        throw new SealedDataError(address.account, address.table);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', keys.seal, box.iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(sealedAad(address, box.keyId));
        decipher.setAuthTag(box.tag);
        return Buffer.concat([decipher.update(box.ciphertext), decipher.final()]);
      } catch {
        throw new SealedDataError(address.account, address.table);
      }
    },
    blindIndexes(account, indexKeyId, stream, ids, version = 1) {
      if (version === 2) return blindIndexCbcMac(keysOf(account, indexKeyId).indexMac, stream, ids);
      const key = keysOf(account, indexKeyId).index;
      const out = Buffer.allocUnsafe(ids.length * BLIND_INDEX_BYTES);
      const prefix = lengthPrefixed(stream);
      for (let i = 0; i < ids.length; i++) {
        createHmac('sha256', key).update(prefix).update(ids[i]!, 'utf8').digest().copy(out, i * BLIND_INDEX_BYTES, 0, BLIND_INDEX_BYTES);
      }
      return out;
    },
    indexSum(account, indexKeyId, blindIndexes) {
      if (blindIndexes.length % BLIND_INDEX_BYTES !== 0) throw new SealedDataError(account, 'blind index');
      // AES of each 16-byte index as one block (ECB is the block cipher applied per block: a PRP, no chaining wanted).
      const cipher = createCipheriv('aes-256-ecb', keysOf(account, indexKeyId).indexSum, null);
      cipher.setAutoPadding(false);
      const blocks = Buffer.concat([cipher.update(blindIndexes), cipher.final()]);
      // Sum mod 2^128 in four 32-bit limbs, carried every 1,024 blocks (a limb stays below 2^43: exact in a double).
      const limbs = [0, 0, 0, 0];
      for (let at = 0, n = 1; at < blocks.length; at += BLIND_INDEX_BYTES, n++) {
        for (let l = 0; l < 4; l++) limbs[l]! += blocks.readUInt32BE(at + 4 * l);
        if (n % 1024 === 0) normalize(limbs);
      }
      normalize(limbs);
      const out = Buffer.alloc(INDEX_SUM_BYTES);
      for (let l = 0; l < 4; l++) out.writeUInt32BE(limbs[l]!, 4 * l);
      return out;
    },
  };
}

/**
 * AES-256 CBC-MAC (zero IV) of M(id) = u32be(|P|) ‖ P ‖ zero padding to a whole block, P = lp(stream)
 * ‖ UTF-8(id), for every id: the 16-byte tags concatenated in the order of `ids`. The length in the
 * first block makes the inputs prefix-free, on which CBC-MAC is a PRF (Bellare, Kilian, Rogaway;
 * Petrank, Rackoff); docs/sealed-storage.md, Blind index.
 *
 * Batched instead of one cipher per id: block position j of every id with more than j blocks is
 * one AES-ECB call (ECB applies the block cipher to each block alone), the chaining XOR done here
 * between calls. Ids are ordered by block count, longest first, so the ids still running at
 * position j are a prefix of the order and each step's state is a prefix of the previous one.
 */
export function blindIndexCbcMac(key: KeyObject, stream: string, ids: readonly string[]): Buffer {
  const n = ids.length;
  const out = Buffer.allocUnsafe(n * BLIND_INDEX_BYTES);
  if (n === 0) return out;
  const prefix = lengthPrefixed(stream);
  const head = 4 + prefix.length;
  // Each id's encoded input at its own block-aligned offset of one zero-filled buffer.
  const blocks = new Int32Array(n);
  const offset = new Int32Array(n);
  let total = 0;
  let longest = 0;
  for (let i = 0; i < n; i++) {
    const b = Math.ceil((head + Buffer.byteLength(ids[i]!, 'utf8')) / BLIND_INDEX_BYTES);
    blocks[i] = b;
    offset[i] = total;
    total += b * BLIND_INDEX_BYTES;
    if (b > longest) longest = b;
  }
  const input = Buffer.alloc(total);
  for (let i = 0; i < n; i++) {
    const at = offset[i]!;
    const written = input.write(ids[i]!, at + head, 'utf8');
    input.writeUInt32BE(prefix.length + written, at);
    prefix.copy(input, at + 4);
  }
  // Order by block count, descending (counting sort); running[j] = ids with more than j blocks.
  const running = new Int32Array(longest + 1);
  for (let i = 0; i < n; i++) running[blocks[i]! - 1]! += 1;
  for (let j = longest - 1; j >= 0; j--) running[j]! += running[j + 1]!;
  const order = new Int32Array(n);
  const next = new Int32Array(longest + 1);
  for (let b = 1; b <= longest; b++) next[b] = running[b]!;
  for (let i = 0; i < n; i++) order[next[blocks[i]!]!++] = i;
  const cipher = createCipheriv('aes-256-ecb', key, null);
  cipher.setAutoPadding(false);
  // Position 0 of every id (zero IV: nothing to chain in). Bytes moved by hand: a Buffer.copy call
  // per 16-byte block cost more than the cipher.
  const x = Buffer.allocUnsafe(n * BLIND_INDEX_BYTES);
  for (let p = 0; p < n; p++) {
    const from = offset[order[p]!]!;
    const to = p * BLIND_INDEX_BYTES;
    for (let t = 0; t < BLIND_INDEX_BYTES; t++) x[to + t] = input[from + t]!;
  }
  const state = cipher.update(x);
  for (let j = 1; j < longest; j++) {
    const k = running[j]!;
    for (let p = 0; p < k; p++) {
      const from = offset[order[p]!]! + j * BLIND_INDEX_BYTES;
      const to = p * BLIND_INDEX_BYTES;
      for (let t = 0; t < BLIND_INDEX_BYTES; t++) x[to + t] = state[to + t]! ^ input[from + t]!;
    }
    const step = cipher.update(x.subarray(0, k * BLIND_INDEX_BYTES));
    // Ids that ended at position j - 1 keep their tags in `state`; the others move on.
    step.copy(state, 0);
  }
  cipher.final();
  for (let p = 0; p < n; p++) {
    const to = order[p]! * BLIND_INDEX_BYTES;
    const from = p * BLIND_INDEX_BYTES;
    for (let t = 0; t < BLIND_INDEX_BYTES; t++) out[to + t] = state[from + t]!;
  }
  return out;
}

/** Carries limbs (big-endian order, each < 2^53) so each is < 2^32; the top carry falls off (mod 2^128). */
function normalize(limbs: number[]): void {
  let carry = 0;
  for (let l = 3; l >= 0; l--) {
    const v = limbs[l]! + carry;
    limbs[l] = v % 0x1_0000_0000;
    carry = Math.floor(v / 0x1_0000_0000);
  }
}
