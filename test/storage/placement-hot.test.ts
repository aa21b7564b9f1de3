// Lease renewals in `placement` are HOT updates (sql/020): each renewal rewrites every held shard's
// row every TTL/3, and on full pages every new version went to another page with new index
// entries, leaving dead tuples for VACUUM. With room on each page, and expires_at (the only column a
// renewal changes) unindexed, a renewed row stays on its page even while an older transaction
// keeps the previous versions from being pruned (a sync's write transaction does that).
import test from 'ava';
import { z } from 'zod';
import { createPlacementRepository } from '../../src/storage/placement.js';
import { createDatabasePool, sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const SHARDS = 1_024;

const pageRow = z.object({ shard: z.number(), page: z.number() });

test('renewals keep each shard row on its page (HOT), even while an older transaction holds its old versions', async (t) => {
  const placement = createPlacementRepository(db().pool);
  await placement.ensureShards(SHARDS);
  t.is((await placement.claim('hot-a', '127.0.0.1:1', 60_000, SHARDS)).length, SHARDS);
  const pages = async () => new Map((await db().pool.any(sql.type(pageRow)`
    SELECT shard, (ctid::text::point)[0]::int AS page FROM placement`)).map((r) => [r.shard, r.page]));
  const before = await pages();
  // A long write transaction elsewhere (its snapshot keeps every newer version unprunable).
  const holder = await createDatabasePool(db().url, { maxPoolSize: 1 });
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let started!: () => void;
  const open = new Promise<void>((resolve) => { started = resolve; });
  const holding = holder.transaction(async (tx) => {
    await tx.query(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM placement`);
    await tx.query(sql.type(z.object({ x: z.string().nullable() }))`SELECT txid_current()::text AS x`);
    started();
    await held;
  });
  await open;
  try {
    for (let round = 0; round < 4; round++) t.is((await placement.renew('hot-a', 60_000)).length, SHARDS);
    const after = await pages();
    const moved = [...before].filter(([shard, page]) => after.get(shard) !== page).length;
    t.is(moved, 0, `${moved} of ${SHARDS} rows left their page`);
  } finally {
    release();
    await holding;
    await holder.end();
  }
  await placement.release('hot-a', [...before.keys()]);
});

test('expires_at, the column a renewal changes, is in no index of placement (an indexed one makes renewals non-HOT)', async (t) => {
  const indexed = await db().pool.any(sql.type(z.object({ index: z.string() }))`
    SELECT i.indexrelid::regclass::text AS index FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = 'placement'::regclass AND a.attname = 'expires_at'`);
  t.deepEqual(indexed, []);
});
