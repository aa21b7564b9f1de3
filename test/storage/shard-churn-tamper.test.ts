// The false "tamper" park of the 300-account scale-out run (docs/scale-out.md): under shard-lease
// churn one account was parked `tamper` on an instance though nobody edited the database. Two
// account stores are built here as two service processes build them (their own sealed store and
// sealed amounts, hence their own caches; same keys; one database), and one account is written by
// both in turn, as a shard moving back and forth, with writes that roll back after writing the
// records, writes the fence refuses, concurrent writes, and reads whose statement snapshot was taken
// before a commit that the same process registered first (a stopped actor's sync still in flight
// beside the next actor's, or a read beside the actor's write). No load may then report tamper;
// real edits still must.
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type { DatabasePool } from 'slonik';
import { sql } from 'slonik';
import { z } from 'zod';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey, Fill, HourlyReturn } from '../../src/domain/types.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { StaleGenerationError, TamperDetectedError } from '../../src/storage/errors.js';
import { createSealedAmounts, type SealedAmounts } from '../../src/storage/sealed-amounts.js';
import { createSealedStore, type SealedStore } from '../../src/storage/sealed-store.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const h = (n: number) => Date.UTC(2026, 5, 1, n);
const hour = (n: number): HourlyReturn => ({ hourStart: h(n), return: 0.001 * (n + 1), cumulativeReturn: 0.001 * (n + 1), equityEnd: 10_000 + n, netFlow: 0 });
const snapshot = (n: number) => ({ at: h(n), balance: 5_000 + n, equity: 10_000 + n });
function fill(id: string, at: number): Fill {
  return { exchangeTradeId: id, symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'buy', quantity: '0.1', price: '65000.25', fee: '0', feeAsset: 'USDT', executedAt: at };
}

type Method = (...args: unknown[]) => Promise<unknown>;
const QUERY_METHODS = new Set(['any', 'anyFirst', 'many', 'manyFirst', 'maybeOne', 'maybeOneFirst', 'one', 'oneFirst', 'query']);

/**
 * The pool as a process sees it, except that the next statement whose text matches an armed
 * pattern has its result held back (the statement ran: its snapshot is taken) until released: the
 * reply of a read that arrives after the reply of a commit sent later, as on a loaded event loop.
 */
function holdingPool(pool: DatabasePool): { pool: DatabasePool; hold(pattern: RegExp): { held: Promise<void>; release(): void } } {
  let armed: { pattern: RegExp; reached(): void; gate: Promise<void> } | null = null;
  const wrap = <T extends object>(target: T): T => new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as Method;
      if (property === 'transaction') {
        return (handler: (tx: object) => Promise<unknown>, ...rest: unknown[]) => method.call(object, (tx: object) => handler(wrap(tx)), ...rest);
      }
      if (typeof property === 'string' && QUERY_METHODS.has(property)) {
        return async (query: { sql: string }, ...rest: unknown[]) => {
          const result = await method.call(object, query, ...rest);
          const hold = armed;
          if (hold !== null && hold.pattern.test(query.sql)) {
            armed = null;
            hold.reached();
            await hold.gate;
          }
          return result;
        };
      }
      return method.bind(object);
    },
  });
  return {
    pool: wrap(pool),
    hold(pattern) {
      let reached!: () => void;
      let release!: () => void;
      const held = new Promise<void>((resolve) => { reached = resolve; });
      const gate = new Promise<void>((resolve) => { release = resolve; });
      armed = { pattern, reached, gate };
      return { held, release };
    },
  };
}

const keysPromise = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
interface Process { readonly store: AccountStore; readonly sealed: SealedStore; readonly amounts: SealedAmounts }
/** One service process's storage: its own sealed store and sealed amounts (their own caches), the shared keys. */
async function processOn(pool: DatabasePool): Promise<Process> {
  const keys = await keysPromise;
  const sealed = createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) }));
  const amounts = createSealedAmounts(sealed.sealer);
  return { store: createAccountStore(pool, { sealed, amounts }), sealed, amounts };
}

const recordRow = z.object({ kind: z.string(), keyId: z.number().int(), iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) });
const recordsOf = (account: AccountKey) => db().pool.any(sql.type(recordRow)`
  SELECT kind, key_id AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
async function putBack(account: AccountKey, rows: readonly z.infer<typeof recordRow>[]): Promise<void> {
  for (const r of rows) {
    await db().pool.query(sql.unsafe`UPDATE sealed_records SET key_id = ${r.keyId}, iv = ${sql.binary(r.iv)}, tag = ${sql.binary(r.tag)}, ciphertext = ${sql.binary(r.ciphertext)}
      WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} AND kind = ${r.kind}`);
  }
}

async function everyLoad(t: ExecutionContext, store: AccountStore, account: AccountKey, who: string): Promise<void> {
  await t.notThrowsAsync(store.loadSyncStart!(account), `${who}: sync start`);
  await t.notThrowsAsync(store.loadRecords!(account, 0), `${who}: records`);
  await t.notThrowsAsync(store.loadFills(account, T0), `${who}: fills`);
  await t.notThrowsAsync(store.loadEngineState(account), `${who}: engine state`);
  await t.notThrowsAsync(store.loadHourlyReturns(account, 0, h(24)), `${who}: hourly returns`);
  await t.notThrowsAsync(store.loadSnapshots(account, 0, h(24)), `${who}: snapshots`);
  await t.notThrowsAsync(store.loadPerformanceStats(account), `${who}: performance`);
}

/** Two processes on the file's database (the first one's statements can be held), one stored account. */
async function twoProcesses(userUid: string): Promise<{ held1: ReturnType<typeof holdingPool>; p1: Process; p2: Process; account: AccountKey }> {
  const held1 = holdingPool(db().pool);
  const p1 = await processOn(held1.pool);
  const p2 = await processOn(db().pool);
  const account: AccountKey = { userUid, exchange: 'binance' };
  await createConnectionRepository(db().pool).saveConnection(account, Buffer.alloc(64, 1), 'active', false);
  return { held1, p1, p2, account };
}

test('an account written in turn by two processes, with rolled-back, refused, concurrent and overtaken writes, never reads as tampered', async (t) => {
  const { held1, p1, p2, account } = await twoProcesses('churn');
  const ids = async (store: AccountStore) => (await store.loadFills(account, 0)).map((f) => f.exchangeTradeId).sort();

  // The shard on instance 1: a sync.
  await p1.store.loadSyncStart!(account);
  await p1.store.commitFillsPage(account, [fill('a1', T0)], 'c1');
  await p1.store.saveAggregates(account, { hourlyReturns: [hour(0)], snapshot: snapshot(0), engineState: { v: 1 }, performance: null });
  // A sync aborted mid-way: every record written in its transaction, then rolled back.
  await t.throwsAsync(db().pool.transaction(async (tx) => {
    await p1.sealed.commitFillsPage(tx, account, [fill('a2', T0 + 1)], 'c2');
    await p1.sealed.saveEngineState(tx, account, { v: 2 });
    const exact = await p1.amounts.begin(tx, account);
    await exact.writeHours([{ hourStart: h(1), equityEnd: 1, netFlow: 0 }]);
    await exact.finish();
    throw new Error('the lease was lost: sync aborted');
  }), { message: 'the lease was lost: sync aborted' });
  // Writes the fence refuses (here the generation half of it: the same rollback).
  await t.throwsAsync(p1.store.commitFillsPage(account, [fill('a3', T0 + 2)], 'c3', 999), { instanceOf: StaleGenerationError });
  await t.throwsAsync(p1.store.saveAggregates(account, { hourlyReturns: [hour(1)], snapshot: snapshot(1), engineState: { v: 3 }, performance: null }, 999), { instanceOf: StaleGenerationError });

  // The shard moves to instance 2, which syncs twice.
  await p2.store.loadSyncStart!(account);
  await p2.store.loadRecords!(account, 0);
  await p2.store.commitFillsPage(account, [fill('b1', T0 + 3)], 'c4');
  await p2.store.saveAggregates(account, { hourlyReturns: [hour(1)], snapshot: snapshot(1), engineState: { v: 4 }, performance: null });
  await p2.store.commitFillsPage(account, [fill('b2', T0 + 4)], 'c5');
  await p2.store.saveAggregates(account, { hourlyReturns: [hour(2)], snapshot: snapshot(2), engineState: { v: 5 }, performance: null });

  // Both at once (instance 1's stopped sync still in flight beside instance 2's).
  await Promise.all([
    p1.store.commitFillsPage(account, [fill('a4', T0 + 5)], 'c6'),
    p2.store.commitFillsPage(account, [fill('b3', T0 + 6)], 'c7'),
    p1.store.saveAggregates(account, { hourlyReturns: [hour(3)], snapshot: snapshot(3), engineState: { v: 6 }, performance: null }),
    p2.store.saveAggregates(account, { hourlyReturns: [hour(4)], snapshot: snapshot(4), engineState: { v: 7 }, performance: null }),
  ]);

  // Back on instance 1. A load whose statement ran before a commit of this process (and one of
  // instance 2) whose reply is handled first: its snapshot is older than what this process saw commit.
  const records = held1.hold(/string_agg\(blind_index/u);
  const reading = p1.store.loadRecords!(account, 0);
  await records.held;
  await p2.store.commitFillsPage(account, [fill('b4', T0 + 7)], 'c8');
  await p1.store.commitFillsPage(account, [fill('a5', T0 + 8)], 'c9');
  records.release();
  const read = await reading;
  t.deepEqual(read.fills.map((f) => f.exchangeTradeId).sort(), ['a1', 'a4', 'b1', 'b2', 'b3'], 'the load returns its snapshot, checked');

  // The same for an actor start (one statement) and for the range read of the exact amounts (a
  // REPEATABLE READ snapshot taken by its first statement, the record read by a later one).
  const start = held1.hold(/string_agg\(tag/u);
  const starting = p1.store.loadSyncStart!(account);
  await start.held;
  await p1.store.saveAggregates(account, { hourlyReturns: [hour(5)], snapshot: snapshot(5), engineState: { v: 8 }, performance: null });
  start.release();
  t.is((await starting).fillsCursor, 'c9');
  const range = held1.hold(/FROM hourly_returns h/u);
  const returns = p1.store.loadHourlyReturns(account, 0, h(24));
  await range.held;
  await p1.store.saveAggregates(account, { hourlyReturns: [hour(6)], snapshot: snapshot(6), engineState: { v: 9 }, performance: null });
  range.release();
  t.deepEqual((await returns).map((r) => r.hourStart), [0, 1, 2, 3, 4, 5].map(h));
  const snapshots = held1.hold(/FROM snapshot_amounts WHERE/u);
  const reads = p1.store.loadSnapshots(account, 0, h(24));
  await snapshots.held;
  await p2.store.saveAggregates(account, { hourlyReturns: [hour(7)], snapshot: snapshot(7), engineState: { v: 10 }, performance: null });
  snapshots.release();
  t.is((await reads).length, 7);

  // Every load on both instances, then both see the same rows.
  await everyLoad(t, p1.store, account, 'instance 1');
  await everyLoad(t, p2.store, account, 'instance 2');
  t.deepEqual(await ids(p1.store), ['a1', 'a4', 'a5', 'b1', 'b2', 'b3', 'b4']);
  t.deepEqual(await ids(p2.store), await ids(p1.store));
  t.deepEqual(await p1.store.loadEngineState(account), { v: 10 });
  t.is((await p2.store.loadHourlyReturns(account, 0, h(24))).length, 8);
});

test('under the same churn, a real rollback or edit is still detected by the process that saw the newer state', async (t) => {
  const { held1, p1, p2, account } = await twoProcesses('churn-edited');
  await p1.store.commitFillsPage(account, [fill('a1', T0)], 'c1');
  await p1.store.saveAggregates(account, { hourlyReturns: [hour(0)], snapshot: snapshot(0), engineState: { v: 1 }, performance: null });
  const old = await recordsOf(account);
  await p2.store.loadSyncStart!(account);
  await p2.store.commitFillsPage(account, [fill('b1', T0 + 1)], 'c2');
  await p2.store.saveAggregates(account, { hourlyReturns: [hour(1)], snapshot: snapshot(1), engineState: { v: 2 }, performance: null });
  await p1.store.loadSyncStart!(account);
  await p1.store.loadHourlyReturns(account, 0, h(24));

  // The administrator puts the older records back (pages and rows stay: counts and chain differ
  // too, but the first check to fail is the record's write counter): both processes saw newer ones.
  await putBack(account, old);
  for (const [who, store] of [['instance 1', p1.store], ['instance 2', p2.store]] as const) {
    await t.throwsAsync(store.loadSyncStart!(account), { instanceOf: TamperDetectedError, message: /rolled back/u }, who);
    await t.throwsAsync(store.loadHourlyReturns(account, 0, h(24)), { instanceOf: TamperDetectedError, message: /rolled back/u }, who);
  }
  // A load whose reply is held back still refuses it: its floor was taken when it was sent, after the rollback.
  const start = held1.hold(/string_agg\(tag/u);
  const starting = p1.store.loadSyncStart!(account);
  await start.held;
  start.release();
  await t.throwsAsync(starting, { instanceOf: TamperDetectedError, message: /rolled back/u });

  // A fresh process (no memory) sees a consistent older state only as inconsistent here: pages of
  // the newer state are still stored beside the older record.
  const p3 = await processOn(db().pool);
  await t.throwsAsync(p3.store.loadRecords!(account, 0), { instanceOf: TamperDetectedError });
});

test('the engine state read while another process writes both records is one consistent pair', async (t) => {
  const { held1, p1, p2, account } = await twoProcesses('churn-engine');
  await p1.store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 1 }, performance: null });
  // Held after the statement that reads the account record (it was followed by a second one for the engine record).
  const read = held1.hold(/kind (IN \('account', 'engine'\)|= 'account')/u);
  const loading = p1.store.loadEngineState(account);
  await read.held;
  await p2.store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 2 }, performance: null });
  read.release();
  t.deepEqual(await loading, { v: 1 });
  t.deepEqual(await p1.store.loadEngineState(account), { v: 2 });
});
