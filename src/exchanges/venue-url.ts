// Where a connector may send requests. Fake venues (plain http on loopback) are for tests and the
// demo only: in enclave mode a base-URL override is refused, and so is any venue URL that is not https.
import type { Exchange } from '../domain/types.js';

/** A connector was configured to talk to a place it must not. Carries no credential. */
export class VenueConfigError extends Error {
  override readonly name = 'VenueConfigError';
  constructor(readonly exchange: Exchange, message: string) {
    super(`${exchange}: ${message}`);
  }
}

/** Throws unless `url` may be used: https always; anything else only outside enclave mode. */
export function assertVenueUrlAllowed(exchange: Exchange, url: string, enclaveMode: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new VenueConfigError(exchange, 'venue URL is not a valid URL');
  }
  if (enclaveMode && parsed.protocol !== 'https:') {
    throw new VenueConfigError(exchange, `venue URL with scheme ${parsed.protocol} refused in enclave mode (https only)`);
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
