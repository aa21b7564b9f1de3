// Pieces the broker connectors (Alpaca, IBKR Flex, IBKR TWS) share: reading venue numbers as exact
// decimal strings, the HTTP failure classifier, and the time cursor. Decimal arithmetic itself is
// src/domain/decimal-string.ts; the URL policy is venue-url.ts; cursor reading is sync-cursor.ts.
import { MalformedVenueResponse } from './errors.js';
import { isDecimal, normalizeDecimal, numberToDecimal } from '../domain/decimal-string.js';
import type { DecimalString, Exchange } from '../domain/types.js';
import { parseRetryAfter, type FailureClass } from './retry.js';
import type { Page } from './connector.js';
import { readCursor } from './sync-cursor.js';

/**
 * A JSON number as the exact text the venue sent (JSON.parse source access, Node ≥ 21),
 * so "133.10" stays a decimal string instead of passing through a double.
 */
export function parseJsonKeepingNumberText(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined ? context.source : value,
  );
}

/** Decimal text from a venue value that should be a number (string or JSON number text). */
export function decimalOf(value: unknown): DecimalString | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return numberToDecimal(value);
  if (isDecimal(value)) return normalizeDecimal(value);
  if (typeof value === 'string' && /^[+-]?\d+(\.\d+)?[eE][+-]?\d+$/u.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) return numberToDecimal(n);
  }
  return undefined;
}

// ---- Failure classification for HTTP venues. ----

/** What an HTTP-level failure looks like to the classifier, whatever library produced it. */
export interface HttpFailure {
  readonly status?: number;
  readonly retryAfter?: string | null;
  readonly retryAfterMs?: number;
  readonly errorClass?: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ECONNABORTED']);

/** The status classes shared by every HTTP venue: 429 → rate-limited, 5xx → unavailable, 401/403 → auth. */
export function classifyHttpStatus(failure: HttpFailure): FailureClass {
  const status = failure.status;
  const base = { ...(status === undefined ? {} : { status }), ...(failure.errorClass === undefined ? {} : { errorClass: failure.errorClass }) };
  const retryAfterMs = failure.retryAfterMs ?? parseRetryAfter(failure.retryAfter);
  if (status === 429 || status === 418) return { kind: 'rate-limited', retryable: true, ...base, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  if (status === 401 || status === 403) return { kind: 'auth', retryable: false, ...base };
  if (status === 408) return { kind: 'timeout', retryable: true, ...base };
  if (status !== undefined && status >= 500) return { kind: 'unavailable', retryable: true, ...base, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  return { kind: 'rejected', retryable: false, ...base };
}

/** Walks an error's cause chain for a connection-level failure (refused, reset, socket closed). */
export function isConnectionFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== null && e !== undefined && depth < 6; depth += 1) {
    if (typeof e !== 'object') return false;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    const name = (e as { name?: unknown }).name;
    const message = (e as { message?: unknown }).message;
    if (name === 'TypeError' && message === 'fetch failed') return true;
    if (name === 'SocketError' || name === 'ConnectTimeoutError' || name === 'HeadersTimeoutError' || name === 'BodyTimeoutError') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}


export function badResponse(error: unknown): FailureClass | undefined {
  if (error instanceof MalformedVenueResponse || error instanceof SyntaxError) return { kind: 'bad-response', retryable: true, errorClass: 'MalformedVenueResponse' };
  return undefined;
}

/** Any failure nothing else recognised: a definitive refusal, named by its class only. */
export function unclassifiedFailure(error: unknown): FailureClass {
  return { kind: 'rejected', retryable: false, errorClass: error instanceof Error ? error.name : typeof error };
}

/** After a venue's own error types: an unreadable body, a lost connection, or else a refusal. */
export function classifyOtherFailure(error: unknown): FailureClass {
  const malformed = badResponse(error);
  if (malformed !== undefined) return malformed;
  if (isConnectionFailure(error)) return { kind: 'unavailable', retryable: true, errorClass: 'ConnectionError' };
  return unclassifiedFailure(error);
}

// ---- Cursors: versioned JSON the connector alone reads. ----

/** Parses a cursor this connector wrote; anything else is refused instead of silently resyncing. */
export function parseCursor<T>(exchange: Exchange, cursor: string, check: (value: unknown) => value is T): T {
  return readCursor(exchange, cursor, (value) => (check(value) ? value : undefined));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * Cursor (JSON): `{"v":1,"t":<epoch ms of the newest delivered record>,"ids":[<ids delivered with
 * exactly that time>]}`. Records after `t`, or at `t` with an id not listed, are new.
 */
export interface TimeCursor {
  readonly v: 1;
  readonly t: number;
  readonly ids: readonly string[];
}

function isTimeCursor(value: unknown): value is TimeCursor {
  return isRecord(value) && value.v === 1 && typeof value.t === 'number' && Number.isFinite(value.t) && isStringArray(value.ids);
}

export function* timeCursorPages<T>(items: readonly T[], since: TimeCursor | null, time: (x: T) => number, id: (x: T) => string, pageSize: number): Generator<Page<T>> {
  const known = new Set(since?.ids ?? []);
  const fresh = since === null ? items : items.filter((x) => time(x) > since.t || (time(x) === since.t && !known.has(id(x))));
  let t = since?.t ?? Number.NEGATIVE_INFINITY;
  let ids = [...(since?.ids ?? [])];
  for (let i = 0; i < fresh.length; i += pageSize) {
    const chunk = fresh.slice(i, i + pageSize);
    for (const x of chunk) {
      if (time(x) !== t) {
        t = time(x);
        ids = [];
      }
      ids.push(id(x));
    }
    yield { items: chunk, cursor: JSON.stringify({ v: 1, t, ids } satisfies TimeCursor) };
  }
}

export function parseTimeCursor(exchange: Exchange, cursor: string): TimeCursor {
  return parseCursor(exchange, cursor, isTimeCursor);
}

export const HOUR_MS = 3_600_000;
