// The read side's metrics read in one statement (issue 19): the connection's status and disclosure
// level, the stored metrics with their snapshot and the account's flag counts (sql/017), instead of
// a status query, the metrics query, the level query and an aggregate over every published hour.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import type { ConnectionStatus, AccountKey } from '../domain/types.js';
import type { StoredPerformance } from './account-store.js';
import { PERFORMANCE_COLUMNS, performanceRow, splitPerformanceRow } from './performance-row.js';
import type { SealedAmounts } from './sealed-amounts.js';
import { DISCLOSURE_LEVELS, type DisclosureLevel } from '../domain/disclosure.js';
import { flagCountsOf, type FlagCounts } from './flag-counts.js';
import { sql } from './pool.js';

type PerformanceShape = typeof performanceRow.shape;
const nullableShape = Object.fromEntries(Object.entries(performanceRow.shape).map(([name, schema]) => [name, schema.nullable()])) as
  { [K in keyof PerformanceShape]: z.ZodNullable<PerformanceShape[K]> };
const publishedRow = z.object({
  status: z.enum(['active', 'failed', 'disabled']), level: z.enum(DISCLOSURE_LEVELS),
  flagHours: z.number().int().nullable(), flagged: z.number().int().nullable(), perBit: z.array(z.number().int()).length(16).nullable(),
  ...nullableShape,
});

export interface PublishedPerformance {
  readonly status: ConnectionStatus | null;
  readonly performance: StoredPerformance | null;
  /** Absent when no connection is stored. */
  readonly flagCounts?: FlagCounts;
  readonly level?: DisclosureLevel;
}

/**
 * `named`: send the statement as the named prepared statement `published_performance`, so each
 * connection plans it for its first reads only (PostgreSQL's plan cache: five custom plans, then the
 * generic one kept) instead of at every read (planning was ~90 % of its database CPU). Only where a connection is its own
 * session: on the embedded database (one PGlite session behind every socket) a reconnecting
 * client would prepare the name again and fail with "already exists".
 */
export async function loadPublishedPerformance(pool: DatabasePool, key: AccountKey, amounts?: SealedAmounts, named = false): Promise<PublishedPerformance> {
  const tag = named ? sql.prepared('published_performance', publishedRow) : sql.type(publishedRow);
  const row = await pool.maybeOne(tag`
    SELECT c.status, c.disclosure_level AS level, f.hours AS "flagHours", f.flagged, f.per_bit AS "perBit", ${PERFORMANCE_COLUMNS}
    FROM exchange_connections c
    LEFT JOIN hour_flag_counts f ON f.user_uid = c.user_uid AND f.exchange = c.exchange
    LEFT JOIN performance_stats p ON p.user_uid = c.user_uid AND p.exchange = c.exchange
    -- The exact snapshot (enclave-only; the published balance_snapshots row follows the disclosure level).
    LEFT JOIN snapshot_amounts b ON b.user_uid = p.user_uid AND b.exchange = p.exchange AND b.at = p.computed_until
    WHERE c.user_uid = ${key.userUid} AND c.exchange = ${key.exchange}`);
  if (row === null) return { status: null, performance: null };
  const { status, level, flagHours, flagged, perBit, ...joined } = row;
  const flagCounts = flagCountsOf(flagHours === null || flagged === null || perBit === null ? null : { hours: flagHours, flagged, perBit });
  if (joined.computedUntil === null) return { status, performance: null, flagCounts, level };
  // A joined metrics row exists (computed_until is NOT NULL): its NOT NULL columns are all present,
  // and each was validated by its own schema (made nullable only for the outer join).
  const { computedUntil, stats, snapshot } = splitPerformanceRow(joined as z.infer<typeof performanceRow>, key, amounts);
  return { status, performance: { stats, computedUntil, snapshot }, flagCounts, level };
}
