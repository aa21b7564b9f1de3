// The ccxt connectors' own cursor format: versioned JSON, validated on the way in. Opaque to callers.
// It holds venue trade ids (fromId, ids at a window border): store it like the fills it covers.
import { z } from 'zod';
import type { Exchange, SyncCursor } from '../../domain/types.js';
import { readCursor } from '../sync-cursor.js';

/** Position in a time-windowed stream: everything before `sinceMs` is done, plus `seen` at or after it. */
const windowState = z.object({ sinceMs: z.number().int().nonnegative(), seen: z.array(z.string()).max(100_000) });
export type WindowState = z.infer<typeof windowState>;

/** Position in an id-ordered stream (binance myTrades): the next request starts at `fromId`. */
const idState = z.object({ fromId: z.string().regex(/^\d+$/u) });
export type IdState = z.infer<typeof idState>;

const symbolState = z.union([idState, windowState]);
export type SymbolState = z.infer<typeof symbolState>;

const fillsCursor = z.object({
  v: z.literal(1),
  venue: z.string(),
  stream: z.literal('fills'),
  /** Per unified symbol for venues that need a symbol per call; the key '*' for venues that do not. */
  symbols: z.record(z.string(), symbolState),
  /** Assets ever seen (balances, transfers): symbols are discovered from them. */
  assets: z.array(z.string()),
  /** How far transfers were scanned for asset discovery. */
  transfers: windowState.nullable(),
  /**
   * Discovery scan over markets the account could have traded but has no fills in: `next` indexes
   * the sorted list of those markets; `complete` once the first full pass is done (afterwards a
   * rotating slice per sync). Absent in cursors written before it: a full pass runs once.
   */
  scan: z.object({ next: z.number().int().nonnegative(), complete: z.boolean() }).optional(),
  /** Contract executions per derivatives stream (Bybit: linear, inverse); absent before the first derivatives sync. */
  derivatives: z.record(z.string(), windowState).optional(),
  /** Venue-specific extra streams (binance-extras.ts: convert, dust), each its own window. */
  extras: z.record(z.string(), windowState).optional(),
  /** Where extra streams without a window start: the account's first known activity (extra-streams.ts). */
  extrasFrom: z.number().int().nonnegative().optional(),
});
export type FillsCursor = z.infer<typeof fillsCursor>;

const cashFlowsCursor = z.object({
  v: z.literal(1), venue: z.string(), stream: z.literal('cash_flows'), window: windowState,
  /** The derivatives ledger (funding, fees, realized P&L, settlements); absent before the first derivatives sync. */
  ledger: windowState.optional(),
  /** Further derivatives ledger streams (Binance COIN-M), each its own window; absent before their first sync. */
  ledgers: z.record(z.string(), windowState).optional(),
  /** Venue-specific extra streams (binance-extras.ts: Earn rewards, fiat, margin interest; Bybit internal deposits). */
  extras: z.record(z.string(), windowState).optional(),
  /** Where extra streams without a window start: the account's first known activity (extra-streams.ts). */
  extrasFrom: z.number().int().nonnegative().optional(),
});
export type CashFlowsCursor = z.infer<typeof cashFlowsCursor>;

function parse<T extends { venue: string }>(schema: z.ZodType<T>, raw: SyncCursor, exchange: Exchange, stream: string): T {
  return readCursor(exchange, raw, (json) => {
    const result = schema.safeParse(json);
    return result.success && result.data.venue === exchange ? result.data : undefined;
  }, stream);
}

export function parseFillsCursor(raw: SyncCursor | null, exchange: Exchange): FillsCursor {
  if (raw === null) return { v: 1, venue: exchange, stream: 'fills', symbols: {}, assets: [], transfers: null };
  return parse(fillsCursor, raw, exchange, 'fills');
}

export function parseCashFlowsCursor(raw: SyncCursor | null, exchange: Exchange, historyStartMs: number): CashFlowsCursor {
  if (raw === null) return { v: 1, venue: exchange, stream: 'cash_flows', window: { sinceMs: historyStartMs, seen: [] } };
  return parse(cashFlowsCursor, raw, exchange, 'cash_flows');
}

export function serializeCursor(cursor: FillsCursor | CashFlowsCursor): SyncCursor {
  return JSON.stringify(cursor);
}

export function isIdState(state: SymbolState): state is IdState {
  return 'fromId' in state;
}
