// Applies the numbered plain-SQL migrations in `sql/` with umzug. Each file runs in its own
// transaction together with the row recording it (name + SHA-256), so a crash never leaves a
// migration applied but unrecorded. An applied file whose checksum changed is refused.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Umzug, type UmzugStorage } from 'umzug';
import type { DatabasePool } from 'slonik';
import type { Logger } from '../config/logger.js';
import { MigrationChecksumError, MigrationMissingError, StorageError, toStorageError } from './errors.js';

const PACKAGE_NAME = 'track-record-enclave';
// Serializes concurrent migrators on the same database (advisory locks are per database).
const MIGRATION_LOCK_KEY = 727_100_301;

/** The `sql/` folder, found from the package root so both src (tsx) and dist (built) work. */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (parsed.name === PACKAGE_NAME) return join(dir, 'sql');
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root from ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export interface MigrationFile {
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export function readMigrations(dir: string = migrationsDir()): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/u.test(f))
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), 'utf8');
      return { name, sql: text, checksum: createHash('sha256').update(text).digest('hex') };
    });
}

const STORAGE_TABLE = 'schema_migrations';

async function ensureStorageTable(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${STORAGE_TABLE} (
    name text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  await client.query(`REVOKE ALL ON ${STORAGE_TABLE} FROM PUBLIC`);
}

async function appliedChecksums(client: pg.ClientBase): Promise<Map<string, string>> {
  const result = await client.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${STORAGE_TABLE} ORDER BY name`);
  return new Map(result.rows.map((r) => [r.name, r.checksum]));
}

/** Refuses to start when an applied migration was edited or removed. */
function verifyApplied(applied: ReadonlyMap<string, string>, files: readonly MigrationFile[]): void {
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const [name, checksum] of applied) {
    const file = byName.get(name);
    if (file === undefined) throw new MigrationMissingError(name);
    if (file.checksum !== checksum) throw new MigrationChecksumError(name);
  }
}

export interface MigrateOptions {
  /** Folder holding the numbered .sql files (default: the package's `sql/`). */
  readonly dir?: string;
}

export interface MigrateResult {
  readonly applied: readonly string[];
}

/**
 * Applies pending migrations to the database behind `target` (a slonik pool or a URL).
 * Throws MigrationChecksumError / MigrationMissingError before applying anything if history
 * does not match the files. Uses its own short-lived `pg` connection: plain SQL files hold
 * several statements, which only the simple query protocol accepts.
 */
export async function migrate(target: DatabasePool | string, logger: Logger, options: MigrateOptions = {}): Promise<MigrateResult> {
  const url = typeof target === 'string' ? target : target.configuration.connectionUri;
  const files = readMigrations(options.dir);
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw toStorageError(error, 'connect for migrations');
  }
  client.on('error', () => {
    // A dropped connection surfaces as the failing query's error; nothing to do here.
  });
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await ensureStorageTable(client);
    verifyApplied(await appliedChecksums(client), files);

    const storage: UmzugStorage = {
      executed: async () => [...(await appliedChecksums(client)).keys()],
      // Recorded inside the migration's own transaction (see `up`), so nothing to do here.
      logMigration: async () => {},
      unlogMigration: async () => {
        throw new Error('down migrations are not supported');
      },
    };
    const umzug = new Umzug({
      migrations: files.map((file) => ({
        name: file.name,
        up: async () => {
          await client.query('BEGIN');
          try {
            await client.query(file.sql);
            await client.query(`INSERT INTO ${STORAGE_TABLE} (name, checksum) VALUES ($1, $2)`, [file.name, file.checksum]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => undefined);
            // Our own SQL failed: the server's text (e.g. a syntax error) is needed and holds no user data.
            const detail = error instanceof Error ? `: ${error.message}` : '';
            throw toStorageError(error, `apply migration ${file.name}${detail}`);
          }
        },
      })),
      storage,
      logger: undefined,
    });
    umzug.on('migrated', ({ name }) => logger.info({ migration: name }, 'migration applied'));
    const applied = await umzug.up();
    if (applied.length === 0) logger.debug('database schema is up to date');
    return { applied: applied.map((m) => m.name) };
  } catch (error) {
    // umzug wraps failures in its MigrationError; report our own family with the original cause.
    if (error instanceof StorageError) throw error;
    if (error instanceof Error && error.cause instanceof StorageError) throw error.cause;
    throw toStorageError(error, 'migrate');
  } finally {
    await client.end().catch(() => undefined);
  }
}
