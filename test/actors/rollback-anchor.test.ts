// Whole-account rollback across a restart (docs/sealed-storage.md "Whole-account rollback"): the
// write counters of each account's sealed records are anchored at the key broker over the attested
// channel. A database administrator who restores an account's rows (pages, indexes, records and the
// sealed amounts) to an older consistent state while the service is down is caught by the next
// process: it fetches the anchors at start and refuses the older records (parked `tamper`, alert
// counted). Real pieces: the development broker over HTTPS with a test AMD chain and a guest
// reporting through configfs-tsm (testkit/attestation), the actor runtime, PostgreSQL.
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { sql } from 'slonik';
import { createRollbackAnchorClient, type RollbackAnchorClient } from '../../src/attestation/rollback-anchor-client.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { TamperDetectedError } from '../../src/storage/errors.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createRollbackAnchors, type RollbackAnchors } from '../../src/storage/rollback-anchors.js';
import { createSealedAmounts } from '../../src/storage/sealed-amounts.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { startTestBroker, startTestGuest, type TestBroker } from '../../testkit/attestation/test-broker.js';
import type { FakeConfigfs } from '../../testkit/attestation/fake-configfs.js';
import { createActorHarness, type ActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const HOST_DATA = createHash('sha256').update('approved configuration').digest();
const db = useTestDatabase(test);
const keys = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });
const pseudonymKey = createSecretKey(randomBytes(32));
const ACCOUNT_TABLES = ['sealed_pages', 'sealed_index', 'sealed_records', 'hourly_amounts', 'snapshot_amounts'] as const;

interface Process {
  readonly h: ActorHarness;
  readonly anchors: RollbackAnchors;
  readonly client: RollbackAnchorClient;
}

/** What one start of the service does: attest to the broker, fetch the anchors, wire the sealed stores on them. */
async function start(t: ExecutionContext, broker: TestBroker, guest: FakeConfigfs, clock: ManualClock, withAnchors = true): Promise<Process> {
  const derived = await keys;
  const client = createRollbackAnchorClient({ brokerUrl: broker.broker.url, brokerCertSha256: broker.broker.certSha256 ?? '', tsm: { root: guest.root }, expectedHostData: HOST_DATA });
  const anchors = createRollbackAnchors(pseudonymKey);
  if (withAnchors) anchors.load(await client.fetch());
  const sealer = createAccountSealer({ currentId: 1, accountDataKey: (a, id) => derived.accountDataKey(a, id) });
  const options = withAnchors ? { anchors } : {};
  const store = createAccountStore(db().pool, { sealed: createSealedStore(sealer, options), amounts: createSealedAmounts(sealer, options) });
  const connections = createConnectionRepository(db().pool);
  const h = createActorHarness({ store, putConnection: async (a, e) => { await connections.saveConnection(a, e); }, clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  t.teardown(() => h.close());
  return { h, anchors, client };
}

const run = (statement: ReturnType<typeof sql.unsafe>) => db().pool.query(statement);
async function tamperCount(h: ActorHarness): Promise<number> {
  return (await h.registry.getSingleMetric('enclave_tamper_detected_total')?.get())?.values[0]?.value ?? 0;
}

async function brokerAndGuest(t: ExecutionContext): Promise<{ broker: TestBroker; guest: FakeConfigfs; anchorFile: string }> {
  const anchorFile = path.join(mkdtempSync(path.join(tmpdir(), 'anchors-')), 'anchors.json');
  const broker = await startTestBroker(HOST_DATA, {}, { anchorFile });
  const guest = await startTestGuest(broker.chain, { hostData: HOST_DATA });
  t.teardown(async () => {
    await guest.stop();
    await broker.close();
  });
  return { broker, guest, anchorFile };
}

/** Sync, snapshot the account's rows, sync more (anchors pushed), stop; restore the old rows. */
async function rolledBack(t: ExecutionContext, userUid: string, broker: TestBroker, guest: FakeConfigfs, clock: ManualClock): Promise<AccountKey> {
  const account: AccountKey = { userUid, exchange: 'simulated' };
  const first = await start(t, broker, guest, clock);
  await first.h.addAccount(account);
  t.true((await first.h.supervisor.sync(account, 'incremental')).hourlyReturnsWritten > 0);
  await first.client.push(first.anchors.take());
  for (const table of ACCOUNT_TABLES) {
    await run(sql.unsafe`CREATE TABLE ${sql.identifier([`old_${userUid}_${table}`])} AS SELECT * FROM ${sql.identifier([table])} WHERE user_uid = ${userUid}`);
  }
  clock.advance(5 * HOUR);
  t.true((await first.h.supervisor.sync(account, 'incremental')).hourlyReturnsWritten > 0);
  // The service's flush: one push with every record that moved.
  const pushed = first.anchors.take();
  t.true(pushed.raise.size >= 2, 'the account and amounts records moved');
  await first.client.push(pushed);
  await first.h.close();
  for (const table of ACCOUNT_TABLES) {
    await run(sql.unsafe`DELETE FROM ${sql.identifier([table])} WHERE user_uid = ${userUid}`);
    await run(sql.unsafe`INSERT INTO ${sql.identifier([table])} SELECT * FROM ${sql.identifier([`old_${userUid}_${table}`])}`);
  }
  clock.advance(HOUR);
  return account;
}

test('an account restored to an older consistent state while the service was down is refused after the restart', async (t) => {
  const { broker, guest, anchorFile } = await brokerAndGuest(t);
  const clock = new ManualClock(T0);
  const account = await rolledBack(t, 'rollback-restart', broker, guest, clock);
  // The broker kept the counters (under pseudonymous labels: no account id in its file).
  const kept = readFileSync(anchorFile, 'utf8');
  t.false(kept.includes('rollback-restart'));
  t.true(Object.keys(JSON.parse(kept) as object).length >= 2);
  const second = await start(t, broker, guest, clock);
  await t.throwsAsync(second.h.supervisor.sync(account, 'incremental'));
  for (let i = 0; i < 200 && second.h.supervisor.parkedReason(account) === null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  t.is(second.h.supervisor.parkedReason(account), 'tamper');
  t.is(await tamperCount(second.h), 1, 'the operator alert metric counted it');
  // The exact amounts' record was rolled back too: a reader of the amounts alone refuses it.
  const derived = await keys;
  const sealer = createAccountSealer({ currentId: 1, accountDataKey: (a, id) => derived.accountDataKey(a, id) });
  const reader = createAccountStore(db().pool, { sealed: createSealedStore(sealer), amounts: createSealedAmounts(sealer, { anchors: second.anchors }) });
  await t.throwsAsync(reader.loadHourlyReturns(account, 0, T0 + 10 * HOUR), { instanceOf: TamperDetectedError, message: /amounts record was rolled back/u });
});

test('control: without the anchors the same restored state is accepted (what the anchors add)', async (t) => {
  const { broker, guest } = await brokerAndGuest(t);
  const clock = new ManualClock(T0);
  const account = await rolledBack(t, 'rollback-control', broker, guest, clock);
  const second = await start(t, broker, guest, clock, false);
  t.true((await second.h.supervisor.sync(account, 'incremental')).hourlyReturnsWritten >= 0);
  t.is(second.h.supervisor.parkedReason(account), null);
  t.is(await tamperCount(second.h), 0);
});

test('the broker keeps anchors monotonic, only for attested sessions, and across its own restart', async (t) => {
  const { broker, guest, anchorFile } = await brokerAndGuest(t);
  const client = createRollbackAnchorClient({ brokerUrl: broker.broker.url, brokerCertSha256: broker.broker.certSha256 ?? '', tsm: { root: guest.root }, expectedHostData: HOST_DATA });
  const label = 'ab'.repeat(32);
  await client.push({ reset: new Set(), raise: new Map([[label, 7]]) });
  await client.push({ reset: new Set(), raise: new Map([[label, 3]]) });
  t.is((await client.fetch()).get(label), 7, 'a lower counter does not lower it');
  // Anonymous (no attested session): refused, for reading and for raising.
  for (const method of ['GET', 'POST']) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/kbs/v0/anchors', broker.broker.url), { method, rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(method === 'POST' ? JSON.stringify({ reset: [label], raise: {} }) : undefined);
    });
    t.is(status, 401, method);
  }
  t.deepEqual(JSON.parse(readFileSync(anchorFile, 'utf8')), { [label]: 7 });
  // A restarted broker on the same file still holds it.
  const restarted = await startTestBroker(HOST_DATA, {}, { anchorFile });
  const restartedGuest = await startTestGuest(restarted.chain, { hostData: HOST_DATA });
  t.teardown(async () => {
    await restartedGuest.stop();
    await restarted.close();
  });
  const again = createRollbackAnchorClient({ brokerUrl: restarted.broker.url, brokerCertSha256: restarted.broker.certSha256 ?? '', tsm: { root: restartedGuest.root }, expectedHostData: HOST_DATA });
  t.is((await again.fetch()).get(label), 7);
  await again.push({ reset: new Set([label]), raise: new Map() });
  t.is((await again.fetch()).get(label), undefined, 'an attested enclave resets a removed account');
});
