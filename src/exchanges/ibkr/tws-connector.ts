// Interactive Brokers accounts served by TWS or IB Gateway, through @stoqey/ib's IBApi (the socket
// protocol; the gateway holds the login). Each request is one event exchange on the emitter:
// reqExecutions → execDetails… execDetailsEnd (+ commissionReport), reqAccountSummary →
// accountSummary… accountSummaryEnd, reqPositions → position… positionEnd, reqHistoricalData →
// historicalData… "finished". TWS has no deposit/withdrawal feed: cash flows come from Flex.
import {
  BarSizeSetting,
  EventName,
  IBApi,
  SecType,
  WhatToShow,
  type CommissionReport,
  type Contract,
  type Execution,
} from '@stoqey/ib';
import type { Balance, Candle, Fill } from '../../domain/types.js';
import type { ConnectorOptions, VenueConnector } from '../connector.js';
import type { VenueCredential } from '../../domain/types.js';
import { absDecimal, multiplyDecimal, negateDecimal } from '../../domain/decimal-string.js';
import { VenueError } from '../errors.js';
import { connectorClosed, retrying, retryPolicyFor, type FailureClass } from '../retry.js';
import { VenueConfigError } from '../errors.js';
import { HOUR_MS, badResponse, decimalOf, parseTimeCursor, timeCursorPages, unclassifiedFailure } from '../broker-common.js';
import { MalformedVenueResponse } from '../errors.js';
import { parseFlexDateTime } from './flex-statement.js';

export interface IbkrTwsConnectorOptions extends ConnectorOptions {
  /** TWS / IB Gateway host; in enclave mode only a loopback host (the socket is plaintext). */
  readonly host?: string;
  readonly port?: number;
  readonly clientId?: number;
  readonly baseCurrency?: string;
  /** Zone TWS reports execution times in when it names none (its login zone). */
  readonly timeZone?: string;
  /** How long to wait after execDetailsEnd for commission reports still on their way. */
  readonly commissionGraceMs?: number;
  readonly pageSize?: number;
  /** An IBApi (or a subclass) to use instead of a new one; tests script its events. */
  readonly api?: IBApi;
}

/** An error TWS reported for one of our requests; only its numeric code is kept. */
export class TwsRequestError extends Error {
  override readonly name = 'TwsRequestError';
  constructor(readonly code: number) {
    super(`TWS error ${code}`);
  }
}

const TWS_UNAVAILABLE = new Set([502, 503, 504, 1100, 1300, 2110, 10182]);
const TWS_RATE_LIMITED = new Set([100, 162, 420]);

export function classifyTwsError(error: unknown): FailureClass {
  if (error instanceof TwsRequestError) {
    const errorClass = `TWS ${error.code}`;
    if (TWS_UNAVAILABLE.has(error.code)) return { kind: 'unavailable', retryable: true, errorClass };
    if (TWS_RATE_LIMITED.has(error.code)) return { kind: 'rate-limited', retryable: true, errorClass, retryAfterMs: 10_000 };
    return { kind: 'rejected', retryable: false, errorClass };
  }
  return badResponse(error) ?? unclassifiedFailure(error);
}

type Listener = (...args: never[]) => void;
/** IBApi's emitter seen without its per-event overloads (listeners are added generically). */
interface Emitter {
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** TWS times: "20250102  09:30:00" (login zone), "20250102 09:30:00 US/Eastern", "20250102-14:30:00" (UTC). */
export function parseTwsTime(value: string | undefined, defaultZone: string): number | undefined {
  if (value === undefined) return undefined;
  const utc = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$/u.exec(value.trim());
  if (utc !== null) return Date.UTC(Number(utc[1]), Number(utc[2]) - 1, Number(utc[3]), Number(utc[4]), Number(utc[5]), Number(utc[6]));
  const m = /^(\d{8})\s+(\d{2}:\d{2}:\d{2})(?:\s+(\S+))?$/u.exec(value.trim());
  if (m === null) return undefined;
  try {
    return parseFlexDateTime(`${m[1]} ${m[2]}`, m[3] ?? defaultZone);
  } catch {
    return undefined; // a zone name Intl does not know
  }
}

function num(value: unknown): string | undefined {
  return typeof value === 'number' || typeof value === 'string' ? decimalOf(value) : undefined;
}

/**
 * TWS corrects an execution by sending it again with the last execId segment moved on
 * ("….01.01" → "….01.02"). Corrections replace: every revision keeps its own id, and each
 * superseded one gets a reversing record (`<execId>:corrected`: opposite side, same quantity and
 * price, fee refunded), so original + reversal + correction nets to the correction alone.
 */
export function splitCorrections(fills: readonly Fill[]): { originals: Fill[]; corrections: Fill[] } {
  const groups = new Map<string, Fill[]>();
  for (const f of fills) {
    const m = /^(.*)\.(\d{2})$/u.exec(f.exchangeTradeId);
    const key = m === null ? f.exchangeTradeId : m[1]!;
    const list = groups.get(key) ?? [];
    list.push(f);
    groups.set(key, list);
  }
  const originals: Fill[] = [];
  const corrections: Fill[] = [];
  for (const list of groups.values()) {
    list.sort((a, b) => (a.exchangeTradeId < b.exchangeTradeId ? -1 : 1));
    originals.push(list[0]!);
    if (list.length === 1) continue;
    const latest = list.at(-1)!;
    for (const [i, f] of list.entries()) {
      if (i > 0) corrections.push(f);
      if (f === latest) continue;
      corrections.push({ ...f, exchangeTradeId: `${f.exchangeTradeId}:corrected`, side: f.side === 'buy' ? 'sell' : 'buy', fee: negateDecimal(f.fee), executedAt: latest.executedAt });
    }
  }
  const byTime = (a: Fill, b: Fill) => a.executedAt - b.executedAt || (a.exchangeTradeId < b.exchangeTradeId ? -1 : a.exchangeTradeId > b.exchangeTradeId ? 1 : 0);
  return { originals: originals.sort(byTime), corrections: corrections.sort(byTime) };
}

export function createIbkrTwsConnector(credential: VenueCredential, options: IbkrTwsConnectorOptions): VenueConnector {
  const host = options.host ?? '127.0.0.1';
  if (options.enclaveMode && !LOOPBACK.has(host)) throw new VenueConfigError('ibkr', 'non-loopback TWS host refused in enclave mode');
  const account = credential.apiKey;
  const baseCurrency = options.baseCurrency ?? 'USD';
  const timeZone = options.timeZone ?? 'America/New_York';
  const graceMs = options.commissionGraceMs ?? 1_000;
  const pageSize = options.pageSize ?? 1_000;
  const policy = retryPolicyFor(options);
  let api: IBApi | undefined = options.api ?? new IBApi({ host, port: options.port ?? 4001 });
  /** Assets seen as CASH contracts (executions, positions): marked from their IDEALPRO pair. */
  const cashAssets = new Set<string>();
  let nextReqId = 1_000;

  const live = (): IBApi => {
    if (api === undefined) throw connectorClosed('ibkr');
    return api;
  };
  const call = retrying('ibkr', classifyTwsError, policy);

  /**
   * Runs one request/response exchange: `start` sends the request and registers listeners through
   * `on`; every listener is removed when the exchange settles, errors or is aborted.
   */
  function exchange<T>(signal: AbortSignal, run: (ctx: { reqId: number; on: typeof onEvent; done: (value: T) => void; fail: (error: unknown) => void }) => void, cancel?: (reqId: number) => void): Promise<T> {
    const ib = live();
    const reqId = nextReqId++;
    const emitter = ib as unknown as Emitter;
    const listeners: [EventName, Listener][] = [];
    function onEvent(event: EventName, listener: Listener): void {
      listeners.push([event, listener]);
      emitter.on(event, listener);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (action: () => void) => {
        if (settled) return;
        settled = true;
        for (const [event, listener] of listeners) emitter.off(event, listener);
        signal.removeEventListener('abort', onAbort);
        action();
      };
      const onAbort = () => finish(() => {
        try {
          cancel?.(reqId);
        } catch {
          // closed meanwhile: nothing left to cancel
        }
        reject(signal.reason);
      });
      signal.addEventListener('abort', onAbort, { once: true });
      onEvent(EventName.error, ((_error: unknown, code: unknown, id: unknown) => {
        if (id === reqId || (id === -1 && TWS_UNAVAILABLE.has(Number(code)))) finish(() => reject(new TwsRequestError(Number(code))));
      }));
      onEvent(EventName.disconnected, (() => finish(() => reject(new TwsRequestError(504)))));
      try {
        run({ reqId, on: onEvent, done: (value) => finish(() => resolve(value)), fail: (error) => finish(() => reject(error)) });
      } catch (error) {
        finish(() => reject(error));
      }
    });
  }

  let connecting: Promise<void> | undefined;

  /** Connects once; concurrent callers share the attempt. */
  async function connected(signal: AbortSignal): Promise<void> {
    const ib = live();
    if (ib.isConnected) return;
    connecting ??= connect(ib, signal).finally(() => {
      connecting = undefined;
    });
    await connecting;
  }

  function connect(ib: IBApi, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        ib.off(EventName.connected, onConnected);
        ib.off(EventName.error, onError);
        signal.removeEventListener('abort', onAbort);
      };
      const onConnected = () => { cleanup(); resolve(); };
      const onError = (_error: Error, code: number) => {
        if (TWS_UNAVAILABLE.has(code)) { cleanup(); reject(new TwsRequestError(code)); }
      };
      const onAbort = () => { cleanup(); reject(signal.reason); };
      ib.on(EventName.connected, onConnected);
      ib.on(EventName.error, onError);
      signal.addEventListener('abort', onAbort, { once: true });
      ib.connect(options.clientId);
    });
  }

  async function executions(signal: AbortSignal): Promise<Fill[]> {
    await connected(signal);
    const rows = new Map<string, { contract: Contract; execution: Execution }>();
    const commissions = new Map<string, CommissionReport>();
    await exchange<void>(signal, ({ reqId, on, done }) => {
      on(EventName.execDetails, ((id: number, contract: Contract, execution: Execution) => {
        if (id === reqId && execution.execId !== undefined && (execution.acctNumber === undefined || execution.acctNumber === account)) rows.set(execution.execId, { contract, execution });
      }));
      on(EventName.commissionReport, ((report: CommissionReport) => {
        if (report.execId !== undefined) commissions.set(report.execId, report);
      }));
      on(EventName.execDetailsEnd, ((id: number) => {
        if (id !== reqId) return;
        // Commission reports may trail the end marker by a moment.
        const deadline = Date.now() + graceMs;
        const wait = () => ([...rows.keys()].every((execId) => commissions.has(execId)) || Date.now() >= deadline ? done() : setTimeout(wait, 20));
        wait();
      }));
      live().reqExecutions(reqId, { acctCode: account });
    });
    const fills: Fill[] = [];
    for (const [execId, { contract, execution }] of rows) {
      const executedAt = parseTwsTime(execution.time, timeZone);
      const shares = num(execution.shares);
      const price = num(execution.price);
      // A CASH contract's localSymbol is the pair ("EUR.USD"): the asset is its symbol.
      const isCash = String(contract.secType) === 'CASH';
      const symbol = isCash ? contract.symbol : contract.localSymbol ?? contract.symbol;
      if (isCash && symbol !== undefined) cashAssets.add(symbol);
      const currency = contract.currency ?? baseCurrency;
      if (executedAt === undefined || shares === undefined || price === undefined || symbol === undefined) throw new MalformedVenueResponse('execution');
      if (execution.side !== 'BOT' && execution.side !== 'SLD') throw new MalformedVenueResponse('execution side');
      const multiplier = num(contract.multiplier) ?? '1';
      const report = commissions.get(execId);
      const fee = num(report?.commission);
      fills.push({
        exchangeTradeId: execId,
        symbol: `${symbol}/${currency}`,
        baseAsset: symbol,
        quoteAsset: currency,
        side: execution.side === 'BOT' ? 'buy' : 'sell',
        quantity: multiplyDecimal(absDecimal(shares), multiplier === '0' ? '1' : multiplier),
        price,
        // TWS sends an unset commission as Number.MAX_VALUE.
        fee: fee === undefined || (report?.commission ?? 0) >= 1e300 ? '0' : absDecimal(fee),
        feeAsset: report?.currency ?? currency,
        executedAt,
      });
    }
    return fills.sort((a, b) => a.executedAt - b.executedAt || (a.exchangeTradeId < b.exchangeTradeId ? -1 : a.exchangeTradeId > b.exchangeTradeId ? 1 : 0));
  }

  return {
    exchange: 'ibkr',
    baseCurrency,

    async *fetchFills(since, signal) {
      const cursor = since === null ? null : parseTimeCursor('ibkr', since);
      const { originals, corrections } = splitCorrections(await call(executions, signal));
      let last = since;
      for (const page of timeCursorPages<Fill>(originals, cursor, (f) => f.executedAt, (f) => f.exchangeTradeId, pageSize)) {
        last = page.cursor;
        yield page;
      }
      // Corrections carry the corrected execution's time, often before the cursor: they are handed
      // over on every sync (the day's report is small; storage keeps each id once).
      if (corrections.length > 0) yield { items: corrections, cursor: last ?? JSON.stringify({ v: 1, t: 0, ids: [] }) };
    },

    // TWS reports no deposits or withdrawals; pair the account with a Flex query for those.
    async *fetchCashFlows(since) {
      if (since !== null) parseTimeCursor('ibkr', since);
    },

    async fetchBalances(signal) {
      return call(async (s) => {
        await connected(s);
        const cash = await exchange<string | undefined>(s, ({ reqId, on, done }) => {
          let value: string | undefined;
          on(EventName.accountSummary, ((id: number, acct: string, tag: string, raw: string, currency: string) => {
            if (id === reqId && acct === account && tag === 'TotalCashValue' && (currency === baseCurrency || currency === '')) value = decimalOf(raw);
          }));
          on(EventName.accountSummaryEnd, ((id: number) => {
            if (id !== reqId) return;
            live().cancelAccountSummary(reqId);
            done(value);
          }));
          live().reqAccountSummary(reqId, 'All', 'TotalCashValue');
        }, (reqId) => live().cancelAccountSummary(reqId));
        if (cash === undefined) throw new VenueError('ibkr', 'rejected', { errorClass: 'account summary has no TotalCashValue for the account' });
        const positions = await exchange<Balance[]>(s, ({ on, done }) => {
          const held: Balance[] = [];
          on(EventName.position, ((acct: string, contract: Contract, pos: number) => {
            const total = num(pos);
            const isCash = String(contract.secType) === 'CASH';
            const asset = isCash ? contract.symbol : contract.localSymbol ?? contract.symbol;
            if (isCash && asset !== undefined) cashAssets.add(asset);
            if (acct === account && total !== undefined && total !== '0' && asset !== undefined) held.push({ asset, total: multiplyDecimal(total, num(contract.multiplier) ?? '1') });
          }));
          on(EventName.positionEnd, (() => {
            live().cancelPositions();
            done(held);
          }));
          live().reqPositions();
        }, () => live().cancelPositions());
        return [{ asset: baseCurrency, total: cash }, ...positions];
      }, signal);
    },

    async fetchHourlyCandles(symbol, fromMs, toMs, signal) {
      const [asset, currency] = symbol.split('/');
      if (asset === undefined || currency === undefined) throw new VenueError('ibkr', 'rejected', { errorClass: 'symbol must be BASE/QUOTE' });
      const days = Math.max(1, Math.ceil((toMs - fromMs) / (24 * HOUR_MS)));
      const end = new Date(toMs).toISOString().replace(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2}).*$/u, '$1$2$3-$4');
      const bars = await call(async (s) => {
        await connected(s);
        return exchange<Candle[]>(s, ({ reqId, on, done, fail }) => {
          const out: Candle[] = [];
          on(EventName.historicalData, ((id: number, time: string, open: number, high: number, low: number, close: number, volume: number) => {
            if (id !== reqId) return;
            if (time.startsWith('finished')) return done(out);
            const openTime = Number(time) * 1000;
            const values = [num(open), num(high), num(low), num(close), num(volume < 0 ? 0 : volume)];
            if (!Number.isFinite(openTime) || values.some((v) => v === undefined)) return fail(new MalformedVenueResponse('historical bar'));
            const [o, h, l, c, v] = values as [string, string, string, string, string];
            out.push({ symbol, openTime, open: o, high: h, low: l, close: c, volume: v });
          }));
          // A currency (a CASH contract seen in executions or positions, or an IDEALPRO currency code)
          // is marked from its FX pair on IDEALPRO, which has no TRADES bars: MIDPOINT.
          const fx = isCurrencyAsset(asset, cashAssets);
          const contract: Contract = fx
            ? { symbol: asset, secType: SecType.CASH, exchange: 'IDEALPRO', currency }
            : { symbol: asset, secType: SecType.STK, exchange: 'SMART', currency };
          // formatDate 2: bar times as epoch seconds (UTC), no zone parsing.
          live().reqHistoricalData(reqId, contract, end, `${days} D`, BarSizeSetting.HOURS_ONE, fx ? WhatToShow.MIDPOINT : WhatToShow.TRADES, 0, 2, false);
        }, (reqId) => live().cancelHistoricalData(reqId));
      }, signal);
      return bars.filter((b) => b.openTime >= fromMs && b.openTime < toMs && b.openTime % HOUR_MS === 0);
    },

    async close() {
      const ib = api;
      api = undefined;
      if (ib?.isConnected === true) ib.disconnect();
    },
  };
}

/** Currencies IBKR quotes on IDEALPRO: an asset named so is a currency, not a stock ticker. */
const IDEALPRO_CURRENCIES = new Set(['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'NZD', 'HKD', 'SGD', 'SEK', 'NOK', 'DKK', 'CNH', 'MXN', 'ZAR', 'ILS', 'PLN', 'HUF', 'CZK', 'TRY', 'KRW']);

function isCurrencyAsset(asset: string, seenAsCash: ReadonlySet<string>): boolean {
  return seenAsCash.has(asset) || IDEALPRO_CURRENCIES.has(asset);
}
