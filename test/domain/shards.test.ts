import test from 'ava';
import fc from 'fast-check';
import {
  actingDeadline, claimBudget, excessShards, fairShare, fnv1a32, leaseMarginMs, leaseUsable, renewIntervalMs, shardOf, shardSpread,
} from '../../src/domain/shards.js';

test('fnv1a32 matches the published FNV-1a test vectors', (t) => {
  // Vectors from the FNV reference (Landon Curt Noll, isthe.com/chongo/tech/comp/fnv, test_fnv.c).
  t.is(fnv1a32(''), 0x811c9dc5);
  t.is(fnv1a32('a'), 0xe40c292c);
  t.is(fnv1a32('foobar'), 0xbf9cf968);
});

test('a user always maps to the same shard, within range', (t) => {
  t.notThrows(() => fc.assert(fc.property(fc.string(), fc.integer({ min: 1, max: 65_536 }), (uid, count) => {
    const shard = shardOf(uid, count);
    return Number.isInteger(shard) && shard >= 0 && shard < count && shard === shardOf(uid, count);
  })));
});

test('shards spread users evenly', (t) => {
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 16_000; i++) counts[shardOf(`user-${i}`, 16)]! += 1;
  // 1,000 expected per shard; a fair hash stays well within ±15%.
  for (const c of counts) t.true(c > 850 && c < 1150, `shard count ${c}`);
});

test('shardOf refuses a shard count that is not a positive integer', (t) => {
  t.throws(() => shardOf('u', 0), { instanceOf: RangeError });
  t.throws(() => shardOf('u', 1.5), { instanceOf: RangeError });
});

test('fair share covers every shard and one instance owns them all', (t) => {
  t.is(fairShare(1024, 1), 1024);
  t.is(fairShare(1024, 0), 1024);
  t.is(fairShare(1024, 3), 342);
  t.is(fairShare(1024, 4), 256);
  fc.assert(fc.property(fc.integer({ min: 1, max: 65_536 }), fc.integer({ min: 1, max: 500 }), (shards, live) =>
    fairShare(shards, live) * live >= shards && (fairShare(shards, live) - 1) * live < shards));
});

test('claims stop at the fair share; excess is handed back gradually', (t) => {
  t.is(claimBudget(300, 342), 42);
  t.is(claimBudget(400, 342), 0);
  t.is(excessShards(342, 256, 1_000), 86);
  t.is(excessShards(342, 256, 32), 32);
  t.is(excessShards(257, 256, 32), 1);
  t.is(excessShards(256, 256, 32), 0);
  t.is(excessShards(100, 256, 32), 0);
});

test('the acting deadline counts from the renewal request, a margin before the TTL', (t) => {
  t.is(renewIntervalMs(15_000), 5_000);
  t.is(leaseMarginMs(15_000), 3_000);
  t.is(leaseMarginMs(300), 100);
  t.is(actingDeadline(1_000, 15_000, 3_000), 13_000);
  t.true(leaseUsable(1_000, 12_999, 15_000, 3_000));
  t.false(leaseUsable(1_000, 13_000, 15_000, 3_000));
  t.false(leaseUsable(null, 0, 15_000, 3_000));
  // Two failed renewals at TTL/3 still leave the lease usable until the deadline, never past the TTL.
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 1_000, max: 600_000 }), (sent, ttl) => {
    const margin = leaseMarginMs(ttl);
    return actingDeadline(sent, ttl, margin) < sent + ttl && actingDeadline(sent, ttl, margin) > sent + 2 * renewIntervalMs(ttl);
  }));
});

test('shard spread reports the least and most loaded instance', (t) => {
  t.deepEqual(shardSpread([256, 250, 262, 256]), { min: 250, max: 262 });
  t.deepEqual(shardSpread([]), { min: 0, max: 0 });
});
