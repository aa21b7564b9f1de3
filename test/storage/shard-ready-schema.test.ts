// Schema ready to shard (issue 18): read the catalog of a freshly migrated database and fail if a
// migration breaks what distributing or hash-partitioning account tables by user_uid needs: every
// primary key and unique constraint of an account table includes user_uid, every account table
// has a user_uid column, and no foreign key ties tables together. Tables that are not per account
// must be listed here, on purpose.
import test from 'ava';
import { z } from 'zod';
import { sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);

/** Not account data: public reference data (replicated to every node) and coordination tables. */
const NOT_ACCOUNT_TABLES = new Set([
  'price_candles', // public market data, shared by every account of a venue: reference table
  'minute_marks', // public one-minute marks (sql/015): reference table
  'market_series_coverage', // which public ranges are stored (sql/013): reference table
  'placement', // shard leases (sql/012): coordination, never distributed
  'instances', // live instance heartbeats (sql/012): coordination
  'schema_migrations', // the migration runner's record
]);

const tableRow = z.object({ table: z.string(), hasUserUid: z.boolean() });
const constraintRow = z.object({ table: z.string(), constraint: z.string(), kind: z.string(), columns: z.array(z.string()) });
const foreignKeyRow = z.object({ table: z.string(), constraint: z.string(), references: z.string() });

test('every account table keys on user_uid and no foreign key joins tables', async (t) => {
  const pool = db().pool;
  const tables = await pool.any(sql.type(tableRow)`
    SELECT c.relname AS "table",
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_uid' AND NOT a.attisdropped) AS "hasUserUid"
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY 1`);
  const accountTables = tables.filter((r) => !NOT_ACCOUNT_TABLES.has(r.table));
  // The check must have something to check: the known account tables are there.
  for (const known of ['exchange_connections', 'trades', 'cash_flows', 'sync_cursors', 'engine_states', 'hourly_returns', 'balance_snapshots']) {
    t.true(accountTables.some((r) => r.table === known), `${known} is an account table`);
  }
  for (const listed of NOT_ACCOUNT_TABLES) t.true(tables.some((r) => r.table === listed), `${listed} (listed as not per account) exists`);
  const withoutUser = accountTables.filter((r) => !r.hasUserUid).map((r) => r.table);
  t.deepEqual(withoutUser, [], 'tables without user_uid must be listed in NOT_ACCOUNT_TABLES, or get the column');

  const constraints = await pool.any(sql.type(constraintRow)`
    SELECT c.relname AS "table", k.conname AS "constraint", k.contype::text AS kind,
           array(SELECT a.attname::text FROM unnest(k.conkey) AS u(n) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n) AS columns
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND k.contype IN ('p', 'u', 'x')
    ORDER BY 1, 2`);
  const unique = await pool.any(sql.type(constraintRow)`
    SELECT c.relname AS "table", i.relname AS "constraint", 'i' AS kind,
           array(SELECT coalesce(a.attname::text, '(expression)') FROM unnest(x.indkey) AS u(n) LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n) AS columns
    FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND x.indisunique
    ORDER BY 1, 2`);
  const accountNames = new Set(accountTables.map((r) => r.table));
  const offending = [...constraints, ...unique]
    .filter((k) => accountNames.has(k.table) && !k.columns.includes('user_uid'))
    .map((k) => `${k.table}.${k.constraint} (${k.columns.join(', ')})`);
  t.deepEqual(offending, [], 'primary keys, unique constraints and unique indexes of account tables must include user_uid');
  t.true(constraints.filter((k) => k.kind === 'p').length >= accountTables.length, 'every account table has a primary key');
  const missingPk = accountTables.filter((r) => !constraints.some((k) => k.table === r.table && k.kind === 'p')).map((r) => r.table);
  t.deepEqual(missingPk, []);

  const foreignKeys = await pool.any(sql.type(foreignKeyRow)`
    SELECT c.relname AS "table", k.conname AS "constraint", r.relname AS "references"
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND k.contype = 'f'`);
  t.deepEqual(foreignKeys.map((k) => `${k.table}.${k.constraint} → ${k.references}`), [], 'no foreign keys between tables');
});
