// Issue 18: an account's schedule survives what a busy instance goes through while it keeps the
// account's shard: a lease only late for a moment (a renewal in late, past the acting deadline), a
// write the shard fence refused then, a first sync that could not start. Each of these used to
// drop the account's only schedule: an account that had never synced was never woken again.
import test from 'ava';
import { z } from 'zod';
import { NotShardOwnerError } from '../../src/actors/errors.js';
import type { AccountKey } from '../../src/domain/types.js';
import { ShardLeaseLostError } from '../../src/storage/errors.js';
import { sql } from '../../src/storage/pool.js';
import { createActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { TransientStorageError } from '../../testkit/support/instrumented-store.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);
const settings = { syncIntervalMs: 2 * HOUR, syncJitter: 0, idleMs: 60_000 };

let seq = 0;
const account = (): AccountKey => ({ userUid: `shard-sched-${++seq}`, exchange: 'simulated' });

async function hourlyRows(a: AccountKey): Promise<number> {
  return db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM hourly_returns WHERE user_uid = ${a.userUid} AND exchange = ${a.exchange}`);
}

/** Waits (bounded) for work the actors do with no request to await. */
async function eventually(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => { setTimeout(resolve, 5); });
  }
}

const turn = () => new Promise((resolve) => { setImmediate(resolve); });

test('a wake that finds the lease past its acting deadline comes back and syncs once the renewal is in, instead of being dropped', async (t) => {
  const alice = account();
  const bob = account();
  const clock = new ManualClock(T0);
  let usable = false;
  // bob's shard went to another instance (not in the book): its wake is dropped, as before.
  const h = createActorHarness({
    database: db(), clock, random: () => 0.5, settings, leaseRetryMs: 1_000,
    owns: (a) => usable && a.userUid === alice.userUid, holds: (a) => a.userUid === alice.userUid,
  });
  await h.addAccount(alice);
  await h.addAccount(bob);
  h.supervisor.scheduleWake(alice, T0 + 1_000);
  h.supervisor.scheduleWake(bob, T0 + 1_000);
  clock.advance(1_000); // both wakes fire while the lease is late
  await turn();
  t.is(h.openedCredentials.length, 0, 'nothing synced on a late lease');
  usable = true;
  clock.advance(1_000); // alice's wake again: the renewal is in
  await eventually(async () => (await hourlyRows(alice)) > 0, 'alice synced');
  clock.advance(10_000);
  await turn();
  t.is(await hourlyRows(bob), 0, 'a wake of a shard no longer held is dropped');
  t.is(h.openedCredentials.length, 1);
  await h.close();
});

test('a sync refused by the shard fence hands its schedule back while the shard is still held', async (t) => {
  const alice = account();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, settings });
  await h.addAccount(alice);
  // The first sync's last write meets the fence while the lease is late for a moment.
  h.store.failNext('saveAggregates', new ShardLeaseLostError('refused by the fence'));
  await t.throwsAsync(h.supervisor.sync(alice, 'incremental'), { instanceOf: NotShardOwnerError });
  await eventually(() => h.supervisor.status(alice) === 'passivated', 'the actor stopped');
  t.is(await hourlyRows(alice), 0, 'nothing published yet');
  // Retried a tenth of the interval later, with no request.
  clock.advance(settings.syncIntervalMs / 10);
  await eventually(async () => (await hourlyRows(alice)) > 0, 'the schedule brought the sync back');
  t.pass();
  await h.close();
});

test('a scheduled first sync that cannot start (transient storage error) keeps the account scheduled', async (t) => {
  const alice = account();
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, random: () => 0.5, settings, crashPolicy: { backoffBaseMs: 0, backoffMaxMs: 0 } });
  await h.addAccount(alice);
  h.store.failNext('loadSyncStart', new TransientStorageError('connection lost'));
  h.supervisor.scheduleWake(alice, T0 + 1_000);
  clock.advance(1_000);
  // The fresh actor crashed on its start and restarts cold; idle, it passivates.
  await eventually(() => (h.store.calls.get('loadSyncStart') ?? 0) === 1 && h.supervisor.status(alice) === 'alive', 'the crashed actor restarted');
  await turn();
  clock.advance(settings.idleMs);
  await eventually(() => h.supervisor.status(alice) === 'passivated', 'the restarted actor passivated');
  t.is(await hourlyRows(alice), 0);
  clock.advance(settings.syncIntervalMs);
  await eventually(async () => (await hourlyRows(alice)) > 0, 'the next scheduled sync ran');
  t.pass();
  await h.close();
});
