// The simulated venue end to end through the supervisor, on the real PostgreSQL store and the
// real engine behind the worker pool: what is published equals what the engine computes directly
// over the records loaded back from the database.
import test from 'ava';
import { DEFAULT_LARGE_FLOW_SHARE } from '../../src/domain/aggregation.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import { computePerformanceStats } from '../../src/domain/performance.js';
import { HOUR_FLAGS } from '../../src/domain/hour-flags.js';
import { flagSharesOf } from '../../src/app/reads.js';
import type { AccountKey } from '../../src/domain/types.js';
import { SIMULATED_BASE } from '../../src/exchanges/simulated.js';
import { createAggregationPool } from '../../src/pool/aggregation-pool.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 12, 30);
const db = useTestDatabase(test);

test('published hourly returns equal the engine run directly over the fills stored by the sync', async (t) => {
  const pool = createAggregationPool({ threads: 1 });
  t.teardown(() => pool.close());
  const clock = new ManualClock(T0);
  const h = createActorHarness({ database: db(), clock, aggregator: pool, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  const carol: AccountKey = { userUid: 'carol', exchange: 'simulated' };
  await h.addAccount(carol);
  const first = await h.supervisor.sync(carol, 'incremental');
  clock.advance(5 * HOUR);
  const second = await h.supervisor.sync(carol, 'incremental');
  t.true(first.fillsIngested > 5 && second.fillsIngested > 0, 'both syncs brought fills');
  t.not(h.aggregator.inputs[1]?.state, null, 'the second run resumed from the stored engine state');

  const store = createAccountStore(db().pool);
  const untilHour = Math.floor(clock.now() / HOUR) * HOUR;
  const fills = (await store.loadFills(carol, 0)).filter((f) => f.executedAt < untilHour);
  const cashFlows = (await store.loadCashFlows(carol, 0)).filter((c) => c.occurredAt < untilHour);
  t.is(fills.length, first.fillsIngested + second.fillsIngested);
  const firstHour = Math.floor(Math.min(fills[0]?.executedAt ?? Infinity, cashFlows[0]?.occurredAt ?? Infinity) / HOUR) * HOUR;
  const symbols = [...new Set(fills.map((f) => f.baseAsset))].map((a) => `${a}/${SIMULATED_BASE}`);
  const candles = await store.loadCandles('simulated', symbols, firstHour - HOUR, untilHour);
  const direct = await inProcessAggregator.aggregate({ baseCurrency: SIMULATED_BASE, costMethod: 'average', state: null, openingBalances: [], fills, cashFlows, candles, untilHour, largeFlowShare: DEFAULT_LARGE_FLOW_SHARE });
  t.deepEqual(direct.unvaluedHours, [], 'the demo history values every hour');

  const published = await h.reads.returns(carol, 0, untilHour);
  t.is(published.length, first.hourlyReturnsWritten + second.hourlyReturnsWritten);
  t.deepEqual(published, direct.hourlyReturns);
  const snapshots = await h.reads.snapshots(carol, 0, untilHour + 1);
  t.deepEqual(snapshots.at(-1), direct.snapshot ?? undefined);
  const metrics = await h.reads.performance(carol);
  // The flagged shares the read states come from the counts storage keeps (sql/017): those of the engine's own hours.
  const flagsOf = (h: (typeof direct.hourlyReturns)[number]) => h.flags ?? [];
  const counts = {
    hours: direct.hourlyReturns.length, flagged: direct.hourlyReturns.filter((h) => flagsOf(h).length > 0).length,
    perFlag: Object.fromEntries(HOUR_FLAGS.map((f) => [f, direct.hourlyReturns.filter((h) => flagsOf(h).includes(f)).length])) as Record<(typeof HOUR_FLAGS)[number], number>,
  };
  t.deepEqual(metrics, { ...computePerformanceStats(direct.hourlyReturns, direct), ...flagSharesOf(counts) });
  t.is(metrics.hours, published.length, 'over the whole computed history');
  // What the worker stored with the aggregates (after a resumed second run) is the same, read in one row.
  const stored = await store.loadPerformanceStats(carol);
  t.deepEqual(stored, { stats: computePerformanceStats(direct.hourlyReturns, direct), computedUntil: untilHour, snapshot: direct.snapshot });
  await h.close();
});
