// The four ccxt exchange classes and the error classes the connector uses, loaded one module each
// instead of through ccxt's root (which evaluates all 104 exchanges and 76 websocket modules).
// ccxt's package `exports` map exposes only the root, and Node applies `exports` to bare specifiers
// only, so each module is imported by a file URL resolved from the root's own location. Types come
// from the root's declarations through type-only imports, which emit no runtime import.
// The layout (js/src/<exchange>.js, js/src/base/errors.js) is ccxt's published one; ccxt is pinned
// to an exact version and test/exchanges/ccxt/ccxt-modules.test.ts checks these are the root's classes.
import '../no-native-addons.js';
import type * as Ccxt from 'ccxt';

const ccxtSource = new URL('./src/', import.meta.resolve('ccxt'));

async function ccxtModule<T>(file: string): Promise<T> {
  return (await import(new URL(file, ccxtSource).href)) as T;
}

export const { default: binance } = await ccxtModule<{ default: typeof Ccxt.binance }>('binance.js');
export const { default: bybit } = await ccxtModule<{ default: typeof Ccxt.bybit }>('bybit.js');
export const { default: bitget } = await ccxtModule<{ default: typeof Ccxt.bitget }>('bitget.js');
export const { default: mexc } = await ccxtModule<{ default: typeof Ccxt.mexc }>('mexc.js');

type ErrorClasses = Pick<typeof Ccxt,
  'AuthenticationError' | 'BadResponse' | 'ExchangeError' | 'DDoSProtection' | 'ExchangeNotAvailable' | 'InvalidNonce' | 'NetworkError' |
  'PermissionDenied' | 'RateLimitExceeded' | 'RequestTimeout'>;
export const {
  AuthenticationError, BadResponse, DDoSProtection, ExchangeError, ExchangeNotAvailable, InvalidNonce, NetworkError, PermissionDenied, RateLimitExceeded, RequestTimeout,
} = await ccxtModule<ErrorClasses>('base/errors.js');

