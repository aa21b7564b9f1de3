// Two instances' stores on one real database: the shard lease fence of issue 18.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountKey, Fill } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createCopyIngest } from '../../src/storage/copy-ingest.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import { createPlacementRepository } from '../../src/storage/placement.js';
import { createLeaseBook, type LeaseBook } from '../../src/storage/shard-fence.js';
import { ShardCountMismatchError, ShardLeaseLostError, StaleGenerationError } from '../../src/storage/errors.js';
import { sql } from '../../src/storage/pool.js';
import { z } from 'zod';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const SHARDS = 4;
const TTL_MS = 400;
const ENVELOPE = Buffer.from([1, 1, 0, ...new Array<number>(40).fill(7)]);

let users = 0;
const newAccount = (): AccountKey => ({ userUid: `fence-user-${++users}`, exchange: 'binance' });
const fill = (id: string): Fill => ({
  exchangeTradeId: id, symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'buy',
  quantity: '0.5', price: '43000.12', fee: '0.001', feeAsset: 'BNB', executedAt: Date.UTC(2026, 0, 1, 12),
});

/** What the lease keeper does after a claim or renewal: book the leases, usable for the TTL. */
function book(leases: LeaseBook, granted: readonly { shard: number; epoch: number }[]): void {
  for (const lease of granted) leases.set(lease.shard, lease.epoch);
  leases.setUsableUntil(performance.now() + TTL_MS);
}

/** The placement table of this file's database, with its shard rows. */
async function placementOf() {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  return placement;
}

test.serial('another shard count on the same database is refused', async (t) => {
  const placement = await placementOf();
  await t.throwsAsync(placement.ensureShards(SHARDS * 2), { instanceOf: ShardCountMismatchError });
  await t.throwsAsync(placement.ensureShards(SHARDS - 1), { instanceOf: ShardCountMismatchError });
  // The refused calls added nothing: the original count still starts.
  await t.notThrowsAsync(placement.ensureShards(SHARDS));
  t.is((await db().pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM placement`)), SHARDS);
});

test.serial("a stale owner's writes are refused after a takeover, the new owner's go through", async (t) => {
  const placement = await placementOf();
  const a = createLeaseBook('instance-a', SHARDS);
  const b = createLeaseBook('instance-b', SHARDS);
  const storeA = createAccountStore(db().pool, { fence: a });
  const storeB = createAccountStore(db().pool, { fence: b });
  const copyA = createCopyIngest(db().url, 1, a);
  const bulkA = createAccountStore(db().pool, { fence: a, copy: copyA, copyThreshold: 1 });
  t.teardown(() => copyA.end());
  const account = newAccount();
  const generation = await createConnectionRepository(db().pool).saveConnection(account, ENVELOPE);

  book(a, await placement.claim('instance-a', 'a:1', TTL_MS, SHARDS));
  t.is(a.size, SHARDS);
  // B holds nothing: refused without touching the data.
  t.deepEqual(await placement.claim('instance-b', 'b:1', TTL_MS, SHARDS), []);
  await t.throwsAsync(storeB.commitFillsPage(account, [fill('t0')], 'b0', generation), { instanceOf: ShardLeaseLostError });
  t.deepEqual(await storeA.commitFillsPage(account, [fill('t1')], 'a1', generation), { inserted: 1 });

  // A stops renewing (paused): its lease expires in database time, B takes the shard over.
  await sleep(TTL_MS + 100);
  book(b, await placement.claim('instance-b', 'b:1', TTL_MS, SHARDS));
  t.is(b.size, SHARDS);
  const shard = b.shardOf(account);
  t.not(b.epochOf(shard), a.epochOf(shard));
  // A wakes up believing it still owns the shard (its book says so and its local deadline is pushed on).
  a.setUsableUntil(performance.now() + 60_000);
  await t.throwsAsync(storeA.commitFillsPage(account, [fill('t2')], 'a2', generation), { instanceOf: ShardLeaseLostError });
  await t.throwsAsync(bulkA.commitFillsPage(account, [fill('t3')], 'a3', generation), { instanceOf: ShardLeaseLostError });
  await t.throwsAsync(storeA.saveReconciliation(account, {
    at: Date.UTC(2026, 0, 2), status: 'reconciled', explainedShare: 1, differingAssets: 0, quarantined: 0, coverageStart: { fills: null, cashFlows: null },
  }, generation), { instanceOf: StaleGenerationError });
  t.deepEqual(await storeB.commitFillsPage(account, [fill('t4')], 'b4', generation), { inserted: 1 });
  t.is(await storeB.loadCursor(account, 'fills'), 'b4');
  t.deepEqual((await storeB.loadFills(account, 0)).map((f) => f.exchangeTradeId), ['t1', 't4']);
  // A's renewal finds nothing left to renew.
  t.deepEqual(await placement.renew('instance-a', TTL_MS), []);
  t.is((await placement.renew('instance-b', TTL_MS)).length, SHARDS);
  t.is(await placement.release('instance-b', b.shards()), SHARDS);
});

test.serial('past its local acting deadline an owner refuses its own writes before the database would', async (t) => {
  const placement = await placementOf();
  const a = createLeaseBook('instance-c', SHARDS);
  const store = createAccountStore(db().pool, { fence: a });
  const account = newAccount();
  const generation = await createConnectionRepository(db().pool).saveConnection(account, ENVELOPE);
  for (const lease of await placement.claim('instance-c', 'c:1', 60_000, SHARDS)) a.set(lease.shard, lease.epoch);
  a.setUsableUntil(performance.now() - 1);
  await t.throwsAsync(store.commitFillsPage(account, [fill('c1')], 'c1', generation), { instanceOf: ShardLeaseLostError });
  a.setUsableUntil(performance.now() + 60_000);
  t.deepEqual(await store.commitFillsPage(account, [fill('c1')], 'c1', generation), { inserted: 1 });
  t.is(await placement.release('instance-c', a.shards()), SHARDS);
});

test.serial('a write that passed its fence holds off the takeover until it commits', async (t) => {
  const placement = await placementOf();
  const a = createLeaseBook('instance-d', SHARDS);
  const account = newAccount();
  const generation = await createConnectionRepository(db().pool).saveConnection(account, ENVELOPE);
  book(a, await placement.claim('instance-d', 'd:1', TTL_MS, SHARDS));
  const shard = a.shardOf(account);
  let releaseWrite!: () => void;
  const held = new Promise<void>((resolve) => { releaseWrite = resolve; });
  const { assertFence } = await import('../../src/storage/shard-fence.js');
  const write = db().pool.transaction(async (tx) => {
    await assertFence(tx, account, generation, a);
    await held;
  });
  await sleep(TTL_MS + 100);
  // Expired in database time, but the open write still holds its shard row: the claimer passes over it.
  const first = await placement.claim('instance-e', 'e:1', TTL_MS, SHARDS);
  t.false(first.some((l) => l.shard === shard));
  t.is(first.length, SHARDS - 1);
  releaseWrite();
  await write;
  const second = await placement.claim('instance-e', 'e:1', TTL_MS, SHARDS);
  t.deepEqual(second.map((l) => l.shard), [shard]);
  // Renewal does not wait for the owner's own open writes (only expires_at changes).
  const e = createLeaseBook('instance-e', SHARDS);
  book(e, [...first, ...second]);
  let releaseOwn!: () => void;
  const own = new Promise<void>((resolve) => { releaseOwn = resolve; });
  const ownWrite = db().pool.transaction(async (tx) => {
    await assertFence(tx, account, generation, e);
    await own;
  });
  await sleep(50);
  t.is((await placement.renew('instance-e', TTL_MS)).length, SHARDS);
  releaseOwn();
  await ownWrite;
  t.deepEqual(await placement.ownedCounts(), new Map([['instance-e', SHARDS]]));
  t.deepEqual(await placement.ownerOf(shard), { instanceId: 'instance-e', addr: 'e:1' });
  t.is(await placement.release('instance-e', e.shards()), SHARDS);
  t.is(await placement.ownerOf(shard), null);
});

test.serial('live instances are counted from unexpired heartbeats', async (t) => {
  const placement = await placementOf();
  await placement.heartbeat('hb-1', 'h:1', 60_000);
  await placement.heartbeat('hb-2', 'h:2', 200);
  t.is(await placement.liveInstances(), 2);
  await sleep(300);
  t.is(await placement.liveInstances(), 1);
  await placement.leave('hb-1');
  t.is(await placement.liveInstances(), 0);
});

test('an actor\'s writes carry the epoch its shard had when it started: a shard lost and claimed again under a new epoch refuses them', (t) => {
  const leases = createLeaseBook('pinning', SHARDS);
  const account = newAccount();
  const shard = leases.shardOf(account);
  book(leases, [{ shard, epoch: 5 }]);
  leases.pin(account);
  t.deepEqual(leases.leaseOf(account), { shard, epoch: 5 });
  // Lost, then claimed again with a new epoch while the actor still ran.
  leases.delete(shard);
  book(leases, [{ shard, epoch: 9 }]);
  t.is(leases.leaseOf(account), null, 'the old actor may not write under the new lease');
  t.false(leases.owns(account));
  leases.unpin(account);
  t.deepEqual(leases.leaseOf(account), { shard, epoch: 9 }, 'a new actor writes under the new one');
  leases.pin(account);
  t.deepEqual(leases.leaseOf(account), { shard, epoch: 9 });
});
