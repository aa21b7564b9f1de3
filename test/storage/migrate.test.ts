import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLogger } from '../../src/config/logger.js';
import { MigrationChecksumError, MigrationMissingError, StorageRejectedError } from '../../src/storage/errors.js';
import { migrate, migrationsDir, readMigrations } from '../../src/storage/migrate.js';
import { sql } from '../../src/storage/pool.js';
import { z } from 'zod';
import { createTestDatabase } from '../../testkit/support/database.js';

const silent = createLogger('silent');

function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  cpSync(migrationsDir(), dir, { recursive: true });
  return dir;
}

test('migrations are found from the package root and applied once', async (t) => {
  const names = readMigrations().map((m) => m.name);
  t.true(names.length >= 3);
  t.deepEqual(names, [...names].sort());
  const db = await createTestDatabase(t, { migrate: false });
  t.deepEqual((await migrate(db.url, silent)).applied, names);
  t.deepEqual((await migrate(db.pool, silent)).applied, []);
});

test('an applied migration whose file was edited is refused, naming the file', async (t) => {
  const dir = copyOfMigrations();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createTestDatabase(t, { migrate: false });
  await migrate(db.url, silent, { dir });
  appendFileSync(join(dir, '002_tables.sql'), '\n-- an innocent-looking edit\n');
  writeFileSync(join(dir, '999_new.sql'), 'CREATE TABLE should_not_exist (id int);');
  const error = await t.throwsAsync(migrate(db.url, silent, { dir }), { instanceOf: MigrationChecksumError });
  t.is(error!.migration, '002_tables.sql');
  t.regex(error!.message, /002_tables\.sql/u);
  // Refused before anything else ran: the new migration was not applied.
  const pending = await db.pool.exists(sql.type(z.object({ x: z.number() }))`
    SELECT 1 AS x FROM pg_tables WHERE tablename = 'should_not_exist'`);
  t.false(pending);
});

test('an applied migration whose file disappeared is refused', async (t) => {
  const dir = copyOfMigrations();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createTestDatabase(t, { migrate: false });
  await migrate(db.url, silent, { dir });
  unlinkSync(join(dir, '003_grants.sql'));
  const error = await t.throwsAsync(migrate(db.url, silent, { dir }), { instanceOf: MigrationMissingError });
  t.is(error!.migration, '003_grants.sql');
});

test('a failing migration is rolled back and not recorded', async (t) => {
  const dir = copyOfMigrations();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '900_broken.sql'), 'CREATE TABLE half_done (id int);\nINSERT INTO half_done VALUES (1), (1 / 0);');
  const db = await createTestDatabase(t, { migrate: false });
  const error = await t.throwsAsync(migrate(db.url, silent, { dir }), { instanceOf: StorageRejectedError });
  t.regex(error!.message, /900_broken\.sql/u);
  unlinkSync(join(dir, '900_broken.sql'));
  writeFileSync(join(dir, '900_broken.sql'), 'CREATE TABLE half_done (id int);');
  t.deepEqual((await migrate(db.url, silent, { dir })).applied, ['900_broken.sql']);
});

test('several databases migrate concurrently on one server (cluster-wide roles race safely)', async (t) => {
  const dbs = await Promise.all(Array.from({ length: 4 }, () => createTestDatabase(undefined, { migrate: false })));
  t.teardown(() => Promise.all(dbs.map((d) => d.drop())).then(() => undefined));
  const results = await Promise.all(dbs.map((d) => migrate(d.url, silent)));
  for (const r of results) t.is(r.applied.length, readMigrations().length);
});

test('two migrators on the same database apply each migration once', async (t) => {
  const db = await createTestDatabase(t, { migrate: false });
  const [a, b] = await Promise.all([migrate(db.url, silent), migrate(db.url, silent)]);
  t.is(a.applied.length + b.applied.length, readMigrations().length);
});
