// Tampering with sealed storage, as a database administrator would, between two syncs of the real
// account actor (supervisor, simulated venue, real engine, a throw-away PostgreSQL database). Every
// case must end the same way: the sync fails, the account is parked with reason `tamper`, nothing
// new is published for it, and enclave_tamper_detected_total counts it.
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { sql } from 'slonik';
import { z } from 'zod';
import { AccountFailedError } from '../../src/actors/errors.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { createActorHarness, type ActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);
const keys = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });

interface Setup {
  readonly h: ActorHarness;
  readonly clock: ManualClock;
  readonly accounts: readonly AccountKey[];
}

/** A harness on the sealed store, `users` registered and synced once, then passivated (as between hourly syncs). */
/** A harness on a fresh sealed store: what a new process of the service would run. */
async function harnessOn(t: ExecutionContext, clock: ManualClock): Promise<ActorHarness> {
  const derived = await keys;
  const sealed = createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (a, id) => derived.accountDataKey(a, id) }));
  const store = createAccountStore(db().pool, { sealed });
  const connections = createConnectionRepository(db().pool);
  const h = createActorHarness({ store, putConnection: async (a, e) => { await connections.saveConnection(a, e); }, clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  t.teardown(() => h.close());
  return h;
}

async function setup(t: ExecutionContext, users: readonly string[]): Promise<Setup> {
  const clock = new ManualClock(T0);
  const h = await harnessOn(t, clock);
  const accounts = users.map((userUid): AccountKey => ({ userUid, exchange: 'simulated' }));
  for (const account of accounts) {
    await h.addAccount(account);
    const first = await h.supervisor.sync(account, 'incremental');
    t.true(first.fillsIngested > 3 && first.hourlyReturnsWritten > 0, 'the first sync stored fills and published hours');
    await h.passivate(account);
  }
  clock.advance(5 * HOUR);
  return { h, clock, accounts };
}

const count = z.object({ n: z.number() });
async function published(account: AccountKey): Promise<number> {
  return db().pool.oneFirst(sql.type(count)`SELECT count(*)::int AS n FROM hourly_returns WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
}

async function tamperCount(h: ActorHarness): Promise<number> {
  const metric = await h.registry.getSingleMetric('enclave_tamper_detected_total')?.get();
  return metric?.values[0]?.value ?? 0;
}

async function run(statement: ReturnType<typeof sql.unsafe>): Promise<number> {
  return (await db().pool.query(statement)).rowCount;
}

/** Syncs after the tampering: refused, parked `tamper`, nothing new published, the alert counted. */
async function assertDetected(t: ExecutionContext, h: ActorHarness, account: AccountKey, alertsBefore = 0): Promise<void> {
  const before = await published(account);
  await t.throwsAsync(h.supervisor.sync(account, 'incremental'));
  // The supervisor parks on the crash that follows the reply: wait for it (bounded).
  for (let i = 0; i < 200 && h.supervisor.parkedReason(account) === null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  t.is(h.supervisor.parkedReason(account), 'tamper');
  t.is(await published(account), before, 'nothing new published');
  t.is(await tamperCount(h), alertsBefore + 1, 'the operator alert metric counted it');
  // Never re-synced over the top: the next request is refused, storage says failed/tamper.
  await t.throwsAsync(h.supervisor.sync(account, 'incremental'), { instanceOf: AccountFailedError });
  // The supervisor stores the parked status without blocking the crash decision: wait for it (bounded).
  const storedReason = () => db().pool.oneFirst(sql.type(z.object({ reason: z.string().nullable() }))`
    SELECT parked_reason AS reason FROM exchange_connections WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  let stored = await storedReason();
  for (let i = 0; i < 200 && stored === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    stored = await storedReason();
  }
  t.is(stored, 'tamper');
}

test('control: without tampering the second sync publishes new hours', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['control']);
  const before = await published(a!);
  const second = await h.supervisor.sync(a!, 'incremental');
  t.true(second.hourlyReturnsWritten > 0);
  t.true(await published(a!) > before);
  t.is(await tamperCount(h), 0);
  t.is(h.supervisor.parkedReason(a!), null);
});

type Fragment = ReturnType<typeof sql.fragment>;
/** XORs the first byte of `column` in the rows of `table` that `where` selects. */
const flipFirstByte = (table: string, column: string, where: Fragment) => sql.unsafe`
  UPDATE ${sql.identifier([table])} SET ${sql.identifier([column])} = set_byte(${sql.identifier([column])}, 0, get_byte(${sql.identifier([column])}, 0) # 1)
  WHERE ${where}`;

for (const [name, user, table, column, where] of [
  ['a fills page', 'edit-fills-page', 'sealed_pages', 'ciphertext', sql.fragment`user_uid = 'edit-fills-page' AND stream = 'fills' AND seq = 0`],
  ['a cash flows page', 'edit-flows-page', 'sealed_pages', 'ciphertext', sql.fragment`user_uid = 'edit-flows-page' AND stream = 'cash_flows' AND seq = 0`],
  ['the account record', 'edit-account-record', 'sealed_records', 'ciphertext', sql.fragment`user_uid = 'edit-account-record' AND kind = 'account'`],
  ['the engine record', 'edit-engine-record', 'sealed_records', 'ciphertext', sql.fragment`user_uid = 'edit-engine-record' AND kind = 'engine'`],
  ['a page tag', 'edit-tag', 'sealed_pages', 'tag', sql.fragment`user_uid = 'edit-tag' AND stream = 'fills' AND seq = 1`],
  ['a blind index', 'edit-index', 'sealed_index', 'blind_index',
    sql.fragment`user_uid = 'edit-index' AND blind_index = (SELECT blind_index FROM sealed_index WHERE user_uid = 'edit-index' ORDER BY blind_index LIMIT 1)`],
] as const) {
  test(`editing one byte of ${name} is detected`, async (t) => {
    const { h, accounts: [a] } = await setup(t, [user]);
    t.is(await run(flipFirstByte(table, column, where)), 1);
    await assertDetected(t, h, a!);
  });
}

test('a fills page swapped between two accounts is detected', async (t) => {
  const { h, accounts: [a, b] } = await setup(t, ['swap-page-a', 'swap-page-b']);
  t.is(await run(sql.unsafe`
    UPDATE sealed_pages p SET key_id = q.key_id, iv = q.iv, tag = q.tag, ciphertext = q.ciphertext
    FROM sealed_pages q WHERE p.user_uid = 'swap-page-a' AND q.user_uid = 'swap-page-b' AND p.stream = 'fills' AND q.stream = 'fills' AND p.seq = 0 AND q.seq = 0`), 1);
  await assertDetected(t, h, a!);
  t.truthy(b);
});

test('the account records of two accounts swapped is detected', async (t) => {
  const { h, accounts: [a, b] } = await setup(t, ['swap-rec-a', 'swap-rec-b']);
  t.is(await run(sql.unsafe`
    UPDATE sealed_records r SET key_id = s.key_id, iv = s.iv, tag = s.tag, ciphertext = s.ciphertext
    FROM sealed_records s WHERE r.kind = 'account' AND s.kind = 'account'
      AND ((r.user_uid = 'swap-rec-a' AND s.user_uid = 'swap-rec-b') OR (r.user_uid = 'swap-rec-b' AND s.user_uid = 'swap-rec-a'))`), 2);
  await assertDetected(t, h, a!);
  await assertDetected(t, h, b!, 1);
});

test('a deleted page is detected', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['delete-page']);
  t.is(await run(sql.unsafe`
    DELETE FROM sealed_pages WHERE user_uid = 'delete-page' AND stream = 'fills'
      AND seq = (SELECT max(seq) FROM sealed_pages WHERE user_uid = 'delete-page' AND stream = 'fills')`), 1);
  await assertDetected(t, h, a!);
});

test('a deleted page with its blind indexes is detected (the record keeps the counts)', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['delete-all-cf']);
  t.true(await run(sql.unsafe`DELETE FROM sealed_index WHERE user_uid = 'delete-all-cf' AND stream = 'cash_flows'`) > 0);
  t.is(await run(sql.unsafe`DELETE FROM sealed_pages WHERE user_uid = 'delete-all-cf' AND stream = 'cash_flows'`), 1);
  await assertDetected(t, h, a!);
});

test('replaying an older row set (pages and blind indexes restored from an earlier snapshot) is detected', async (t) => {
  const { h, clock, accounts: [a] } = await setup(t, ['replay']);
  await run(sql.unsafe`CREATE TABLE snap_replay_pages AS SELECT * FROM sealed_pages WHERE user_uid = 'replay'`);
  await run(sql.unsafe`CREATE TABLE snap_replay_index AS SELECT * FROM sealed_index WHERE user_uid = 'replay'`);
  const second = await h.supervisor.sync(a!, 'incremental');
  t.true(second.fillsIngested > 0, 'the second sync stored new pages');
  await h.passivate(a!);
  clock.advance(3 * HOUR);
  await run(sql.unsafe`DELETE FROM sealed_pages WHERE user_uid = 'replay'`);
  await run(sql.unsafe`DELETE FROM sealed_index WHERE user_uid = 'replay'`);
  await run(sql.unsafe`INSERT INTO sealed_pages SELECT * FROM snap_replay_pages`);
  await run(sql.unsafe`INSERT INTO sealed_index SELECT * FROM snap_replay_index`);
  await assertDetected(t, h, a!);
});

test('replaying the whole account (records too) is detected while the process remembers a newer record', async (t) => {
  const { h, clock, accounts: [a] } = await setup(t, ['replay-all']);
  for (const table of ['sealed_pages', 'sealed_index', 'sealed_records']) {
    await run(sql.unsafe`CREATE TABLE ${sql.identifier([`snap_all_${table}`])} AS SELECT * FROM ${sql.identifier([table])} WHERE user_uid = 'replay-all'`);
  }
  await h.supervisor.sync(a!, 'incremental');
  await h.passivate(a!);
  clock.advance(3 * HOUR);
  for (const table of ['sealed_pages', 'sealed_index', 'sealed_records']) {
    await run(sql.unsafe`DELETE FROM ${sql.identifier([table])} WHERE user_uid = 'replay-all'`);
    await run(sql.unsafe`INSERT INTO ${sql.identifier([table])} SELECT * FROM ${sql.identifier([`snap_all_${table}`])}`);
  }
  await assertDetected(t, h, a!);
});

test('a forged page inserted at the next sequence number is detected', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['forged-page']);
  t.is(await run(sql.unsafe`
    INSERT INTO sealed_pages (user_uid, exchange, stream, seq, key_id, iv, tag, ciphertext)
    SELECT user_uid, exchange, stream, max(seq) + 1, 1, substring(sha256(random()::text::bytea) FROM 1 FOR 12), substring(sha256(random()::text::bytea) FROM 1 FOR 16), sha256(random()::text::bytea) || sha256(random()::text::bytea)
    FROM sealed_pages WHERE user_uid = 'forged-page' AND stream = 'fills' GROUP BY user_uid, exchange, stream`), 1);
  await assertDetected(t, h, a!);
});

test('a forged blind index inserted is detected', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['forged-index']);
  t.is(await run(sql.unsafe`INSERT INTO sealed_index (user_uid, exchange, stream, blind_index) VALUES ('forged-index', 'simulated', 'fills', substring(sha256(random()::text::bytea) FROM 1 FOR 16))`), 1);
  await assertDetected(t, h, a!);
});

test('a blind index substituted (one deleted, a forged one inserted: same count) is detected', async (t) => {
  const { h, accounts: [a] } = await setup(t, ['swap-index']);
  t.is(await run(sql.unsafe`
    UPDATE sealed_index SET blind_index = substring(sha256(random()::text::bytea) FROM 1 FOR 16)
    WHERE user_uid = 'swap-index' AND blind_index = (SELECT blind_index FROM sealed_index WHERE user_uid = 'swap-index' AND stream = 'fills' ORDER BY blind_index DESC LIMIT 1)`), 1);
  await assertDetected(t, h, a!);
});

test('a plaintext fill inserted by hand into the legacy table of a sealed account is detected by the next process', async (t) => {
  const { clock, accounts: [a] } = await setup(t, ['hand-inserted']);
  // The issue's attack: one "buy 1 BTC @ $1" row in trades, then a sync.
  t.is(await run(sql.unsafe`
    INSERT INTO trades (user_uid, exchange, exchange_trade_id, symbol, base_asset, quote_asset, side, quantity, price, fee, fee_asset, executed_at)
    VALUES ('hand-inserted', 'simulated', 'forged-1', 'BTC/USDT', 'BTC', 'USDT', 'buy', 1, 1, 0, 'USDT', now() - interval '1 day')`), 1);
  const restarted = await harnessOn(t, clock);
  await assertDetected(t, restarted, a!);
});
