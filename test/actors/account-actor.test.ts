// Message-injection tests of one account actor and of the supervisor on the real parts: the
// slonik store on a throw-away PostgreSQL database, sealed envelopes, the real engine. Tests share
// the file's database; each uses its own accounts (fresh user ids), so they stay independent.
import test from 'ava';
import { z } from 'zod';
import type { SyncResult } from '../../src/actors/account-actor.js';
import { AccountFailedError, AccountNotFoundError, ActorError, OverloadedError, ShuttingDownError, VenueUnavailableError } from '../../src/actors/errors.js';
import { accountId, type AccountKey } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { restoreSchedules } from '../../src/actors/restore-schedules.js';
import { AggregationInputError } from '../../src/domain/errors.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { sql } from '../../src/storage/pool.js';
import { CANARY_SECRET, createActorHarness, historyStart, sealForTest, spawnAccount } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { instrument, type Instrumented } from '../../testkit/support/connectors.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';
import { TransientStorageError } from '../../testkit/support/instrumented-store.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);

let accountSeq = 0;
/** Two accounts no other test uses. */
function accounts(): { alice: AccountKey; bob: AccountKey } {
  accountSeq += 1;
  return { alice: { userUid: `alice-${accountSeq}`, exchange: 'simulated' }, bob: { userUid: `bob-${accountSeq}`, exchange: 'simulated' } };
}

/** Same market as the harness's default connector at T0 (candles are shared in the database). */
function simulated(account: AccountKey, clock: { now(): number }): ReturnType<typeof createSimulatedConnector> {
  return createSimulatedConnector(account, { seed: 7, clock, startMs: historyStart(T0), fillsPerHour: 0.5, pageSize: 5 });
}

/** Counts an account's rows in one table. */
async function rows(table: 'trades' | 'cash_flows' | 'sync_cursors' | 'hourly_returns' | 'balance_snapshots' | 'engine_states', account: AccountKey): Promise<number> {
  return db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
}

/** Waits (bounded) until `condition` holds: for work the actors do with no request to await. */
async function eventually(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((resolve) => { setTimeout(resolve, 5); });
  }
}

/** The metric line prefix for an account label. */
const label = (account: AccountKey): string => `account="${accountId(account)}"`;

function noSecrets(t: { false(v: boolean, m?: string): void }, text: string): void {
  t.false(text.includes(CANARY_SECRET), 'credential leaked');
  t.false(/sim-(alice|bob)-\d/u.test(text), 'trade id leaked');
}

test('a sync gets its typed reply, its aggregates read back from storage, and no reply carries a fill', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = await spawnAccount(alice, { database: db(), clock, settings: { syncIntervalMs: 0 } });
  const result = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  t.is(result.mode, 'incremental');
  t.is(result.trigger, 'request');
  t.true(result.fillsIngested > 5, 'pulled several pages');
  t.is(result.fillsIngested, await h.store.fillCount(alice));
  t.is(result.cashFlowsIngested, 1);
  t.true(result.hourlyReturnsWritten > 0);
  t.deepEqual(result.snapshot?.at, T0 - (T0 % HOUR));
  noSecrets(t, JSON.stringify(result));
  t.is(await rows('trades', alice), result.fillsIngested, 'every fill is a row');
  t.is(await rows('cash_flows', alice), 1);
  t.is(await rows('sync_cursors', alice), 2, 'one cursor per stream');
  t.is(await rows('hourly_returns', alice), result.hourlyReturnsWritten);
  t.is(await rows('balance_snapshots', alice), 1);
  t.is(await rows('engine_states', alice), 1);

  const returns = await h.reads.returns(alice, 0, T0);
  t.is(returns.length, result.hourlyReturnsWritten);
  t.true(returns.every((r, i) => i === 0 || r.hourStart - (returns[i - 1]?.hourStart ?? 0) === HOUR));
  const snapshots = await h.reads.snapshots(alice, 0, T0);
  t.is(snapshots.length, 1);
  const metrics = await h.reads.performance(alice);
  t.is(metrics.hours, returns.length);
  t.is(metrics.cumulativeReturn, returns.at(-1)?.cumulativeReturn ?? Number.NaN);
  noSecrets(t, JSON.stringify([returns, snapshots, metrics]));

  const credential = h.openedCredentials[0];
  t.truthy(credential);
  t.true(credential?.includes(CANARY_SECRET));
  t.deepEqual(await h.send((replyTo) => ({ type: 'Stop', replyTo })), { stopped: true });
  t.true(credential?.every((byte) => byte === 0), 'credential zeroed on Stop');
  await h.close();
});

test('an incremental sync resumes from the committed cursor and only appends new hours', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const recorders: Instrumented[] = [];
  const h = await spawnAccount(alice, { database: db(), clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR }, connectorFactory: (account) => { const i = instrument(simulated(account, clock)); recorders.push(i); return i.connector; } });
  const first = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  const cursor = await h.store.loadCursor(alice, 'fills');
  clock.advance(3 * HOUR);
  const runStart = h.aggregator.inputs.length;
  const second = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  t.deepEqual(recorders[0]?.fillsSince, [null, cursor]);
  t.is(second.hourlyReturnsWritten, 3);
  t.is(await h.store.fillCount(alice), first.fillsIngested + second.fillsIngested);
  t.not(h.aggregator.inputs[runStart]?.state, null, 'resumed from the saved engine state');
  await h.close();
});

test('a full sync resets the cursors and recomputes from the start', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const recorders: Instrumented[] = [];
  const h = await spawnAccount(alice, { database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => { const i = instrument(simulated(account, clock)); recorders.push(i); return i.connector; } });
  const first = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  const runStart = h.aggregator.inputs.length;
  const full = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'full', replyTo }));
  t.deepEqual(recorders[0]?.fillsSince, [null, null]);
  t.is(full.mode, 'full');
  t.is(full.fillsIngested, 0, 'duplicates are ignored');
  t.is(full.hourlyReturnsWritten, first.hourlyReturnsWritten);
  t.is(h.aggregator.inputs[runStart]?.state, null, 'the engine run starts from no state');
  await h.close();
});

test('a second Sync during a running one joins its result, and reads answer from the last committed state', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  let gated: Instrumented | undefined;
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => { gated = instrument(simulated(account, clock), { gated: true }); return gated.connector; } });
  await h.addAccount(alice);
  const first = h.supervisor.sync(alice, 'incremental');
  const second = h.supervisor.sync(alice, 'incremental');
  await new Promise((resolve) => { setTimeout(resolve, 0); });
  while (gated === undefined) await new Promise((resolve) => { setImmediate(resolve); });
  await gated.reachedGate;
  const during = await h.reads.returns(alice, 0, T0);
  t.deepEqual(during, [], 'nothing committed yet');
  gated.open();
  const [a, b] = await Promise.all([first, second]);
  t.is(a, b, 'both callers got the same result');
  t.is(gated.fillsSince.length, 1, 'the venue was read once');
  t.is((await h.reads.returns(alice, 0, T0)).length, a.hourlyReturnsWritten);
  await h.close();
});

test('a crash restarts the actor with its cursor and positions restored from storage', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const recorders: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR }, crashPolicy: { backoffBaseMs: 0, backoffMaxMs: 0 }, connectorFactory: (account) => { const i = instrument(simulated(account, clock)); recorders.push(i); return i.connector; } });
  await h.addAccount(alice);
  await h.supervisor.sync(alice, 'incremental');
  clock.advance(2 * HOUR);
  h.aggregator.failNext(new Error('engine bug'));
  const error = await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
  t.false(error.message.includes('engine bug'), 'inner text is not passed on');
  const cursorAfterCrash = await h.store.loadCursor(alice, 'fills');
  const tradesAfterCrash = await rows('trades', alice);
  t.true(tradesAfterCrash > 0, 'pages committed before the crash are kept');
  const resumed = await h.supervisor.sync(alice, 'incremental');
  t.is(recorders.length, 2, 'a new connector after the restart');
  t.deepEqual(recorders[1]?.fillsSince, [cursorAfterCrash], 'resumed from the stored cursor');
  t.is(resumed.hourlyReturnsWritten, 2, 'only the two new hours, from the stored engine state');
  t.not(h.aggregator.inputs.at(-1)?.state, null);
  t.true(h.openedCredentials[0]?.every((byte) => byte === 0), 'the crashed instance zeroed its credential');
  t.true((await h.registry.metrics()).includes(`enclave_account_restarts_total{${label(alice)}} 1`));
  t.is(h.supervisor.status(alice), 'alive');
  // Reading the whole history again after the restart duplicates nothing.
  const full = await h.supervisor.sync(alice, 'full');
  t.is(full.fillsIngested, 0);
  t.is(await rows('trades', alice), tradesAfterCrash);
  t.is(await rows('cash_flows', alice), 1);
  t.is(await rows('hourly_returns', alice), full.hourlyReturnsWritten, 'one row per hour');
  t.is(await rows('balance_snapshots', alice), 2, 'one snapshot per computed boundary');
  await h.close();
});

test('after N crashes in the window the account is failed, in replies and in metrics', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), crashPolicy: { maxCrashes: 3, windowMs: 60_000 }, settings: { syncIntervalMs: 0 }, connectorFactory: () => { throw new Error('factory bug'); } });
  await h.addAccount(alice);
  const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map(() => h.supervisor.sync(alice, 'incremental')));
  t.true(outcomes.every((o) => o.status === 'rejected'));
  const errors = outcomes.map((o) => (o.status === 'rejected' ? o.reason as unknown : null));
  t.is(errors.filter((e) => e instanceof AccountFailedError).length, 2, 'queued requests are refused once failed');
  await t.throwsAsync(h.reads.performance(alice), { instanceOf: AccountFailedError });
  t.is(h.supervisor.status(alice), 'failed');
  t.deepEqual(h.supervisor.totals(), { alive: 0, passivated: 0, failed: 1, parked: { venue_auth: 0, venue_unavailable: 0, internal: 1, tamper: 0 } });
  const text = await h.registry.metrics();
  t.true(text.includes(`enclave_account_actor_state{${label(alice)},state="failed"} 1`));
  t.regex(text, /enclave_account_actors\{state="failed"\} 1/u);
  await eventually(async () => (await h.store.connectionStatus(alice)) === 'failed');
  await h.close();
});

test('an account stored as failed answers AccountFailedError at start until revived', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice, 'failed');
  const error = await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: AccountFailedError });
  t.regex(error.message, /marked failed/u);
  t.is(h.supervisor.status(alice), 'failed');
  await t.throwsAsync(h.reads.returns(alice, 0, T0), { instanceOf: AccountFailedError });
  t.is(h.openedCredentials.length, 0, 'the credential was never opened');
  t.is(await rows('trades', alice), 0);
  await h.supervisor.revive(alice);
  t.is(await h.store.connectionStatus(alice), 'active');
  t.true((await h.supervisor.sync(alice, 'incremental')).fillsIngested > 0);
  t.is(h.supervisor.status(alice), 'alive');
  await h.close();
});

test('revive leaves a disabled connection disabled', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice, 'disabled');
  await h.supervisor.revive(alice);
  t.is(await h.store.connectionStatus(alice), 'disabled');
  await t.throwsAsync(h.reads.performance(alice), { instanceOf: AccountNotFoundError });
  await h.close();
});

test('stored active accounts resume their scheduled syncs at start; failed and disabled ones do not', async (t) => {
  const { alice, bob } = accounts();
  const carol: AccountKey = { userUid: `carol-${alice.userUid}`, exchange: 'simulated' };
  const dave: AccountKey = { userUid: `dave-${alice.userUid}`, exchange: 'simulated' };
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, settings: { syncIntervalMs: 2 * HOUR, syncJitter: 0, idleMs: 60_000 } });
  await h.addAccount(alice);
  await h.addAccount(bob);
  await h.addAccount(carol, 'failed');
  await h.addAccount(dave, 'disabled');
  const stored = (await createConnectionRepository(db().pool).listConnections()).filter((c) => [alice, bob, carol, dave].some((a) => a.userUid === c.account.userUid));
  t.is(stored.length, 4);
  const report = restoreSchedules(h.supervisor, stored, { now: clock.now(), syncIntervalMs: 2 * HOUR, random: () => 0.5 });
  t.deepEqual(report, { scheduled: 2, skipped: 2 });
  t.is(h.openedCredentials.length, 0, 'nothing starts before its wake-up');
  clock.advance(HOUR);
  await eventually(async () => (await rows('hourly_returns', alice)) > 0 && (await rows('hourly_returns', bob)) > 0);
  t.is(h.openedCredentials.length, 2, 'only the two active accounts woke up');
  t.is(await rows('trades', carol), 0);
  t.is(await rows('trades', dave), 0);
  await h.close();
});

test('a sync that fails between pages keeps the committed pages and their cursor, and the next sync resumes there', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  let pagesBeforeFailure = 2;
  const cursors: (string | null)[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => {
    const inner = simulated(account, clock);
    return { exchange: inner.exchange, baseCurrency: inner.baseCurrency, close: () => inner.close(), fetchBalances: (s) => inner.fetchBalances(s),
      fetchHourlyCandles: (a, b, c, s) => inner.fetchHourlyCandles(a, b, c, s), fetchCashFlows: (c, s) => inner.fetchCashFlows(c, s),
      fetchFills: (since, signal) => (async function* () {
        cursors.push(since);
        for await (const page of inner.fetchFills(since, signal)) {
          if (pagesBeforeFailure === 0) throw new VenueError('simulated', 'unavailable', { status: 503 });
          pagesBeforeFailure -= 1;
          yield page;
        }
      })() };
  } });
  await h.addAccount(alice);
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: VenueUnavailableError });
  t.is(await rows('trades', alice), 10, 'two pages of five, committed');
  const cursor = await h.store.loadCursor(alice, 'fills');
  t.is(cursor, JSON.stringify({ i: 10 }), 'the cursor of the last committed page');
  t.is(await rows('hourly_returns', alice), 0, 'nothing published from a partial sync');
  pagesBeforeFailure = Number.POSITIVE_INFINITY;
  const result = await h.supervisor.sync(alice, 'incremental');
  t.is(cursors.at(-1), cursor);
  t.is(await rows('trades', alice), 10 + result.fillsIngested);
  t.true(await rows('hourly_returns', alice) > 0);
  await h.close();
});

test('a saved engine state the engine refuses is replaced by a recompute from the start', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  await h.addAccount(alice);
  const first = await h.supervisor.sync(alice, 'incremental');
  clock.advance(HOUR);
  h.aggregator.failNext(new AggregationInputError('1 fill(s) fall before the first hour to compute'));
  const runStart = h.aggregator.inputs.length;
  const result = await h.supervisor.sync(alice, 'incremental');
  t.not(h.aggregator.inputs[runStart]?.state, null, 'tried from the saved state first');
  t.is(h.aggregator.inputs[runStart + 1]?.state, null, 'then from nothing');
  t.is(result.hourlyReturnsWritten, first.hourlyReturnsWritten + 1);
  t.is(h.supervisor.status(alice), 'alive', 'no crash');
  await h.close();
});

test('two accounts stay isolated: one crash-looping, the other syncing', async (t) => {
  const { alice, bob } = accounts();
  const h = createActorHarness({ database: db(), crashPolicy: { maxCrashes: 2 }, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => {
    if (account.userUid === alice.userUid) throw new Error('alice is broken');
    return simulated(account, { now: () => T0 });
  } });
  await h.addAccount(alice);
  await h.addAccount(bob);
  const [aliceOutcomes, bobResults] = await Promise.all([
    Promise.allSettled([1, 2, 3].map(() => h.supervisor.sync(alice, 'incremental'))),
    Promise.all([h.supervisor.sync(bob, 'incremental'), h.reads.performance(bob)]),
  ]);
  t.true(aliceOutcomes.every((o) => o.status === 'rejected'));
  t.true(bobResults[0].fillsIngested > 0);
  t.is(h.supervisor.status(alice), 'failed');
  t.is(h.supervisor.status(bob), 'alive');
  t.true((await h.supervisor.sync(bob, 'incremental')).fillsIngested >= 0);
  await h.close();
});

test('an idle actor is passivated: credential bytes zeroed, series removed, next message restores it from storage', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const recorders: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { idleMs: 60_000, syncIntervalMs: 0 }, connectorFactory: (account) => { const i = instrument(simulated(account, clock)); recorders.push(i); return i.connector; } });
  await h.addAccount(alice);
  const before = await h.reads.returns(alice, 0, T0).then(async () => h.supervisor.sync(alice, 'incremental'));
  const credential = h.openedCredentials[0];
  t.true(credential?.includes(CANARY_SECRET));
  t.true((await h.registry.metrics()).includes(label(alice)));
  clock.advance(61_000);
  while (h.supervisor.status(alice) !== 'passivated') await new Promise((resolve) => { setImmediate(resolve); });
  await new Promise((resolve) => { setImmediate(resolve); });
  t.true(credential?.every((byte) => byte === 0), 'every byte of the credential is zero');
  t.false((await h.registry.metrics()).includes(label(alice)));
  t.deepEqual(h.supervisor.totals(), { alive: 0, passivated: 1, failed: 0, parked: { venue_auth: 0, venue_unavailable: 0, internal: 0, tamper: 0 } });
  const cursor = await h.store.loadCursor(alice, 'fills');
  const returns = await h.reads.returns(alice, 0, T0 + HOUR);
  t.is(returns.length, before.hourlyReturnsWritten);
  t.is(h.openedCredentials.length, 1, 'a read after passivation opens no credential');
  await h.supervisor.sync(alice, 'incremental');
  t.is(h.openedCredentials.length, 2, 'the sync opened a fresh credential');
  t.deepEqual(recorders[1]?.fillsSince, [cursor]);
  await h.close();
});

test('each actor runs its own incremental sync on schedule', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const recorders: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, settings: { syncIntervalMs: HOUR, syncJitter: 0.1, idleMs: 10 * HOUR }, connectorFactory: (account) => { const i = instrument(simulated(account, clock), { gated: true }); recorders.push(i); return i.connector; } });
  // Registering starts the actor (and its schedule) with no sync.
  await h.supervisor.register(alice, await sealForTest(alice, { apiKey: 'key', secret: CANARY_SECRET }));
  await h.reads.performance(alice);
  t.is(recorders.length, 1, 'only the short-lived connector of the permission check');
  t.deepEqual(recorders[0]?.fillsSince, [], 'no sync yet (a read opens no credential)');
  clock.advance(HOUR);
  const joined = h.supervisor.sync(alice, 'incremental');
  while (recorders.length === 1) await new Promise((resolve) => { setImmediate(resolve); });
  await recorders[1]?.reachedGate;
  recorders[1]?.open();
  const result = await joined;
  t.is(result.trigger, 'schedule', 'the request joined the scheduled sync');
  t.is(recorders[1]?.fillsSince.length, 1);
  await h.close();
});

test('a passivated account wakes up for its next scheduled sync', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, settings: { syncIntervalMs: 2 * HOUR, syncJitter: 0, idleMs: 60_000 } });
  await h.addAccount(alice);
  const first = await h.supervisor.sync(alice, 'incremental');
  clock.advance(61_000);
  while (h.supervisor.status(alice) !== 'passivated') await new Promise((resolve) => { setImmediate(resolve); });
  clock.advance(2 * HOUR);
  await eventually(async () => (await rows('hourly_returns', alice)) > first.hourlyReturnsWritten);
  t.is(h.openedCredentials.length, 2);
  t.is((await h.reads.returns(alice, 0, T0 + 3 * HOUR)).length, first.hourlyReturnsWritten + 2, 'two more hours, computed with no request');
  await h.close();
});

test('a venue failure is answered as VenueUnavailableError without restarting the actor', async (t) => {
  const { alice } = accounts();
  let fail = true;
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 }, connectorFactory: (account) => instrument(simulated(account, { now: () => T0 }), { fail: () => (fail ? new VenueError('simulated', 'unavailable', { status: 503 }) : undefined) }).connector });
  await h.addAccount(alice);
  const error = await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: VenueUnavailableError });
  t.regex(error.message, /unavailable/u);
  fail = false;
  t.true((await h.supervisor.sync(alice, 'incremental')).fillsIngested > 0);
  t.is(h.openedCredentials.length, 1, 'same actor, no restart');
  t.true((await h.registry.metrics()).includes(`enclave_account_syncs_total{${label(alice)},result="venue_error"} 1`));
  await h.close();
});

test('a transient storage error restarts from storage without counting towards the failed cut-off', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), crashPolicy: { maxCrashes: 1 }, settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice);
  h.store.failNext('saveAggregates', new TransientStorageError('connection lost'), 2);
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
  const result = await h.supervisor.sync(alice, 'incremental');
  t.is(result.fillsIngested, 0, 'pages committed before the failure were kept');
  t.true(result.hourlyReturnsWritten > 0);
  t.is(h.supervisor.status(alice), 'alive');
  t.is(h.openedCredentials.length, 3);
  await h.close();
});

test('full syncs beyond the concurrency limit are refused with OverloadedError', async (t) => {
  const { alice, bob } = accounts();
  const clock = new ManualClock(T0);
  const gates: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, maxConcurrentFullSyncs: 1, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => { const i = instrument(simulated(account, clock), { gated: true }); gates.push(i); return i.connector; } });
  await h.addAccount(alice);
  await h.addAccount(bob);
  const first = h.supervisor.sync(alice, 'full');
  while (gates.length === 0) await new Promise((resolve) => { setImmediate(resolve); });
  await gates[0]?.reachedGate;
  await t.throwsAsync(h.supervisor.sync(bob, 'full'), { instanceOf: OverloadedError });
  t.is(h.openedCredentials.length, 1, 'the refused sync opened no credential');
  gates[0]?.open();
  t.is((await first).mode, 'full');
  const second = h.supervisor.sync(bob, 'full');
  while (gates.length < 2) await new Promise((resolve) => { setImmediate(resolve); });
  gates[1]?.open();
  t.is((await second).mode, 'full', 'accepted once the slot is free');
  await h.close();
});

test('scheduled first syncs beyond the whole-history slots wait for one, opening no credential meanwhile, and all complete', async (t) => {
  const { alice, bob } = accounts();
  const carol: AccountKey = { userUid: `carol-${alice.userUid}`, exchange: 'simulated' };
  const clock = new ManualClock(T0);
  const gates: { account: AccountKey; connector: Instrumented }[] = [];
  const h = createActorHarness({
    database: db(), clock, random: () => 0.5, maxConcurrentFullSyncs: 1, settings: { syncIntervalMs: 2 * HOUR, syncJitter: 0, idleMs: 10 * HOUR },
    connectorFactory: (account) => { const i = instrument(simulated(account, clock), { gated: true }); gates.push({ account, connector: i }); return i.connector; },
  });
  const all = [alice, bob, carol];
  for (const account of all) await h.addAccount(account);
  const stored = (await createConnectionRepository(db().pool).listConnections()).filter((c) => all.some((a) => a.userUid === c.account.userUid));
  // The three wake at the same moment (random 0.5, no jitter), all three with nothing synced yet.
  restoreSchedules(h.supervisor, stored, { now: clock.now(), syncIntervalMs: 2 * HOUR, random: () => 0.5 });
  clock.advance(HOUR);
  for (let round = 1; round <= all.length; round += 1) {
    while (gates.length < round) await new Promise((resolve) => { setImmediate(resolve); });
    const current = gates[round - 1]!;
    await current.connector.reachedGate;
    // Every wake has been heard (each actor is up): the others found the one slot taken.
    await eventually(async () => all.every((a) => h.supervisor.status(a) === 'alive'));
    t.is(gates.length, round, 'one whole-history sync at a time');
    t.is(h.openedCredentials.length, round, 'the waiting accounts opened no credential');
    current.connector.open();
    await eventually(async () => (await rows('hourly_returns', current.account)) > 0);
    // The waiting ones try again every few seconds (a twentieth of the interval, at most 5 s, spread):
    // one of them gets the slot once this sync has settled.
    for (let tries = 0; round < all.length && gates.length === round && tries < 200; tries += 1) {
      clock.advance(5_000);
      await new Promise((resolve) => { setTimeout(resolve, 10); });
    }
  }
  t.deepEqual(gates.map((g) => g.account.userUid).sort(), all.map((a) => a.userUid).sort(), 'every account had its first sync, once');
  await h.close();
});

test('an unknown account is answered with AccountNotFoundError', async (t) => {
  const h = createActorHarness({ database: db() });
  await t.throwsAsync(h.reads.performance({ userUid: 'nobody', exchange: 'simulated' }), { instanceOf: AccountNotFoundError });
  await h.close();
});

test('shutdown lets a running sync finish, zeroes every credential and refuses new work', async (t) => {
  const { alice, bob } = accounts();
  const clock = new ManualClock(T0);
  const gates: Instrumented[] = [];
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: (account) => { const i = instrument(simulated(account, clock), { gated: account.userUid === 'alice' }); gates.push(i); return i.connector; } });
  await h.addAccount(alice);
  await h.addAccount(bob);
  const running = h.supervisor.sync(alice, 'incremental');
  while (gates.length < 1) await new Promise((resolve) => { setImmediate(resolve); });
  const aliceGate = gates.find((g) => g.fillsSince.length > 0);
  await aliceGate?.reachedGate;
  const shutdown = h.supervisor.shutdown(60_000); // generous: the sync must finish, however loaded the machine
  await t.throwsAsync(h.supervisor.sync(bob, 'incremental'), { instanceOf: ShuttingDownError });
  aliceGate?.open();
  t.true((await running).fillsIngested > 0, 'the running sync finished');
  await shutdown;
  t.is(h.openedCredentials.length, 1, 'only the syncing account opened its credential (bob was refused)');
  t.true(h.openedCredentials.every((c) => c.every((byte) => byte === 0)));
});

test('no credential or trade id reaches a log line, a metric or an error', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice);
  await h.supervisor.sync(alice, 'incremental');
  h.store.failNext('loadHourlyReturns', new Error(`boom ${CANARY_SECRET}`));
  const error = await t.throwsAsync(h.reads.returns(alice, 0, T0));
  noSecrets(t, `${error.message} ${String(error.cause)}`);
  noSecrets(t, await h.registry.metrics());
  noSecrets(t, h.logLines.join('\n'));
  t.true(h.logLines.some((l) => l.includes('sync finished')));
  await h.close();
});

test('a request that reaches an actor as it passivates is answered by a fresh actor', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, settings: { idleMs: 60_000, syncIntervalMs: 0 } });
  await h.addAccount(alice);
  const synced = await h.supervisor.sync(alice, 'incremental');
  clock.advance(61_000); // the idle Tick is now queued in the mailbox
  const late = h.supervisor.sync(alice, 'incremental'); // queued behind it, to the actor about to stop
  t.true(synced.fillsIngested > 0);
  t.is((await late).fillsIngested, 0, 'resumed from the stored cursor');
  t.is(h.supervisor.status(alice), 'alive', 'answered by a respawned actor');
  t.true(h.openedCredentials[0]?.every((byte) => byte === 0));
  await h.close();
});

test('an actor restarted after a crash still passivates when idle and keeps its schedule', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, crashPolicy: { backoffBaseMs: 0, backoffMaxMs: 0 }, settings: { idleMs: 60_000, syncIntervalMs: 2 * HOUR, syncJitter: 0 } });
  await h.addAccount(alice);
  await h.supervisor.sync(alice, 'incremental');
  clock.advance(HOUR);
  h.aggregator.failNext(new Error('engine bug'));
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
  while (h.supervisor.status(alice) !== 'alive') await new Promise((resolve) => { setImmediate(resolve); });
  await new Promise((resolve) => { setImmediate(resolve); });
  clock.advance(61_000);
  while (h.supervisor.status(alice) !== 'passivated') await new Promise((resolve) => { setImmediate(resolve); });
  const saves = h.store.calls.get('saveAggregates') ?? 0;
  clock.advance(2 * HOUR);
  while ((h.store.calls.get('saveAggregates') ?? 0) === saves) await new Promise((resolve) => { setImmediate(resolve); });
  t.pass('the scheduled sync ran after the restart');
  await h.close();
});

test('the label cap bounds per-account series; the rest count as unlabelled', async (t) => {
  const { alice, bob } = accounts();
  const h = createActorHarness({ database: db(), metricsAccountCap: 1, settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice);
  await h.addAccount(bob);
  await h.supervisor.sync(alice, 'incremental');
  await h.supervisor.sync(bob, 'incremental');
  const text = await h.registry.metrics();
  t.true(text.includes(label(alice)));
  t.false(text.includes(label(bob)));
  t.regex(text, /enclave_metrics_unlabelled_accounts 1/u);
  t.regex(text, /enclave_sync_duration_seconds_count\{venue="simulated"\} 2/u, 'the venue histogram counts every account');
  t.regex(text, /enclave_account_actors\{state="alive"\} 2/u);
  await h.passivate(alice);
  t.regex(await h.registry.metrics(), /enclave_account_actors\{state="passivated"\} 1/u);
  await h.close();
});

test('a fill older than the computed history triggers a recompute from the start', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  let late = false;
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR }, connectorFactory: (account) => {
    const inner = simulated(account, clock);
    return { ...inner, exchange: inner.exchange, baseCurrency: inner.baseCurrency, close: () => inner.close(), fetchBalances: (s) => inner.fetchBalances(s), fetchHourlyCandles: (a, b, c, s) => inner.fetchHourlyCandles(a, b, c, s), fetchCashFlows: (c, s) => inner.fetchCashFlows(c, s),
      fetchFills: (since, signal) => (late
        ? (async function* () { yield { items: [{ exchangeTradeId: 'late-1', symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'buy' as const, quantity: '0.001', price: '60000', fee: '0', feeAsset: 'USDT', executedAt: T0 - 10 * HOUR }], cursor: since ?? 'x' }; })()
        : inner.fetchFills(since, signal)) };
  } });
  await h.addAccount(alice);
  const first = await h.supervisor.sync(alice, 'incremental');
  clock.advance(HOUR);
  late = true;
  const runStart = h.aggregator.inputs.length;
  const result = await h.supervisor.sync(alice, 'incremental');
  t.is(result.fillsIngested, 1);
  t.is(h.aggregator.inputs[runStart]?.state, null, 'recomputed from no state');
  t.is(result.hourlyReturnsWritten, first.hourlyReturnsWritten + 1, 'every hour again, one more than before');
  await h.close();
});

test('a shutdown during a restart backoff stops the account cleanly', async (t) => {
  const { alice } = accounts();
  const h = createActorHarness({ database: db(), crashPolicy: { backoffBaseMs: 40, backoffMaxMs: 40 }, settings: { syncIntervalMs: 0 } });
  await h.addAccount(alice);
  h.aggregator.failNext(new Error('engine bug'));
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ActorError });
  await h.supervisor.shutdown(10);
  await new Promise((resolve) => { setTimeout(resolve, 80); }); // past the backoff: nothing may throw
  t.true(h.openedCredentials.every((c) => c.every((byte) => byte === 0)));
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: ShuttingDownError });
});

test('performance read from storage covers every published hour, and the new ones after an appending sync', async (t) => {
  const { alice } = accounts();
  const clock = new ManualClock(T0);
  const h = await spawnAccount(alice, { database: db(), clock, settings: { syncIntervalMs: 0, idleMs: 24 * HOUR } });
  await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  const first = await h.reads.performance(alice);
  const returns = await h.reads.returns(alice, 0, T0);
  t.is(first.hours, returns.length);
  t.is(first.cumulativeReturn, returns.at(-1)?.cumulativeReturn ?? Number.NaN);
  clock.advance(3 * HOUR);
  const appended = await h.send<SyncResult>((replyTo) => ({ type: 'Sync', mode: 'incremental', replyTo }));
  t.true(appended.hourlyReturnsWritten > 0);
  const fresh = await h.reads.performance(alice);
  t.is(fresh.hours, returns.length + appended.hourlyReturnsWritten, 'no stale metrics after new hours');
  t.is(h.openedCredentials.length, 1, 'reads open no credential');
  await h.close();
});

test('an ask for an account nobody connected leaves no live actor and no labelled metric series', async (t) => {
  const h = createActorHarness({ database: db(), settings: { syncIntervalMs: 0 } });
  const stranger: AccountKey = { userUid: 'stranger_42', exchange: 'simulated' };
  await t.throwsAsync(h.supervisor.sync(stranger, 'incremental'), { instanceOf: AccountNotFoundError });
  await t.throwsAsync(h.reads.performance(stranger), { instanceOf: AccountNotFoundError });
  while (h.supervisor.status(stranger) === 'alive') await new Promise((resolve) => { setImmediate(resolve); });
  t.is(h.supervisor.totals().alive, 0);
  t.notRegex(await h.registry.metrics(), /stranger_42/u);
  // Connected later, the same id syncs normally.
  await h.addAccount(stranger);
  t.true((await h.supervisor.sync(stranger, 'incremental')).fillsIngested > 0);
  await h.close();
});
