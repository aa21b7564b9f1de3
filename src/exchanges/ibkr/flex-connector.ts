// Interactive Brokers through the Flex Web Service v3: SendRequest (token + query id) answers a
// reference code, GetStatement is polled with it while it answers 1019 (generation in progress),
// 1018 (too many requests) backs off. One downloaded statement serves fills, cash flows, balances
// and marks for a short while, since IB allows only a few requests per minute per token.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Candle, CashFlow, Fill } from '../../domain/types.js';
import type { ConnectorOptions, VenueConnector } from '../connector.js';
import type { VenueCredential } from '../../domain/types.js';
import { addDecimal, compareDecimal } from '../../domain/decimal-string.js';
import { VenueError } from '../errors.js';
import { connectorClosed, retrying, retryPolicyFor, type FailureClass } from '../retry.js';
import { resolveVenueUrl } from '../venue-url.js';
import { HOUR_MS, classifyHttpStatus, classifyOtherFailure, parseTimeCursor, timeCursorPages } from '../broker-common.js';
import { MalformedVenueResponse } from '../errors.js';
import { FlexBaseCurrencyError, parseFlexEnvelope, parseFlexStatement, type FlexEnvelope, type FlexPricePoint, type FlexStatement } from './flex-statement.js';

export const FLEX_HOST = 'https://ndcdyn.interactivebrokers.com';
export const FLEX_PATH = '/AccountManagement/FlexWebService';
export const FLEX_IN_PROGRESS = 1019;
export const FLEX_TOO_MANY_REQUESTS = 1018;

export interface IbkrFlexConnectorOptions extends ConnectorOptions {
  /** The account's base currency (checked against the statement's AccountInformation). */
  readonly baseCurrency?: string;
  /** Zone of the statement's date-times; Flex reports US/Eastern unless configured otherwise. */
  readonly timeZone?: string;
  /** Wait between GetStatement polls while it answers 1019. */
  readonly pollIntervalMs?: number;
  /** Give up on a statement still in progress after this long. */
  readonly maxPollMs?: number;
  /** Back-off after a 1018 (IB allows one request a second, ten a minute, per token). */
  readonly throttleBackoffMs?: number;
  /** How long one downloaded statement is reused across fills, cash flows, balances and marks. */
  readonly statementTtlMs?: number;
  /** Records per yielded page. */
  readonly pageSize?: number;
  readonly fetch?: typeof fetch;
}

/** A Flex service error code (FlexStatementResponse Status Fail/Warn). Carries no text of the venue's. */
export class FlexServiceError extends Error {
  override readonly name = 'FlexServiceError';
  constructor(readonly code: number) {
    super(`Flex error ${code}`);
  }
}

class FlexHttpError extends Error {
  override readonly name = 'FlexHttpError';
  constructor(readonly status: number, readonly retryAfter: string | null) {
    super(`HTTP ${status}`);
  }
}

const FLEX_RETRYABLE = new Set([1001, 1004, 1005, 1006, 1007, 1008, 1009, 1021]);
const FLEX_AUTH = new Set([1011, 1012, 1013, 1015, 1016]);

export function classifyFlexError(error: unknown, throttleBackoffMs = 10_000): FailureClass {
  if (error instanceof FlexServiceError) {
    const errorClass = `Flex ${error.code}`;
    if (error.code === FLEX_TOO_MANY_REQUESTS) return { kind: 'rate-limited', retryable: true, errorClass, retryAfterMs: throttleBackoffMs };
    if (FLEX_RETRYABLE.has(error.code)) return { kind: 'unavailable', retryable: true, errorClass };
    if (FLEX_AUTH.has(error.code)) return { kind: 'auth', retryable: false, errorClass };
    return { kind: 'rejected', retryable: false, errorClass };
  }
  if (error instanceof FlexHttpError) return classifyHttpStatus({ status: error.status, retryAfter: error.retryAfter, errorClass: 'FlexHttpError' });
  return classifyOtherFailure(error);
}

/**
 * Flex has no candles. Marks are derived from the statement's own prices: every execution
 * (price in base currency) and every position mark (OpenPositions markPrice, PriorPeriodPositions
 * price, each at 16:00 of its report date). An hour with prices is their open/high/low/close with
 * the traded quantity as volume; an hour without carries the last price forward (volume 0), from
 * the first known price up to when the statement was generated.
 */
export function deriveHourlyCandles(symbol: string, points: readonly FlexPricePoint[], fromMs: number, toMs: number, untilMs: number | undefined): Candle[] {
  const candles: Candle[] = [];
  const first = points[0];
  if (first === undefined) return candles;
  let index = 0;
  let last: string | undefined;
  const end = Math.min(toMs, untilMs === undefined ? toMs : Math.floor(untilMs / HOUR_MS) * HOUR_MS + HOUR_MS);
  for (let hour = Math.ceil(fromMs / HOUR_MS) * HOUR_MS; hour < end; hour += HOUR_MS) {
    while (index < points.length && (points[index]?.at ?? 0) < hour) last = points[index++]?.price;
    const inHour: FlexPricePoint[] = [];
    while (index < points.length && (points[index]?.at ?? 0) < hour + HOUR_MS) {
      const point = points[index++];
      if (point !== undefined) inHour.push(point);
    }
    if (inHour.length > 0) {
      const prices = inHour.map((p) => p.price);
      const byValue = [...prices].sort(compareDecimal);
      candles.push({
        symbol,
        openTime: hour,
        open: prices[0] ?? '0',
        high: byValue.at(-1) ?? '0',
        low: byValue[0] ?? '0',
        close: prices.at(-1) ?? '0',
        volume: inHour.reduce((sum, p) => addDecimal(sum, p.quantity), '0'),
      });
      last = prices.at(-1);
    } else if (last !== undefined) {
      candles.push({ symbol, openTime: hour, open: last, high: last, low: last, close: last, volume: '0' });
    }
  }
  return candles;
}

function byReported<T>(items: readonly T[], reported: (x: T) => number, id: (x: T) => string): T[] {
  return [...items].sort((a, b) => reported(a) - reported(b) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

export function createIbkrFlexConnector(credential: VenueCredential, options: IbkrFlexConnectorOptions): VenueConnector {
  const base = `${resolveVenueUrl('ibkr', FLEX_HOST, options)}${FLEX_PATH}`;
  const policy = retryPolicyFor(options);
  const baseCurrency = options.baseCurrency ?? 'USD';
  const timeZone = options.timeZone ?? 'America/New_York';
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const maxPollMs = options.maxPollMs ?? 300_000;
  const throttleBackoffMs = options.throttleBackoffMs ?? 10_000;
  const statementTtlMs = options.statementTtlMs ?? 60_000;
  const pageSize = options.pageSize ?? 1_000;
  const fetchImpl = options.fetch ?? fetch;
  let token: string | undefined = credential.apiKey;
  let queryId: string | undefined = credential.secret;
  let cached: { readonly at: number; readonly statement: Promise<FlexStatement> } | undefined;
  /** First day of the last statement's period: Flex serves only what its query period covers. */
  let periodStart: number | null = null;

  const call = retrying('ibkr', (error) => classifyFlexError(error, throttleBackoffMs), policy);

  async function get(endpoint: 'SendRequest' | 'GetStatement', q: string, signal: AbortSignal): Promise<FlexEnvelope> {
    if (token === undefined) throw connectorClosed('ibkr');
    // The token rides in the query string: this URL is never logged or put in an error.
    const url = `${base}/${endpoint}?${new URLSearchParams({ t: token, q, v: '3' }).toString()}`;
    const response = await fetchImpl(url, { signal, redirect: 'error', headers: { 'User-Agent': 'track-record-enclave/1 (Flex v3)', Accept: 'text/xml' } });
    const text = await response.text();
    if (!response.ok) throw new FlexHttpError(response.status, response.headers.get('retry-after'));
    return parseFlexEnvelope(text);
  }

  async function download(signal?: AbortSignal): Promise<FlexStatement> {
    if (queryId === undefined) throw connectorClosed('ibkr');
    const query = queryId;
    const referenceCode = await call(async (s) => {
      const envelope = await get('SendRequest', query, s);
      if (envelope.kind === 'reference') return envelope.referenceCode;
      if (envelope.kind === 'error') throw new FlexServiceError(envelope.code);
      throw new MalformedVenueResponse('SendRequest answered a statement');
    }, signal);
    const started = Date.now();
    for (;;) {
      const envelope = await call(async (s) => {
        const answer = await get('GetStatement', referenceCode, s);
        if (answer.kind === 'error' && answer.code !== FLEX_IN_PROGRESS) throw new FlexServiceError(answer.code);
        if (answer.kind === 'reference') throw new MalformedVenueResponse('GetStatement answered a reference');
        return answer;
      }, signal);
      if (envelope.kind === 'statement') {
        let statement: FlexStatement;
        try {
          statement = parseFlexStatement(envelope.xml, { baseCurrency, timeZone });
        } catch (error) {
          // Two accounts with different base currencies cannot be valued as one: a refusal, not a retry.
          if (error instanceof FlexBaseCurrencyError) throw new VenueError('ibkr', 'rejected', { errorClass: 'ambiguous statement base currency' });
          throw new VenueError('ibkr', 'bad-response', { errorClass: 'MalformedVenueResponse' });
        }
        // A statement that does not state its base (the query left out AccountInformation) cannot
        // be checked against the assumed one: its fxRateToBase amounts are in an unknown currency.
        if (statement.baseCurrency === undefined && options.baseCurrency === undefined) {
          throw new VenueError('ibkr', 'rejected', { errorClass: 'statement states no base currency (add AccountInformation to the Flex query)' });
        }
        if (statement.baseCurrency !== undefined && statement.baseCurrency !== baseCurrency) {
          throw new VenueError('ibkr', 'rejected', { errorClass: 'statement base currency differs from the configured one' });
        }
        periodStart = statement.fromDate ?? periodStart;
        return statement;
      }
      // 1019: the statement is still being generated.
      if (Date.now() - started + pollIntervalMs > maxPollMs) throw new VenueError('ibkr', 'timeout', { errorClass: `Flex ${FLEX_IN_PROGRESS}` });
      await sleep(pollIntervalMs, undefined, signal === undefined ? undefined : { signal });
    }
  }

  function statement(signal?: AbortSignal): Promise<FlexStatement> {
    if (cached !== undefined && Date.now() - cached.at < statementTtlMs) return cached.statement;
    const entry = { at: Date.now(), statement: download(signal) };
    cached = entry;
    entry.statement.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return entry.statement;
  }

  return {
    exchange: 'ibkr',
    baseCurrency,

    async *fetchFills(since, signal) {
      const cursor = since === null ? null : parseTimeCursor('ibkr', since);
      const { fills, reportedAt } = await statement(signal);
      // Paged in the order rows were reported, so a cancellation reported days later still comes.
      const reported = (f: Fill): number => reportedAt.get(f.exchangeTradeId) ?? f.executedAt;
      yield* timeCursorPages<Fill>(byReported(fills, reported, (f) => f.exchangeTradeId), cursor, reported, (f) => f.exchangeTradeId, pageSize);
    },

    async *fetchCashFlows(since, signal) {
      const cursor = since === null ? null : parseTimeCursor('ibkr', since);
      const { cashFlows, reportedAt } = await statement(signal);
      const reported = (c: CashFlow): number => reportedAt.get(c.exchangeFlowId) ?? c.occurredAt;
      yield* timeCursorPages<CashFlow>(byReported(cashFlows, reported, (c) => c.exchangeFlowId), cursor, reported, (c) => c.exchangeFlowId, pageSize);
    },

    async fetchBalances(signal) {
      const { cash, positions } = await statement(signal);
      if (cash === undefined) throw new VenueError('ibkr', 'rejected', { errorClass: 'statement has no CashReport or EquitySummaryInBase section' });
      return [{ asset: baseCurrency, total: cash }, ...positions];
    },

    async fetchHourlyCandles(symbol, fromMs, toMs, signal) {
      const [asset, quote] = symbol.split('/');
      if (asset === undefined || quote !== baseCurrency) throw new VenueError('ibkr', 'rejected', { errorClass: 'marks are quoted in the base currency only' });
      const { prices, generatedAt } = await statement(signal);
      return deriveHourlyCandles(symbol, prices.get(asset) ?? [], fromMs, toMs, generatedAt);
    },

    coverageStart() {
      return periodStart;
    },

    async close() {
      token = undefined;
      queryId = undefined;
      cached = undefined;
    },
  };
}
