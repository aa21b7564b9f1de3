// The published derivatives aggregates (sql/011_derivatives.sql): leverage per hour and the account's
// derivatives summary. Written in one transaction fenced by the connection's generation.
import { z } from 'zod';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import type { PublishedDerivatives } from '../domain/derivatives/aggregates.js';
import { accountId, type AccountKey, type EpochMs } from '../domain/types.js';
import type { Generation } from './account-store.js';
import { isoTime } from './copy-ingest.js';
import { toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

export interface DerivativesWrite {
  readonly computedUntil: EpochMs;
  /** Hours (re)computed by this run; when `fromHour` is set, stored hours at or after it are replaced. */
  readonly hours: readonly { readonly hourStart: EpochMs; readonly leverage: number }[];
  /** Stored hours at or after this are deleted first (a recompute from the start passes its first hour, or 0). */
  readonly replaceFrom: EpochMs;
  readonly maxLeverage: number;
  readonly fundingShare: number | null;
  readonly liquidations: number;
  readonly coverageStart: EpochMs | null;
}

export type StoredDerivatives = PublishedDerivatives;

const statsRow = z.object({
  computedUntil: z.number(), maxLeverage: z.number(), fundingShare: z.number().nullable(), liquidations: z.number().int(), coverageStart: z.number().nullable(),
});
const hourRow = z.object({ hourStart: z.number(), leverage: z.number() });

export type AssertGeneration = (tx: DatabaseTransactionConnection, account: AccountKey, generation: Generation) => Promise<void>;

export async function saveDerivatives(pool: DatabasePool, assertGeneration: AssertGeneration, key: AccountKey, write: DerivativesWrite, generation: Generation): Promise<void> {
  try {
    await pool.transaction(async (tx) => {
      await assertGeneration(tx, key, generation);
      await tx.query(sql.type(noRows)`DELETE FROM derivative_hours WHERE user_uid = ${key.userUid} AND exchange = ${key.exchange} AND hour_start >= ${isoTime(write.replaceFrom)}::timestamptz`);
      if (write.hours.length > 0) {
        const tuples = write.hours.map((h) => [isoTime(h.hourStart), h.leverage]);
        await tx.query(sql.type(noRows)`
          INSERT INTO derivative_hours (user_uid, exchange, hour_start, leverage)
          SELECT ${key.userUid}, ${key.exchange}, t.hour_start, t.leverage
          FROM ${sql.unnest(tuples, ['timestamptz', 'float8'])} AS t(hour_start, leverage)
          ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE SET leverage = excluded.leverage`);
      }
      const coverage = write.coverageStart === null ? null : isoTime(write.coverageStart);
      await tx.query(sql.type(noRows)`
        INSERT INTO derivative_stats (user_uid, exchange, computed_until, max_leverage, funding_share, liquidations, coverage_start)
        VALUES (${key.userUid}, ${key.exchange}, ${isoTime(write.computedUntil)}::timestamptz, ${write.maxLeverage}, ${write.fundingShare}, ${write.liquidations}, ${coverage}::timestamptz)
        ON CONFLICT (user_uid, exchange) DO UPDATE SET computed_until = excluded.computed_until, max_leverage = excluded.max_leverage,
          funding_share = excluded.funding_share, liquidations = excluded.liquidations, coverage_start = excluded.coverage_start`);
    });
  } catch (error) {
    throw toStorageError(error, `save derivatives for ${accountId(key)}`);
  }
}

/** The account's summary and its hours starting in `hours` (every hour when absent). */
export async function loadDerivatives(pool: DatabasePool, key: AccountKey, hours?: { readonly from: EpochMs; readonly to: EpochMs }): Promise<StoredDerivatives | null> {
  try {
    const row = await pool.maybeOne(sql.type(statsRow)`
      SELECT computed_until AS "computedUntil", max_leverage AS "maxLeverage", funding_share AS "fundingShare", liquidations, coverage_start AS "coverageStart"
      FROM derivative_stats WHERE user_uid = ${key.userUid} AND exchange = ${key.exchange}`);
    if (row === null) return null;
    const range = hours === undefined ? sql.fragment`` : sql.fragment`AND hour_start >= ${isoTime(hours.from)}::timestamptz AND hour_start < ${isoTime(hours.to)}::timestamptz`;
    const list = hours !== undefined && hours.to <= hours.from ? [] : await pool.any(sql.type(hourRow)`
      SELECT hour_start AS "hourStart", leverage FROM derivative_hours
      WHERE user_uid = ${key.userUid} AND exchange = ${key.exchange} ${range} ORDER BY hour_start`);
    return { ...row, hours: [...list] };
  } catch (error) {
    throw toStorageError(error, `load derivatives for ${accountId(key)}`);
  }
}
