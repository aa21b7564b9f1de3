// The one owner of public per-venue series (issue 19): hourly candles today, minute candles and
// mark prices in the same shape. Accounts ask it to make a range of a series present in storage
// and then read storage; it fetches from the venue only the ranges no one stored yet, one fetch at
// a time per series (single flight), so N accounts on the same market cost one venue request and
// one insert per new range instead of N upserts of the whole history.
//
// Not an nact actor: it holds no credential and no per-account state, only a per-series queue and
// a cache of the covered ranges (storage is the truth: the cache is refreshed from it whenever it
// does not already cover a request, so several instances sharing one database stay correct; a
// range two instances fetch at once is inserted once, ON CONFLICT DO NOTHING).
import type { Candle, EpochMs } from '../domain/types.js';
import { mergeRanges, missingRanges, type TimeRange } from '../domain/time-ranges.js';
import { HOUR_MS, type MarketDataStore, type SeriesKey, type SeriesRows } from '../storage/market-data-store.js';
import type { Clock } from './clock.js';

/** Fetches the series' rows for [from, to) from the venue (with the asking account's connector). */
export type SeriesFetch = (from: EpochMs, to: EpochMs, signal: AbortSignal) => Promise<SeriesRows>;

/** What one `ensure` did (for tests and benchmarks; no amounts). */
export interface EnsureOutcome {
  /** Venue requests made for this call (0 when storage already covered the range). */
  readonly fetches: number;
  /** Rows that were new to storage. */
  readonly inserted: number;
}

export interface MarketData {
  /** Makes the series' rows for [from, to) present in storage, fetching only what is not covered yet. */
  ensure(key: SeriesKey, from: EpochMs, to: EpochMs, fetch: SeriesFetch, signal: AbortSignal): Promise<EnsureOutcome>;
}

export interface MarketDataDeps {
  readonly store: MarketDataStore;
  readonly clock: Clock;
  /**
   * A period ending less than this long ago (default: one resolution) that the venue did not serve
   * yet is not marked covered: it is asked for again by the next sync (venues publish late).
   */
  readonly settleMs?: number;
}

function seriesId(key: SeriesKey): string {
  return `${key.venue}\u0000${key.market}\u0000${key.kind}\u0000${key.resolutionMs}`;
}

/** End (exclusive) of the last period the fetched rows hold, or null when there are none. */
function lastRowEnd(rows: SeriesRows, resolutionMs: number): EpochMs | null {
  switch (rows.kind) {
    case 'candles': {
      let last: number | null = null;
      for (const c of rows.candles) if (last === null || c.openTime > last) last = c.openTime;
      return last === null ? null : last + resolutionMs;
    }
  }
}

export function createMarketData(deps: MarketDataDeps): MarketData {
  const covered = new Map<string, TimeRange[]>();
  const tails = new Map<string, Promise<unknown>>();

  /** Runs `work` after every earlier call on the same series has finished (success or not). */
  function serialize<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = tails.get(id) ?? Promise.resolve();
    const result = previous.then(work);
    const tail = result.catch(() => undefined);
    tails.set(id, tail);
    void tail.then(() => { if (tails.get(id) === tail) tails.delete(id); });
    return result;
  }

  /** How far a fetch of `gap` may be marked covered: recent periods the venue did not serve yet stay open. */
  function coveredEnd(key: SeriesKey, gap: TimeRange, rows: SeriesRows): EpochMs {
    const resolution = key.resolutionMs;
    const settled = Math.floor((deps.clock.now() - (deps.settleMs ?? resolution)) / resolution) * resolution;
    if (gap.to <= settled) return gap.to;
    const served = lastRowEnd(rows, resolution) ?? gap.from;
    return Math.max(gap.from, Math.min(gap.to, Math.max(served, settled)));
  }

  return {
    ensure(key, from, to, fetch, signal) {
      if (!(to > from)) return Promise.resolve({ fetches: 0, inserted: 0 });
      const id = seriesId(key);
      return serialize(id, async () => {
        signal.throwIfAborted();
        const cached = covered.get(id);
        let missing = cached === undefined ? null : missingRanges(from, to, cached);
        if (missing === null || missing.length > 0) {
          // Another instance (or a restart) may have stored it: storage is the truth.
          const stored = await deps.store.loadCoverage(key);
          covered.set(id, stored);
          missing = missingRanges(from, to, stored);
        }
        let fetches = 0;
        let inserted = 0;
        for (const gap of missing) {
          signal.throwIfAborted();
          const rows = await fetch(gap.from, gap.to, signal);
          fetches += 1;
          const range = { from: gap.from, to: coveredEnd(key, gap, rows) };
          inserted += (await deps.store.commitSeries(key, rows, range)).inserted;
          covered.set(id, mergeRanges([...covered.get(id) ?? [], range]));
        }
        return { fetches, inserted };
      });
    },
  };
}

/** What `ensureHourlyCandles` needs besides the owner: the account's connector and the account store's insert. */
export interface CandleSource {
  readonly exchange: SeriesKey['venue'];
  fetchHourlyCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal?: AbortSignal): Promise<readonly Candle[]>;
}

/**
 * Makes the hourly candles of `symbols` for [from, to) present in storage. With the owner: once per
 * venue and market. Without one (tools and tests that wire no owner): fetched by this caller and
 * inserted where missing (`insertMissing`, never rewriting a stored row).
 */
export async function ensureHourlyCandles(
  marketData: MarketData | undefined, insertMissing: (candles: readonly Candle[]) => Promise<void>,
  source: CandleSource, symbols: readonly string[], from: EpochMs, to: EpochMs, signal: AbortSignal,
): Promise<void> {
  for (const symbol of symbols) {
    if (marketData === undefined) {
      const candles = await source.fetchHourlyCandles(symbol, from, to, signal);
      if (candles.length > 0) await insertMissing(candles);
      continue;
    }
    const key: SeriesKey = { venue: source.exchange, market: symbol, kind: 'candles', resolutionMs: HOUR_MS };
    await marketData.ensure(key, from, to, async (gapFrom, gapTo, s) => ({ kind: 'candles', candles: await source.fetchHourlyCandles(symbol, gapFrom, gapTo, s) }), signal);
  }
}
