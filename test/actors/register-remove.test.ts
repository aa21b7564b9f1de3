// Register and Remove through the account's actor (issue 12): the actor alone opens the sealed
// credential, refusals leave it healthy and store nothing, a Register or a Remove during a sync
// cancels it (the generation fence refuses anything late), and a removed account is not found.
import test from 'ava';
import type { SyncResult } from '../../src/actors/account-actor.js';
import { AccountFailedError, AccountNotFoundError, ConnectionReplacedError } from '../../src/actors/errors.js';
import { decodeCredential } from '../../src/crypto/credential.js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import { WritableCredentialError } from '../../src/domain/errors.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { accountRowCounts, totalRows } from '../../testkit/support/account-rows.js';
import { createActorHarness, historyStart, sealForTest } from '../../testkit/support/actor-harness.js';
import { instrument, type Instrumented } from '../../testkit/support/connectors.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);
const NEW_SECRET = 'new-secret-5e1d0c';

let seq = 0;
const fresh = (name: string): AccountKey => { seq += 1; return { userUid: `${name}-${seq}`, exchange: 'simulated' }; };

const rowsOf = (account: AccountKey): Promise<Record<string, number>> => accountRowCounts(db().pool, account);

/** The simulated venue; keys named trading-… report trading rights (as the demo registry does). */
function venue(clock: { now(): number }) {
  return (account: AccountKey, credential: Buffer) => createSimulatedConnector(account, {
    seed: 7, clock, startMs: historyStart(T0), fillsPerHour: 0.5, pageSize: 5,
    rights: decodeCredential(credential).apiKey.startsWith('trading-') ? ['read', 'spot_trade'] : ['read'],
  });
}

const settled = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => undefined, (error: unknown) => error);

test('a Register for an account with no stored connection stores it, starts its actor and zeroes the plaintext', async (t) => {
  const alice = fresh('new');
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: venue(clock) });
  const reply = await h.supervisor.register(alice, await sealForTest(alice, { apiKey: 'read-key', secret: NEW_SECRET }));
  t.deepEqual(reply, { status: 'active', permissionsChecked: true });
  t.is(await h.store.connectionStatus(alice), 'active');
  t.is(h.supervisor.status(alice), 'alive', 'the actor started from the new row');
  t.is(h.openedCredentials.length, 1, 'one short-lived connector for the permission check');
  t.true(h.openedCredentials[0]?.every((byte) => byte === 0), 'the opened plaintext is zeroed');
  const synced = await h.supervisor.sync(alice, 'incremental');
  t.true(synced.fillsIngested > 0);
  t.true(h.openedCredentials[1]?.includes(NEW_SECRET), 'the sync opened the stored credential');
  t.false(h.logLines.join('\n').includes(NEW_SECRET));
  await h.close();
  t.true(h.openedCredentials.every((c) => c.every((byte) => byte === 0)));
});

test('refused Registers store nothing and leave the actor healthy: not a crash, same generation, syncs go on', async (t) => {
  const alice = fresh('refused');
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: venue(clock) });
  await h.addAccount(alice);
  await h.supervisor.sync(alice, 'incremental');
  const generation = (await h.store.loadConnection(alice))?.generation;
  const tampered = await sealForTest(alice, { apiKey: 'read-key', secret: NEW_SECRET });
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
  await t.throwsAsync(h.supervisor.register(alice, tampered), { instanceOf: SealedCredentialError });
  const otherAccount = await sealForTest(fresh('someone-else'), { apiKey: 'read-key', secret: NEW_SECRET });
  await t.throwsAsync(h.supervisor.register(alice, otherAccount), { instanceOf: SealedCredentialError });
  const trading = await t.throwsAsync(h.supervisor.register(alice, await sealForTest(alice, { apiKey: 'trading-key', secret: NEW_SECRET })), { instanceOf: WritableCredentialError });
  t.regex(trading.message, /trading rights/u);
  t.is((await h.store.loadConnection(alice))?.generation, generation, 'nothing stored');
  t.is(h.supervisor.status(alice), 'alive');
  t.false((await h.registry.metrics()).includes('enclave_account_restarts_total{account="simulated:refused'), 'no restart');
  t.true(h.openedCredentials.slice(1).every((c) => c.every((byte) => byte === 0)), 'the refused plaintext is zeroed');
  t.is((await h.supervisor.sync(alice, 'incremental')).mode, 'incremental', 'the same actor syncs on');
  await h.close();
});

test('a Register while a sync runs cancels it; nothing of it lands, and the next sync opens the new credential', async (t) => {
  const alice = fresh('regen-sync');
  const clock = new ManualClock(T0);
  const gates: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account, credential) => {
    const i = instrument(venue(clock)(account, credential), { gated: gates.length === 0 });
    gates.push(i);
    return i.connector;
  } });
  await h.addAccount(alice);
  const before = (await h.store.loadConnection(alice))?.generation;
  const running = settled(h.supervisor.sync(alice, 'incremental'));
  while (gates.length === 0) await new Promise((resolve) => { setImmediate(resolve); });
  await gates[0]?.reachedGate;
  const reply = await h.supervisor.register(alice, await sealForTest(alice, { apiKey: 'read-key', secret: NEW_SECRET }));
  t.is(reply.status, 'active');
  t.true((await running) instanceof ConnectionReplacedError, 'the sync with the old credential was cancelled');
  t.true(h.openedCredentials[0]?.every((byte) => byte === 0), 'the old credential is zeroed');
  t.not((await h.store.loadConnection(alice))?.generation, before, 'a new generation');
  gates[0]?.open(); // the cancelled activity runs on: it must write nothing
  await new Promise((resolve) => { setTimeout(resolve, 100); });
  t.is((await rowsOf(alice))['trades'], 0, 'nothing of the cancelled sync landed');
  const next: SyncResult = await h.supervisor.sync(alice, 'incremental');
  t.true(next.fillsIngested > 0);
  t.true(h.openedCredentials.at(-1)?.includes(NEW_SECRET), 'the next sync opened the new credential');
  await h.close();
});

test('a Remove during a sync cancels it, deletes everything, stops the actor; afterwards the account is not found', async (t) => {
  const alice = fresh('remove-sync');
  const clock = new ManualClock(T0);
  const gates: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account, credential) => {
    const i = instrument(venue(clock)(account, credential), { gated: gates.length === 1 });
    gates.push(i);
    return i.connector;
  } });
  await h.addAccount(alice);
  await h.supervisor.sync(alice, 'incremental');
  t.true(totalRows(await rowsOf(alice)) > 1);
  clock.advance(3_600_000);
  // A fresh actor for the gated second sync (the first actor's connector is not gated).
  await h.passivate(alice);
  const running = settled(h.supervisor.sync(alice, 'incremental'));
  while (gates.length < 2) await new Promise((resolve) => { setImmediate(resolve); });
  await gates[1]?.reachedGate;
  t.deepEqual(await h.supervisor.remove(alice, false), { removed: true });
  t.true((await running) instanceof AccountNotFoundError, 'the running sync was cancelled');
  t.true(h.openedCredentials.every((c) => c.every((byte) => byte === 0)), 'every credential zeroed');
  t.not(h.supervisor.status(alice), 'alive', 'the actor stopped');
  gates[1]?.open();
  await new Promise((resolve) => { setTimeout(resolve, 100); });
  t.deepEqual(Object.entries(await rowsOf(alice)).filter(([, n]) => n > 0), [], 'no row of the account remains');
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: AccountNotFoundError });
  await t.throwsAsync(h.reads.returns(alice, 0, T0), { instanceOf: AccountNotFoundError });
  t.deepEqual(await h.supervisor.remove(alice, false), { removed: false });
  await h.close();
});

test('a parked account can still be removed or given a new credential, which un-parks it', async (t) => {
  const alice = fresh('parked-register');
  const bob = fresh('parked-remove');
  let broken = true;
  // The system clock: restart backoffs wait on it.
  const clock = { now: () => T0 };
  const h = createActorHarness({ database: db(), crashPolicy: { maxCrashes: 2 }, settings: { syncIntervalMs: 0 }, connectorFactory: (account, credential) => {
    if (broken && decodeCredential(credential).secret !== NEW_SECRET) throw new Error('factory bug');
    return venue(clock)(account, credential);
  } });
  for (const account of [alice, bob]) {
    await h.addAccount(account);
    for (let i = 0; i < 2; i += 1) await h.supervisor.sync(account, 'incremental').catch(() => undefined);
    await t.throwsAsync(h.supervisor.sync(account, 'incremental'), { instanceOf: AccountFailedError });
    await t.throwsAsync(h.reads.performance(account), { instanceOf: AccountFailedError });
  }
  t.deepEqual(await h.supervisor.remove(bob, true), { removed: true });
  t.is(h.supervisor.parkedReason(bob), null);
  await t.throwsAsync(h.supervisor.sync(bob, 'incremental'), { instanceOf: AccountNotFoundError });
  await t.throwsAsync(h.reads.returns(bob, 0, T0), { instanceOf: AccountNotFoundError }, 'kept aggregates are not served for a removed account');
  const listed = await h.supervisor.list();
  t.is(listed.find((c) => c.account.userUid === alice.userUid)?.status, 'failed', 'listed as parked');
  t.false(listed.some((c) => c.account.userUid === bob.userUid));
  await h.supervisor.register(alice, await sealForTest(alice, { apiKey: 'read-key', secret: NEW_SECRET }));
  broken = false;
  t.is(h.supervisor.parkedReason(alice), null, 'a new credential un-parks the account');
  t.true((await h.supervisor.sync(alice, 'incremental')).fillsIngested > 0);
  t.is((await h.supervisor.list()).find((c) => c.account.userUid === alice.userUid)?.status, 'active');
  await h.close();
});
