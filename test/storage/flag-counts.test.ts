// The share of flagged hours GetAggregatedMetrics states comes from per-account counts kept by
// triggers on hourly_returns (sql/017): every published hour counts (unvalued ones too), per flag
// and any flag, one account only, and the counts equal the aggregate over the hours after any
// sequence of inserts, recomputed hours, disclosure rewrites and removals.
import test from 'ava';
import fc from 'fast-check';
import { z } from 'zod';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createDisclosureStore } from '../../src/storage/disclosure-store.js';
import { HOUR_FLAGS } from '../../src/domain/hour-flags.js';
import { createFlagCounter } from '../../src/storage/flag-counts.js';
import { flagSharesOf } from '../../src/app/reads.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import { sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

async function account(userUid: string): Promise<AccountKey> {
  const key: AccountKey = { userUid, exchange: 'binance' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${userUid}, 'binance', '\\x00'::bytea, 1)`);
  return key;
}

const hour = (i: number, flags?: HourlyReturn['flags']): HourlyReturn =>
  ({ hourStart: T0 + i * H, return: 0, cumulativeReturn: 0, equityEnd: 1, netFlow: 0, ...(flags === undefined ? {} : { flags }) });

test('counts every published hour, the flagged ones, and each flag, for one account only', async (t) => {
  const store = createAccountStore(db().pool);
  const a = await account('counted');
  const b = await account('other');
  await store.saveAggregates(a, { hourlyReturns: [hour(0), hour(1, ['stale-mark']), hour(2, ['stale-mark', 'revalued-at-flow']), hour(3, ['unvalued'])], snapshot: null, engineState: null, performance: null });
  await store.saveAggregates(b, { hourlyReturns: [hour(0, ['oversold'])], snapshot: null, engineState: null, performance: null });
  const counts = await createFlagCounter(db().pool)(a);
  t.is(counts.hours, 4);
  t.is(counts.flagged, 3);
  t.like(counts.perFlag, { 'stale-mark': 2, 'revalued-at-flow': 1, unvalued: 1, oversold: 0 });
  t.deepEqual(flagSharesOf(counts), {
    flaggedHourShare: 0.75,
    flagShares: [{ flag: 'stale-mark', share: 0.5 }, { flag: 'revalued-at-flow', share: 0.25 }, { flag: 'unvalued', share: 0.25 }],
  });
});

test('an account without published hours has no flagged share (0, not a division by zero)', async (t) => {
  const counts = await createFlagCounter(db().pool)(await account('empty'));
  t.is(counts.hours, 0);
  t.deepEqual(flagSharesOf(counts), { flaggedHourShare: 0, flagShares: [] });
});

const aggregateRow = z.object({ hours: z.number().int(), flagged: z.number().int(), perBit: z.array(z.number().int()) });
/** The counts straight from the hours (what every metrics read computed before sql/017). */
async function aggregate(key: AccountKey): Promise<{ hours: number; flagged: number; perFlag: Record<string, number> }> {
  const row = await db().pool.one(sql.type(aggregateRow)`
    SELECT count(*)::int AS hours, count(*) FILTER (WHERE flags <> 0)::int AS flagged,
           ARRAY(SELECT (SELECT count(*) FROM hourly_returns h WHERE h.user_uid = ${key.userUid} AND h.exchange = ${key.exchange} AND (h.flags >> b) & 1 = 1)::int
                 FROM generate_series(0, 15) AS b ORDER BY b) AS "perBit"
    FROM hourly_returns WHERE user_uid = ${key.userUid} AND exchange = ${key.exchange}`);
  return { hours: row.hours, flagged: row.flagged, perFlag: Object.fromEntries(HOUR_FLAGS.map((f, i) => [f, row.perBit[i] ?? 0])) };
}

test('the kept counts equal the aggregate over the hours after inserts, recomputed hours, level rewrites and removals', async (t) => {
  const store = createAccountStore(db().pool);
  const disclosure = createDisclosureStore(db().pool);
  const count = createFlagCounter(db().pool);
  const flags = fc.subarray([...HOUR_FLAGS]);
  const step = fc.oneof(
    // Hours written (new ones inserted, existing ones recomputed with other flags).
    fc.record({ kind: fc.constant('write' as const), hours: fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), flags), { minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('level' as const), level: fc.constantFrom('returns' as const, 'equity' as const, 'full' as const) }),
    fc.record({ kind: fc.constant('remove' as const), keep: fc.boolean() }),
  );
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
    const key = await account(`prop-${run++}`);
    const other = await account(`prop-other-${run}`);
    await store.saveAggregates(other, { hourlyReturns: [hour(0, ['oversold'])], snapshot: null, engineState: null, performance: null });
    let connected = true;
    for (const s of steps) {
      if (s.kind === 'write' && connected) {
        // One write holds each hour once (as the engine publishes them).
        const byHour = new Map(s.hours.map(([i, f]) => [i, hour(i, f.length === 0 ? undefined : f)]));
        await store.saveAggregates(key, { hourlyReturns: [...byHour.values()], snapshot: null, engineState: null, performance: null });
      } else if (s.kind === 'level' && connected) {
        await disclosure.setDisclosureLevel(key, s.level);
      } else if (s.kind === 'remove' && connected) {
        await store.removeAccount(key, { keepAggregates: s.keep });
        connected = false;
      }
      const kept = await count(key);
      const expected = await aggregate(key);
      t.is(kept.hours, expected.hours);
      t.is(kept.flagged, expected.flagged);
      t.deepEqual(kept.perFlag, expected.perFlag);
    }
    t.like((await count(other)).perFlag, { oversold: 1 });
  }), { numRuns: 15 });
});

test('the metrics read answers the flag counts and the level from its one statement', async (t) => {
  const store = createAccountStore(db().pool);
  const key = await account('one-statement');
  await store.saveAggregates(key, { hourlyReturns: [hour(0), hour(1, ['estimated-mark'])], snapshot: null, engineState: null, performance: null });
  const published = await store.loadPublishedPerformance!(key);
  t.deepEqual(published.flagCounts, await createFlagCounter(db().pool)(key));
  t.is(published.flagCounts?.perFlag['estimated-mark'], 1);
  t.is(published.level, 'returns');
});
