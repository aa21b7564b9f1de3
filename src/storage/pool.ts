// The one way to open a slonik pool: exact numerics, epoch-ms times, safe int8, and every
// `sql.type(schema)` row validated at run time (slonik 49 does not validate by itself).
import {
  createPool,
  createTimestampTypeParser,
  createTimestampWithTimeZoneTypeParser,
  sql,
  type DatabasePool,
  type DriverTypeParser,
  type Interceptor,
  type QueryResultRow,
} from 'slonik';
import { z } from 'zod';
import { issuePaths, StorageSchemaError, toStorageError } from './errors.js';

export type { DatabasePool };
export { sql };

/** Rows of statements that return none (INSERT/UPDATE without RETURNING). */
export const noRows = z.object({});

const typeParsers: readonly DriverTypeParser[] = [
  // Money stays the exact decimal text PostgreSQL sent; never parseFloat.
  { name: 'numeric', parse: (value) => value },
  // Counts and ids fit a double in practice; beyond 2^53 stay exact as bigint (schemas then refuse it).
  {
    name: 'int8',
    parse: (value) => {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : BigInt(value);
    },
  },
  createTimestampWithTimeZoneTypeParser(),
  createTimestampTypeParser(),
];

/** Validates (and transforms) each row through the query's `sql.type` schema. */
export const resultParserInterceptor: Interceptor = {
  name: 'result-parser',
  transformRow: (context, _query, row) => {
    const parser = context.resultParser;
    if (parser === undefined) return row;
    const result = parser['~standard'].validate(row);
    if (result instanceof Promise) {
      throw new StorageSchemaError(['(async schemas are not supported)']);
    }
    if (result.issues !== undefined) {
      // Column paths only: issue messages of custom refinements could quote the value.
      throw new StorageSchemaError(issuePaths(result.issues));
    }
    return result.value as QueryResultRow;
  },
};

const noReset = async (): Promise<void> => {};

export interface PoolOptions {
  /** Connections to keep at most (the embedded database serves one at a time: 1). */
  readonly maxPoolSize?: number;
  readonly statementTimeoutMs?: number;
}

/** Opens a slonik pool on `url` (postgresql://…). Fails with StorageUnavailableError if unreachable. */
export async function createDatabasePool(url: string, options: PoolOptions = {}): Promise<DatabasePool> {
  try {
    return await createPool(url, {
      typeParsers: [...typeParsers],
      interceptors: [resultParserInterceptor],
      maxPoolSize: options.maxPoolSize ?? 10,
      statementTimeout: options.statementTimeoutMs ?? 60_000,
      // Stack capture costs ~10 µs per query and is only for debugging.
      captureStackTrace: false,
      // slonik's default sends DISCARD ALL after every pooled use: a round trip per query or
      // transaction (issue 19: ~11 of ~27 statements of an incremental sync). Nothing here leaves
      // session state on a slonik connection: statement_timeout and idle_in_transaction_session_timeout
      // are startup parameters (not SET), no SET or set_config outside a transaction (SET LOCAL
      // ends with it), and the COPY path's temporary staging tables live on its own pg pool
      // (copy-ingest.ts), not here. A helper that adds session state must reset it itself. The one
      // named prepared statement (the metrics read, published-performance.ts) is session state
      // kept on purpose: its plan is what it saves, and a reset would make pg, which remembers
      // what it prepared per client, execute a statement the server dropped.
      resetConnection: noReset,
    });
  } catch (error) {
    throw toStorageError(error, 'open database pool');
  }
}
