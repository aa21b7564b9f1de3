// The sync's side of minute marks: fetch the bars the engine said it lacked, once each, within a
// budget. A venue that fails leaves the hours flagged estimated-mark (the hour mark stood in); the
// sync itself goes on.
import type { Logger } from 'pino';
import { accountId, type AccountKey, type Candle, type EpochMs } from '../domain/types.js';
import { VenueError } from '../exchanges/errors.js';
import type { MinuteMarks } from './minute-marks.js';

/** Most minute bars one engine chunk asks the venue for; the rest stay estimated until a full recompute. */
export const MINUTE_MARKS_PER_CHUNK = 500;

export async function fetchWantedMinuteMarks(
  marks: MinuteMarks, account: AccountKey, wanted: readonly { readonly symbol: string; readonly minute: EpochMs }[], signal: AbortSignal, logger?: Logger,
): Promise<Candle[]> {
  const found: Candle[] = [];
  for (const w of wanted.slice(0, MINUTE_MARKS_PER_CHUNK)) {
    signal.throwIfAborted();
    let candle: Candle | null;
    try {
      candle = await marks.get(account.exchange, w.symbol, w.minute, signal);
    } catch (error) {
      if (!(error instanceof VenueError)) throw error;
      logger?.warn({ account: accountId(account), kind: error.kind }, 'minute bars unavailable: valuations at flows use the hour mark, flagged estimated-mark');
      break;
    }
    if (candle !== null) found.push(candle);
  }
  if (wanted.length > MINUTE_MARKS_PER_CHUNK) logger?.warn({ account: accountId(account), wanted: wanted.length }, 'more minute bars wanted than one chunk fetches: the rest stay estimated-mark');
  return found;
}
