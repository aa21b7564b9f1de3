// The storage layer's error family. `toStorageError` is the one place a driver or slonik error
// becomes one of these. Messages name the operation (and at most the account), never a row, a
// value or the driver's own text, which can quote the offending input (a trade id, an amount).
// The driver error is NOT kept as `cause` either: pino's err serializer prints the whole cause
// chain. The cause is a DatabaseErrorSummary: SQLSTATE and object names, no values.
import {
  BackendTerminatedError,
  BackendTerminatedUnexpectedlyError,
  ConnectionError,
  IdleTransactionTimeoutError,
  IntegrityConstraintViolationError,
  InvalidInputError,
  SchemaValidationError,
  StatementCancelledError,
  StatementTimeoutError,
} from 'slonik';

export class StorageError extends Error {
  override name = 'StorageError';
  /** True when retrying later may succeed (connection lost, timeout); the actor resets. */
  readonly transient: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The database could not be reached, dropped the connection or timed out. Retry later. */
export class StorageUnavailableError extends StorageError {
  override name = 'StorageUnavailableError';
  override readonly transient = true;
}

/** The database refused the data (constraint, malformed number or time). Retrying will not help. */
export class StorageRejectedError extends StorageError {
  override name = 'StorageRejectedError';
}

/**
 * The connection changed (removed, or registered again) since the writer loaded it: the write was
 * rolled back. Not transient: the writer's view is obsolete, it must stop, not retry.
 */
export class StaleGenerationError extends StorageError {
  override name = 'StaleGenerationError';
}

/**
 * This instance no longer holds the lease on the account's shard (expired, taken over, released, or
 * its acting deadline passed): the write was rolled back. A StaleGenerationError, so the actor stops
 * (credential zeroed) and is not parked: the shard's new owner carries on.
 */
export class ShardLeaseLostError extends StaleGenerationError {
  override name = 'ShardLeaseLostError';
}

/** The placement table holds another number of shards than SHARD_COUNT: every instance must use the same. */
export class ShardCountMismatchError extends StorageError {
  override name = 'ShardCountMismatchError';
}

/** A row read back did not match its schema. Lists column paths only, never values. */
export class StorageSchemaError extends StorageError {
  override name = 'StorageSchemaError';
  constructor(readonly paths: readonly string[], options?: { cause?: unknown }) {
    super(`row failed schema validation at: ${paths.join(', ') || '(row)'}`, options);
  }
}

type IssuePath = readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;

/** Column paths of schema issues ("side", "legs.0.price"): where, never what. */
export function issuePaths(issues: readonly { readonly path?: IssuePath }[]): string[] {
  return issues.map((issue) => (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.'));
}

/** An applied migration's file no longer matches the checksum recorded when it ran. */
export class MigrationChecksumError extends StorageError {
  override name = 'MigrationChecksumError';
  constructor(readonly migration: string) {
    super(`migration ${migration} was edited after it was applied (checksum mismatch); add a new migration instead`);
  }
}

/** An applied migration has no file any more (wrong folder, or a deleted file). */
export class MigrationMissingError extends StorageError {
  override name = 'MigrationMissingError';
  constructor(readonly migration: string) {
    super(`migration ${migration} is recorded as applied but its file is missing`);
  }
}

// SQLSTATEs (connection, shutdown, too many connections, serialization) and socket errnos.
/** What survives of a driver error: its class name, SQLSTATE and the schema objects involved. */
export class DatabaseErrorSummary extends Error {
  override name = 'DatabaseErrorSummary';
  constructor(
    readonly errorClass: string,
    readonly code: string | undefined,
    readonly constraint: string | undefined,
    readonly table: string | undefined,
    readonly column: string | undefined,
  ) {
    super([errorClass, code && `SQLSTATE ${code}`, constraint && `constraint ${constraint}`, table && `table ${table}`, column && `column ${column}`].filter(Boolean).join(', '));
  }
}

function stringField(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}

function summarize(error: unknown): DatabaseErrorSummary {
  const inner = (error as { cause?: unknown } | null)?.cause;
  const pick = (key: string) => stringField(error, key) ?? stringField(inner, key);
  const errorClass = error instanceof Error ? error.constructor.name : typeof error;
  return new DatabaseErrorSummary(errorClass, pgCode(error) ?? pgCode(inner), pick('constraint'), pick('table'), pick('column'));
}

const PG_UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03', '53300', '40001', '40P01']);

function pgCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The single translation from anything thrown below the storage API to the storage family.
 * `operation` says what was attempted ("commit fills page for binance:u1").
 */
export function toStorageError(error: unknown, operation: string): StorageError {
  if (error instanceof StorageError) return error;
  const cause = summarize(error);
  if (error instanceof SchemaValidationError) {
    return new StorageSchemaError(issuePaths(error.issues), { cause: summarize(error) });
  }
  if (
    error instanceof ConnectionError ||
    error instanceof BackendTerminatedError ||
    error instanceof BackendTerminatedUnexpectedlyError ||
    error instanceof IdleTransactionTimeoutError ||
    error instanceof StatementTimeoutError ||
    error instanceof StatementCancelledError
  ) {
    return new StorageUnavailableError(`${operation}: database unavailable`, { cause });
  }
  if (error instanceof IntegrityConstraintViolationError || error instanceof InvalidInputError) {
    return new StorageRejectedError(`${operation}: the database refused the data`, { cause });
  }
  const code = pgCode(error) ?? pgCode((error as { cause?: unknown } | null)?.cause);
  if (code !== undefined) {
    if (PG_UNAVAILABLE_CODES.has(code)) return new StorageUnavailableError(`${operation}: database unavailable`, { cause });
    // Class 22 (data exception) and 23 (integrity constraint): the input was bad.
    if (code.startsWith('22') || code.startsWith('23')) {
      return new StorageRejectedError(`${operation}: the database refused the data (SQLSTATE ${code})`, { cause });
    }
    return new StorageError(`${operation}: database error (SQLSTATE ${code})`, { cause });
  }
  return new StorageError(`${operation}: storage failure`, { cause });
}

/**
 * The account's sealed storage failed an integrity check (a page or record does not open, a page
 * is missing, reordered, replayed or inserted, the blind indexes do not match the rows). Not
 * transient: the account is parked with reason `tamper` and nothing is published for it. Names the
 * operation and the account, never content.
 */
export class TamperDetectedError extends StorageError {
  override name = 'TamperDetectedError';
}
