// Two lease keepers on one real database (issue 18): shares, hand-back on join, takeover after a
// crash within TTL + one poll, and the watchdog that stops actors when renewals hang.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createShardLeaseKeeper, type ShardLeaseKeeper } from '../../src/app/shard-leases.js';
import { createPlacementRepository, type PlacementRepository } from '../../src/storage/placement.js';
import { startLeaseRenewer } from '../../src/storage/lease-renewer.js';
import { assertFence, createLeaseBook, type LeaseBook } from '../../src/storage/shard-fence.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { startProxy } from '../../testkit/support/scale-out.js';

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

/** `renewalUrl`: renew off the event loop, from the worker thread, on a connection to this URL. */
function instance(id: string, placement: PlacementRepository = createPlacementRepository(db().pool), ttlMs = TTL_MS, renewalUrl?: string): Instance {
  const book = createLeaseBook(id, SHARDS);
  const stoppedShards: number[] = [];
  const gainedShards: number[] = [];
  const stoppedAt: number[] = [];
  const registry = new Registry();
  const keeper = createShardLeaseKeeper({
    placement, book, addr: `${id}:50051`, ttlMs, registry,
    stopShards: async (shards) => { stoppedAt.push(performance.now()); stoppedShards.push(...shards); },
    shardsGained: async (shards) => { gainedShards.push(...shards); },
    ...(renewalUrl === undefined ? {} : {
      offLoop: (deadline, handlers) => startLeaseRenewer({ url: renewalUrl, instanceId: id, addr: `${id}:50051`, ttlMs, deadline }, handlers),
    }),
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

/** Keeps this thread's event loop busy (no timer, no message runs meanwhile), as a long synchronous sync step would. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  let spins = 0;
  while (performance.now() < until) spins += 1;
  if (spins < 0) throw new Error('unreachable');
}

/** Polls `condition` until it holds or `withinMs` pass; says whether it held. */
async function waitFor(condition: () => boolean, withinMs: number): Promise<boolean> {
  const end = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() >= end) return false;
    await sleep(20);
  }
  return true;
}

async function leaseLosses(registry: Registry): Promise<number> {
  const found = /^enclave_shard_lease_losses_total (\d+)$/mu.exec(await registry.metrics());
  if (found === null) throw new Error('enclave_shard_lease_losses_total is not exported');
  return Number(found[1]);
}

/**
 * Waits until the instance holds every shard again and its actor work has settled, then forgets
 * the stops so far: on a loaded machine the renewal worker's first renewal can come after the
 * start's deadline, the shards lost and regained, and only what follows is under test.
 */
async function everyShardHeldAfresh(a: Instance, withinMs: number): Promise<boolean> {
  const held = await waitFor(() => a.book.size === SHARDS, withinMs);
  await a.keeper.settled();
  a.stoppedShards.length = 0;
  a.stoppedAt.length = 0;
  return held;
}

/** Waits until the book's acting deadline moves past `from` (a renewal after it was booked). */
function deadlineAdvancedPast(book: LeaseBook, from: number, withinMs: number): Promise<boolean> {
  return waitFor(() => book.usableUntil() > from, withinMs);
}

const ANY_ACCOUNT = { userUid: 'blocked-loop-user', exchange: 'binance' } as const;
// Long enough that a renewal worker sharing two loaded cores still renews within 0.8 TTL of its last one.
const BLOCK_TTL_MS = 4_000;

test.serial('with renewal in the event loop, a loop blocked for 0.8 TTL loses its leases (the case the worker is for)', async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  const a = instance('inloop-blocked', placement, BLOCK_TTL_MS);
  await a.keeper.start();
  t.is(a.book.size, SHARDS);
  // The last renewal was sent before the block began: its acting deadline (0.8 TTL) passes during it.
  blockLoop(0.8 * BLOCK_TTL_MS);
  t.false(a.book.owns(ANY_ACCOUNT), 'past the acting deadline right after the block');
  await t.throwsAsync(db().pool.transaction((tx) => assertFence(tx, ANY_ACCOUNT, undefined, a.book)));
  await sleep(50);
  await a.keeper.settled();
  t.deepEqual([...a.stoppedShards].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7], 'the watchdog stopped every actor');
  await a.keeper.stop();
  // The book forgot them, so the stop released nothing: freed here so the next test can claim every shard.
  await placement.release('inloop-blocked', [0, 1, 2, 3, 4, 5, 6, 7]);
});

test.serial('with renewal off the event loop, a loop blocked for 0.8 TTL keeps its leases and its writes pass the fence', async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  const a = instance('offloop-blocked', placement, BLOCK_TTL_MS, db().url);
  try {
    await a.keeper.start();
    // Block only after the worker's first renewal is in (its thread's start-up is not what is
    // tested; on a loaded machine it can be late, the shards lost and regained before the block).
    t.true(await deadlineAdvancedPast(a.book, a.book.usableUntil(), BLOCK_TTL_MS), 'the worker renews');
    t.true(await everyShardHeldAfresh(a, 10 * BLOCK_TTL_MS), 'every shard held before the block');
    const lossesBefore = await leaseLosses(a.registry);
    blockLoop(0.8 * BLOCK_TTL_MS);
    // Nothing of this thread ran during the block: the worker advanced the shared deadline itself.
    t.true(a.book.owns(ANY_ACCOUNT), 'still usable right after the block');
    await t.notThrowsAsync(db().pool.transaction((tx) => assertFence(tx, ANY_ACCOUNT, undefined, a.book)));
    await sleep(50);
    await a.keeper.settled();
    t.deepEqual(a.stoppedShards, [], 'no actor stopped');
    t.is(a.book.size, SHARDS);
    t.is(await leaseLosses(a.registry), lossesBefore);
  } finally {
    await a.keeper.stop();
  }
  t.deepEqual(await placement.ownedCounts(), new Map(), 'released at stop');
});

test.serial("a frozen renewal worker's connection lets the acting deadline pass: the main thread stops every actor", async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  const url = new URL(db().url);
  const proxy = await startProxy(Number(url.port === '' ? 5432 : url.port));
  url.host = `127.0.0.1:${proxy.port}`;
  const ttlMs = 1_500;
  const a = instance('offloop-frozen', placement, ttlMs, url.href);
  try {
    await a.keeper.start();
    t.true(await deadlineAdvancedPast(a.book, a.book.usableUntil(), ttlMs), 'the worker renews');
    // On a loaded machine the worker's first renewal can come after the start's deadline: the
    // shards are then lost and regained before the freeze. Only what follows the freeze is tested.
    t.true(await everyShardHeldAfresh(a, 10 * ttlMs), 'every shard held before the freeze');
    proxy.freeze();
    const frozenAt = performance.now();
    // A renewal sent before the freeze may still be in: wait past any deadline it could set, and
    // for the stops themselves (async, and slow on a loaded machine: 2 TTL was too short in CI).
    await waitFor(() => a.stoppedShards.length >= SHARDS, 10 * ttlMs);
    const deadline = a.book.usableUntil();
    t.true(deadline <= frozenAt + ttlMs, 'the shared deadline was not advanced past the freeze');
    t.is(a.book.size, 0);
    t.false(a.book.owns(ANY_ACCOUNT));
    t.deepEqual([...a.stoppedShards].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7]);
    t.true((a.stoppedAt[0] ?? 0) >= deadline, 'stopped at the deadline, not before');
    t.regex(await a.registry.metrics(), /enclave_lease_acting_seconds_left 0\n/u);
  } finally {
    // The worker's renewal hangs on the frozen connection: stop terminates it.
    await a.keeper.stop();
    await proxy.close();
  }
  t.deepEqual(await placement.ownedCounts(), new Map());
});
