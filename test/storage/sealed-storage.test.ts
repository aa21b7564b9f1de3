// Sealed storage (issue 14 part 1) on a real throw-away PostgreSQL database: round trips, dedup
// on blind indexes, the legacy plaintext migration, and a canary search of every private table.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { sql } from 'slonik';
import { z } from 'zod';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer, type AccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey, CashFlow, Fill } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { TamperDetectedError } from '../../src/storage/errors.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { createActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';
import { createConnectionRepository } from '../../src/storage/connections.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);

const keysPromise = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
async function sealer(): Promise<AccountSealer> {
  const keys = await keysPromise;
  return createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) });
}
async function sealedStore() {
  return createAccountStore(db().pool, { sealed: createSealedStore(await sealer()) });
}

function fill(id: string, at: number, quantity = '0.12345678'): Fill {
  return { exchangeTradeId: id, symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'buy', quantity, price: '65000.25', fee: '-0.00012', feeAsset: 'USDT', executedAt: at };
}
function flow(id: string, at: number): CashFlow {
  return { exchangeFlowId: id, kind: 'deposit', asset: 'USDT', amount: '10000.5', occurredAt: at };
}

test('fills, cash flows, cursors and engine state round-trip through sealed storage', async (t) => {
  const store = await sealedStore();
  const alice: AccountKey = { userUid: 'round-trip', exchange: 'binance' };
  const fills = [fill('t-2', T0 + 2_000), fill('t-1', T0 + 1_000), fill('t-3', T0 + 1_000)];
  t.deepEqual(await store.commitFillsPage(alice, fills, 'cursor-1'), { inserted: 3 });
  t.deepEqual(await store.commitCashFlowsPage(alice, [flow('d-1', T0)], 'flows-cursor'), { inserted: 1 });
  t.deepEqual(await store.commitFillsPage(alice, [fill('t-4', T0 + 5_000)], 'cursor-2'), { inserted: 1 });
  await store.saveAggregates(alice, { hourlyReturns: [], snapshot: null, engineState: { v: 1, positions: [['BTC', '0.5']] }, performance: null });
  // Oldest first, ties by id, as the plaintext store ordered them.
  t.deepEqual((await store.loadFills(alice, 0)).map((f) => f.exchangeTradeId), ['t-1', 't-3', 't-2', 't-4']);
  t.deepEqual(await store.loadFills(alice, T0 + 2_000), [fills[0], fill('t-4', T0 + 5_000)]);
  t.deepEqual(await store.loadCashFlows(alice, 0), [flow('d-1', T0)]);
  t.is(await store.loadCursor(alice, 'fills'), 'cursor-2');
  t.is(await store.loadCursor(alice, 'cash_flows'), 'flows-cursor');
  t.deepEqual(await store.loadEngineState(alice), { v: 1, positions: [['BTC', '0.5']] });
  // A second process (a fresh sealed store, same keys) reads the same.
  const other = await sealedStore();
  t.is((await other.loadFills(alice, 0)).length, 4);
});

test('the same fill delivered twice is stored once (dedup on blind indexes, within and across pages)', async (t) => {
  const store = await sealedStore();
  const bob: AccountKey = { userUid: 'dedup', exchange: 'binance' };
  t.deepEqual(await store.commitFillsPage(bob, [fill('d-1', T0), fill('d-1', T0), fill('d-2', T0 + 1)], 'c1'), { inserted: 2 });
  t.deepEqual(await store.commitFillsPage(bob, [fill('d-2', T0 + 1), fill('d-3', T0 + 2)], 'c2'), { inserted: 1 });
  t.deepEqual(await store.commitFillsPage(bob, [fill('d-1', T0)], 'c3'), { inserted: 0 });
  // The same id in the other stream is another record (the stream is in the MAC input).
  t.deepEqual(await store.commitCashFlowsPage(bob, [flow('d-1', T0)], 'f1'), { inserted: 1 });
  t.deepEqual((await store.loadFills(bob, 0)).map((f) => f.exchangeTradeId), ['d-1', 'd-2', 'd-3']);
  const indexes = await db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM sealed_index WHERE user_uid = 'dedup'`);
  t.is(indexes, 4);
  // A page with nothing new stores no page, only the cursor.
  const pages = await db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM sealed_pages WHERE user_uid = 'dedup' AND stream = 'fills'`);
  t.is(pages, 2);
});

test('legacy plaintext rows are sealed at the account load, every row kept, the plaintext deleted', async (t) => {
  const legacy = createAccountStore(db().pool); // the old layout: plaintext tables
  const carol: AccountKey = { userUid: 'legacy', exchange: 'binance' };
  const fills = Array.from({ length: 12_345 }, (_, i) => fill(`L-${i}`, T0 + i * 1_000, `0.${String(i + 1).padStart(8, '0')}`));
  await legacy.commitFillsPage(carol, fills, 'legacy-fills-cursor');
  await legacy.commitCashFlowsPage(carol, [flow('LF-1', T0), flow('LF-2', T0 + 5)], 'legacy-flows-cursor');
  await legacy.saveAggregates(carol, { hourlyReturns: [], snapshot: null, engineState: { v: 1, legacy: true }, performance: null });

  const store = await sealedStore();
  t.is(await store.loadCursor(carol, 'fills'), 'legacy-fills-cursor');
  t.deepEqual(await store.loadFills(carol, 0), await Promise.resolve(fills));
  t.deepEqual(await store.loadCashFlows(carol, 0), [flow('LF-1', T0), flow('LF-2', T0 + 5)]);
  t.is(await store.loadCursor(carol, 'cash_flows'), 'legacy-flows-cursor');
  t.deepEqual(await store.loadEngineState(carol), { v: 1, legacy: true });
  const count = z.object({ n: z.number() });
  for (const table of ['trades', 'cash_flows', 'sync_cursors', 'engine_states']) {
    const n = await db().pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE user_uid = 'legacy'`);
    t.is(n, 0, `${table} holds no plaintext row any more`);
  }
  // Dedup keeps working over migrated rows.
  t.deepEqual(await store.commitFillsPage(carol, [fill('L-7', T0 + 7_000), fill('L-new', T0 + 99_000_000)], 'next'), { inserted: 1 });
  t.is((await store.loadFills(carol, 0)).length, fills.length + 1);
});

test('a row edited behind the store is refused with TamperDetectedError', async (t) => {
  const store = await sealedStore();
  const dave: AccountKey = { userUid: 'edit-direct', exchange: 'binance' };
  await store.commitFillsPage(dave, [fill('e-1', T0)], 'c');
  await db().pool.query(sql.unsafe`UPDATE sealed_pages SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE user_uid = 'edit-direct'`);
  await t.throwsAsync(store.loadFills(dave, 0), { instanceOf: TamperDetectedError });
});

test('after a sync no venue id, amount or asset symbol of the fills appears in any private table (canary dump)', async (t) => {
  const clock = new ManualClock(T0);
  const store = await sealedStore();
  const connections = createConnectionRepository(db().pool);
  const h = createActorHarness({ store, putConnection: async (a, e) => { await connections.saveConnection(a, e); }, clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  t.teardown(() => h.close());
  const erin: AccountKey = { userUid: 'canary-erin', exchange: 'simulated' };
  await h.addAccount(erin);
  const result = await h.supervisor.sync(erin, 'incremental');
  t.true(result.fillsIngested > 3);
  const fills = await store.loadFills(erin, 0);
  const flows = await store.loadCashFlows(erin, 0);
  const canaries = new Set<string>();
  for (const f of fills) for (const s of [f.exchangeTradeId, f.quantity, f.price, f.fee, f.symbol, f.baseAsset, f.quoteAsset]) canaries.add(s);
  for (const c of flows) for (const s of [c.exchangeFlowId, c.amount, c.asset]) canaries.add(s);
  // Short all-digit strings could occur by chance in hex: every canary here has a letter, a dot or a dash.
  const usable = [...canaries].filter((s) => /[^0-9a-f]/u.test(s) && s.length >= 3);
  t.true(usable.length >= 10, 'enough canaries');
  // Every table but public market data and the migration log, every column, as text.
  const tables = await db().pool.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('price_candles', 'schema_migrations')`);
  t.true(tables.includes('sealed_pages') && tables.includes('trades'));
  let dump = '';
  for (const table of tables) {
    // The other tests of this file write their own accounts concurrently: this account's rows only.
    const rows = await db().pool.anyFirst(sql.type(z.object({ row: z.string() }))`
      SELECT t::text AS row FROM ${sql.identifier([table])} AS t WHERE to_jsonb(t) ->> 'user_uid' = ${erin.userUid}`);
    dump += rows.join('\n');
  }
  t.true(dump.includes('canary-erin'), 'the dump holds the account rows');
  for (const canary of usable) t.false(dump.includes(canary), `canary ${canary} found in the dump`);
  // The published tables do hold the account's figures (the dump is not empty by accident).
  t.true((await h.reads.returns(erin, 0, T0 + HOUR)).length > 0);
});

test('a plaintext fill written by hand next to a sealed account is refused, not sealed as genuine', async (t) => {
  const mallory: AccountKey = { userUid: 'hand-written', exchange: 'binance' };
  const store = await sealedStore();
  await store.commitFillsPage(mallory, [fill('h-1', T0)], 'c');
  // The attack: "buy 1 BTC @ $1" inserted into the legacy table.
  await createAccountStore(db().pool).commitFillsPage(mallory, [{ ...fill('forged', T0 + 1), quantity: '1', price: '1' }], 'c');
  // The next process to load the account (a fresh sealed store) finds it.
  const next = await sealedStore();
  await t.throwsAsync(next.loadFills(mallory, 0), { instanceOf: TamperDetectedError });
  await t.throwsAsync(next.loadCursor(mallory, 'fills'), { instanceOf: TamperDetectedError });
  const n = await db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM trades WHERE user_uid = 'hand-written'`);
  t.is(n, 1, 'the evidence stays where it was');
});

const boxRow = z.object({ keyId: z.number(), iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) });
interface Tail { olderMax: number | null; recent: number[]; indexSum: string }
type OpenedRecord = Record<string, unknown> & { fills: { tail?: Tail }; cash_flows: { tail?: Tail } };
/** The account record as the enclave sees it (opened with the test's keys). */
async function openRecord(s: AccountSealer, account: AccountKey): Promise<OpenedRecord> {
  const row = await db().pool.one(sql.type(boxRow)`
    SELECT key_id::int AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} AND kind = 'account'`);
  return JSON.parse(s.open({ account, table: 'account', seq: 0 }, row).toString('utf8')) as OpenedRecord;
}

test('a load from a time answers what a full load filtered by time answers, past the pages the record lists one by one', async (t) => {
  const s = await sealer();
  const store = createAccountStore(db().pool, { sealed: createSealedStore(s) });
  const carol: AccountKey = { userUid: 'tail', exchange: 'binance' };
  // 70 pages (more than the 64 the record lists one by one), one per hour, two fills each; page 40
  // also brings a late fill from hour 3, so a later page holds an older row than earlier pages.
  for (let p = 0; p < 70; p++) {
    const page = [fill(`f-${p}-a`, T0 + p * HOUR), fill(`f-${p}-b`, T0 + p * HOUR + 1_000)];
    if (p === 40) page.push(fill('late', T0 + 3 * HOUR + 5));
    await store.commitFillsPage(carol, page, `c-${p}`);
  }
  const all = await store.loadFills(carol, 0);
  t.is(all.length, 141);
  for (const from of [T0, T0 + 3 * HOUR, T0 + 3 * HOUR + 6, T0 + 5 * HOUR, T0 + 40 * HOUR, T0 + 41 * HOUR, T0 + 69 * HOUR + 1_000, T0 + 69 * HOUR + 1_001, T0 + 100 * HOUR]) {
    t.deepEqual(await store.loadFills(carol, from), all.filter((f) => f.executedAt >= from), `from hour ${(from - T0) / HOUR}`);
  }
  // Both streams in one statement answer what the two loads answer.
  await store.commitCashFlowsPage(carol, [flow('dep-1', T0 + 10 * HOUR), flow('dep-2', T0 + 50 * HOUR)], 'f-1');
  for (const from of [0, T0 + 20 * HOUR, T0 + 60 * HOUR]) {
    t.deepEqual(await store.loadRecords!(carol, from), { fills: await store.loadFills(carol, from), cashFlows: await store.loadCashFlows(carol, from) });
  }
  const { tail } = (await openRecord(s, carol)).fills;
  t.is(tail?.recent.length, 64);
  t.is(tail?.olderMax, T0 + 5 * HOUR + 1_000, 'the six pages no longer listed one by one: their latest row');
  t.is(tail?.recent[40 - 6], T0 + 40 * HOUR + 1_000);
  t.is(tail?.recent.at(-1), T0 + 69 * HOUR + 1_000);
});

test('an account record written before the tail loads the same, gets its tail at the next page commit, and a substituted index is still found', async (t) => {
  const s = await sealer();
  const store = createAccountStore(db().pool, { sealed: createSealedStore(s) });
  const dave: AccountKey = { userUid: 'pre-tail', exchange: 'binance' };
  await store.commitFillsPage(dave, [fill('a', T0), fill('b', T0 + HOUR)], 'c1');
  await store.commitFillsPage(dave, [fill('c', T0 + 2 * HOUR)], 'c2');
  await store.commitCashFlowsPage(dave, [flow('d', T0)], 'f1');
  // The record as the code before the tail wrote it: the same record without `tail`, sealed again.
  const record = await openRecord(s, dave);
  for (const stream of ['fills', 'cash_flows'] as const) delete record[stream].tail;
  const box = s.seal({ account: dave, table: 'account', seq: 0 }, Buffer.from(JSON.stringify(record), 'utf8'));
  await db().pool.query(sql.unsafe`UPDATE sealed_records SET iv = ${sql.binary(box.iv)}, tag = ${sql.binary(box.tag)}, ciphertext = ${sql.binary(box.ciphertext)}
    WHERE user_uid = 'pre-tail' AND kind = 'account'`);
  const fresh = createAccountStore(db().pool, { sealed: createSealedStore(s) });
  t.deepEqual((await fresh.loadFills(dave, T0 + HOUR)).map((f) => f.exchangeTradeId), ['b', 'c']);
  t.deepEqual(await fresh.commitFillsPage(dave, [fill('e', T0 + 3 * HOUR), fill('a', T0)], 'c3'), { inserted: 1 });
  const { tail } = (await openRecord(s, dave)).fills;
  t.deepEqual(tail?.recent, [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
  t.is(tail?.olderMax, null);
  t.is((await openRecord(s, dave)).cash_flows.tail, undefined, 'the other stream gets its tail at its own next commit');
  t.deepEqual((await fresh.loadFills(dave, T0 + 2 * HOUR)).map((f) => f.exchangeTradeId), ['c', 'e']);
  t.deepEqual((await fresh.loadCashFlows(dave, 0)).map((c) => c.exchangeFlowId), ['d']);
  // A substituted blind index (same count; of either stream) fails a load: summed (fills, with its
  // tail now) or checked row by row (cash flows, still without).
  await db().pool.query(sql.unsafe`
    UPDATE sealed_index SET blind_index = substring(sha256(random()::text::bytea) FROM 1 FOR 16)
    WHERE user_uid = 'pre-tail' AND blind_index = (SELECT blind_index FROM sealed_index WHERE user_uid = 'pre-tail' ORDER BY blind_index LIMIT 1)`);
  await t.throwsAsync(fresh.loadFills(dave, T0 + 3 * HOUR).then(() => fresh.loadCashFlows(dave, T0)), { instanceOf: TamperDetectedError });
});

test('an account whose blind indexes are HMACs (written before version 2) keeps them: a re-sent page is still deduped, new rows get HMACs too', async (t) => {
  const s = await sealer();
  // The store as the code before issue 19 wrote: HMAC indexes whatever version is asked for, and a
  // record without `indexVersion`.
  const hmacOnly: AccountSealer = { ...s, blindIndexes: (account, keyId, stream, ids) => s.blindIndexes(account, keyId, stream, ids, 1) };
  const old = createAccountStore(db().pool, { sealed: createSealedStore(hmacOnly) });
  const erin: AccountKey = { userUid: 'hmac-indexed', exchange: 'binance' };
  const page = [fill('h-1', T0), fill('h-2', T0 + 1_000), fill('h-3', T0 + 2_000)];
  t.deepEqual(await old.commitFillsPage(erin, page, 'c1'), { inserted: 3 });
  t.deepEqual(await old.commitCashFlowsPage(erin, [flow('w-1', T0)], 'f1'), { inserted: 1 });
  const record = await openRecord(s, erin);
  delete record.indexVersion;
  // Cash flows as a record from before the tail too: their load then checks the exact HMAC set.
  delete record.cash_flows.tail;
  const box = s.seal({ account: erin, table: 'account', seq: 0 }, Buffer.from(JSON.stringify(record), 'utf8'));
  await db().pool.query(sql.unsafe`UPDATE sealed_records SET iv = ${sql.binary(box.iv)}, tag = ${sql.binary(box.tag)}, ciphertext = ${sql.binary(box.ciphertext)}
    WHERE user_uid = 'hmac-indexed' AND kind = 'account'`);

  const current = createAccountStore(db().pool, { sealed: createSealedStore(s) });
  t.deepEqual(await current.commitFillsPage(erin, page, 'c2'), { inserted: 0 }, 'the re-sent page is recognised');
  t.deepEqual(await current.commitFillsPage(erin, [fill('h-2', T0 + 1_000), fill('h-4', T0 + 3_000)], 'c3'), { inserted: 1 });
  t.deepEqual(await current.commitCashFlowsPage(erin, [flow('w-1', T0), flow('w-2', T0 + 1)], 'f2'), { inserted: 1 });
  t.deepEqual((await current.loadFills(erin, 0)).map((f) => f.exchangeTradeId), ['h-1', 'h-2', 'h-3', 'h-4']);
  t.deepEqual((await current.loadCashFlows(erin, 0)).map((c) => c.exchangeFlowId), ['w-1', 'w-2']);
  const stored = await db().pool.anyFirst(sql.type(z.object({ b: z.instanceof(Buffer) }))`
    SELECT blind_index AS b FROM sealed_index WHERE user_uid = 'hmac-indexed' AND stream = 'fills'`);
  const hmacs = s.blindIndexes(erin, 1, 'fills', ['h-1', 'h-2', 'h-3', 'h-4'], 1);
  t.deepEqual(stored.map((b) => b.toString('hex')).sort(), [0, 1, 2, 3].map((i) => hmacs.subarray(i * 16, (i + 1) * 16).toString('hex')).sort());
  t.is((await openRecord(s, erin)).indexVersion, undefined, 'the record still says HMAC');

  // A new account's indexes are version 2, and its record says so.
  const frank: AccountKey = { userUid: 'cbc-mac-indexed', exchange: 'binance' };
  t.deepEqual(await current.commitFillsPage(frank, [fill('h-1', T0)], 'c1'), { inserted: 1 });
  t.is((await openRecord(s, frank)).indexVersion, 2);
  const own = await db().pool.oneFirst(sql.type(z.object({ b: z.instanceof(Buffer) }))`
    SELECT blind_index AS b FROM sealed_index WHERE user_uid = 'cbc-mac-indexed'`);
  t.deepEqual(own, s.blindIndexes(frank, 1, 'fills', ['h-1'], 2));
  t.deepEqual(await current.commitFillsPage(frank, [fill('h-1', T0)], 'c2'), { inserted: 0 });
});
