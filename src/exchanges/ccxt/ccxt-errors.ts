// The one translation from ccxt's error classes to the retry policy's failure classes.
// Only the class name, HTTP status and Retry-After survive: ccxt messages embed signed URLs and bodies.
import {
  AuthenticationError, BadResponse, DDoSProtection, ExchangeNotAvailable, InvalidNonce, NetworkError,
  PermissionDenied, RateLimitExceeded, RequestTimeout,
} from './ccxt-modules.js';
import { MalformedVenueResponse } from '../errors.js';
import type { FailureClass } from '../retry.js';
import { parseRetryAfter } from '../retry.js';

/** Response headers of the request that failed, as ccxt recorded them (keys Capitalized-Like-This). */
export type ResponseHeaders = Readonly<Record<string, unknown>> | undefined;

function header(headers: ResponseHeaders, name: string): string | undefined {
  if (headers === undefined) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && typeof value === 'string') return value;
  }
  return undefined;
}

/** HTTP status as ccxt puts it at the start of most messages ("binance 429 ..."), without keeping the text. */
function statusOf(error: Error): number | undefined {
  const match = /^\S+ (\d{3}) /.exec(error.message);
  return match === null ? undefined : Number(match[1]);
}

function retryAfterOf(headers: ResponseHeaders, nowMs: number): number | undefined {
  const after = parseRetryAfter(header(headers, 'Retry-After'), nowMs);
  if (after !== undefined) return after;
  // Bybit says when its window resets instead of Retry-After; a reset already past (a slow
  // reader) means the window is open again now.
  const text = header(headers, 'X-Bapi-Limit-Reset-Timestamp');
  const reset = text === undefined || text === '' ? Number.NaN : Number(text);
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset - nowMs) : undefined;
}

export function classifyCcxtError(error: unknown, headers: ResponseHeaders, nowMs: number = Date.now()): FailureClass {
  if (!(error instanceof Error)) return { kind: 'bad-response', retryable: true };
  const errorClass = error.constructor.name;
  const status = statusOf(error);
  const base = { errorClass, ...(status === undefined ? {} : { status }) };
  if (error instanceof DDoSProtection || error instanceof RateLimitExceeded) {
    const retryAfterMs = retryAfterOf(headers, nowMs);
    return { kind: 'rate-limited', retryable: true, ...base, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  if (error instanceof InvalidNonce) return { kind: 'clock-skew', retryable: true, ...base };
  if (error instanceof RequestTimeout) return { kind: 'timeout', retryable: true, ...base };
  if (error instanceof ExchangeNotAvailable || error instanceof NetworkError) return { kind: 'unavailable', retryable: true, ...base };
  if (error instanceof AuthenticationError || error instanceof PermissionDenied) return { kind: 'auth', retryable: false, ...base };
  if (error instanceof BadResponse) return { kind: 'bad-response', retryable: true, ...base };
  if (error instanceof MalformedVenueResponse) return { kind: 'bad-response', retryable: true, errorClass };
  // A body ccxt could not parse surfaces as a SyntaxError/TypeError from its parsers.
  if (error instanceof SyntaxError || error instanceof TypeError) return { kind: 'bad-response', retryable: true, errorClass };
  return { kind: 'rejected', retryable: false, ...base };
}
