// Reading back a cursor a connector wrote (versioned JSON, opaque to callers). Every connector
// refuses a cursor it cannot read instead of silently resyncing from scratch, with the same error.
import { CursorError } from './errors.js';
import type { Exchange, SyncCursor } from '../domain/types.js';


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
