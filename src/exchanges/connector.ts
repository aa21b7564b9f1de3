// The one interface every venue connector implements. Actors depend on this, never on a venue SDK.
import type { Balance, Candle, CashFlow, EpochMs, Exchange, Fill, SyncCursor, SyncStream } from '../domain/types.js';
import type { VenuePermissions } from '../domain/types.js';
import type { VenuePosition } from '../domain/derivatives/positions.js';
import type { RetryPolicy } from './retry.js';

/** One page of venue records and the cursor that resumes right after it. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Commit this together with `items`; passing it back resumes after this page. */
  readonly cursor: SyncCursor;
}

export interface VenueConnector {
  readonly exchange: Exchange;
  /** The currency equity is measured in (USDT for crypto venues, USD for brokers). */
  readonly baseCurrency: string;
  /** Fills after `since` (everything when null), oldest first, page by page. */
  fetchFills(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<Fill>>;
  /** Deposits and withdrawals after `since`, oldest first, page by page. */
  fetchCashFlows(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<CashFlow>>;
  /** Current holdings. A failure throws: it is never an empty or zero balance. */
  fetchBalances(signal?: AbortSignal): Promise<readonly Balance[]>;
  /** Hourly candles for a unified symbol with openTime in [fromMs, toMs). */
  fetchHourlyCandles(symbol: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<readonly Candle[]>;
  /**
   * The one-minute candle of a unified symbol that opens at `minute` (minute-aligned), or null when
   * the venue has none (no trade in that minute, unlisted market). Absent on venues without minute
   * bars (IBKR Flex): valuations at a flow's instant then use the hour mark, flagged estimated-mark.
   */
  fetchMinuteCandle?(symbol: string, minute: number, signal?: AbortSignal): Promise<Candle | null>;
  /**
   * Hourly mark-price candles of a contract (a ccxt contract symbol such as `BTC/USDT:USDT`) with
   * openTime in [fromMs, toMs). Absent on connectors without derivatives.
   */
  fetchMarkCandles?(symbol: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<readonly Candle[]>;
  /** From when the venue serves derivatives history (executions and ledger); null without derivatives. */
  derivativesCoverageStart?(): EpochMs | null;
  /**
   * The venue's open contract positions now (book units: base for linear, quote for inverse;
   * signed), compared with the book rebuilt from executions at each sync; null where the connector
   * reads no positions (derivatives off, or a venue without a position reader).
   */
  fetchPositions?(signal?: AbortSignal): Promise<readonly VenuePosition[] | null>;
  /**
   * What the key may do, where the venue reports it (intake refuses keys beyond reading).
   * Absent on connectors whose venue has no such endpoint: their keys are accepted unchecked.
   */
  fetchPermissions?(signal?: AbortSignal): Promise<VenuePermissions>;
  /**
   * From when the venue serves this stream's history (its lookback on a first sync); null when it
   * serves everything since the account opened. Published with the reconciliation.
   */
  coverageStart?(stream: SyncStream): EpochMs | null;
  /** Releases sockets and drops references to the credential. */
  close(): Promise<void>;
}


/** Options every connector takes. Only tests and the demo override the URL (never in enclave mode). */
export interface ConnectorOptions {
  readonly enclaveMode: boolean;
  /** Base URL replacing every venue endpoint (fake venues in tests). */
  readonly baseUrl?: string;
  /** Upper bound for one venue request, including retries. */
  readonly requestBudgetMs?: number;
  /** Tunes the retry policy (tests shorten it); `requestBudgetMs` is the default `budgetMs`. */
  readonly retry?: Partial<RetryPolicy>;
}
