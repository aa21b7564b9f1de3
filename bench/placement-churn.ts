// `npm run bench -- placement-churn`: what lease renewals leave behind in `placement` (issue 18).
// Three instances hold a third of 1,024 shards each and renew them ROUNDS times, through the real
// repository (src/storage/placement.ts), while fence-like write transactions hold FOR KEY SHARE on
// shard rows (as every sync write does), on two throw-away databases: one as migrated (sql/020:
// fillfactor, renewals HOT), one with the table's fillfactor reset to the default (the layout
// before sql/020). Prints pg_stat_user_tables for placement in each, as one JSON line.
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createPlacementRepository } from '../src/storage/placement.js';
import { createDatabasePool, noRows, sql } from '../src/storage/pool.js';
import { createTestDatabase, type TestDatabase } from '../testkit/support/database.js';

const SHARDS = Number(process.env.BENCH_SHARDS ?? 1_024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
// Renewals come every TTL/3 and sync write transactions last up to seconds: what matters is how
// many renewals of a row fall within one write transaction (here 200 / 100 = 2; TTL 5 s: 1.67 s
// between renewals, transactions of 0.1-5 s). Both are scaled down together to keep the run short.
const ROUND_PAUSE_MS = Number(process.env.BENCH_ROUND_PAUSE_MS ?? 100);
const WRITE_HOLD_MS = Number(process.env.BENCH_WRITE_HOLD_MS ?? 200);
const FILLFACTOR = process.env.BENCH_FILLFACTOR;
const INSTANCES = 3;
const TTL_MS = 5_000;

const statsRow = z.object({
  updates: z.number(), hotUpdates: z.number(), dead: z.number(), live: z.number(), autovacuums: z.number(), tablePages: z.number(), indexBytes: z.number(),
});

async function churn(db: TestDatabase, layout: 'default fillfactor (before sql/020)' | 'sql/020'): Promise<Record<string, unknown>> {
  // One connection per instance, as each keeper has (Storage.leasePool).
  const pools = await Promise.all(Array.from({ length: INSTANCES }, () => createDatabasePool(db.url, { maxPoolSize: 1 })));
  const writers = await createDatabasePool(db.url, { maxPoolSize: 4 });
  try {
    if (layout !== 'sql/020') await db.pool.query(sql.type(noRows)`ALTER TABLE placement RESET (fillfactor)`);
    else if (FILLFACTOR !== undefined) await db.pool.query(sql.type(noRows)`ALTER TABLE placement SET (fillfactor = ${sql.literalValue(FILLFACTOR)})`);
    const repos = pools.map((p) => createPlacementRepository(p));
    await repos[0]!.ensureShards(SHARDS);
    const ids = repos.map((_, i) => `bench-instance-${i}`);
    for (const [i, repo] of repos.entries()) await repo.claim(ids[i]!, `127.0.0.1:${5000 + i}`, TTL_MS, Math.ceil(SHARDS / INSTANCES));
    let writing = true;
    // Sync writes: each transaction's first statement is the fence (FOR KEY SHARE on its shard's
    // row), held while its pages are stored; they keep old row versions from being pruned meanwhile.
    const fenceLoop = async (seed: number): Promise<void> => {
      let shard = seed;
      while (writing) {
        shard = (shard * 7 + 13) % SHARDS;
        await writers.transaction(async (tx) => {
          await tx.query(sql.type(noRows)`SELECT epoch FROM placement WHERE shard = ${shard} FOR KEY SHARE`);
          await tx.query(sql.type(noRows)`SELECT pg_sleep(${WRITE_HOLD_MS / 1000})`);
        });
      }
    };
    const fences = [1, 2, 3, 4].map((seed) => fenceLoop(seed));
    let renewingMs = 0;
    // Each instance renews on its own timer: phases spread over one pause, as independent processes.
    await Promise.all(repos.map(async (repo, i) => {
      await sleep((ROUND_PAUSE_MS * i) / INSTANCES);
      for (let round = 0; round < ROUNDS; round++) {
        const started = performance.now();
        await repo.renew(ids[i]!, TTL_MS, `127.0.0.1:${5000 + i}`);
        renewingMs += performance.now() - started;
        await sleep(ROUND_PAUSE_MS);
      }
    }));
    const renewMs = renewingMs / (ROUNDS * INSTANCES);
    writing = false;
    await Promise.all(fences);
    // Backends flush their table statistics when they exit.
    await Promise.all([...pools.map((p) => p.end()), writers.end()]);
    await sleep(1_500);
    const stats = await db.pool.one(sql.type(statsRow)`
      SELECT n_tup_upd::float8 AS updates, n_tup_hot_upd::float8 AS "hotUpdates", n_dead_tup::float8 AS dead, n_live_tup::float8 AS live,
        autovacuum_count::float8 AS autovacuums, (pg_relation_size('placement') / 8192)::float8 AS "tablePages", pg_indexes_size('placement')::float8 AS "indexBytes"
      FROM pg_stat_user_tables WHERE relname = 'placement'`);
    return { layout: layout === 'sql/020' && FILLFACTOR !== undefined ? `fillfactor ${FILLFACTOR}` : layout, ...stats, hotShare: Math.round((stats.hotUpdates / Math.max(1, stats.updates)) * 1000) / 1000, renewMs: Math.round(renewMs * 10) / 10 };
  } finally {
    await Promise.all([...pools.map((p) => p.end().catch(() => undefined)), writers.end().catch(() => undefined)]);
  }
}

const results: Record<string, unknown>[] = [];
for (const layout of ['default fillfactor (before sql/020)', 'sql/020'] as const) {
  const db = await createTestDatabase();
  try {
    results.push(await churn(db, layout));
  } finally {
    await db.drop();
  }
}
console.log(JSON.stringify({ bench: 'placement-churn', shards: SHARDS, instances: INSTANCES, rounds: ROUNDS, roundPauseMs: ROUND_PAUSE_MS, writeHoldMs: WRITE_HOLD_MS, loadAverage: loadavg()[0], results }));
