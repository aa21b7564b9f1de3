// The one-minute bar a valuation at a flow's instant needs (issue 17), from ccxt's unified OHLCV
// rows ([openTime, open, high, low, close, volume], ms and numbers). Venues answer a `since` with the
// first bar at or after it: a minute without trades has no bar, and the next one must not stand in.
import { numberToDecimal } from '../../domain/decimal-string.js';
import type { Candle, Exchange } from '../../domain/types.js';
import { VenueError } from '../errors.js';

export const MINUTE_MS = 60_000;

/** The bar of `rows` that opens exactly at `minute`, or null. A malformed row is a bad response. */
export function minuteCandleFrom(exchange: Exchange, symbol: string, minute: number, rows: readonly (readonly (number | undefined)[])[]): Candle | null {
  for (const row of rows) {
    const [openTime, open, high, low, close, volume] = row;
    if (openTime === undefined || open === undefined || high === undefined || low === undefined || close === undefined || volume === undefined) {
      throw new VenueError(exchange, 'bad-response', { errorClass: 'MalformedCandle' });
    }
    if (openTime !== minute) continue;
    return { symbol, openTime, open: numberToDecimal(open), high: numberToDecimal(high), low: numberToDecimal(low), close: numberToDecimal(close), volume: numberToDecimal(volume) };
  }
  return null;
}
