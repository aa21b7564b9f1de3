// Builds one ccxt exchange instance for a venue: trimmed market loading, ccxt's own timeout, and
// (outside enclave mode only) every API URL rewritten to a base-URL override such as a fake venue.
import type { Exchange as CcxtExchange } from 'ccxt';
import { binance, bitget, bybit, mexc } from './ccxt-modules.js';
import type { VenueCredential } from '../../domain/types.js';
import { VenueConfigError } from '../errors.js';
import { assertOverrideAllowed, assertVenueUrlAllowed } from '../venue-url.js';

export type CcxtVenue = 'binance' | 'bybit' | 'bitget' | 'mexc';

export interface CcxtClientOptions {
  readonly enclaveMode: boolean;
  readonly baseUrl?: string;
  /** ccxt's own per-request timeout. */
  readonly timeoutMs: number;
  /** Overrides ccxt's built-in spacing between requests (tests against a local fake). */
  readonly rateLimitMs?: number;
}

// Only spot markets, no currencies/margin calls: loadMarkets becomes one public request.
const VENUE_OPTIONS: Record<CcxtVenue, Record<string, unknown>> = {
  binance: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false, defaultType: 'spot', adjustForTimeDifference: false },
  // A unified trading account (Bybit's only account type for new users): no probing calls first.
  bybit: { fetchMarkets: { types: ['spot'] }, defaultType: 'spot', adjustForTimeDifference: false, enableUnifiedMargin: false, enableUnifiedAccount: true, unifiedMarginStatus: 6 },
  // uta: false: classic (v2) spot accounts; otherwise ccxt probes the UTA settings endpoint first.
  bitget: { fetchMarkets: { types: ['spot'] }, defaultType: 'spot', adjustForTimeDifference: false, uta: false },
  mexc: { fetchMarkets: { types: { spot: true, swap: { linear: false, inverse: false } } }, defaultType: 'spot', adjustForTimeDifference: false },
};

// Keeps each URL's path (binance's `https://api.binance.com/sapi/v1`) and swaps only the origin.
function rewriteUrls(node: unknown, baseUrl: string): unknown {
  if (typeof node === 'string') return node.replace(/^[a-z]+:\/\/[^/]+/i, baseUrl);
  if (Array.isArray(node)) return node.map((item) => rewriteUrls(item, baseUrl));
  if (typeof node === 'object' && node !== null) {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, rewriteUrls(value, baseUrl)]));
  }
  return node;
}

function collectStrings(node: unknown, into: string[]): string[] {
  if (typeof node === 'string') into.push(node);
  else if (typeof node === 'object' && node !== null) for (const value of Object.values(node)) collectStrings(value, into);
  return into;
}

export function createCcxtExchange(venue: CcxtVenue, credential: VenueCredential, options: CcxtClientOptions): CcxtExchange {
  if (options.baseUrl !== undefined) assertOverrideAllowed(venue, options.baseUrl, options.enclaveMode);
  if (venue === 'bitget' && (credential.passphrase === undefined || credential.passphrase === '')) {
    throw new VenueConfigError(venue, 'the credential has no passphrase (Bitget requires one)');
  }
  const config = {
    apiKey: credential.apiKey,
    secret: credential.secret,
    ...(credential.passphrase === undefined ? {} : { password: credential.passphrase }),
    enableRateLimit: true,
    ...(options.rateLimitMs === undefined ? {} : { rateLimit: options.rateLimitMs }),
    timeout: options.timeoutMs,
    options: VENUE_OPTIONS[venue],
  };
  let exchange: CcxtExchange;
  switch (venue) {
    case 'binance': exchange = new binance(config); break;
    case 'bybit': exchange = new bybit(config); break;
    case 'bitget': exchange = new bitget(config); break;
    case 'mexc': exchange = new mexc(config); break;
  }
  // Currencies are not needed to sync spot fills; skipping them saves a (signed) request per load.
  exchange.has['fetchCurrencies'] = false;
  // mexc has no option to skip its contract markets: load spot only.
  if (exchange instanceof mexc) exchange.fetchSwapMarkets = async () => await Promise.resolve([]);
  // Headers carry Retry-After; the raw and parsed bodies let the connector spot an unparseable answer.
  exchange.enableLastResponseHeaders = true;
  exchange.enableLastHttpResponse = true;
  exchange.enableLastJsonResponse = true;
  const baseUrl = options.baseUrl?.replace(/\/+$/, '');
  if (baseUrl !== undefined) {
    const urls = exchange.urls as { api: unknown };
    urls.api = rewriteUrls(urls.api, baseUrl);
  }
  const resolved = collectStrings((exchange.urls as { api: unknown }).api, []);
  for (const url of resolved) assertVenueUrlAllowed(venue, url.replace('{hostname}', 'venue.invalid'), options.enclaveMode);
  return exchange;
}
