// A throw-away PostgreSQL database per test file, on the local server (127.0.0.1:5432, trust
// auth, user postgres), migrated with the real migrations and dropped on teardown.
//
//   const db = await createTestDatabase(t);      // in test.before(async (t) => …)
//   const store = createAccountStore(db.pool);
//
// `t` (any ava execution context) registers `drop` as its teardown; without it call `drop()`.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabasePool } from 'slonik';
import { createLogger } from '../../src/config/logger.js';
import { migrate } from '../../src/storage/migrate.js';
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

export async function createTestDatabase(t?: Teardown, options: { migrate?: boolean; pool?: PoolOptions } = {}): Promise<TestDatabase> {
  await sweepStaleDatabases();
  const name = `test_${process.pid}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
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
    if (options.migrate !== false) await migrate(url, createLogger('silent'));
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
