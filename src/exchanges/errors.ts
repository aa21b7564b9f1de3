// The connector layer's error family. VenueError is what a sync sees from any venue; the others
// name configuration and format refusals. None keeps a cause or a URL (they may carry signatures).
import type { Exchange } from '../domain/types.js';

export type VenueFailureKind =
  | 'rate-limited' // 429/418, venue rate-limit codes
  | 'unavailable' // 5xx, connection refused/reset
  | 'timeout' // no answer within the attempt timeout
  | 'bad-response' // malformed body, unexpected shape
  | 'clock-skew' // timestamp outside the venue's receive window
  | 'auth' // key rejected, signature rejected, permission denied
  | 'rejected'; // any other definitive refusal

/**
 * The connector layer's only error. It deliberately keeps no `cause`: venue SDK errors carry
 * request URLs with signatures and response bodies with ids, so only the class of failure, the
 * HTTP status and the SDK's error class name survive.
 */
export class VenueError extends Error {
  override readonly name = 'VenueError';
  constructor(
    readonly exchange: Exchange,
    readonly kind: VenueFailureKind,
    readonly detail: { readonly status?: number; readonly errorClass?: string; readonly attempts?: number } = {},
  ) {
    const parts = [detail.errorClass, detail.status === undefined ? undefined : `HTTP ${detail.status}`, detail.attempts === undefined ? undefined : `${detail.attempts} attempts`];
    super(`${exchange}: ${kind}${parts.some(Boolean) ? ` (${parts.filter(Boolean).join(', ')})` : ''}`);
  }

  get retryable(): boolean {
    return this.kind === 'rate-limited' || this.kind === 'unavailable' || this.kind === 'timeout' || this.kind === 'clock-skew' || this.kind === 'bad-response';
  }
}

/** A stored cursor this connector did not write (or that was damaged). Names no content. */
export class CursorError extends VenueError {
  constructor(exchange: Exchange, stream = 'sync') {
    super(exchange, 'rejected', { errorClass: `unreadable ${stream} cursor` });
  }
}

/** A connector was configured to talk to a place it must not. Carries no credential. */
export class VenueConfigError extends Error {
  override readonly name = 'VenueConfigError';
  constructor(readonly exchange: Exchange, message: string) {
    super(`${exchange}: ${message}`);
  }
}

/** A body the connector could not make sense of; retried as `bad-response`. */
export class MalformedVenueResponse extends Error {
  override readonly name = 'MalformedVenueResponse';
  constructor(what: string) {
    super(`malformed venue response: ${what}`);
  }
}
