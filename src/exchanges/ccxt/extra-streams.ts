// Venue-specific extra record streams beside fills and transfers (binance-extras.ts,
// bybit-extras.ts): each is time-windowed, keeps its own window in the ccxt cursors (`extras`), and
// follows the transfers' rules: borders deduplicated, a pending record holds the window back (up to
// 45 days) so it is read again once it settles.
import type { CashFlow, EpochMs, Fill } from '../../domain/types.js';
import type { WindowState } from './ccxt-cursor.js';

const DAY_MS = 86_400_000;
/** A record still pending holds its stream's window back this long at most (as transfers do). */
const PENDING_HOLD_MS = 45 * DAY_MS;

/** Runs one venue request with the connector's retries and error classification. */
export type ExtrasCall = <T>(operation: string, run: () => Promise<T>) => Promise<T>;

/** One record of an extra stream: `value` is what it becomes (null: a final record that moves nothing, e.g. failed). */
export interface ExtraRecord<T> { readonly id: string; readonly time: EpochMs; readonly settled: boolean; readonly value: T | null }

export interface ExtraStream<T> {
  readonly key: string;
  /** Where the endpoint's history begins (a first sync starts at max(this, the connector's history start)). */
  readonly firstMs: EpochMs;
  readonly windowMs: number;
  readonly fetch: (from: EpochMs, to: EpochMs) => Promise<ExtraRecord<T>[]>;
  /**
   * True for streams that need assets already in the account (converts, rewards, interest): a first
   * walk starts at the account's first known activity instead of the endpoint's first instant, so
   * a young account does not pay years of empty windows. Inflows (fiat, internal deposits) are false.
   */
  readonly afterFirstActivity: boolean;
  /** Walked at most this often (expensive endpoints: Binance fiat/orders weighs 90,000 UID). */
  readonly everyMs?: number;
}

export interface ExtraPage<T> { readonly key: string; readonly items: readonly T[]; readonly state: WindowState }

/** What a venue adds to the two record streams. */
export interface VenueExtras {
  readonly fillStreams: readonly ExtraStream<Fill>[];
  readonly cashFlowStreams: readonly ExtraStream<CashFlow>[];
}

/**
 * Walks one extra stream from `state` (or its first instant) to `end` in windows. Records at a
 * window's border are deduplicated through `seen`; a pending record younger than the hold limit
 * holds the handed-over window at its time so it is read again when it settles.
 */
export async function* walkExtraStream<T>(stream: ExtraStream<T>, state: WindowState | undefined, start: { historyStartMs: EpochMs; firstActivity: EpochMs }, end: EpochMs, now: EpochMs): AsyncIterable<ExtraPage<T>> {
  if (state !== undefined && stream.everyMs !== undefined && end - state.sinceMs < stream.everyMs) return;
  let since = state?.sinceMs ?? Math.max(start.historyStartMs, stream.firstMs, stream.afterFirstActivity ? start.firstActivity : 0);
  let seen = new Set(state?.seen ?? []);
  let held: EpochMs | undefined;
  let carried = new Map<string, EpochMs>();
  for (const key of seen) carried.set(key, Number(key.slice(0, key.indexOf('|'))));
  while (since < end) {
    const to = Math.min(since + stream.windowMs, end);
    const records = (await stream.fetch(since, to)).filter((r) => r.time >= since && r.time <= to && !seen.has(`${r.time}|${r.id}`));
    const unique = new Map(records.map((r) => [r.id, r]));
    const items: T[] = [];
    for (const r of [...unique.values()].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1))) {
      if (!r.settled) {
        if (r.time >= now - PENDING_HOLD_MS) held = Math.min(held ?? r.time, r.time);
        continue;
      }
      carried.set(`${r.time}|${r.id}`, r.time);
      if (r.value !== null) items.push(r.value);
    }
    seen = new Set([...carried.keys()].filter((k) => (carried.get(k) ?? 0) >= to));
    since = to;
    const resumeAt = held ?? since;
    carried = new Map([...carried].filter(([, t]) => t >= resumeAt));
    yield { key: stream.key, items, state: { sinceMs: resumeAt, seen: [...carried.keys()] } };
  }
}
