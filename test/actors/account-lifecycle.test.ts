// Issue 12 on the actor side: real sync progress, parked reasons and revive, and the removal race
// (a sync caught between the actor stop and the delete transaction writes nothing afterwards).
import test from 'ava';
import { AccountFailedError, AccountNotFoundError } from '../../src/actors/errors.js';
import { EnvelopeOpenError } from '../../src/crypto/errors.js';
import type { AccountKey, SyncProgress } from '../../src/domain/types.js';
import { VenueError } from '../../src/exchanges/errors.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { accountRowCounts, totalRows } from '../../testkit/support/account-rows.js';
import { createActorHarness, historyStart } from '../../testkit/support/actor-harness.js';
import { instrument, type Instrumented } from '../../testkit/support/connectors.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const T0 = Date.UTC(2026, 5, 1, 12, 30);
const DAY = 86_400_000;
const db = useTestDatabase(test);

/** A venue that answers each fills page after `ms` (a real round trip), so pages outlast the progress throttle. */
function withPageLatency(connector: VenueConnector, ms: number): VenueConnector {
  const slow: VenueConnector = Object.create(connector) as VenueConnector;
  return Object.assign(slow, {
    async *fetchFills(...args: Parameters<VenueConnector['fetchFills']>) {
      for await (const page of connector.fetchFills(...args)) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        yield page;
      }
    },
  });
}

let seq = 0;
const fresh = (name: string): AccountKey => { seq += 1; return { userUid: `${name}-${seq}`, exchange: 'simulated' }; };

const rowsOf = (account: AccountKey): Promise<Record<string, number>> => accountRowCounts(db().pool, account);

test('a full sync of a few thousand fills reports real, non-decreasing progress, ending with every hour valued', async (t) => {
  const alice = fresh('progress');
  // The system clock: progress is throttled to one report per 200 ms of real time.
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 }, connectorFactory: (account) => withPageLatency(createSimulatedConnector(account, {
    // About 150 days of hours with a fill in nearly every one: a few thousand fills.
    seed: 11, clock: { now: () => Date.now() }, startMs: Math.floor(Date.now() / DAY) * DAY - 150 * DAY, fillsPerHour: 0.9, pageSize: 200,
  }), 40) });
  await h.addAccount(alice);
  const reports: SyncProgress[] = [];
  const result = await h.supervisor.sync(alice, 'full', { onProgress: (p) => { reports.push(p); } });
  t.true(result.fillsIngested >= 2_000, `a few thousand fills (${result.fillsIngested})`);
  t.true(reports.length >= 3, `several progress reports (${reports.length})`);
  for (let i = 1; i < reports.length; i += 1) {
    const [a, b] = [reports[i - 1]!, reports[i]!];
    for (const key of ['fillPages', 'fillsFetched', 'cashFlowPages', 'cashFlowsFetched', 'hoursDone'] as const) t.true(b[key] >= a[key], `${key} never decreases`);
  }
  const last = reports.at(-1)!;
  t.is(last.fillsFetched, result.fillsIngested, 'every fill fetched is counted');
  t.true(last.fillPages > 1);
  t.is(last.hoursTotal, result.hourlyReturnsWritten);
  t.is(last.hoursDone, last.hoursTotal, 'the last report has every hour valued');
  t.true(reports.some((p) => p.fillsFetched > 0 && p.fillsFetched < last.fillsFetched), 'reported while pages were still coming');
  await h.close();
});

test('a sync caught between the actor stop and the delete transaction writes nothing after the removal', async (t) => {
  const alice = fresh('race');
  const clock = new ManualClock(T0);
  let gate: Instrumented | undefined;
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => {
    gate = instrument(createSimulatedConnector(account, { seed: 7, clock, startMs: historyStart(T0), fillsPerHour: 0.5, pageSize: 5 }), { gated: true });
    return gate.connector;
  } });
  await h.addAccount(alice);
  const sync = h.supervisor.sync(alice, 'incremental');
  while (gate === undefined) await new Promise((resolve) => { setImmediate(resolve); });
  await gate.reachedGate;
  // The window: the sync loaded generation g; RemoveConnection's delete transaction runs now.
  t.true(await createConnectionRepository(db().pool).removeAccount(alice, { keepAggregates: false }));
  gate.open();
  await t.throwsAsync(sync, { instanceOf: AccountNotFoundError });
  t.deepEqual(totalRows(await rowsOf(alice)), 0, 'no row of the account remains');
  while (h.supervisor.status(alice) === 'alive') await new Promise((resolve) => { setImmediate(resolve); });
  t.not(h.supervisor.status(alice), 'failed', 'the actor stopped; it did not crash into failed');
  t.true(h.openedCredentials[0]?.every((byte) => byte === 0), 'credential zeroed');
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: AccountNotFoundError });
  await h.close();
});

test('a write with the generation of a connection registered again is rolled back', async (t) => {
  const alice = fresh('regen');
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice);
  const before = (await h.store.loadConnection(alice))?.generation;
  await h.addAccount(alice); // registered again: a new generation
  const after = (await h.store.loadConnection(alice))?.generation;
  t.not(before, after);
  await t.throwsAsync(h.store.commitFillsPage(alice, [], 'cursor-x', before), { name: 'StaleGenerationError' });
  t.is(await h.store.loadCursor(alice, 'fills'), null, 'rolled back');
  await h.store.commitFillsPage(alice, [], 'cursor-y', after);
  t.is(await h.store.loadCursor(alice, 'fills'), 'cursor-y');
  await h.close();
});

test('an account parked by a refused key lists venue_auth, a tampered envelope lists tamper, and revive clears both', async (t) => {
  const auth = fresh('auth');
  const tamper = fresh('tamper');
  const h = createActorHarness({
    database: db(), settings: { syncIntervalMs: 0 }, crashPolicy: { maxCrashes: 2 },
    openCredential: (account, envelope) => {
      if (account.userUid === tamper.userUid) throw new EnvelopeOpenError(account, 'authentication failed');
      return Buffer.from(envelope.length > 0 ? 'credential' : '');
    },
    connectorFactory: (account) => instrument(createSimulatedConnector(account, { seed: 7, clock: { now: () => T0 }, startMs: historyStart(T0) }),
      { fail: () => new VenueError('simulated', 'auth', { status: 401 }) }).connector,
  });
  await h.addAccount(auth);
  await h.addAccount(tamper);
  for (const account of [auth, tamper]) {
    // One after the other: requests joining one running sync share one crash.
    for (let i = 0; i < 2; i += 1) await h.supervisor.sync(account, 'incremental').catch(() => undefined);
    await t.throwsAsync(h.supervisor.sync(account, 'incremental'), { instanceOf: AccountFailedError });
  }
  t.is(h.supervisor.parkedReason(auth), 'venue_auth');
  t.is(h.supervisor.parkedReason(tamper), 'tamper');
  const stored = async (account: AccountKey) => (await createConnectionRepository(db().pool).listConnections()).find((c) => c.account.userUid === account.userUid);
  while ((await stored(tamper))?.parkedReason !== 'tamper' || (await stored(auth))?.parkedReason !== 'venue_auth') await new Promise((resolve) => { setTimeout(resolve, 5); });
  t.is((await stored(auth))?.status, 'failed');
  t.true(await h.supervisor.revive(auth), 'it was parked');
  t.false(await h.supervisor.revive(auth), 'no longer parked');
  const revived = await stored(auth);
  t.is(revived?.status, 'active');
  t.is(revived?.parkedReason, null);
  t.is(h.supervisor.parkedReason(auth), null);
  await h.close();
});
