// Exact amounts sealed at rest (sql/016, src/storage/sealed-amounts.ts) on a real throw-away
// PostgreSQL database: the exact equity, flows and balances round-trip but are ciphertext to the
// database; a level change republishes them from the sealed copy; the plaintext rows of before
// migration 016 are sealed at the first load; editing, moving, deleting, replaying or inserting a
// row is TamperDetectedError.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { countStatements } from '../../testkit/support/statement-count.js';
import { sql } from 'slonik';
import { z } from 'zod';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createDisclosureStore } from '../../src/storage/disclosure-store.js';
import { TamperDetectedError } from '../../src/storage/errors.js';
import { createSealedAmounts, type SealedAmounts } from '../../src/storage/sealed-amounts.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const h = (n: number) => Date.UTC(2026, 3, 1, n);
// Figures with many digits: any of them in a row's text would be a leak.
const EQUITY = [10_234.567891, 10_499.123457, 9_876.543219];
const FLOWS = [0, 1_234.987654, -321.456789];
const SNAPSHOT = { at: h(3), balance: 4_321.918273, equity: 9_876.543219 };

const keysPromise = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
/** A store as one service process wires it: private rows and amounts sealed, one amounts instance shared with the disclosure store. */
async function processStores(): Promise<{ store: AccountStore; amounts: SealedAmounts }> {
  const keys = await keysPromise;
  const sealed = createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (account, id) => keys.accountDataKey(account, id) }));
  const amounts = createSealedAmounts(sealed.sealer);
  return { store: createAccountStore(db().pool, { sealed, amounts }), amounts };
}

const hour = (n: number, r = 0.01 * (n + 1)): HourlyReturn => ({ hourStart: h(n), return: r, cumulativeReturn: r, equityEnd: EQUITY[n]!, netFlow: FLOWS[n]! });

async function seeded(userUid: string, store: AccountStore): Promise<AccountKey> {
  const account: AccountKey = { userUid, exchange: 'binance' };
  await createConnectionRepository(db().pool).saveConnection(account, Buffer.alloc(64, 1), 'active', false);
  await store.saveAggregates(account, { hourlyReturns: [hour(0), hour(1), hour(2)], snapshot: SNAPSHOT, engineState: { v: 1 }, performance: null });
  return account;
}

const rowsText = async (userUid: string): Promise<string> =>
  (await db().pool.anyFirst(sql.type(z.object({ row: z.string() }))`
    SELECT t::text AS row FROM hourly_amounts t WHERE user_uid = ${userUid}
    UNION ALL SELECT t::text FROM snapshot_amounts t WHERE user_uid = ${userUid}`)).join('\n');
const exec = (statement: ReturnType<typeof sql.unsafe>) => db().pool.query(statement);

test('exact amounts round-trip but the database holds only ciphertext', async (t) => {
  const { store } = await processStores();
  const account = await seeded('amounts-round-trip', store);
  t.deepEqual(await store.loadHourlyReturns(account, h(0), h(10)), [hour(0), hour(1), hour(2)]);
  t.deepEqual(await store.loadSnapshots(account, 0, h(10)), [SNAPSHOT]);
  // A second process (fresh instances, same keys) reads the same.
  const other = (await processStores()).store;
  t.deepEqual(await other.loadHourlyReturns(account, h(1), h(2)), [hour(1)]);
  const text = await rowsText(account.userUid);
  t.is(text.split('\n').length, 4);
  for (const figure of [...EQUITY, ...FLOWS.slice(1), SNAPSHOT.balance]) t.false(text.includes(String(figure)), `${figure} in clear`);
  const plain = await db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT (SELECT count(*) FROM hourly_amounts WHERE user_uid = ${account.userUid} AND (equity_end IS NOT NULL OR net_flow IS NOT NULL OR ciphertext IS NULL))::int
         + (SELECT count(*) FROM snapshot_amounts WHERE user_uid = ${account.userUid} AND (balance IS NOT NULL OR equity IS NOT NULL OR ciphertext IS NULL))::int AS n`);
  t.is(plain, 0);
  // A recomputed hour replaces its box (and its place in the record's sum).
  await store.saveAggregates(account, { hourlyReturns: [{ ...hour(1), equityEnd: 11_111.5 }], snapshot: null, engineState: { v: 2 }, performance: null });
  t.is((await other.loadHourlyReturns(account, h(0), h(10)))[1]?.equityEnd, 11_111.5);
});

test('a level change returns → full republishes the exact figures from the sealed copy', async (t) => {
  const { store, amounts } = await processStores();
  const account = await seeded('amounts-level', store);
  const published = async () => db().pool.any(sql.type(z.object({ equity: z.number().nullable(), flow: z.number().nullable() }))`
    SELECT equity_end AS equity, net_flow AS flow FROM hourly_returns WHERE user_uid = ${account.userUid} ORDER BY hour_start`);
  t.deepEqual(await published(), EQUITY.map(() => ({ equity: null, flow: null })), 'the default level publishes no amount');
  const disclosure = createDisclosureStore(db().pool, amounts);
  t.true(await disclosure.setDisclosureLevel(account, 'full'));
  t.deepEqual(await published(), EQUITY.map((equity, i) => ({ equity, flow: FLOWS[i]! })));
  const snapshot = await db().pool.one(sql.type(z.object({ balance: z.number().nullable(), equity: z.number().nullable() }))`
    SELECT balance, equity FROM balance_snapshots WHERE user_uid = ${account.userUid}`);
  t.deepEqual(snapshot, { balance: SNAPSHOT.balance, equity: SNAPSHOT.equity });
  t.true(await disclosure.setDisclosureLevel(account, 'returns'));
  t.deepEqual(await published(), EQUITY.map(() => ({ equity: null, flow: null })));
});

test('plaintext amounts of before migration 016 are sealed at the first load, every figure kept', async (t) => {
  const legacy = createAccountStore(db().pool); // the plaintext layout
  const account = await seeded('amounts-legacy', legacy);
  t.true((await rowsText(account.userUid)).includes(String(EQUITY[1])), 'the legacy layout is plaintext');
  const { store } = await processStores();
  t.deepEqual(await store.loadHourlyReturns(account, h(0), h(10)), [hour(0), hour(1), hour(2)]);
  t.is((await store.loadPerformanceStats(account)), null);
  t.deepEqual(await store.loadSnapshots(account, 0, h(10)), [SNAPSHOT]);
  const text = await rowsText(account.userUid);
  for (const figure of [...EQUITY, SNAPSHOT.balance]) t.false(text.includes(String(figure)), `${figure} still in clear`);
  // A plaintext row appearing after that was not written by the service: refused.
  await exec(sql.unsafe`INSERT INTO hourly_amounts (user_uid, exchange, hour_start, equity_end, net_flow) VALUES (${account.userUid}, 'binance', ${new Date(h(7)).toISOString()}, 1, 0)`);
  await t.throwsAsync((await processStores()).store.loadHourlyReturns(account, h(0), h(10)), { instanceOf: TamperDetectedError });
});

const attacks: Record<string, (userUid: string) => ReturnType<typeof sql.unsafe>> = {
  'an edited ciphertext': (u) => sql.unsafe`UPDATE hourly_amounts SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE user_uid = ${u} AND hour_start = ${new Date(h(1)).toISOString()}`,
  'boxes swapped between two hours': (u) => sql.unsafe`
    UPDATE hourly_amounts a SET key_id = b.key_id, iv = b.iv, tag = b.tag, ciphertext = b.ciphertext
    FROM hourly_amounts b WHERE a.user_uid = ${u} AND b.user_uid = ${u}
      AND ((a.hour_start = ${new Date(h(0)).toISOString()} AND b.hour_start = ${new Date(h(1)).toISOString()})
        OR (a.hour_start = ${new Date(h(1)).toISOString()} AND b.hour_start = ${new Date(h(0)).toISOString()}))`,
  'a row deleted': (u) => sql.unsafe`DELETE FROM hourly_amounts WHERE user_uid = ${u} AND hour_start = ${new Date(h(2)).toISOString()}`,
  'a snapshot moved to another time': (u) => sql.unsafe`UPDATE snapshot_amounts SET at = at + interval '1 hour' WHERE user_uid = ${u}`,
  'a row copied in from another account': (u) => sql.unsafe`
    INSERT INTO hourly_amounts (user_uid, exchange, hour_start, key_id, iv, tag, ciphertext)
    SELECT ${u}, exchange, hour_start + interval '5 hours', key_id, iv, tag, ciphertext FROM hourly_amounts WHERE user_uid = ${`${u}-other`} LIMIT 1`,
};

for (const [name, attack] of Object.entries(attacks)) {
  test(`tamper: ${name} is detected`, async (t) => {
    const { store } = await processStores();
    const userUid = `amounts-${name.replaceAll(' ', '-')}`;
    const account = await seeded(userUid, store);
    await seeded(`${userUid}-other`, store);
    await exec(attack(userUid));
    // Both this process (it wrote them) and a fresh one refuse the rows.
    const fresh = (await processStores()).store;
    for (const reader of [store, fresh]) {
      const load = name.includes('snapshot') ? reader.loadSnapshots(account, 0, h(10)) : reader.loadHourlyReturns(account, h(0), h(10));
      await t.throwsAsync(load, { instanceOf: TamperDetectedError });
    }
  });
}

test('tamper: an older box of a recomputed hour replayed over the newer one is detected', async (t) => {
  const { store } = await processStores();
  const account = await seeded('amounts-replay', store);
  const old = await db().pool.one(sql.type(z.object({ iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) }))`
    SELECT iv, tag, ciphertext FROM hourly_amounts WHERE user_uid = ${account.userUid} AND hour_start = ${new Date(h(1)).toISOString()}::timestamptz`);
  await store.saveAggregates(account, { hourlyReturns: [{ ...hour(1), equityEnd: 99.5 }], snapshot: null, engineState: { v: 2 }, performance: null });
  await exec(sql.unsafe`UPDATE hourly_amounts SET iv = ${sql.binary(old.iv)}, tag = ${sql.binary(old.tag)}, ciphertext = ${sql.binary(old.ciphertext)}
    WHERE user_uid = ${account.userUid} AND hour_start = ${new Date(h(1)).toISOString()}`);
  await t.throwsAsync((await processStores()).store.loadHourlyReturns(account, h(0), h(10)), { instanceOf: TamperDetectedError });
  // A level change refuses to republish from a tampered copy.
  const { amounts } = await processStores();
  await t.throwsAsync(createDisclosureStore(db().pool, amounts).setDisclosureLevel(account, 'full'), { instanceOf: TamperDetectedError });
});

// Serial: the statement counter sees every query of the process.
test.serial('a range read checks the whole set again only when the record changed; a row replayed or deleted behind an unchanged record is still found', async (t) => {
  const { store } = await processStores();
  const account = await seeded('amounts-verified-set', store);
  const statements = countStatements;
  const read = () => store.loadHourlyReturns(account, h(0), h(10));
  const full = await statements(read);
  // Unchanged record: the range and the record only (no scan of every row's tag).
  t.true(await statements(read) < full);
  t.deepEqual(await read(), [hour(0), hour(1), hour(2)]);
  // A recomputed hour: the record changed, the set is checked again (and kept for the next read).
  const old = await db().pool.one(sql.type(z.object({ iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) }))`
    SELECT iv, tag, ciphertext FROM hourly_amounts WHERE user_uid = ${account.userUid} AND hour_start = ${new Date(h(1)).toISOString()}::timestamptz`);
  await store.saveAggregates(account, { hourlyReturns: [{ ...hour(1), equityEnd: 99.5 }], snapshot: null, engineState: { v: 2 }, performance: null });
  t.is(await statements(read), full);
  t.is((await read())[1]?.equityEnd, 99.5);
  // A new hour written by this process (one statement) extends the kept set: still no full check.
  const next: HourlyReturn = { hourStart: h(3), return: 0.04, cumulativeReturn: 0.04, equityEnd: 10_555.25, netFlow: 0 };
  await store.saveAggregates(account, { hourlyReturns: [next], snapshot: { ...SNAPSHOT, at: h(4) }, engineState: { v: 3 }, performance: null });
  t.true(await statements(read) < full);
  t.deepEqual((await read()).map((r) => r.equityEnd), [EQUITY[0], 99.5, EQUITY[2], 10_555.25]);
  t.deepEqual((await store.loadSnapshots(account, 0, h(10))).map((s) => s.at), [h(3), h(4)]);
  // The older box of the recomputed hour replayed: the same process (record unchanged) finds it.
  await exec(sql.unsafe`UPDATE hourly_amounts SET iv = ${sql.binary(old.iv)}, tag = ${sql.binary(old.tag)}, ciphertext = ${sql.binary(old.ciphertext)}
    WHERE user_uid = ${account.userUid} AND hour_start = ${new Date(h(1)).toISOString()}`);
  await t.throwsAsync(read(), { instanceOf: TamperDetectedError });
  await t.throwsAsync(store.loadHourlyReturns(account, h(1), h(2)), { instanceOf: TamperDetectedError });
  // A row deleted (its published hour stays): found too, and a snapshot deleted by the snapshot read.
  const other = await seeded('amounts-verified-set-delete', store);
  await store.loadHourlyReturns(other, h(0), h(10));
  await store.loadSnapshots(other, 0, h(10));
  await exec(sql.unsafe`DELETE FROM hourly_amounts WHERE user_uid = ${other.userUid} AND hour_start = ${new Date(h(2)).toISOString()}`);
  await t.throwsAsync(store.loadHourlyReturns(other, h(2), h(3)), { instanceOf: TamperDetectedError });
  const third = await seeded('amounts-verified-set-snapshot', store);
  await store.loadSnapshots(third, 0, h(10));
  await exec(sql.unsafe`UPDATE snapshot_amounts SET tag = set_byte(tag, 0, get_byte(tag, 0) # 1) WHERE user_uid = ${third.userUid}`);
  await t.throwsAsync(store.loadSnapshots(third, 0, h(10)), { instanceOf: TamperDetectedError });
});
