// One-minute marks (sql/015_minute_marks.sql): public market data kept once per venue, market and
// minute, including the answer "the venue has no bar for that minute" so it is never asked again.
// Small on purpose: the owner of "public data fetched once per venue and market" can take it over.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { Candle, EpochMs, Exchange } from '../domain/types.js';
import { isoTime } from './copy-ingest.js';
import { toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

/** What is kept for one minute of one market: its candle, or null when the venue has none. */
export interface StoredMinuteMark {
  readonly symbol: string;
  readonly minute: EpochMs;
  readonly candle: Candle | null;
}

export interface MinuteMarkStore {
  /** Kept marks of these markets with minute in [fromMs, toMs), oldest first. */
  load(exchange: Exchange, symbols: readonly string[], fromMs: EpochMs, toMs: EpochMs): Promise<StoredMinuteMark[]>;
  /** Keeps marks; a minute already kept keeps its first answer unless the new one has a candle. */
  save(exchange: Exchange, marks: readonly StoredMinuteMark[]): Promise<void>;
}

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const row = z.object({
  symbol: z.string(),
  minute: z.number().finite(),
  open: decimal.nullable(),
  high: decimal.nullable(),
  low: decimal.nullable(),
  close: decimal.nullable(),
  volume: decimal.nullable(),
});

export function createMinuteMarkStore(pool: DatabasePool): MinuteMarkStore {
  const run = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw toStorageError(error, operation);
    }
  };
  return {
    load: (exchange, symbols, fromMs, toMs) =>
      run(`load minute marks on ${exchange}`, async () => {
        if (symbols.length === 0 || toMs <= fromMs) return [];
        const rows = await pool.any(sql.type(row)`
          SELECT symbol, minute, open, high, low, close, volume
          FROM minute_marks
          WHERE exchange = ${exchange} AND symbol = ANY(${sql.array([...symbols], 'text')})
            AND minute >= ${isoTime(fromMs)}::timestamptz AND minute < ${isoTime(toMs)}::timestamptz
          ORDER BY minute, symbol`);
        return rows.map((r): StoredMinuteMark => ({
          symbol: r.symbol, minute: r.minute,
          candle: r.open === null || r.high === null || r.low === null || r.close === null || r.volume === null ? null
            : { symbol: r.symbol, openTime: r.minute, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume },
        }));
      }),

    save: (exchange, marks) =>
      run(`save minute marks on ${exchange}`, async () => {
        if (marks.length === 0) return;
        // One row per key (a statement may not update the same row twice); a candle wins over none.
        const unique = new Map<string, StoredMinuteMark>();
        for (const m of marks) {
          const key = `${m.symbol}\u0000${m.minute}`;
          if ((unique.get(key)?.candle ?? null) === null) unique.set(key, m);
        }
        const tuples = [...unique.values()].map((m) => [m.symbol, isoTime(m.minute), m.candle?.open ?? null, m.candle?.high ?? null, m.candle?.low ?? null, m.candle?.close ?? null, m.candle?.volume ?? null]);
        // Concurrent syncs of two accounts on the venue may fetch the same minute: the first answer
        // stands, except that a bar found later replaces "no bar".
        await pool.query(sql.type(noRows)`
          INSERT INTO minute_marks (exchange, symbol, minute, open, high, low, close, volume)
          SELECT ${exchange}, t.*
          FROM ${sql.unnest(tuples, ['text', 'timestamptz', 'numeric', 'numeric', 'numeric', 'numeric', 'numeric'])}
            AS t(symbol, minute, open, high, low, close, volume)
          ON CONFLICT (exchange, symbol, minute) DO UPDATE
            SET open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume, fetched_at = now()
            WHERE minute_marks.open IS NULL AND excluded.open IS NOT NULL`);
      }),
  };
}
