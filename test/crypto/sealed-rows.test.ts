// The sealing primitives of sealed storage (src/crypto/sealed-rows.ts), without a database.
import { createCipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import { SealedDataError } from '../../src/crypto/errors.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { addIndexSums, BLIND_INDEX_BYTES, blindIndexCbcMac, createAccountSealer, EMPTY_CHAIN_HEAD, EMPTY_INDEX_SUM, INDEX_SUM_BYTES, nextChainHead, type AccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey } from '../../src/domain/types.js';

const alice: AccountKey = { userUid: 'alice', exchange: 'binance' };
const bob: AccountKey = { userUid: 'bob', exchange: 'binance' };

async function sealerFor(root: Buffer): Promise<AccountSealer> {
  const keys = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, root]]) });
  return createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) });
}

test('a sealed page opens only at the account, table and position it was sealed for', async (t) => {
  const sealer = await sealerFor(randomBytes(32));
  const plaintext = Buffer.from('[["t-1","BTC/USDT"]]');
  const box = sealer.seal({ account: alice, table: 'fills', seq: 3 }, plaintext);
  t.false(box.ciphertext.includes(Buffer.from('BTC')));
  t.deepEqual(sealer.open({ account: alice, table: 'fills', seq: 3 }, box), plaintext);
  for (const address of [
    { account: bob, table: 'fills', seq: 3 },
    { account: alice, table: 'cash_flows', seq: 3 },
    { account: alice, table: 'fills', seq: 4 },
    // "ab"+"c" vs "a"+"bc": the length prefixes keep fields apart.
    { account: { userUid: 'alic', exchange: 'ebinance' }, table: 'fills', seq: 3 },
  ]) {
    t.throws(() => sealer.open(address as never, box), { instanceOf: SealedDataError });
  }
  const edited = Buffer.from(box.ciphertext);
  edited.writeUInt8(edited.readUInt8(0) ^ 1, 0);
  t.throws(() => sealer.open({ account: alice, table: 'fills', seq: 3 }, { ...box, ciphertext: edited }), { instanceOf: SealedDataError });
  // Another root secret cannot open it.
  const other = await sealerFor(randomBytes(32));
  t.throws(() => other.open({ account: alice, table: 'fills', seq: 3 }, box), { instanceOf: SealedDataError });
});

test('blind indexes are deterministic per account and stream, and differ across accounts, streams and roots', async (t) => {
  const root = randomBytes(32);
  const sealer = await sealerFor(root);
  const again = await sealerFor(root);
  const ids = ['t-1', 't-2', 't-1'];
  const a = sealer.blindIndexes(alice, 1, 'fills', ids);
  t.is(a.length, 3 * BLIND_INDEX_BYTES);
  t.deepEqual(a, again.blindIndexes(alice, 1, 'fills', ids), 'another process with the same secret finds the same index');
  t.deepEqual(a.subarray(0, BLIND_INDEX_BYTES), a.subarray(2 * BLIND_INDEX_BYTES), 'the same id, the same index');
  t.notDeepEqual(a.subarray(0, BLIND_INDEX_BYTES), a.subarray(BLIND_INDEX_BYTES, 2 * BLIND_INDEX_BYTES));
  t.notDeepEqual(a, sealer.blindIndexes(bob, 1, 'fills', ids));
  t.notDeepEqual(a, sealer.blindIndexes(alice, 1, 'cash_flows', ids));
  t.notDeepEqual(a, (await sealerFor(randomBytes(32))).blindIndexes(alice, 1, 'fills', ids));
});

test('the page chain depends on every tag and its position', (t) => {
  const tags = [randomBytes(16), randomBytes(16)];
  const head = nextChainHead(nextChainHead(EMPTY_CHAIN_HEAD, 0, tags[0]!), 1, tags[1]!);
  t.notDeepEqual(head, nextChainHead(nextChainHead(EMPTY_CHAIN_HEAD, 0, tags[1]!), 1, tags[0]!), 'order matters');
  t.notDeepEqual(head, nextChainHead(EMPTY_CHAIN_HEAD, 0, tags[0]!), 'a dropped page changes the head');
  t.is(head.length, 32);
});

test('the blind-index sum is order-free, adds up over parts, and moves when one index is substituted', async (t) => {
  const sealer = await sealerFor(randomBytes(32));
  const ids = Array.from({ length: 3_000 }, (_, i) => `trade-${i}`);
  const all = sealer.blindIndexes(alice, 1, 'fills', ids);
  const sum = sealer.indexSum(alice, 1, all);
  t.is(sum.length, INDEX_SUM_BYTES);
  t.deepEqual(sealer.indexSum(alice, 1, Buffer.alloc(0)), EMPTY_INDEX_SUM);
  // Another order of the same set.
  const reversed = Buffer.concat(Array.from({ length: ids.length }, (_, i) => all.subarray((ids.length - 1 - i) * BLIND_INDEX_BYTES, (ids.length - i) * BLIND_INDEX_BYTES)));
  t.deepEqual(sealer.indexSum(alice, 1, reversed), sum);
  // Incremental: the sum of the first part plus the sum of the rest (what each page commit adds).
  const cut = 1_234 * BLIND_INDEX_BYTES;
  t.deepEqual(addIndexSums(sealer.indexSum(alice, 1, all.subarray(0, cut)), sealer.indexSum(alice, 1, all.subarray(cut))), sum);
  // One index substituted, one deleted, one duplicated: another sum.
  const substituted = Buffer.from(all);
  randomBytes(BLIND_INDEX_BYTES).copy(substituted, 17 * BLIND_INDEX_BYTES);
  t.notDeepEqual(sealer.indexSum(alice, 1, substituted), sum);
  t.notDeepEqual(sealer.indexSum(alice, 1, all.subarray(BLIND_INDEX_BYTES)), sum);
  t.notDeepEqual(sealer.indexSum(alice, 1, Buffer.concat([all, all.subarray(0, BLIND_INDEX_BYTES)])), sum);
  // Keyed per account (and root): the same indexes sum differently elsewhere.
  t.notDeepEqual(sealer.indexSum(bob, 1, all), sum);
  t.notDeepEqual((await sealerFor(randomBytes(32))).indexSum(alice, 1, all), sum);
  // The carry crosses limbs: 2^128 - 1 + 1 wraps to 0.
  t.deepEqual(addIndexSums(Buffer.alloc(INDEX_SUM_BYTES, 0xff), Buffer.from([...Array(15).fill(0), 1])), EMPTY_INDEX_SUM);
});

// ---- Blind index version 2: AES-256 CBC-MAC of u32be(len) ‖ lp(stream) ‖ id, batched ----------

/** The construction written out once per id: one CBC encryption (zero IV) of the encoded input, its last block. */
function referenceCbcMac(key: KeyObject, stream: string, id: string): Buffer {
  const streamBytes = Buffer.from(stream, 'utf8');
  const lp = Buffer.concat([Buffer.from([streamBytes.length >> 8, streamBytes.length & 0xff]), streamBytes]);
  const payload = Buffer.concat([lp, Buffer.from(id, 'utf8')]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(payload.length);
  const unpadded = Buffer.concat([length, payload]);
  const message = Buffer.concat([unpadded, Buffer.alloc((16 - (unpadded.length % 16)) % 16)]);
  const cipher = createCipheriv('aes-256-cbc', key, Buffer.alloc(16));
  cipher.setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(message), cipher.final()]);
  return encrypted.subarray(encrypted.length - 16);
}

const idArbitrary = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // any code point, lone surrogates included
  fc.string({ unit: 'grapheme', minLength: 20, maxLength: 400 }),
  fc.integer({ min: 0, max: 2 ** 53 }).map(String),
);

test('the batched CBC-MAC answers what one CBC encryption per id answers, for ids of every length and script', (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(idArbitrary, { maxLength: 60 }), fc.constantFrom('fills', 'cash_flows', ''), (keyBytes, ids, stream) => {
    const key = createSecretKey(Buffer.from(keyBytes));
    const batched = blindIndexCbcMac(key, stream, ids);
    if (batched.length !== ids.length * BLIND_INDEX_BYTES) return false;
    return ids.every((id, i) => batched.subarray(i * BLIND_INDEX_BYTES, (i + 1) * BLIND_INDEX_BYTES).equals(referenceCbcMac(key, stream, id)));
  }), { numRuns: 200 });
  // Inputs ending exactly at a block boundary and one byte past it (4 + 7 + 5 = 16, 4 + 7 + 21 = 32), a
  // long id among short ones, an empty id, non-ASCII ids and a batch of one.
  const key = createSecretKey(randomBytes(32));
  const ids = ['12345', '1234567890abcdefghijk', '123456', '', 'é', '取引-42', '🚀'.repeat(300), 'x'.repeat(5_000), '123456'];
  const batched = blindIndexCbcMac(key, 'fills', ids);
  ids.forEach((id, i) => t.deepEqual(batched.subarray(i * BLIND_INDEX_BYTES, (i + 1) * BLIND_INDEX_BYTES), referenceCbcMac(key, 'fills', id), `id ${i}`));
  t.deepEqual(blindIndexCbcMac(key, 'fills', [ids[7]!]), referenceCbcMac(key, 'fills', ids[7]!));
  t.is(blindIndexCbcMac(key, 'fills', []).length, 0);
});

test('version 2 blind indexes are distinct per id, stream, account and root, and differ from version 1', async (t) => {
  const root = randomBytes(32);
  const sealer = await sealerFor(root);
  const ids = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `${100_000_000 + i}` : i % 3 === 1 ? `flow-${i}-取引` : `${'z'.repeat(i % 70)}${i}`));
  const v2 = sealer.blindIndexes(alice, 1, 'fills', ids, 2);
  const distinct = new Set<string>();
  for (let i = 0; i < ids.length; i++) distinct.add(v2.subarray(i * BLIND_INDEX_BYTES, (i + 1) * BLIND_INDEX_BYTES).toString('hex'));
  t.is(distinct.size, ids.length, 'no two ids share an index');
  t.deepEqual(v2, (await sealerFor(root)).blindIndexes(alice, 1, 'fills', ids, 2), 'another process with the same secret finds the same indexes');
  t.deepEqual(sealer.blindIndexes(alice, 1, 'fills', [ids[5]!, ids[5]!], 2), Buffer.concat([v2.subarray(5 * 16, 6 * 16), v2.subarray(5 * 16, 6 * 16)]), 'the same id, the same index, at any position of a batch');
  const sample = ids.slice(0, 50);
  const a = sealer.blindIndexes(alice, 1, 'fills', sample, 2);
  t.notDeepEqual(a, sealer.blindIndexes(alice, 1, 'cash_flows', sample, 2));
  t.notDeepEqual(a, sealer.blindIndexes(bob, 1, 'fills', sample, 2));
  t.notDeepEqual(a, (await sealerFor(randomBytes(32))).blindIndexes(alice, 1, 'fills', sample, 2));
  t.notDeepEqual(a, sealer.blindIndexes(alice, 1, 'fills', sample), 'version 1 (the default) is HMAC-SHA-256');
  t.notDeepEqual(a, sealer.blindIndexes(alice, 1, 'fills', sample, 1));
});

test('the CBC-MAC key is not the index-sum key: a one-block input is not enciphered alike under both', async (t) => {
  const sealer = await sealerFor(randomBytes(32));
  // lp("fills") ‖ "abc": 10 bytes, so the encoded input is one block, u32be(10) ‖ lp ‖ id ‖ zeros. With
  // one key for both, this id's index would be the index sum of that block (AES of one block).
  const block = Buffer.alloc(16);
  block.writeUInt32BE(10, 0);
  Buffer.from([0, 5, ...Buffer.from('fillsabc')]).copy(block, 4);
  const index = sealer.blindIndexes(alice, 1, 'fills', ['abc'], 2);
  t.is(index.length, 16);
  t.notDeepEqual(index, sealer.indexSum(alice, 1, block));
});
