// Reading back a cursor a connector wrote (versioned JSON, opaque to callers). Every connector
// refuses a cursor it cannot read instead of silently resyncing from scratch, with the same error.
import type { Exchange, SyncCursor } from '../domain/types.js';
import { VenueError } from './retry.js';

/** A stored cursor this connector did not write (or that was damaged). Names no content. */
export class CursorError extends VenueError {
  constructor(exchange: Exchange, stream = 'sync') {
    super(exchange, 'rejected', { errorClass: `unreadable ${stream} cursor` });
  }
}

/** Parses `raw` as JSON and hands it to `read`, which answers the typed cursor or undefined when it is not one. */
export function readCursor<T>(exchange: Exchange, raw: SyncCursor, read: (value: unknown) => T | undefined, stream?: string): T {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new CursorError(exchange, stream);
  }
  const cursor = read(value);
  if (cursor === undefined) throw new CursorError(exchange, stream);
  return cursor;
}
