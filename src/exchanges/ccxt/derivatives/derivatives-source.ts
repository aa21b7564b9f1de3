// What a venue's derivatives reader gives the ccxt connector: contract executions and ledger
// entries as windowed streams (resumable by their own window state inside the connector's cursors),
// and mark-price candles. One implementation per venue in this folder; the connector only wires it.
import type { Balance, Candle, CashFlow, EpochMs, Fill } from '../../../domain/types.js';
import { VenueError } from '../../errors.js';
import type { VenuePosition } from '../../../domain/derivatives/positions.js';
import type { WindowState } from '../ccxt-cursor.js';

export interface WindowPage<T> {
  readonly items: readonly T[];
  readonly state: WindowState;
}

/** The connector's own window walker (dedup at inclusive borders, oldest first, settle lag). */
export type WalkWindows = <T>(
  state: WindowState, windowMs: number, signal: AbortSignal | undefined,
  fetchWindow: (from: number, to: number) => Promise<readonly T[]>,
  key: (item: T) => { id: string; timestamp: number },
) => AsyncIterable<{ readonly items: readonly T[]; readonly state: WindowState }>;

/** The connector's retried, classified request runner. */
export type VenueCall = <T>(operation: string, run: () => Promise<T>, signal: AbortSignal | undefined) => Promise<T>;

export interface DerivativesSource {
  /** Execution streams (e.g. Bybit categories linear and inverse), each with its own window state. */
  readonly executionStreams: readonly string[];
  /** From when the venue serves derivatives history (its lookback from now). */
  readonly lookbackMs: number;
  walkExecutions(stream: string, state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowPage<Fill>>;
  /**
   * Ledger streams besides the main one (Binance: COIN-M's income beside USDⓈ-M's), each with its own
   * window state in the cursor; `walkLedger` without a stream walks the main one.
   */
  readonly ledgerStreams?: readonly string[];
  walkLedger(state: WindowState, signal: AbortSignal | undefined, stream?: string): AsyncIterable<WindowPage<CashFlow>>;
  /** Hourly mark-price candles of a contract (ccxt contract symbol) with openTime in [fromMs, toMs). */
  fetchMarkCandles(symbol: string, fromMs: EpochMs, toMs: EpochMs, signal: AbortSignal | undefined): Promise<readonly Candle[]>;
  /**
   * Wallet balances of derivatives wallets kept apart from the spot wallet (Binance USDⓈ-M); the
   * connector adds them to the spot balances, so the whole venue account is reconciled. (COIN-M too.) Absent where
   * one wallet holds everything (Bybit's unified account).
   */
  fetchWalletBalances?(signal: AbortSignal | undefined): Promise<readonly Balance[]>;
  /**
   * The venue's open positions (ccxt contract symbols; base units for linear, quote units for
   * inverse; signed), checked against the book at each sync. Absent where no position reader exists.
   */
  fetchPositions?(signal: AbortSignal | undefined): Promise<readonly VenuePosition[]>;
}

/**
 * Whether the key may read the venue's derivatives accounts, asked once per connector with `run`
 * (a cheap signed derivatives call). The spot calls before it already proved the key, so an auth
 * refusal here (Bitget 40014, MEXC 701: the key lacks futures read access) means "no derivatives":
 * nothing to sync, the streams' states stay where they are, and a new connector asks again. Any
 * other failure is thrown and asked again next time.
 */
export function accessProbe(run: (signal: AbortSignal | undefined) => Promise<unknown>): (signal: AbortSignal | undefined) => Promise<boolean> {
  return sharedUntilFailure(async (signal: AbortSignal | undefined) => await run(signal).then(() => true, (error: unknown) => {
    if (error instanceof VenueError && error.kind === 'auth') return false;
    throw error;
  }));
}

/**
 * `load` run once and its answer shared by every caller; a failed load is forgotten, so the next
 * call asks again (a venue outage must not stick for the connector's life).
 */
export function sharedUntilFailure<A extends unknown[], T>(load: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let pending: Promise<T> | undefined;
  return async (...args) => {
    const current = (pending ??= load(...args));
    try {
      return await current;
    } catch (error) {
      if (pending === current) pending = undefined;
      throw error;
    }
  };
}
