// Wrappers around a VenueConnector for actor tests: record the cursors a sync resumes from,
// hold a sync open until the test releases it, or make the venue fail.
import type { Page, VenueConnector } from '../../src/exchanges/connector.js';
import type { SyncCursor } from '../../src/domain/types.js';

export interface Instrumented {
  readonly connector: VenueConnector;
  /** The `since` of every fetchFills call, in order. */
  readonly fillsSince: (SyncCursor | null)[];
  /** Resolves when a fetchFills call is waiting at the gate. */
  readonly reachedGate: Promise<void>;
  /** Lets every gated and future fetchFills call run. */
  open(): void;
}

export function instrument(inner: VenueConnector, options: { gated?: boolean; fail?: () => Error | undefined } = {}): Instrumented {
  const fillsSince: (SyncCursor | null)[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  if (options.gated !== true) open();
  let reached!: () => void;
  const reachedGate = new Promise<void>((resolve) => { reached = resolve; });
  const connector: VenueConnector = {
    exchange: inner.exchange,
    baseCurrency: inner.baseCurrency,
    fetchFills: (since, signal) => {
      fillsSince.push(since);
      return (async function* (): AsyncIterable<Page<import('../../src/domain/types.js').Fill>> {
        reached();
        await gate;
        const error = options.fail?.();
        if (error !== undefined) throw error;
        yield* inner.fetchFills(since, signal);
      })();
    },
    fetchCashFlows: (since, signal) => inner.fetchCashFlows(since, signal),
    fetchBalances: (signal) => inner.fetchBalances(signal),
    fetchHourlyCandles: (symbol, from, to, signal) => inner.fetchHourlyCandles(symbol, from, to, signal),
    close: () => inner.close(),
  };
  return { connector, fillsSince, reachedGate, open };
}
