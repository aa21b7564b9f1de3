// sql/018: the database computes each connection's shard exactly as src/domain/shards.ts does, so
// a claim restores the schedules of its shards by reading only their rows.
import test from 'ava';
import { z } from 'zod';
import fc from 'fast-check';
import { shardOf } from '../../src/domain/shards.js';
import { sql } from '../../src/storage/pool.js';
import { createPlacementRepository } from '../../src/storage/placement.js';
import { createScheduleRepository } from '../../src/storage/schedules.js';
import { connectAccount } from '../../testkit/support/service-process.js';
import { createTestDatabase } from '../../testkit/support/database.js';

test('shard_of in SQL equals shardOf for any text, multi-byte characters included', async (t) => {
  const db = await createTestDatabase(t);
  const samples = fc.sample(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer({ min: 1, max: 65_536 })), 300);
  samples.push(['', 1024], ['scale-00001', 1024], ['日本語ユーザー', 7]);
  const rows = await db.pool.any(sql.type(z.object({ i: z.number(), shard: z.number() }))`
    SELECT i::int AS i, shard_of(u, c) AS shard
    FROM unnest(${sql.array(samples.map((s) => s[0]), 'text')}, ${sql.array(samples.map((s) => s[1]), 'int4')}) WITH ORDINALITY AS x(u, c, i)`);
  t.is(rows.length, samples.length);
  for (const row of rows) {
    const [uid, count] = samples[row.i - 1]!;
    t.is(row.shard, shardOf(uid, count), JSON.stringify(uid));
  }
});

test('connections stored before and after the shard rows exist are listed by shard', async (t) => {
  const db = await createTestDatabase(t);
  const users = Array.from({ length: 40 }, (_, i) => `shard-user-${i}`);
  // Half before placement is set up (shard NULL until ensureShards), half after (the trigger).
  for (const userUid of users.slice(0, 20)) await connectAccount(db.pool, { userUid, exchange: 'simulated' }, { apiKey: 'k', secret: 's' });
  await createPlacementRepository(db.pool).ensureShards(8);
  for (const userUid of users.slice(20)) await connectAccount(db.pool, { userUid, exchange: 'simulated' }, { apiKey: 'k', secret: 's' });
  const schedules = createScheduleRepository(db.pool);
  const listed = await schedules.listShards([3, 5]);
  t.deepEqual(listed.map((s) => s.account.userUid).sort(), users.filter((u) => [3, 5].includes(shardOf(u, 8))).sort());
  t.true(listed.length > 0);
  t.deepEqual(await schedules.listShards([]), []);
});
