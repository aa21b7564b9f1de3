// Two lease keepers on one real database (issue 18): shares, hand-back on join, takeover after a
// crash within TTL + one poll, and the watchdog that stops actors when renewals hang.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createShardLeaseKeeper, type ShardLeaseKeeper } from '../../src/app/shard-leases.js';
import { createPlacementRepository, type PlacementRepository } from '../../src/storage/placement.js';
import { createLeaseBook, type LeaseBook } from '../../src/storage/shard-fence.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const SHARDS = 8;
const TTL_MS = 600;

interface Instance {
  readonly book: LeaseBook;
  readonly keeper: ShardLeaseKeeper;
  readonly stoppedShards: number[];
  readonly gainedShards: number[];
  /** performance.now() at each stopShards call. */
  readonly stoppedAt: number[];
  readonly registry: Registry;
}

function instance(id: string, placement: PlacementRepository = createPlacementRepository(db().pool), ttlMs = TTL_MS): Instance {
  const book = createLeaseBook(id, SHARDS);
  const stoppedShards: number[] = [];
  const gainedShards: number[] = [];
  const stoppedAt: number[] = [];
  const registry = new Registry();
  const keeper = createShardLeaseKeeper({
    placement, book, addr: `${id}:50051`, ttlMs, registry,
    stopShards: async (shards) => { stoppedAt.push(performance.now()); stoppedShards.push(...shards); },
    shardsGained: async (shards) => { gainedShards.push(...shards); },
  });
  return { book, keeper, stoppedShards, gainedShards, stoppedAt, registry };
}

test.serial('one instance owns every shard; a second one gets its share handed over', async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  // A TTL no round trip of a loaded machine outlasts: this test is about shares, not expiry.
  const a = instance('keeper-a', placement, 10_000);
  await a.keeper.round();
  await a.keeper.settled();
  t.is(a.book.size, SHARDS);
  t.deepEqual([...a.gainedShards].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.regex(await a.registry.metrics(), /enclave_shard_leases_held 8/u);
  t.regex(await a.registry.metrics(), /enclave_shards_configured 8/u);

  const b = instance('keeper-b', placement, 10_000);
  await b.keeper.round();
  await b.keeper.settled(); // beats: now two live instances, nothing free yet
  t.is(b.book.size, 0);
  await a.keeper.round();
  await a.keeper.settled(); // hands back its excess, actors stopped first
  t.is(a.book.size, SHARDS / 2);
  t.deepEqual(a.stoppedShards, [4, 5, 6, 7]);
  await b.keeper.round();
  await b.keeper.settled();
  t.deepEqual(b.book.shards(), [4, 5, 6, 7]);
  t.deepEqual(Object.fromEntries(await placement.ownedCounts()), { 'keeper-a': 4, 'keeper-b': 4 });

  // SIGTERM on B: released at once, A takes them on its next round.
  await b.keeper.stop();
  t.deepEqual(b.stoppedShards, [4, 5, 6, 7]);
  await a.keeper.round();
  await a.keeper.settled();
  t.is(a.book.size, SHARDS);
  await a.keeper.stop();
  t.deepEqual(await placement.ownedCounts(), new Map());
});

test.serial("a crashed instance's shards are owned again within TTL + one poll", async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  const a = instance('crash-a');
  const b = instance('crash-b');
  await a.keeper.round();
  await a.keeper.settled();
  await b.keeper.round();
  await b.keeper.settled();
  await a.keeper.round();
  await a.keeper.settled();
  await b.keeper.round();
  await b.keeper.settled();
  t.is(a.book.size + b.book.size, SHARDS);
  const crashedAt = performance.now();
  // A is killed: no more rounds, no release. B polls every TTL/3, as its timer would.
  let takenOverAt: number | null = null;
  while (performance.now() - crashedAt < 3 * TTL_MS) {
    await sleep(TTL_MS / 3);
    await b.keeper.round();
    await b.keeper.settled();
    if (b.book.size === SHARDS) {
      takenOverAt = performance.now();
      break;
    }
  }
  t.not(takenOverAt, null);
  const takeoverMs = takenOverAt! - crashedAt;
  t.true(takeoverMs <= TTL_MS + TTL_MS / 3 + 200, `takeover took ${Math.round(takeoverMs)} ms`);
  await b.keeper.stop();
});

test.serial('renewals that hang stop every actor at the acting deadline', async (t) => {
  const real = createPlacementRepository(db().pool);
  await real.ensureShards(SHARDS);
  let frozen = false;
  const never = new Promise<never>(() => {});
  const hanging: PlacementRepository = {
    ...real,
    heartbeat: (...args) => (frozen ? never : real.heartbeat(...args)),
    renew: (...args) => (frozen ? never : real.renew(...args)),
  };
  const a = instance('frozen-a', hanging);
  const startedAt = performance.now();
  await a.keeper.round();
  await a.keeper.settled();
  t.is(a.book.size, SHARDS);
  frozen = true;
  void a.keeper.round();
  await sleep(TTL_MS);
  t.is(a.book.size, 0);
  t.deepEqual([...a.stoppedShards].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7]);
  // Timed when the watchdog stopped them (not after this test's own sleep, late on a loaded machine):
  // the database set the expiry after startedAt, so this is before it.
  const stoppedAfter = (a.stoppedAt[0] ?? Number.POSITIVE_INFINITY) - startedAt;
  t.true(stoppedAfter < TTL_MS, `stopped ${Math.round(stoppedAfter)} ms after the renewal, before the database expiry`);
  t.false(a.book.owns({ userUid: 'anyone', exchange: 'binance' }));
  t.regex(await a.registry.metrics(), /enclave_shard_lease_losses_total 8/u);
  // Released through the real repository so the next test file run starts clean.
  await real.release('frozen-a', [0, 1, 2, 3, 4, 5, 6, 7]);
});

test.serial('on the embedded database the one process frees what an earlier run held and owns every shard', async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  const earlier = instance('earlier-run', placement, 86_400_000);
  await earlier.keeper.round();
  t.is(earlier.book.size, SHARDS, 'an earlier run held every shard for a day');
  // That process is gone (no release); the next start on the same database:
  await placement.resetForSoleInstance();
  const next = instance('next-run', placement, 86_400_000);
  await next.keeper.round();
  t.is(next.book.size, SHARDS, 'the new process owns every shard at once');
  t.is(await placement.liveInstances(), 1, 'the earlier instance is forgotten, so the fair share is every shard');
  await next.keeper.stop();
});

test.serial('a renewal that comes back after the acting deadline leaves no shard booked without its schedules restored', async (t) => {
  const real = createPlacementRepository(db().pool);
  await real.ensureShards(SHARDS);
  // TTL 3 s: the acting deadline is 2.4 s after a renewal is sent; the database keeps the lease 3 s.
  const ttlMs = 3_000;
  let delayMs = 0;
  const late: PlacementRepository = {
    ...real,
    renew: async (...args) => {
      if (delayMs > 0) await sleep(delayMs);
      return real.renew(...args);
    },
  };
  const a = instance('late-a', late, ttlMs);
  await a.keeper.round();
  await a.keeper.settled();
  t.is(a.book.size, SHARDS);
  // The next renewal is answered 2.6 s after it was sent: the watchdog stopped every actor at the
  // deadline, while the database (3 s) still grants every lease when the statement runs.
  delayMs = 2_600;
  await a.keeper.round();
  await a.keeper.settled();
  t.deepEqual([...a.stoppedShards].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7], 'stopped at the acting deadline');
  // A renewal in time: the shards are resumed, their schedules restored.
  delayMs = 0;
  await a.keeper.round();
  await a.keeper.settled();
  t.is(a.book.size, SHARDS);
  t.is(a.gainedShards.length, 2 * SHARDS, 'claimed once, then restored again after the late renewal');
  t.deepEqual([...a.gainedShards.slice(SHARDS)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7]);
  await a.keeper.stop();
});
