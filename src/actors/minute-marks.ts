// One-minute marks for valuations at a flow's instant (issue 17): one small interface, so the owner
// of "public market data fetched once per venue and market" can take it over without touching the
// sync. Fetch-once: a minute kept in storage (its bar, or the venue's "no bar") is never asked again.
import type { Candle, EpochMs, Exchange } from '../domain/types.js';
import type { VenueConnector } from '../exchanges/connector.js';
import type { MinuteMarkStore, StoredMinuteMark } from '../storage/minute-mark-store.js';

const MINUTE_MS = 60_000;
/** A venue's "no bar" is kept only for minutes at least this old. */
export const SETTLE_MS = 15 * MINUTE_MS;

export interface MinuteMarks {
  /** The one-minute candle of `market` on `venue` opening at `minute`; null when the venue has none. */
  get(venue: Exchange, market: string, minute: EpochMs, signal?: AbortSignal): Promise<Candle | null>;
  /** Bars already kept for these markets with minute in [fromMs, toMs) (no venue request). */
  known(venue: Exchange, markets: readonly string[], fromMs: EpochMs, toMs: EpochMs): Promise<Candle[]>;
}

/** Where bars come from: the account's connector today (public endpoints only: OHLCV, bars). */
export type MinuteBarSource = Pick<VenueConnector, 'exchange' | 'fetchMinuteCandle'>;

/**
 * Minute marks kept in `store`, fetched from `source` on a miss. A venue without minute bars (no
 * `fetchMinuteCandle`, e.g. IBKR Flex) answers null and nothing is stored: the hour mark stands in
 * and the hour is flagged estimated-mark.
 */
export function createMinuteMarks(store: MinuteMarkStore, source: MinuteBarSource, now: () => EpochMs = Date.now): MinuteMarks {
  return {
    async get(venue, market, minute, signal) {
      if (minute % MINUTE_MS !== 0) throw new RangeError('minute must be aligned to a minute');
      const kept = await store.load(venue, [market], minute, minute + MINUTE_MS);
      const hit = kept[0];
      if (hit !== undefined) return hit.candle;
      if (venue !== source.exchange || source.fetchMinuteCandle === undefined) return null;
      const candle = await source.fetchMinuteCandle(market, minute, signal);
      // "No bar" for a minute this recent may only mean the venue has not published it yet: not kept.
      if (candle === null && now() - minute < SETTLE_MS) return null;
      const mark: StoredMinuteMark = { symbol: market, minute, candle };
      await store.save(venue, [mark]);
      return candle;
    },
    async known(venue, markets, fromMs, toMs) {
      const kept = await store.load(venue, markets, fromMs, toMs);
      return kept.flatMap((m) => (m.candle === null ? [] : [m.candle]));
    },
  };
}
