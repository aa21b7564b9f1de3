// One VenueConnector for the ccxt venues. What differs per venue (how fills are paged, window
// sizes, page limits) lives in a VenueProfile; paging, dedup, cursors and retries are shared.
import type { Exchange as CcxtExchange, Trade, Transaction, binance, bitget, bybit } from 'ccxt';
import type { Logger } from 'pino';
import { addDecimal, numberToDecimal } from '../../domain/decimal-string.js';
import type { Balance, Candle, CashFlow, EpochMs, Fill, SyncCursor, SyncStream, VenuePermissions } from '../../domain/types.js';
import type { ConnectorOptions, Page, VenueConnector } from '../connector.js';
import type { VenueCredential } from '../../domain/types.js';
import { VenueError } from '../errors.js';
import { connectorClosed, retryPolicyFor, withRetry, type FailureClass, type RetryPolicy } from '../retry.js';
import { createCcxtExchange, type CcxtVenue } from './ccxt-client.js';
import {
  isIdState, parseCashFlowsCursor, parseFillsCursor, serializeCursor,
  type CashFlowsCursor, type FillsCursor, type SymbolState, type WindowState,
} from './ccxt-cursor.js';
import { classifyCcxtError } from './ccxt-errors.js';
import { BadResponse } from './ccxt-modules.js';
import { binanceKeyRights, bitgetKeyRights, bybitKeyRights } from './ccxt-permissions.js';
import { MINUTE_MS, minuteCandleFrom } from './minute-candle.js';
import { createDerivativesSource } from './derivatives/create-derivatives-source.js';
import type { DerivativesSource } from './derivatives/derivatives-source.js';
import type { VenuePosition } from '../../domain/derivatives/positions.js';
import { BinanceExtras } from './binance-extras.js';
import { BybitExtras } from './bybit-extras.js';
import { BitgetExtras } from './bitget-extras.js';
import { otherWalletBalances } from './wallet-balances.js';
import { walkExtraStream, type ExtraPage, type ExtraStream, type ExtrasCall, type VenueExtras } from './extra-streams.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/**
 * A pending transfer holds the transfer window back so it is seen again when it settles. Some
 * settle after more than 7 days (bank wires, chain congestion, compliance reviews): they are still
 * revisited up to this age, after which one left pending is treated as never completing (and a
 * late completion shows up in reconciliation, flagged).
 */
const PENDING_HOLD_MS = 45 * DAY_MS;

export interface CcxtConnectorOptions extends ConnectorOptions {
  readonly logger?: Logger;
  /** Earliest time windowed streams are scanned from on a first sync (defaults per venue). */
  readonly historyStartMs?: number;
  /** Windows end this long before now, so records the venue has not indexed yet are not skipped. */
  readonly settleLagMs?: number;
  readonly now?: () => number;
  /** Spacing between requests that ccxt enforces; its per-venue default when unset. */
  readonly rateLimitMs?: number;
  /** Markets without fills re-scanned per sync once the first full pass is done (rotating scan). */
  readonly rotatingScanPerSync?: number;
  /**
   * Also sync the venue's derivatives (contract executions, the derivatives ledger, mark prices) where
   * a reader exists (src/exchanges/ccxt/derivatives). Default: on against the real venue, off against
   * a base-URL override (spot-only fakes), unless set.
   */
  readonly derivatives?: boolean;
}

/** Default slice of the rotating scan: every candidate market is re-checked within ⌈M / 50⌉ syncs. */
export const ROTATING_SCAN_PER_SYNC = 50;
/** During a scan the cursor is handed over every this many markets, so an interrupted scan resumes. */
const SCAN_COMMIT_EVERY = 25;

type FillPaging =
  /** Binance: per symbol, ascending by trade id from `fromId`. */
  | { readonly kind: 'from-id'; readonly pageLimit: number }
  /** Per symbol or for all symbols at once, in time windows; `within` pages inside one window. */
  | {
    readonly kind: 'windowed'; readonly perSymbol: boolean; readonly windowMs: number; readonly pageLimit: number;
    readonly within: 'venue-cursor' | 'id-less-than' | 'split-window';
    /** How far back the venue serves fills at all: a first sync starts there, not years earlier. */
    readonly lookbackMs: number;
  };

export interface VenueProfile {
  readonly venue: CcxtVenue;
  readonly baseCurrency: string;
  readonly fills: FillPaging;
  /** `endParam`: how ccxt's fetchDeposits/fetchWithdrawals take the window end for this venue. */
  readonly transfers: {
    readonly windowMs: number; readonly pageLimit: number; readonly endParam: 'until' | 'endTime';
    /** Extra withdrawal query parameters (Bybit: withdrawType 2, or internal off-chain transfers are left out). */
    readonly withdrawalParams?: Readonly<Record<string, unknown>>;
  };
  readonly candleLimit: number;
  readonly historyStartMs: number;
}

export const VENUE_PROFILES: Record<CcxtVenue, VenueProfile> = {
  binance: {
    venue: 'binance', baseCurrency: 'USDT', fills: { kind: 'from-id', pageLimit: 1000 },
    transfers: { windowMs: 90 * DAY_MS, pageLimit: 1000, endParam: 'until' }, candleLimit: 1000, historyStartMs: Date.UTC(2017, 6, 1),
  },
  bybit: {
    venue: 'bybit', baseCurrency: 'USDT',
    fills: { kind: 'windowed', perSymbol: false, windowMs: 7 * DAY_MS, pageLimit: 100, within: 'venue-cursor', lookbackMs: 730 * DAY_MS },
    // Withdrawal `amount` is read as excluding `withdrawFee` (the fee is added: both leave the
    // account); a record where it did not is caught by reconciliation, not silently absorbed.
    transfers: { windowMs: 30 * DAY_MS, pageLimit: 50, endParam: 'until', withdrawalParams: { withdrawType: 2 } }, candleLimit: 1000, historyStartMs: Date.UTC(2018, 2, 1),
  },
  bitget: {
    venue: 'bitget', baseCurrency: 'USDT',
    fills: { kind: 'windowed', perSymbol: true, windowMs: 90 * DAY_MS, pageLimit: 100, within: 'id-less-than', lookbackMs: 90 * DAY_MS },
    transfers: { windowMs: 90 * DAY_MS, pageLimit: 100, endParam: 'until' }, candleLimit: 200, historyStartMs: Date.UTC(2018, 6, 1),
  },
  mexc: {
    venue: 'mexc', baseCurrency: 'USDT',
    fills: { kind: 'windowed', perSymbol: true, windowMs: DAY_MS, pageLimit: 100, within: 'split-window', lookbackMs: 30 * DAY_MS },
    transfers: { windowMs: 7 * DAY_MS, pageLimit: 1000, endParam: 'endTime' }, candleLimit: 500, historyStartMs: Date.UTC(2018, 3, 1),
  },
};

/** The `symbols` key for venues that list fills of every symbol in one stream. */
const ALL_SYMBOLS = '*';

interface WindowResult<T> { readonly items: readonly T[]; readonly state: WindowState }
interface SymbolPage { readonly fills: readonly Fill[]; readonly state: SymbolState }

/** `${ts}:${id}`: seen entries carry their time so they can be pruned once the window moves on. */
function seenKey(timestamp: number, id: string): string {
  return `${timestamp}:${id}`;
}
function seenTime(key: string): number {
  return Number(key.slice(0, key.indexOf(':')));
}

function compareIds(a: string, b: string): number {
  if (/^\d+$/u.test(a) && /^\d+$/u.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Races an SDK call against the attempt's signal: ccxt takes no signal, so a hung call is abandoned. */
async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => { reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined); // the losing side of the race must not become an unhandled rejection
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

export class CcxtConnector implements VenueConnector {
  readonly exchange: CcxtVenue;
  readonly baseCurrency: string;
  private readonly client: CcxtExchange;
  private readonly now: () => number;
  private readonly historyStartMs: number;
  private readonly settleLagMs: number;
  private closed = false;
  /** ConnectorOptions.requestBudgetMs bounds each request with its retries; `retry` tunes the rest. */
  private readonly policy: Partial<RetryPolicy>;
  /** The venue's derivatives reader; undefined when off or not written for this venue. */
  private readonly derivatives: DerivativesSource | undefined;

  constructor(private readonly profile: VenueProfile, credential: VenueCredential, private readonly options: CcxtConnectorOptions) {
    this.exchange = profile.venue;
    this.baseCurrency = profile.baseCurrency;
    const attemptTimeoutMs = options.retry?.attemptTimeoutMs ?? 30_000;
    this.client = createCcxtExchange(profile.venue, credential, {
      enclaveMode: options.enclaveMode,
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      timeoutMs: attemptTimeoutMs,
      ...(options.rateLimitMs === undefined ? {} : { rateLimitMs: options.rateLimitMs }),
    });
    this.policy = retryPolicyFor(options);
    this.now = options.now ?? Date.now;
    this.historyStartMs = options.historyStartMs ?? profile.historyStartMs;
    this.settleLagMs = options.settleLagMs ?? 60_000;
    this.derivatives = (options.derivatives ?? options.baseUrl === undefined)
      ? createDerivativesSource(this.exchange, this.client, (op, run, s) => this.call(op, run, s), (st, w, s, f, k) => this.walkWindows(st, w, s, f, k))
      : undefined;
  }

  // ---- The interface ----

  async *fetchFills(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<Fill>> {
    let cursor = parseFillsCursor(since, this.exchange);
    await this.loadMarkets(signal);
    let lastYielded = since;
    const perSymbol = !(this.profile.fills.kind === 'windowed' && !this.profile.fills.perSymbol);
    const found = perSymbol ? await this.discoverSymbols(cursor, signal) : undefined;
    if (found !== undefined) cursor = found.cursor;
    const symbols = found === undefined ? [ALL_SYMBOLS] : found.symbols;
    // Tracked markets (with fills) every sync, then the scan slice of the untracked candidates.
    const scan = found?.scan;
    const queue = scan === undefined ? symbols : [...symbols, ...scan.slice];
    let scanned = 0;
    /** The account's first known activity this run (transfers found by discovery, fills): where extras start. */
    let earliest = found?.earliest ?? Number.POSITIVE_INFINITY;
    for (const symbol of queue) {
      // A delisted market is no longer in the venue's list and cannot be asked for; its position stays.
      if (symbol !== ALL_SYMBOLS && this.client.markets?.[symbol] === undefined) {
        this.options.logger?.warn({ exchange: this.exchange }, 'a market from an earlier sync is no longer listed; skipped');
        continue;
      }
      let tracked = false;
      for await (const page of this.walkSymbol(symbol, cursor.symbols[symbol], signal)) {
        if (page.fills.length === 0 && cursor.symbols[symbol] === undefined) continue; // an empty candidate stays untracked
        cursor = { ...cursor, symbols: { ...cursor.symbols, [symbol]: page.state } };
        tracked = true;
        if (page.fills.length > 0) {
          for (const fill of page.fills) earliest = Math.min(earliest, fill.executedAt);
          lastYielded = serializeCursor(cursor);
          yield { items: page.fills, cursor: lastYielded };
        }
      }
      if (scan !== undefined && scan.members.has(symbol)) {
        scanned += 1;
        const done = scanned >= scan.slice.length;
        const next = done ? (scan.complete ? (scan.start + scan.slice.length) % Math.max(1, scan.total) : 0) : scan.start + scanned;
        cursor = { ...cursor, scan: { next, complete: scan.complete || done } };
        if (!tracked && (done || scanned % SCAN_COMMIT_EVERY === 0)) {
          lastYielded = serializeCursor(cursor);
          yield { items: [], cursor: lastYielded };
        }
      }
    }
    // Contract executions (derivatives/): one windowed stream each, resumable in the same cursor.
    for (const stream of this.derivatives?.executionStreams ?? []) {
      for await (const window of this.derivatives!.walkExecutions(stream, cursor.derivatives?.[stream] ?? { sinceMs: this.derivativesStart(), seen: [] }, signal)) {
        cursor = { ...cursor, derivatives: { ...cursor.derivatives, [stream]: window.state } };
        if (window.items.length > 0) { lastYielded = serializeCursor(cursor); yield { items: window.items, cursor: lastYielded }; }
      }
    }
    // Venue extras (Binance convert and dust): each its own window in the cursor.
    const fillExtrasFrom = this.extrasFrom(cursor.extrasFrom, since, earliest);
    for await (const page of this.walkExtras((x) => x.fillStreams, cursor.extras, fillExtrasFrom, signal)) {
      cursor = { ...cursor, extrasFrom: fillExtrasFrom, extras: { ...cursor.extras, [page.key]: page.state } };
      if (page.items.length > 0) {
        lastYielded = serializeCursor(cursor);
        yield { items: page.items, cursor: lastYielded };
      }
    }
    // Empty windows and discovery still move the cursor: hand it over so they are not rescanned.
    const final = serializeCursor(cursor);
    if (final !== lastYielded) yield { items: [], cursor: final };
  }

  async *fetchCashFlows(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<CashFlow>> {
    let cursor: CashFlowsCursor = parseCashFlowsCursor(since, this.exchange, this.historyStartMs);
    await this.loadMarkets(signal);
    let lastYielded = since;
    let earliest = Number.POSITIVE_INFINITY;
    for await (const window of this.walkTransfers(cursor.window, signal)) {
      cursor = { ...cursor, window: window.state };
      const flows = window.items.filter((t) => t.status === 'ok').map((t) => this.toCashFlow(t));
      if (flows.length > 0) {
        for (const flow of flows) earliest = Math.min(earliest, flow.occurredAt);
        lastYielded = serializeCursor(cursor);
        yield { items: flows, cursor: lastYielded };
      }
    }
    // The derivatives ledger (derivatives/): funding, fees, realized P&L, settlements as income/expense.
    if (this.derivatives !== undefined) {
      for await (const window of this.derivatives.walkLedger(cursor.ledger ?? { sinceMs: this.derivativesStart(), seen: [] }, signal)) {
        cursor = { ...cursor, ledger: window.state };
        if (window.items.length > 0) { lastYielded = serializeCursor(cursor); yield { items: window.items, cursor: lastYielded }; }
      }
      for (const stream of this.derivatives.ledgerStreams ?? []) {
        for await (const window of this.derivatives.walkLedger(cursor.ledgers?.[stream] ?? { sinceMs: this.derivativesStart(), seen: [] }, signal, stream)) {
          cursor = { ...cursor, ledgers: { ...cursor.ledgers, [stream]: window.state } };
          if (window.items.length > 0) { lastYielded = serializeCursor(cursor); yield { items: window.items, cursor: lastYielded }; }
        }
      }
    }
    // Inflow extras come first and lower `earliest`; it is fixed once a stream needing it starts.
    let flowExtrasFrom = cursor.extrasFrom;
    for await (const page of this.walkExtras((x) => x.cashFlowStreams, cursor.extras, () => (flowExtrasFrom ??= this.extrasFrom(undefined, since, earliest)), signal)) {
      for (const flow of page.items) earliest = Math.min(earliest, flow.occurredAt);
      cursor = { ...cursor, ...(flowExtrasFrom === undefined ? {} : { extrasFrom: flowExtrasFrom }), extras: { ...cursor.extras, [page.key]: page.state } };
      if (page.items.length > 0) {
        lastYielded = serializeCursor(cursor);
        yield { items: page.items, cursor: lastYielded };
      }
    }
    const final = serializeCursor(cursor);
    if (final !== lastYielded) yield { items: [], cursor: final };
  }

  async fetchBalances(signal?: AbortSignal): Promise<readonly Balance[]> {
    const balances = await this.call('fetchBalance', async () => await this.client.fetchBalance(), signal);
    const total = (balances as { total?: unknown }).total;
    if (typeof total !== 'object' || total === null) throw new VenueError(this.exchange, 'bad-response', { errorClass: 'MissingBalances' });
    const result: Balance[] = [];
    for (const [asset, amount] of Object.entries(total as Record<string, unknown>)) {
      if (typeof amount !== 'number' || !Number.isFinite(amount)) throw new VenueError(this.exchange, 'bad-response', { errorClass: 'MissingBalances' });
      if (amount !== 0) result.push({ asset, total: numberToDecimal(amount) });
    }
    // A derivatives wallet kept apart from spot (Binance USDⓈ-M) is part of the same venue account:
    // tagged, so reconciliation attributes a difference to it (reconcile.ts sums every wallet per asset).
    const futures = (await this.derivatives?.fetchWalletBalances?.(signal) ?? []).map((b) => ({ ...b, wallet: b.wallet ?? 'futures' }));
    // The venue's other wallets (wallet-balances.ts).
    const others = await otherWalletBalances(this.exchange, this.client, async (operation, run) => await this.call(operation, run, signal));
    return [...result.sort((a, b) => (a.asset < b.asset ? -1 : 1)), ...futures, ...others];
  }

  /**
   * What the key may do, from the venue's key-information endpoint (mapped in ccxt-permissions.ts).
   * MEXC's spot v3 API has no such endpoint (its /api/v3/account flags describe the account, not
   * the key), so its keys are reported as unchecked.
   */
  async fetchPermissions(signal?: AbortSignal): Promise<VenuePermissions> {
    switch (this.exchange) {
      case 'binance': {
        const client = this.client as binance;
        return await this.call('fetchPermissions', async () => binanceKeyRights(await client.sapiGetAccountApiRestrictions()), signal);
      }
      case 'bybit': {
        const client = this.client as bybit;
        return await this.call('fetchPermissions', async () => bybitKeyRights((await client.privateGetV5UserQueryApi())['result']), signal);
      }
      case 'bitget': {
        const client = this.client as bitget;
        return await this.call('fetchPermissions', async () => bitgetKeyRights((await client.privateSpotGetV2SpotAccountInfo())['data']), signal);
      }
      case 'mexc':
        return { reported: false };
    }
  }

  async fetchHourlyCandles(symbol: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<readonly Candle[]> {
    await this.loadMarkets(signal);
    // A fee asset with no market against the base, or a delisted one: no marks (the engine values
    // it at cost and flags missing-mark) instead of a BadSymbol that would fail the whole sync.
    if (this.client.markets?.[symbol] === undefined) {
      this.options.logger?.warn({ exchange: this.exchange }, 'no listed market to mark an asset; valued at cost and flagged');
      return [];
    }
    const candles: Candle[] = [];
    let from = Math.ceil(fromMs / HOUR_MS) * HOUR_MS;
    while (from < toMs) {
      const start = from;
      const rows = await this.call('fetchOHLCV', async () => await this.client.fetchOHLCV(symbol, '1h', start, this.profile.candleLimit, { until: toMs - 1 }), signal);
      let last = -1;
      for (const [openTime, open, high, low, close, volume] of rows) {
        if (openTime === undefined || open === undefined || high === undefined || low === undefined || close === undefined || volume === undefined) {
          throw new VenueError(this.exchange, 'bad-response', { errorClass: 'MalformedCandle' });
        }
        if (openTime < start || openTime >= toMs || openTime % HOUR_MS !== 0 || openTime <= last) continue;
        last = openTime;
        candles.push({ symbol, openTime, open: numberToDecimal(open), high: numberToDecimal(high), low: numberToDecimal(low), close: numberToDecimal(close), volume: numberToDecimal(volume) });
      }
      if (last < 0) break; // nothing more in range
      from = last + HOUR_MS;
    }
    return candles;
  }

  /** The '1m' bar opening at `minute` (one request, limit 1); null for an unlisted market or a minute without a bar. */
  async fetchMinuteCandle(symbol: string, minute: number, signal?: AbortSignal): Promise<Candle | null> {
    await this.loadMarkets(signal);
    if (this.client.markets?.[symbol] === undefined) return null;
    const rows = await this.call('fetchOHLCV', async () => await this.client.fetchOHLCV(symbol, '1m', minute, 1, { until: minute + MINUTE_MS - 1 }), signal);
    return minuteCandleFrom(this.exchange, symbol, minute, rows);
  }

  /**
   * Binance serves every fill since the account opened (fromId 0); windowed venues only their
   * lookback (Bitget 90 days, MEXC 30, Bybit 730), so a first sync's fills start there. Transfers
   * are scanned from historyStartMs.
   */
  coverageStart(stream: SyncStream): EpochMs | null {
    if (stream === 'cash_flows') return this.historyStartMs;
    const paging = this.profile.fills;
    return paging.kind === 'from-id' ? null : Math.max(this.historyStartMs, this.now() - paging.lookbackMs);
  }

  /** Hourly mark-price candles of a contract (ccxt contract symbol); none when derivatives are off. */
  async fetchMarkCandles(symbol: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<readonly Candle[]> {
    return this.derivatives === undefined ? [] : await this.derivatives.fetchMarkCandles(symbol, fromMs, toMs, signal);
  }

  async fetchPositions(signal?: AbortSignal): Promise<readonly VenuePosition[] | null> {
    if (this.derivatives?.fetchPositions === undefined) return null;
    return await this.derivatives.fetchPositions(signal);
  }

  derivativesCoverageStart(): EpochMs | null {
    return this.derivatives === undefined ? null : this.derivativesStart();
  }

  /** A first derivatives sync starts at the venue's derivatives lookback (never before historyStartMs). */
  private derivativesStart(): EpochMs {
    return Math.max(this.historyStartMs, this.now() - (this.derivatives?.lookbackMs ?? 0));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.apiKey = '';
    this.client.secret = '';
    this.client.password = '';
    await Promise.resolve();
  }

  /**
   * Where extra streams without a window start: kept once set; on a first sync the account's first
   * activity this run (nothing known: the whole history); on a cursor from before extras existed,
   * the whole history too (its earlier activity is not re-read here).
   */
  private extrasFrom(kept: number | undefined, since: SyncCursor | null, earliest: number): number {
    if (kept !== undefined) return kept;
    return since === null && Number.isFinite(earliest) ? Math.max(0, earliest) : this.historyStartMs;
  }

  /** Extra streams of the venue (binance-extras.ts, bybit-extras.ts, bitget-extras.ts), each walked from its own window state. */
  private async *walkExtras<T>(
    pick: (extras: VenueExtras) => readonly ExtraStream<T>[], states: CashFlowsCursor['extras'], firstActivity: number | (() => number), signal: AbortSignal | undefined,
  ): AsyncIterable<ExtraPage<T>> {
    const call: ExtrasCall = async (operation, run) => await this.call(operation, run, signal);
    const extras = this.exchange === 'binance' ? new BinanceExtras(this.client as binance, call, this.baseCurrency)
      : this.exchange === 'bybit' ? new BybitExtras(this.client as bybit, call)
        : this.exchange === 'bitget' ? new BitgetExtras(this.client as bitget, call) : undefined;
    if (extras === undefined) return;
    const now = this.now();
    for (const stream of pick(extras)) {
      const start = { historyStartMs: this.historyStartMs, firstActivity: stream.afterFirstActivity ? (typeof firstActivity === 'number' ? firstActivity : firstActivity()) : 0 };
      yield* walkExtraStream(stream, states?.[stream.key], start, now - this.settleLagMs, now);
    }
  }

  // ---- Requests ----

  private async call<T>(operation: string, run: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.closed) throw connectorClosed(this.exchange);
    return await withRetry(
      this.exchange,
      async (attemptSignal) => {
        try {
          const result = await raceAbort(run(), attemptSignal);
          // Some ccxt venues turn a 200 with an unparseable body into an empty result: refuse it.
          const body: unknown = this.client.last_http_response;
          if (typeof body === 'string' && body !== '' && this.client.last_json_response === undefined) throw new BadResponse('unparseable response body');
          return result;
        } catch (error) {
          // withRetry classifies an attempt that ran out of time itself; log it here.
          if (attemptSignal.aborted && signal?.aborted !== true) this.logFailure(operation, { kind: 'timeout', retryable: true });
          throw error;
        }
      },
      (error) => {
        const failure = classifyCcxtError(error, this.client.last_response_headers as Record<string, unknown> | undefined, this.now());
        this.logFailure(operation, failure);
        return failure;
      },
      { policy: this.policy, ...(signal === undefined ? {} : { signal }) },
    );
  }

  /** Class, status and kind only: ccxt's message holds the signed URL and the response body. */
  private logFailure(operation: string, failure: FailureClass): void {
    this.options.logger?.warn({ exchange: this.exchange, operation, kind: failure.kind, errorClass: failure.errorClass, status: failure.status, retryAfterMs: failure.retryAfterMs }, 'venue request failed');
  }

  private async loadMarkets(signal: AbortSignal | undefined): Promise<void> {
    await this.call('loadMarkets', async () => await this.client.loadMarkets(), signal);
  }

  // ---- Fills ----

  /**
   * Symbols to walk. Tracked: markets with fills in an earlier sync, plus every spot market whose
   * base and quote the account has held (balances, transfers). Candidates: every other spot market
   * whose quote or base the account has held: a round trip in a coin no longer held was paid for in
   * a quote it held. The first sync scans every candidate (resumable: the cursor is handed over
   * every SCAN_COMMIT_EVERY markets); later syncs scan a rotating slice of rotatingScanPerSync.
   */
  private async discoverSymbols(cursor: FillsCursor, signal: AbortSignal | undefined): Promise<{
    cursor: FillsCursor; symbols: string[]; earliest: number;
    scan: { slice: string[]; members: Set<string>; start: number; total: number; complete: boolean };
  }> {
    const assets = new Set(cursor.assets);
    let earliest = Number.POSITIVE_INFINITY;
    for (const balance of await this.fetchBalances(signal)) assets.add(balance.asset);
    let transfers = cursor.transfers ?? { sinceMs: this.historyStartMs, seen: [] };
    for await (const window of this.walkTransfers(transfers, signal)) {
      for (const transfer of window.items) if (typeof transfer.currency === 'string') assets.add(transfer.currency);
      for (const transfer of window.items) if (transfer.timestamp !== undefined) earliest = Math.min(earliest, transfer.timestamp);
      transfers = window.state;
    }
    const quotes = new Set([...assets, this.baseCurrency]);
    const symbols = new Set(Object.keys(cursor.symbols));
    const candidates: string[] = [];
    for (const market of Object.values(this.client.markets ?? {})) {
      if (market?.spot !== true) continue;
      if (assets.has(market.base) && quotes.has(market.quote)) symbols.add(market.symbol);
      else if (quotes.has(market.quote) || assets.has(market.base)) candidates.push(market.symbol);
    }
    const untracked = candidates.filter((s) => !symbols.has(s)).sort();
    const state = cursor.scan ?? { next: 0, complete: false };
    const start = Math.min(state.next, untracked.length);
    const per = this.options.rotatingScanPerSync ?? ROTATING_SCAN_PER_SYNC;
    // First pass: everything from where an interrupted scan stopped. Later: a slice, wrapping around.
    const slice = !state.complete
      ? untracked.slice(start)
      : Array.from({ length: Math.min(per, untracked.length) }, (_, i) => untracked[(start + i) % untracked.length]!);
    return {
      cursor: { ...cursor, assets: [...assets].sort(), transfers },
      symbols: [...symbols].sort(),
      earliest,
      scan: { slice, members: new Set(slice), start, total: untracked.length, complete: state.complete },
    };
  }

  private walkSymbol(symbol: string, state: SymbolState | undefined, signal: AbortSignal | undefined): AsyncIterable<SymbolPage> {
    const paging = this.profile.fills;
    if (paging.kind === 'from-id') {
      if (state !== undefined && !isIdState(state)) throw new VenueError(this.exchange, 'rejected', { errorClass: 'CursorMismatch' });
      return this.walkFromId(symbol, state?.fromId ?? '0', paging.pageLimit, signal);
    }
    if (state !== undefined && isIdState(state)) throw new VenueError(this.exchange, 'rejected', { errorClass: 'CursorMismatch' });
    const market = symbol === ALL_SYMBOLS ? undefined : symbol;
    const firstSince = Math.max(this.historyStartMs, this.now() - paging.lookbackMs);
    return this.walkFillWindows(market, state ?? { sinceMs: firstSince, seen: [] }, paging, signal);
  }

  private async *walkFillWindows(symbol: string | undefined, state: WindowState, paging: Extract<FillPaging, { kind: 'windowed' }>, signal: AbortSignal | undefined): AsyncIterable<SymbolPage> {
    const fetchWindow = async (from: number, to: number): Promise<Fill[]> =>
      (await this.fetchTradeWindow(symbol, from, to, paging, signal)).map((t) => this.toFill(t));
    const key = (fill: Fill): { id: string; timestamp: number } => ({ id: fill.exchangeTradeId, timestamp: fill.executedAt });
    for await (const window of this.walkWindows(state, paging.windowMs, signal, fetchWindow, key)) {
      yield { fills: window.items, state: window.state };
    }
  }

  private async *walkFromId(symbol: string, startId: string, limit: number, signal: AbortSignal | undefined): AsyncIterable<SymbolPage> {
    let fromId = BigInt(startId);
    for (;;) {
      const params = { fromId: fromId.toString() };
      const trades = await this.call('fetchMyTrades', async () => await this.client.fetchMyTrades(symbol, undefined, limit, params), signal);
      const fresh = new Map<string, Fill>();
      for (const trade of trades) {
        const fill = this.toFill(trade);
        // A venue may repeat the previous page's last fill; ids below fromId are done already.
        if (/^\d+$/u.test(fill.exchangeTradeId) && BigInt(fill.exchangeTradeId) >= fromId) fresh.set(fill.exchangeTradeId, fill);
      }
      const fills = [...fresh.values()].sort((a, b) => compareIds(a.exchangeTradeId, b.exchangeTradeId));
      const last = fills.at(-1);
      if (last === undefined) return;
      fromId = BigInt(last.exchangeTradeId) + 1n;
      yield { fills, state: { fromId: fromId.toString() } };
      if (trades.length < limit) return;
    }
  }

  /** All trades with a time in [from, to] (bounds inclusive), however the venue pages inside a window. */
  private async fetchTradeWindow(symbol: string | undefined, from: number, to: number, paging: Extract<FillPaging, { kind: 'windowed' }>, signal: AbortSignal | undefined): Promise<Trade[]> {
    const limit = paging.pageLimit;
    const fetchPage = async (since: number, params: Record<string, unknown>): Promise<Trade[]> =>
      await this.call('fetchMyTrades', async () => await this.client.fetchMyTrades(symbol, since, limit, params), signal);
    switch (paging.within) {
      case 'venue-cursor': {
        // Bybit: newest first inside the window; follow nextPageCursor.
        const out: Trade[] = [];
        let pageCursor: string | undefined;
        for (;;) {
          const page = await fetchPage(from, { until: to, ...(pageCursor === undefined ? {} : { cursor: pageCursor }) });
          out.push(...page);
          pageCursor = page.map((t) => (t.info as { nextPageCursor?: unknown } | undefined)?.nextPageCursor).find((c): c is string => typeof c === 'string' && c !== '');
          if (page.length < limit || pageCursor === undefined) return out;
        }
      }
      case 'id-less-than': {
        // Bitget: newest first; the next page holds ids below the smallest id seen.
        const out: Trade[] = [];
        let idLessThan: string | undefined;
        for (;;) {
          const page = await fetchPage(from, { until: to, ...(idLessThan === undefined ? {} : { idLessThan }) });
          out.push(...page);
          const ids = page.map((t) => t.id).filter((id): id is string => typeof id === 'string').sort(compareIds);
          const smallest = ids[0];
          if (page.length < limit || smallest === undefined || smallest === idLessThan) return out;
          idLessThan = smallest;
        }
      }
      case 'split-window': {
        // MEXC: no page cursor; a full page means the window is too wide, so halve it.
        const page = await fetchPage(from, { until: to });
        if (page.length < limit) return page;
        if (to <= from) throw new VenueError(this.exchange, 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
        const mid = Math.floor((from + to) / 2);
        return [...await this.fetchTradeWindow(symbol, from, mid, paging, signal), ...await this.fetchTradeWindow(symbol, mid + 1, to, paging, signal)];
      }
      default: {
        const unknown: never = paging.within;
        throw new TypeError(`unhandled paging: ${String(unknown)}`);
      }
    }
  }

  /**
   * Walks [state.sinceMs, now − settle lag) in windows. Each window's records are deduplicated (by id,
   * and against `seen` from the window before: bounds are inclusive, so border records come twice),
   * sorted oldest first, and handed over with the state that resumes after them.
   */
  private async *walkWindows<T>(
    state: WindowState, windowMs: number, signal: AbortSignal | undefined,
    fetchWindow: (from: number, to: number) => Promise<readonly T[]>,
    key: (item: T) => { id: string; timestamp: number },
  ): AsyncIterable<WindowResult<T>> {
    const end = this.now() - this.settleLagMs;
    let sinceMs = state.sinceMs;
    let seen = new Set(state.seen);
    while (sinceMs < end) {
      signal?.throwIfAborted();
      const to = Math.min(sinceMs + windowMs, end);
      const fresh = new Map<string, T>();
      for (const item of await fetchWindow(sinceMs, to)) {
        const { id, timestamp } = key(item);
        if (timestamp < sinceMs || timestamp > to || seen.has(seenKey(timestamp, id))) continue;
        fresh.set(id, item);
      }
      const items = [...fresh.values()].sort((a, b) => key(a).timestamp - key(b).timestamp || compareIds(key(a).id, key(b).id));
      seen = new Set(items.map((item) => seenKey(key(item).timestamp, key(item).id)).filter((k) => seenTime(k) >= to));
      sinceMs = to;
      yield { items, state: { sinceMs, seen: [...seen] } };
    }
  }

  private toFill(trade: Trade): Fill {
    const { id, symbol, timestamp, amount, price, side } = trade;
    const market = symbol === undefined ? undefined : this.client.markets?.[symbol];
    if (id === undefined || symbol === undefined || market === undefined || timestamp === undefined || amount === undefined || price === undefined || (side !== 'buy' && side !== 'sell')) {
      throw new VenueError(this.exchange, 'bad-response', { errorClass: 'MalformedTrade' });
    }
    const fee = trade.fee as { cost?: number; currency?: string } | undefined;
    return {
      exchangeTradeId: id,
      symbol,
      baseAsset: market.base,
      quoteAsset: market.quote,
      side,
      quantity: numberToDecimal(amount),
      price: numberToDecimal(price),
      fee: numberToDecimal(fee?.cost ?? 0),
      feeAsset: fee?.currency ?? market.quote,
      executedAt: timestamp,
    };
  }

  // ---- Transfers ----

  /**
   * Deposits and withdrawals window by window, every status. The state holds back to the oldest
   * recent pending transfer, so it is seen again when it completes.
   */
  private async *walkTransfers(state: WindowState, signal: AbortSignal | undefined): AsyncIterable<WindowResult<Transaction>> {
    const { windowMs } = this.profile.transfers;
    const holdFloor = this.now() - PENDING_HOLD_MS;
    let heldAt: number | undefined;
    let seenCarried = state.seen;
    const key = (t: Transaction): { id: string; timestamp: number } => ({ id: `${t.type ?? ''}:${transferId(t) ?? ''}`, timestamp: t.timestamp ?? -1 });
    for await (const window of this.walkWindows(state, windowMs, signal, async (from, to) => await this.fetchTransferWindow(from, to, signal), key)) {
      for (const t of window.items) {
        if (transferId(t) === undefined || t.timestamp === undefined || t.currency === undefined || t.amount === undefined) throw new VenueError(this.exchange, 'bad-response', { errorClass: 'MalformedTransfer' });
        if (!isSettled(t) && t.timestamp >= holdFloor) heldAt = Math.min(heldAt ?? t.timestamp, t.timestamp);
      }
      const emitted = window.items.filter(isSettled).map((t) => seenKey(t.timestamp ?? 0, key(t).id));
      if (heldAt === undefined) {
        seenCarried = window.state.seen;
        yield { items: window.items, state: window.state };
      } else {
        // Resume at the pending transfer; everything already handed over from there on is `seen`.
        const hold = heldAt;
        seenCarried = [...new Set([...seenCarried, ...emitted])].filter((k) => seenTime(k) >= hold);
        yield { items: window.items.filter(isSettled), state: { sinceMs: hold, seen: seenCarried } };
      }
    }
  }

  private async fetchTransferWindow(from: number, to: number, signal: AbortSignal | undefined): Promise<Transaction[]> {
    const { pageLimit, endParam } = this.profile.transfers;
    const params = { [endParam]: to };
    const [deposits, withdrawals] = [
      await this.call('fetchDeposits', async () => await this.client.fetchDeposits(undefined, from, pageLimit, params), signal),
      await this.call('fetchWithdrawals', async () => await this.client.fetchWithdrawals(undefined, from, pageLimit, { ...params, ...this.profile.transfers.withdrawalParams }), signal),
    ];
    if (deposits.length < pageLimit && withdrawals.length < pageLimit) {
      return [...deposits.map((t) => ({ ...t, type: 'deposit' })), ...withdrawals.map((t) => ({ ...t, type: 'withdrawal' }))];
    }
    if (to <= from) throw new VenueError(this.exchange, 'bad-response', { errorClass: 'PageLimitWithinOneMillisecond' });
    const mid = Math.floor((from + to) / 2);
    return [...await this.fetchTransferWindow(from, mid, signal), ...await this.fetchTransferWindow(mid + 1, to, signal)];
  }

  private toCashFlow(t: Transaction): CashFlow {
    const kind = t.type === 'deposit' ? 'deposit' : 'withdrawal';
    const fee = t.fee as { cost?: number; currency?: string } | undefined;
    // A withdrawal fee paid in the same asset leaves the account too.
    const feeCost = kind === 'withdrawal' && fee?.cost !== undefined && fee.currency === t.currency ? Math.abs(fee.cost) : 0;
    return {
      exchangeFlowId: `${kind}:${transferId(t) ?? ''}`,
      kind,
      asset: t.currency ?? '',
      amount: addDecimal(numberToDecimal(t.amount ?? 0), numberToDecimal(feeCost)),
      occurredAt: t.timestamp ?? 0,
    };
  }
}

/** ccxt leaves some venues' statuses raw ('processing', 'unknown'); only these are final. */
const FINAL_STATUSES = new Set(['ok', 'failed', 'fail', 'canceled', 'cancelled', 'rejected']);
function isSettled(t: Transaction): boolean {
  return t.status !== undefined && FINAL_STATUSES.has(t.status);
}

/** MEXC deposits carry no id, only the chain transaction hash. */
function transferId(t: Transaction): string | undefined {
  return t.id ?? (t.txid === undefined ? undefined : `tx:${t.txid}`);
}

export function createCcxtConnector(venue: CcxtVenue, credential: VenueCredential, options: CcxtConnectorOptions): CcxtConnector {
  return new CcxtConnector(VENUE_PROFILES[venue], credential, options);
}
