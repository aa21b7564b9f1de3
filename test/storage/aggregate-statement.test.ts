// The end-of-sync aggregate write as one statement (src/storage/aggregate-statement.ts, issue 19)
// on a real throw-away PostgreSQL database, wired as the service wires it (sealed records, sealed
// amounts, signed checkpoints): once a process knows an account's records and checkpoint, a write
// of new hours is one statement; what it wrote reads back checked by another process; whatever
// changed behind the process (an edited record or checkpoint, another writer) makes the statement
// write nothing and the locked path decide, as before; the level it publishes at is the level of
// the connection row when it runs. Serial: the statement counter sees every query of the process.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { countStatements } from '../../testkit/support/statement-count.js';
import { sql } from 'slonik';
import { z } from 'zod';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import { chainGenesis, createCheckpointSigner, extendChain } from '../../src/crypto/track-record.js';
import { roundSignificant } from '../../src/domain/disclosure.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import type { AggregateWrite } from '../../src/storage/account-store.js';
import { checkpointSignedBy, createCheckpointStore } from '../../src/storage/checkpoint-store.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createDisclosureStore } from '../../src/storage/disclosure-store.js';
import { StaleGenerationError, StorageRejectedError, TamperDetectedError } from '../../src/storage/errors.js';
import { createSealedAmounts } from '../../src/storage/sealed-amounts.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const h = (n: number) => Date.UTC(2026, 3, 1, n);
const keysPromise = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });

/** One service process's stores (fresh per-process state, the same keys). */
async function processStores() {
  const keys = await keysPromise;
  const sealed = createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) }));
  const amounts = createSealedAmounts(sealed.sealer);
  const signer = createCheckpointSigner(keys);
  const store = createAccountStore(db().pool, { sealed, amounts, checkpoints: signer });
  return { store, sealed, amounts, signer, disclosure: createDisclosureStore(db().pool, amounts) };
}

const hour = (n: number): HourlyReturn => ({ hourStart: h(n), return: 0.001 * (n + 1), cumulativeReturn: 0.002 * n, equityEnd: 10_234.567891 + n, netFlow: n === 2 ? 1_234.987654 : 0 });
const write = (hours: readonly number[], state: number): AggregateWrite => ({
  hourlyReturns: hours.map(hour), snapshot: { at: h(hours.at(-1)! + 1), balance: 4_321.918273 + state, equity: 9_876.543219 + state }, engineState: { state },
  performance: null,
});

async function registered(userUid: string): Promise<{ account: AccountKey; generation: number }> {
  const account: AccountKey = { userUid, exchange: 'binance' };
  const generation = await createConnectionRepository(db().pool).saveConnection(account, Buffer.alloc(64, 1), 'active', false);
  return { account, generation };
}

const publishedRow = z.object({ at: z.number(), equity: z.number().nullable(), flow: z.number().nullable() });
const published = (account: AccountKey) => db().pool.any(sql.type(publishedRow)`
  SELECT hour_start AS at, equity_end AS equity, net_flow AS flow FROM hourly_returns WHERE user_uid = ${account.userUid} ORDER BY hour_start`);
const exec = (statement: ReturnType<typeof sql.unsafe>) => db().pool.query(statement);

/** Everything another process reads back, checked (amount sums, record chain, engine tag, checkpoint chain). */
async function readBack(account: AccountKey) {
  const other = await processStores();
  const checkpoints = createCheckpointStore(db().pool);
  const latest = await checkpoints.latestCheckpoint(account);
  const chained = await checkpoints.chainedHours(account);
  return {
    hours: await other.store.loadHourlyReturns(account, h(0), h(48)),
    snapshots: await other.store.loadSnapshots(account, 0, h(48)),
    state: (await other.store.loadSyncStart!(account)).engineState,
    checkpointSigned: latest !== null && checkpointSignedBy(latest, other.signer.publicKey),
    checkpointCovers: latest?.hours,
    chainMatches: latest?.head === extendChain(chainGenesis(latest?.account ?? ''), chained).toString('hex'),
  };
}

test.serial('once the process knows the account, a write of new hours is one statement, and another process reads it back checked', async (t) => {
  const { store } = await processStores();
  const { account, generation } = await registered('one-statement');
  // The first write of a process for the account reads and locks (nothing is known here yet).
  t.true(await countStatements(() => store.saveAggregates(account, write([0, 1, 2], 1), generation)) > 1);
  t.is(await countStatements(() => store.saveAggregates(account, write([3], 2), generation)), 1);
  t.is(await countStatements(() => store.saveAggregates(account, write([4, 5], 3), generation)), 1);
  const back = await readBack(account);
  t.deepEqual(back.hours.map((x) => [x.hourStart, x.equityEnd, x.netFlow]), [0, 1, 2, 3, 4, 5].map((n) => [h(n), hour(n).equityEnd, hour(n).netFlow]));
  t.deepEqual(back.snapshots.map((s) => s.at), [h(3), h(4), h(6)]);
  t.deepEqual(back.state, { state: 3 });
  t.true(back.checkpointSigned);
  t.is(back.checkpointCovers, 6);
  t.true(back.chainMatches);
  // The default level publishes no amount, in the one statement as in the transaction.
  t.deepEqual((await published(account)).map((r) => [r.equity, r.flow]), [0, 1, 2, 3, 4, 5].map(() => [null, null]));
});

test.serial('a level changed by another process is the level the next one-statement write publishes at', async (t) => {
  const { store } = await processStores();
  const { account, generation } = await registered('one-statement-level');
  await store.saveAggregates(account, write([20, 21], 1), generation);
  const elsewhere = await processStores();
  const snapshotAt = (n: number) => db().pool.one(sql.type(z.object({ balance: z.number().nullable(), equity: z.number().nullable() }))`
    SELECT balance, equity FROM balance_snapshots WHERE user_uid = ${account.userUid} AND at = ${new Date(h(n)).toISOString()}::timestamptz`);
  // Each hour as published right after its write (a later level change republishes every hour).
  const writtenAt = async (level: 'full' | 'equity' | 'returns', n: number) => {
    t.true(await elsewhere.disclosure.setDisclosureLevel(account, level));
    t.is(await countStatements(() => store.saveAggregates(account, write([n], n), generation)), 1);
    const row = (await published(account)).find((r) => r.at === h(n));
    return { hour: [row?.equity, row?.flow], snapshot: await snapshotAt(n + 1) };
  };
  const snapshot = (n: number) => write([n], n).snapshot!;
  t.deepEqual(await writtenAt('full', 22), { hour: [hour(22).equityEnd, hour(22).netFlow], snapshot: { balance: snapshot(22).balance, equity: snapshot(22).equity } });
  // Hour 23 ends a UTC day (its snapshot at midnight too): the one hour a day `equity` shows, rounded.
  t.deepEqual(await writtenAt('equity', 23), { hour: [roundSignificant(hour(23).equityEnd), null], snapshot: { balance: null, equity: roundSignificant(snapshot(23).equity) } });
  t.deepEqual(await writtenAt('returns', 24), { hour: [null, null], snapshot: { balance: null, equity: null } });
});

test.serial('another process writing in between: the statement writes nothing and the locked path extends what it wrote', async (t) => {
  const a = await processStores();
  const { account, generation } = await registered('one-statement-other-writer');
  await a.store.saveAggregates(account, write([0, 1], 1), generation);
  const b = await processStores();
  // B has to read and lock (it knows nothing); A's knowledge is now stale.
  t.true(await countStatements(() => b.store.saveAggregates(account, write([2], 2), generation)) > 1);
  t.true(await countStatements(() => a.store.saveAggregates(account, write([3], 3), generation)) > 1);
  const back = await readBack(account);
  t.deepEqual(back.hours.map((x) => x.hourStart), [0, 1, 2, 3].map(h));
  t.deepEqual(back.state, { state: 3 });
  t.is(back.checkpointCovers, 4);
  t.true(back.chainMatches && back.checkpointSigned);
  // And A knows the account again: its next write is one statement.
  t.is(await countStatements(() => a.store.saveAggregates(account, write([4], 4), generation)), 1);
});

const edits: Record<string, (userUid: string) => ReturnType<typeof sql.unsafe>> = {
  'the account record': (u) => sql.unsafe`UPDATE sealed_records SET tag = set_byte(tag, 0, get_byte(tag, 0) # 1) WHERE user_uid = ${u} AND kind = 'account'`,
  'the engine record': (u) => sql.unsafe`UPDATE sealed_records SET tag = set_byte(tag, 0, get_byte(tag, 0) # 1) WHERE user_uid = ${u} AND kind = 'engine'`,
  'the amounts record': (u) => sql.unsafe`UPDATE sealed_records SET tag = set_byte(tag, 0, get_byte(tag, 0) # 1) WHERE user_uid = ${u} AND kind = 'amounts'`,
};

for (const [name, edit] of Object.entries(edits)) {
  test.serial(`${name} edited after this process read it: nothing is written and the write is refused as tamper`, async (t) => {
    const { store } = await processStores();
    const userUid = `one-statement-edit-${name.replaceAll(' ', '-')}`;
    const { account, generation } = await registered(userUid);
    await store.saveAggregates(account, write([0, 1], 1), generation);
    await exec(edit(userUid));
    await t.throwsAsync(store.saveAggregates(account, write([2], 2), generation), { instanceOf: TamperDetectedError });
    t.deepEqual((await published(account)).map((r) => r.at), [h(0), h(1)], 'nothing of the refused write was published');
  });
}

test.serial('the last checkpoint edited after this process wrote it: the next write does not extend it (refused, as before)', async (t) => {
  const { store } = await processStores();
  const { account, generation } = await registered('one-statement-checkpoint-edit');
  await store.saveAggregates(account, write([0, 1], 1), generation);
  await exec(sql.unsafe`UPDATE statement_checkpoints SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1) WHERE user_uid = ${account.userUid}`);
  await t.throwsAsync(store.saveAggregates(account, write([2], 2), generation), { instanceOf: StorageRejectedError });
  t.deepEqual((await published(account)).map((r) => r.at), [h(0), h(1)]);
});

test.serial('a stale generation writes nothing (StaleGenerationError), and the next write of the process still goes through', async (t) => {
  const { store } = await processStores();
  const { account, generation } = await registered('one-statement-stale');
  await store.saveAggregates(account, write([0], 1), generation);
  await t.throwsAsync(store.saveAggregates(account, write([1], 2), generation + 1), { instanceOf: StaleGenerationError });
  t.deepEqual((await published(account)).map((r) => r.at), [h(0)]);
  t.is(await countStatements(() => store.saveAggregates(account, write([1], 2), generation)), 1);
  t.deepEqual((await readBack(account)).state, { state: 2 });
});

test.serial('a recomputed hour (its exact row already stored) takes the locked path and replaces it', async (t) => {
  const { store } = await processStores();
  const { account, generation } = await registered('one-statement-recompute');
  await store.saveAggregates(account, write([0, 1], 1), generation);
  t.true(await countStatements(() => store.saveAggregates(account, { ...write([1], 2), hourlyReturns: [{ ...hour(1), equityEnd: 11_111.5 }] }, generation)) > 1);
  const back = await readBack(account);
  t.deepEqual(back.hours.map((x) => x.equityEnd), [hour(0).equityEnd, 11_111.5]);
  t.true(back.chainMatches && back.checkpointSigned);
});
