// A throw-away PostgreSQL database per test file, on the local server (127.0.0.1:5432, trust
// auth, user postgres), migrated with the real migrations and dropped on teardown.
//
//   const db = await createTestDatabase(t);      // in test.before(async (t) => …)
//   const store = createAccountStore(db.pool);
//
// `t` (any ava execution context) registers `drop` as its teardown; without it call `drop()`.
//
// Migrating costs 3–5 s per database on a loaded 2-core machine and some 50 test files each make
// one, so the real migrations run once into a template database named after the migrations'
// checksums (and the runner's source), and each test database is a copy of it (a fraction of a
// second). A changed or added migration gives a new name, hence a fresh template.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { DatabasePool } from 'slonik';
import { createLogger } from '../../src/config/logger.js';
import { migrate, readMigrations } from '../../src/storage/migrate.js';
import { createDatabasePool, type PoolOptions } from '../../src/storage/pool.js';

export const TEST_SERVER = process.env.TEST_DATABASE_SERVER ?? 'postgresql://postgres@127.0.0.1:5432';

export interface TestDatabase {
  readonly name: string;
  /** postgresql:// URL of the new database as user postgres. */
  readonly url: string;
  /** URL of the same database as another role (e.g. gateway_user). */
  urlAs(role: string): string;
  readonly pool: DatabasePool;
  drop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => Promise<void> | void): void;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${TEST_SERVER}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const NAME_PATTERN = /^test_(\d+)_(\d+)_[0-9a-f]+$/u;
const STALE_AFTER_S = 3_600;
let sweptStale = false;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const TEMPLATE_PREFIX = 'test_template_';
// Templates of other migration sets (another branch's worktree may still use one) are dropped a day
// after they were made.
const TEMPLATE_STALE_AFTER_S = 86_400;
// Serializes template builds and sweeps across test processes (advisory locks are per database:
// every caller holds it on the `postgres` database).
const TEMPLATE_LOCK_KEY = 727_100_302;

/** Drops databases left by test processes that died an hour or more ago (crash, kill -9). */
async function sweepStaleDatabases(): Promise<void> {
  if (sweptStale) return;
  sweptStale = true;
  const now = Math.floor(Date.now() / 1000);
  await withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'`);
    for (const { datname } of rows) {
      const match = NAME_PATTERN.exec(datname);
      if (match === null || processAlive(Number(match[1])) || now - Number(match[2]) < STALE_AFTER_S) continue;
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => undefined);
    }
  });
}

let templateName: string | undefined;

/** The template's name: the migrations' checksums and the runner's source decide it. */
function migratedTemplateName(): string {
  if (templateName !== undefined) return templateName;
  const hash = createHash('sha256');
  for (const file of readMigrations()) hash.update(`${file.name}\0${file.checksum}\0`);
  hash.update(readFileSync(new URL('../../src/storage/migrate.ts', import.meta.url)));
  templateName = `${TEMPLATE_PREFIX}${hash.digest('hex').slice(0, 24)}`;
  return templateName;
}

let templateReady: Promise<string> | undefined;

/**
 * Makes sure the migrated template exists (built at most once across concurrent test processes)
 * and drops other migration sets' templates once stale. A template accepts no connections, so
 * nothing can change it after it is made and copying it never meets a session inside it.
 */
function migratedTemplate(): Promise<string> {
  templateReady ??= withAdmin(async (c) => {
    const name = migratedTemplateName();
    await c.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const now = Math.floor(Date.now() / 1000);
      const { rows } = await c.query<{ datname: string; made: string | null }>(
        `SELECT datname, shobj_description(oid, 'pg_database') AS made FROM pg_database WHERE datname LIKE $1`, [`${TEMPLATE_PREFIX}%`]);
      for (const { datname, made } of rows) {
        if (datname === name || now - Number(made ?? 0) < TEMPLATE_STALE_AFTER_S) continue;
        const id = pg.escapeIdentifier(datname);
        await c.query(`ALTER DATABASE ${id} WITH IS_TEMPLATE false`).catch(() => undefined);
        await c.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`).catch(() => undefined);
      }
      if (rows.some((r) => r.datname === name)) return name;
      // Built under a test database's name (the stale sweep removes it if this process dies
      // half-way), then renamed: the template's name only ever denotes a complete one.
      const building = `test_${process.pid}_${now}_${randomBytes(4).toString('hex')}`;
      const id = pg.escapeIdentifier(building);
      await c.query(`CREATE DATABASE ${id}`);
      try {
        await migrate(`${TEST_SERVER}/${building}`, createLogger('silent'));
        await c.query(`ALTER DATABASE ${id} RENAME TO ${pg.escapeIdentifier(name)}`);
      } catch (error) {
        await c.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`).catch(() => undefined);
        throw error;
      }
      await c.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(name)} IS '${now}'`);
      return name;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  // A failed build is tried again by the next caller.
  void templateReady.catch(() => { templateReady = undefined; });
  return templateReady;
}

/** Creates `name` as a copy of the migrated template, with what a copy does not carry over. */
async function createMigratedDatabase(name: string): Promise<void> {
  const id = pg.escapeIdentifier(name);
  for (let attempt = 0; ; attempt += 1) {
    const template = await migratedTemplate();
    try {
      await withAdmin((c) => c.query(`CREATE DATABASE ${id} TEMPLATE ${pg.escapeIdentifier(template)}`));
      break;
    } catch (error) {
      // Another process swept the template between our check and the copy: build it again.
      if ((error as { code?: unknown }).code !== '3D000' || attempt > 0) throw error;
      templateReady = undefined;
    }
  }
  // Database privileges are not copied (sql/003_grants.sql grants CONNECT on the database itself).
  await withAdmin((c) => c.query(`GRANT CONNECT ON DATABASE ${id} TO enclave_user, gateway_user`));
}

export async function createTestDatabase(t?: Teardown, options: { migrate?: boolean; pool?: PoolOptions } = {}): Promise<TestDatabase> {
  await sweepStaleDatabases();
  const name = `test_${process.pid}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  if (options.migrate === false) await withAdmin((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  else await createMigratedDatabase(name);
  const url = `${TEST_SERVER}/${name}`;
  let pool: DatabasePool | undefined;
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    await pool?.end();
    // FORCE terminates connections a test left open (PostgreSQL 13+).
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`));
  };
  t?.teardown(drop);
  try {
    pool = await createDatabasePool(url, options.pool);
  } catch (error) {
    await drop();
    throw error;
  }
  const server = new URL(TEST_SERVER);
  return {
    name,
    url,
    urlAs: (role) => `postgresql://${encodeURIComponent(role)}@${server.host}/${name}`,
    pool,
    drop,
  };
}

/**
 * For a whole test file: creates the database before the tests and drops it after them.
 *   const db = useTestDatabase(test);   // then db() inside tests
 */
export function useTestDatabase(test: {
  before(fn: () => Promise<void>): void;
  after: { always(fn: () => Promise<void>): void };
}, options: { pool?: PoolOptions } = {}): () => TestDatabase {
  let database: TestDatabase | undefined;
  test.before(async () => {
    database = await createTestDatabase(undefined, options);
  });
  test.after.always(async () => {
    await database?.drop();
  });
  return () => {
    if (database === undefined) throw new Error('the test database is not ready (used outside a test?)');
    return database;
  };
}
