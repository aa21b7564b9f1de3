// Pieces the broker connectors (Alpaca, IBKR Flex, IBKR TWS) share: the venue-URL policy,
// exact decimal arithmetic on strings, the HTTP failure classifier, and cursor (de)serialization.
import type { DecimalString, Exchange } from '../domain/types.js';
import { parseRetryAfter, VenueError, type FailureClass, type RetryPolicy } from './retry.js';
import type { ConnectorOptions, Page } from './connector.js';

/**
 * Picks the URL a connector talks to. An override is for fake venues and demos only: enclave
 * mode refuses it, and refuses any URL that is not HTTPS. The URL itself is never echoed.
 */
export function resolveVenueUrl(exchange: Exchange, defaultUrl: string, options: ConnectorOptions): string {
  const url = options.baseUrl ?? defaultUrl;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VenueError(exchange, 'rejected', { errorClass: 'invalid venue URL' });
  }
  if (options.enclaveMode) {
    if (parsed.protocol !== 'https:') throw new VenueError(exchange, 'rejected', { errorClass: 'non-HTTPS venue URL refused in enclave mode' });
    if (options.baseUrl !== undefined) throw new VenueError(exchange, 'rejected', { errorClass: 'venue URL override refused in enclave mode' });
  } else if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new VenueError(exchange, 'rejected', { errorClass: 'invalid venue URL' });
  }
  return url.replace(/\/+$/u, '');
}

/** Retry policy for one connector: defaults, bounded by the caller's request budget. */
export function retryPolicyFor(options: ConnectorOptions & { readonly retry?: Partial<RetryPolicy> }): Partial<RetryPolicy> {
  return {
    ...(options.requestBudgetMs === undefined ? {} : { budgetMs: options.requestBudgetMs }),
    ...options.retry,
  };
}

// ---- Exact decimals on strings (no float ever touches money). ----

const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?$/u;

interface Scaled {
  readonly units: bigint;
  readonly scale: number;
}

function toScaled(value: string): Scaled {
  const m = DECIMAL.exec(value.trim());
  if (m === null) throw new TypeError('not a decimal number');
  const fraction = m[3] ?? '';
  const units = BigInt(`${m[2] ?? '0'}${fraction}`);
  return { units: m[1] === '-' ? -units : units, scale: fraction.length };
}

function fromScaled({ units, scale }: Scaled): DecimalString {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const whole = digits.slice(0, digits.length - scale);
    const fraction = digits.slice(digits.length - scale).replace(/0+$/u, '');
    digits = fraction === '' ? whole : `${whole}.${fraction}`;
  }
  return negative && digits !== '0' ? `-${digits}` : digits;
}

export function isDecimal(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value.trim());
}

/** Canonical form: no leading "+", no trailing fraction zeros, "-0" → "0". */
export function normalizeDecimal(value: string): DecimalString {
  return fromScaled(toScaled(value));
}

export function multiplyDecimal(a: string, b: string): DecimalString {
  const x = toScaled(a);
  const y = toScaled(b);
  return fromScaled({ units: x.units * y.units, scale: x.scale + y.scale });
}

export function addDecimal(a: string, b: string): DecimalString {
  const x = toScaled(a);
  const y = toScaled(b);
  const scale = Math.max(x.scale, y.scale);
  return fromScaled({ units: x.units * 10n ** BigInt(scale - x.scale) + y.units * 10n ** BigInt(scale - y.scale), scale });
}

export function absDecimal(value: string): DecimalString {
  return normalizeDecimal(value.trim().replace(/^[+-]/u, ''));
}

export function isNegativeDecimal(value: string): boolean {
  return toScaled(value).units < 0n;
}

export function isZeroDecimal(value: string): boolean {
  return toScaled(value).units === 0n;
}

export function compareDecimal(a: string, b: string): number {
  const d = toScaled(addDecimal(a, negateDecimal(b))).units;
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

export function negateDecimal(value: string): DecimalString {
  const x = toScaled(value);
  return fromScaled({ units: -x.units, scale: x.scale });
}

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
  if (typeof value === 'number' && Number.isFinite(value)) return normalizeDecimal(numberToPlain(value));
  if (isDecimal(value)) return normalizeDecimal(value);
  if (typeof value === 'string' && /^[+-]?\d+(\.\d+)?[eE][+-]?\d+$/u.test(value)) return normalizeDecimal(numberToPlain(Number(value)));
  return undefined;
}

/** A double's shortest round-trip text, without exponent notation. */
function numberToPlain(n: number): string {
  const s = String(n);
  if (!/[eE]/u.test(s)) return s;
  return n.toFixed(20).replace(/\.?0+$/u, '');
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

/** A body the connector could not make sense of; retried as `bad-response`. */
export class MalformedVenueResponse extends Error {
  override readonly name = 'MalformedVenueResponse';
  constructor(what: string) {
    super(`malformed venue response: ${what}`);
  }
}

export function badResponse(error: unknown): FailureClass | undefined {
  if (error instanceof MalformedVenueResponse || error instanceof SyntaxError) return { kind: 'bad-response', retryable: true, errorClass: 'MalformedVenueResponse' };
  return undefined;
}

// ---- Cursors: versioned JSON the connector alone reads. ----

/** Parses a cursor this connector wrote; anything else is refused instead of silently resyncing. */
export function parseCursor<T>(exchange: Exchange, cursor: string, check: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(cursor);
  } catch {
    throw new VenueError(exchange, 'rejected', { errorClass: 'unreadable sync cursor' });
  }
  if (!check(value)) throw new VenueError(exchange, 'rejected', { errorClass: 'unreadable sync cursor' });
  return value;
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
