// Public per-venue series (hourly candles today; minute candles and mark prices use the same
// shape) stored once per venue and market, with the ranges already fetched (issue 19). Rows are
// inserted with ON CONFLICT DO NOTHING: a stored row is never rewritten, so syncing many accounts
// on the same markets leaves no dead tuples behind.
import { z } from 'zod';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import type { Candle, Exchange } from '../domain/types.js';
import type { TimeRange } from '../domain/time-ranges.js';
import { isoTime } from './copy-ingest.js';
import { StorageError, toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

/** What a public series is: a venue's market, what is measured, at which resolution. */
export interface SeriesKey {
  readonly venue: Exchange;
  /** The venue's unified market symbol (BTC/USDT). */
  readonly market: string;
  /** 'candles' (OHLCV) today; other kinds (e.g. 'mark_price') add a case to SeriesRows. */
  readonly kind: SeriesKind;
  readonly resolutionMs: number;
}

export type SeriesKind = SeriesRows['kind'];

/** The rows of one fetch, by kind (add a variant and its table for a new kind). */
export type SeriesRows = { readonly kind: 'candles'; readonly candles: readonly Candle[] };

export const HOUR_MS = 3_600_000;

export interface MarketDataStore {
  /** The stretches of the series already stored (merged, oldest first; empty when none). */
  loadCoverage(key: SeriesKey): Promise<TimeRange[]>;
  /**
   * In one transaction: inserts the rows that are not stored yet (stored rows stay as they are) and
   * adds `covered` to the series' coverage. Returns how many rows were new.
   */
  commitSeries(key: SeriesKey, rows: SeriesRows, covered: TimeRange): Promise<{ inserted: number }>;
}

const rangeRow = z.object({ from: z.number(), to: z.number() });
const UNNEST_SLICE = 5_000;

async function insertCandles(tx: DatabaseTransactionConnection, key: SeriesKey, candles: readonly Candle[]): Promise<number> {
  if (key.resolutionMs !== HOUR_MS) throw new StorageError(`no table for ${key.kind} at ${key.resolutionMs} ms`);
  let inserted = 0;
  for (let start = 0; start < candles.length; start += UNNEST_SLICE) {
    const tuples = candles.slice(start, start + UNNEST_SLICE).map((c) => [c.symbol, isoTime(c.openTime), c.open, c.high, c.low, c.close, c.volume]);
    const result = await tx.query(sql.type(noRows)`
      INSERT INTO price_candles (exchange, symbol, open_time, open, high, low, close, volume)
      SELECT ${key.venue}, t.*
      FROM ${sql.unnest(tuples, ['text', 'timestamptz', 'numeric', 'numeric', 'numeric', 'numeric', 'numeric'])}
        AS t(symbol, open_time, open, high, low, close, volume)
      ON CONFLICT DO NOTHING`);
    inserted += result.rowCount;
  }
  return inserted;
}

export function createMarketDataStore(pool: DatabasePool): MarketDataStore {
  const series = (key: SeriesKey) => sql.fragment`venue = ${key.venue} AND market = ${key.market} AND kind = ${key.kind} AND resolution_ms = ${key.resolutionMs}`;
  const label = (key: SeriesKey) => `${key.kind} ${key.resolutionMs} ms on ${key.venue}`;
  return {
    async loadCoverage(key) {
      try {
        const rows = await pool.any(sql.type(rangeRow)`
          SELECT lower(r) AS "from", upper(r) AS "to"
          FROM market_series_coverage, unnest(covered) AS r
          WHERE ${series(key)}
          ORDER BY 1`);
        return rows.map((r) => ({ from: r.from, to: r.to }));
      } catch (error) {
        throw toStorageError(error, `load coverage of ${label(key)}`);
      }
    },

    async commitSeries(key, rows, covered) {
      if (rows.kind !== key.kind) throw new StorageError(`rows of ${rows.kind} given for ${key.kind}`);
      try {
        return await pool.transaction(async (tx) => {
          let inserted = 0;
          switch (rows.kind) {
            case 'candles':
              inserted = await insertCandles(tx, key, rows.candles);
              break;
          }
          if (covered.to > covered.from) {
            const range = sql.fragment`int8multirange(int8range(${covered.from}::int8, ${covered.to}::int8))`;
            await tx.query(sql.type(noRows)`
              INSERT INTO market_series_coverage (venue, market, kind, resolution_ms, covered)
              VALUES (${key.venue}, ${key.market}, ${key.kind}, ${key.resolutionMs}, ${range})
              ON CONFLICT (venue, market, kind, resolution_ms) DO UPDATE
                SET covered = market_series_coverage.covered + excluded.covered, updated_at = now()`);
          }
          return { inserted };
        });
      } catch (error) {
        throw toStorageError(error, `store ${label(key)}`);
      }
    },
  };
}
