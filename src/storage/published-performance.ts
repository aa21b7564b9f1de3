// The read side's metrics read in one statement (issue 19): the connection's status and the stored
// metrics with their snapshot, instead of a status query and then the metrics query.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { ConnectionStatus, AccountKey } from '../domain/types.js';
import type { StoredPerformance } from './account-store.js';
import { PERFORMANCE_COLUMNS, performanceRow, splitPerformanceRow } from './performance-row.js';
import type { SealedAmounts } from './sealed-amounts.js';
import { sql } from './pool.js';

type PerformanceShape = typeof performanceRow.shape;
const nullableShape = Object.fromEntries(Object.entries(performanceRow.shape).map(([name, schema]) => [name, schema.nullable()])) as
  { [K in keyof PerformanceShape]: z.ZodNullable<PerformanceShape[K]> };
const publishedRow = z.object({ status: z.enum(['active', 'failed', 'disabled']), ...nullableShape });

export async function loadPublishedPerformance(pool: DatabasePool, key: AccountKey, amounts?: SealedAmounts): Promise<{ status: ConnectionStatus | null; performance: StoredPerformance | null }> {
  const row = await pool.maybeOne(sql.type(publishedRow)`
    SELECT c.status, ${PERFORMANCE_COLUMNS}
    FROM exchange_connections c
    LEFT JOIN performance_stats p ON p.user_uid = c.user_uid AND p.exchange = c.exchange
    -- The exact snapshot (enclave-only; the published balance_snapshots row follows the disclosure level).
    LEFT JOIN snapshot_amounts b ON b.user_uid = p.user_uid AND b.exchange = p.exchange AND b.at = p.computed_until
    WHERE c.user_uid = ${key.userUid} AND c.exchange = ${key.exchange}`);
  if (row === null) return { status: null, performance: null };
  const { status, ...joined } = row;
  if (joined.computedUntil === null) return { status, performance: null };
  // A joined metrics row exists (computed_until is NOT NULL): its NOT NULL columns are all present,
  // and each was validated by its own schema (made nullable only for the outer join).
  const { computedUntil, stats, snapshot } = splitPerformanceRow(joined as z.infer<typeof performanceRow>, key, amounts);
  return { status, performance: { stats, computedUntil, snapshot } };
}
