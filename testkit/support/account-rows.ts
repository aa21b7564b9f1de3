// Rows an account has in every table of the schema, found from the catalog (every table with
// `user_uid` and `exchange` columns), not from the code's own lists: a table the removal forgets
// shows up here.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { AccountKey } from '../../src/domain/types.js';
import { sql } from '../../src/storage/pool.js';

export async function accountRowCounts(pool: DatabasePool, account: AccountKey): Promise<Record<string, number>> {
  const tables = await pool.manyFirst(sql.type(z.object({ table_name: z.string() }))`
    SELECT c.table_name FROM information_schema.columns c
    JOIN information_schema.tables t USING (table_schema, table_name)
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.column_name IN ('user_uid', 'exchange')
    GROUP BY c.table_name HAVING count(*) = 2 ORDER BY c.table_name`);
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[table] = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int AS n FROM ${sql.identifier([table])} WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  }
  return counts;
}

export const totalRows = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
