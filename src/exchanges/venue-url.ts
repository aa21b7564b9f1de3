// Where a connector may send requests: the one venue-URL policy for every connector. Fake venues
// (plain http on loopback) are for tests and the demo only: in enclave mode a base-URL override is
// refused, and so is any venue URL that is not https. A refused URL is never echoed (it may carry a token).
import { VenueConfigError } from './errors.js';
import type { Exchange } from '../domain/types.js';
import type { ConnectorOptions } from './connector.js';


/** Throws unless `url` may be used: https always; http too, but only outside enclave mode. */
export function assertVenueUrlAllowed(exchange: Exchange, url: string, enclaveMode: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VenueConfigError(exchange, 'venue URL is not a valid URL');
  }
  if (enclaveMode && parsed.protocol !== 'https:') {
    throw new VenueConfigError(exchange, 'non-HTTPS venue URL refused in enclave mode (https only)');
  }
  if (!enclaveMode && parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new VenueConfigError(exchange, `venue URL with scheme ${parsed.protocol} refused`);
  }
}

/** Validates a base-URL override: only outside enclave mode, and it must be a valid http(s) URL. */
export function assertOverrideAllowed(exchange: Exchange, baseUrl: string, enclaveMode: boolean): void {
  assertVenueUrlAllowed(exchange, baseUrl, enclaveMode);
  if (enclaveMode) throw new VenueConfigError(exchange, 'base-URL override refused in enclave mode');
}

/** The URL a connector with one origin talks to: the override when allowed, else its default; no trailing slash. */
export function resolveVenueUrl(exchange: Exchange, defaultUrl: string, options: Pick<ConnectorOptions, 'enclaveMode' | 'baseUrl'>): string {
  if (options.baseUrl === undefined) assertVenueUrlAllowed(exchange, defaultUrl, options.enclaveMode);
  else assertOverrideAllowed(exchange, options.baseUrl, options.enclaveMode);
  return (options.baseUrl ?? defaultUrl).replace(/\/+$/u, '');
}
