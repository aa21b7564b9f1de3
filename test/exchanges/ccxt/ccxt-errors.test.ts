import test from 'ava';
import { AuthenticationError, BadResponse, DDoSProtection, ExchangeError, ExchangeNotAvailable, InvalidNonce, NetworkError, PermissionDenied, RateLimitExceeded, RequestTimeout } from 'ccxt';
import { classifyCcxtError } from '../../../src/exchanges/ccxt/ccxt-errors.js';
import type { VenueFailureKind } from '../../../src/exchanges/errors.js';

test('maps each ccxt error class to one failure kind', (t) => {
  const cases: [Error, VenueFailureKind, boolean][] = [
    [new DDoSProtection('binance 418 x'), 'rate-limited', true],
    [new RateLimitExceeded('bybit {"retCode":10006}'), 'rate-limited', true],
    [new InvalidNonce('binance 400 -1021'), 'clock-skew', true],
    [new RequestTimeout('binance GET timed out'), 'timeout', true],
    [new ExchangeNotAvailable('binance 503 x'), 'unavailable', true],
    [new NetworkError('fetch failed'), 'unavailable', true],
    [new AuthenticationError('binance -1022'), 'auth', false],
    [new PermissionDenied('no'), 'auth', false],
    [new BadResponse('x'), 'bad-response', true],
    [new SyntaxError('Unexpected end of JSON input'), 'bad-response', true],
    [new ExchangeError('binance {"code":-1121}'), 'rejected', false],
  ];
  for (const [error, kind, retryable] of cases) {
    const failure = classifyCcxtError(error, undefined);
    t.is(failure.kind, kind, error.constructor.name);
    t.is(failure.retryable, retryable, error.constructor.name);
  }
});

test('takes the HTTP status from the message but keeps none of its text', (t) => {
  const failure = classifyCcxtError(new DDoSProtection('binance 429 Too Many Requests https://api/?signature=abc'), undefined);
  t.is(failure.status, 429);
  t.is(failure.errorClass, 'DDoSProtection');
  t.false(JSON.stringify(failure).includes('signature'));
});

test('honours Retry-After, and Bybit\'s reset timestamp when there is none', (t) => {
  t.is(classifyCcxtError(new DDoSProtection('x'), { 'Retry-After': '3' }, 0).retryAfterMs, 3000);
  t.is(classifyCcxtError(new RateLimitExceeded('x'), { 'X-Bapi-Limit-Reset-Timestamp': '1500' }, 1000).retryAfterMs, 500);
  t.is(classifyCcxtError(new RateLimitExceeded('x'), { 'X-Bapi-Limit-Reset-Timestamp': '900' }, 1000).retryAfterMs, 0, 'a reset already past: retry now');
  t.is(classifyCcxtError(new RateLimitExceeded('x'), {}, 1000).retryAfterMs, undefined);
});
