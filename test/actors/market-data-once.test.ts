// Public market data once per venue and market (issue 19): accounts sharing markets make one venue
// request per missing range and the candle table takes inserts only (no updates, no dead rows), on
// a real throw-away PostgreSQL database through the real supervisor, store and engine.
import test from 'ava';
import pg from 'pg';
import { countStatements } from '../../testkit/support/statement-count.js';
import { createMarketData } from '../../src/actors/market-data.js';
import type { AccountKey, Candle, EpochMs } from '../../src/domain/types.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { createMarketDataStore, HOUR_MS, type SeriesKey } from '../../src/storage/market-data-store.js';
import { createActorHarness, historyStart } from '../../testkit/support/actor-harness.js';
import { randomBytes } from 'node:crypto';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 6, 1, 12, 30);
const db = useTestDatabase(test);
const keysPromise = deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });

/** Simulated accounts sharing one market, with every candle request recorded. */
function countingVenue(clock: ManualClock): { factory: (account: AccountKey) => VenueConnector; requests: string[] } {
  const requests: string[] = [];
  const startMs = historyStart(clock.now());
  const factory = (account: AccountKey): VenueConnector => {
    const inner = createSimulatedConnector(account, { seed: 7, clock, startMs, fillsPerHour: 0.5, pageSize: 50 });
    return {
      exchange: inner.exchange, baseCurrency: inner.baseCurrency,
      fetchFills: (since, signal) => inner.fetchFills(since, signal),
      fetchCashFlows: (since, signal) => inner.fetchCashFlows(since, signal),
      fetchBalances: (signal) => inner.fetchBalances(signal),
      fetchHourlyCandles: async (symbol, from, to, signal) => {
        requests.push(`${symbol} ${from}-${to}`);
        return inner.fetchHourlyCandles(symbol, from, to, signal);
      },
      close: () => inner.close(),
    };
  };
  return { factory, requests };
}

interface TableStats { live: number; dead: number; updated: number; inserted: number; rows: number }

/** The cumulative statistics of price_candles, once every backend has reported its inserts. */
async function candleTableStats(url: string): Promise<TableStats> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows: [s] } = await client.query<{ live: string; dead: string; updated: string; inserted: string; rows: string }>(`
        SELECT n_live_tup AS live, n_dead_tup AS dead, n_tup_upd AS updated, n_tup_ins AS inserted,
          (SELECT count(*) FROM price_candles) AS rows
        FROM pg_stat_user_tables WHERE relname = 'price_candles'`);
      const stats = { live: Number(s!.live), dead: Number(s!.dead), updated: Number(s!.updated), inserted: Number(s!.inserted), rows: Number(s!.rows) };
      // Backends flush their counters within about a second of going idle.
      if (stats.inserted >= stats.rows || Date.now() > deadline) return stats;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await client.end();
  }
}

test.serial('accounts sharing markets onboard with one venue request per range and no candle rewritten', async (t) => {
  const clock = new ManualClock(T0);
  const venue = countingVenue(clock);
  const h = createActorHarness({ database: db(), clock, connectorFactory: venue.factory, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
  t.teardown(() => h.close());
  const accounts: AccountKey[] = Array.from({ length: 6 }, (_, i) => ({ userUid: `trader-${i}`, exchange: 'simulated' }));
  for (const a of accounts) await h.addAccount(a);
  // Two at a time, concurrently, as the service runs first syncs.
  for (let i = 0; i < accounts.length; i += 2) {
    const results = await Promise.all([h.supervisor.sync(accounts[i]!, 'full'), h.supervisor.sync(accounts[i + 1]!, 'full')]);
    for (const r of results) t.true(r.fillsIngested > 0);
  }
  const firstRound = [...venue.requests];
  t.true(firstRound.length > 0, 'candles were fetched');
  t.is(new Set(firstRound).size, firstRound.length, `each range fetched once: ${firstRound.join(', ')}`);
  t.true(new Set(firstRound.map((r) => r.split(' ')[0])).size === firstRound.length, 'one request per market for the whole history');

  // An hour later every account syncs again (concurrently): the new hour is fetched once per market.
  clock.advance(HOUR);
  venue.requests.length = 0;
  await Promise.all(accounts.map((a) => h.supervisor.sync(a, 'incremental')));
  const untilHour = Math.floor(clock.now() / HOUR) * HOUR;
  t.true(venue.requests.length > 0 && venue.requests.length <= 3, `at most one request per market: ${venue.requests.join(', ')}`);
  t.is(new Set(venue.requests).size, venue.requests.length);
  for (const r of venue.requests) t.true(r.endsWith(`-${untilHour}`) && r.includes(` ${untilHour - HOUR}-`), `only the new hour: ${r}`);

  const stats = await candleTableStats(db().url);
  t.true(stats.rows > 0);
  t.is(stats.inserted, stats.rows, 'each candle inserted once');
  t.is(stats.updated, 0, 'no candle rewritten');
  t.true(stats.dead < stats.live * 0.01, `dead tuples ${stats.dead} < 1 % of live ${stats.live}`);
});

test.serial('a period the venue has not served yet is asked for again; a served one never', async (t) => {
  const clock = new ManualClock(T0);
  const store = createMarketDataStore(db().pool);
  const marketData = createMarketData({ store, clock });
  const key: SeriesKey = { venue: 'bybit', market: 'ETH/USDT', kind: 'candles', resolutionMs: HOUR_MS };
  const hourAt = (n: number): EpochMs => Math.floor(T0 / HOUR) * HOUR - n * HOUR;
  const candle = (openTime: EpochMs): Candle => ({ symbol: 'ETH/USDT', openTime, open: '1', high: '1', low: '1', close: '1', volume: '1' });
  const asked: string[] = [];
  // The venue lags: it serves every closed hour except the last one.
  const fetch = async (from: EpochMs, to: EpochMs) => {
    asked.push(`${(hourAt(0) - from) / HOUR}-${(hourAt(0) - to) / HOUR}`);
    const candles: Candle[] = [];
    for (let at = from; at < Math.min(to, hourAt(1)); at += HOUR) candles.push(candle(at));
    return { kind: 'candles' as const, candles };
  };
  const signal = new AbortController().signal;
  t.deepEqual(await marketData.ensure(key, hourAt(5), hourAt(0), fetch, signal), { fetches: 1, inserted: 4 });
  t.deepEqual(await store.loadCoverage(key), [{ from: hourAt(5), to: hourAt(1) }], 'the unserved recent hour stays open');
  t.deepEqual(await marketData.ensure(key, hourAt(3), hourAt(0), fetch, signal), { fetches: 1, inserted: 0 });
  // A second owner (another instance) on the same database reads the coverage and fetches nothing stored.
  const other = createMarketData({ store, clock });
  t.deepEqual(await other.ensure(key, hourAt(5), hourAt(1), fetch, signal), { fetches: 0, inserted: 0 });
  t.deepEqual(asked, ['5-0', '1-0']);
});

// Plaintext layout and sealed storage (what the service runs: sealed-store.ts). Sealed, the start
// is one statement once the process checked the account for legacy rows (connection, account
// record, engine record, page tags and index counts of both streams) and both stream loads one. With a new hour: candles and minute marks read, the aggregate
// write ONE statement (aggregate-statement.ts: fences, sealed records and exact amounts as a
// compare-and-set, hours, snapshot, checkpoint, metrics; was a transaction of ~18), and the
// reconciliation's one. Was 35 in the service bench, 21–26 before the one-statement write.
for (const [layout, idleBound, hourBound] of [['plaintext', 4, 6], ['sealed', 3, 6]] as const) {
  test.serial(`${layout}: a cold incremental sync with nothing new sends at most ${idleBound} statements, one with a new hour at most ${hourBound}`, async (t) => {
    const clock = new ManualClock(T0 + 5 * HOUR);
    const venue = countingVenue(clock);
    const keys = await keysPromise;
    const sealed = layout === 'sealed' ? createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (a, id) => keys.accountDataKey(a, id) })) : undefined;
    const h = createActorHarness({ database: db(), ...(sealed === undefined ? {} : { sealed }), clock, connectorFactory: venue.factory, settings: { syncIntervalMs: 0, idleMs: 10 * HOUR } });
    t.teardown(() => h.close());
    const account: AccountKey = { userUid: `round-trips-${layout}`, exchange: 'simulated' };
    await h.addAccount(account);
    await h.supervisor.sync(account, 'full');
    const countSync = async (): Promise<number> => {
      await h.passivate(account);
      // Every statement the pg driver sends (slonik's pool and the COPY path), transaction control included.
      return countStatements(() => h.supervisor.sync(account, 'incremental'));
    };
    const idle = await countSync();
    t.true(idle > 0 && idle <= idleBound, `nothing new: ${idle} statements`);
    clock.advance(HOUR);
    // The candles of the new hour fetched by another account first (as all but one account see it).
    const other: AccountKey = { userUid: `round-trips-${layout}-2`, exchange: 'simulated' };
    await h.addAccount(other);
    await h.supervisor.sync(other, 'full');
    const hourLater = await countSync();
    // A new hour publishes in one statement: fence and the level read inside it, exact and published
    // hours and snapshot, checkpoint, state and metrics (a transaction of 12 to 18 before issue 19).
    t.true(hourLater > idle && hourLater <= hourBound, `a new hour: ${hourLater} statements`);
    t.log(`${layout} statements: ${idle} with nothing new, ${hourLater} with a new hour`);
  });
}
