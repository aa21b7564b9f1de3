// The sealing primitives of sealed storage (src/crypto/sealed-rows.ts), without a database.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { SealedDataError } from '../../src/crypto/errors.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { addIndexSums, BLIND_INDEX_BYTES, createAccountSealer, EMPTY_CHAIN_HEAD, EMPTY_INDEX_SUM, INDEX_SUM_BYTES, nextChainHead, type AccountSealer } from '../../src/crypto/sealed-rows.js';
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
