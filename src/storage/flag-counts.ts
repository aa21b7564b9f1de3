// How many of an account's published hours carry each data-quality flag, so metrics can state the
// share of flagged hours they rest on without reading the hours themselves. Kept per account in
// hour_flag_counts by triggers on hourly_returns (sql/017): a read is one row, not an aggregate
// over every published hour.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { FLAG_BIT, HOUR_FLAGS, type HourFlag } from '../domain/hour-flags.js';
import type { AccountKey } from '../domain/types.js';
import { accountId } from '../domain/types.js';
import { toStorageError } from './errors.js';
import { sql } from './pool.js';

export interface FlagCounts {
  /** Published hours, unvalued ones included. */
  readonly hours: number;
  /** Hours with any flag. */
  readonly flagged: number;
  /** Hours carrying each flag (every flag of HOUR_FLAGS, 0 when none). */
  readonly perFlag: Readonly<Record<HourFlag, number>>;
}

/** hour_flag_counts columns as read (per_bit: hours per bit of the flags mask, bit 0 first). */
export const flagCountsRow = z.object({ hours: z.number().int(), flagged: z.number().int(), perBit: z.array(z.number().int()).length(16) });

/** FlagCounts of a stored hour_flag_counts row (null: the account published no hour yet). */
export function flagCountsOf(row: z.infer<typeof flagCountsRow> | null): FlagCounts {
  const perFlag = Object.fromEntries(HOUR_FLAGS.map((f) => [f, row === null ? 0 : row.perBit[Math.log2(FLAG_BIT[f])] ?? 0])) as Record<HourFlag, number>;
  return { hours: row?.hours ?? 0, flagged: row?.flagged ?? 0, perFlag };
}

export function createFlagCounter(pool: DatabasePool): (account: AccountKey) => Promise<FlagCounts> {
  return async (account) => {
    try {
      const row = await pool.maybeOne(sql.type(flagCountsRow)`
        SELECT hours, flagged, per_bit AS "perBit" FROM hour_flag_counts WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
      return flagCountsOf(row);
    } catch (error) {
      throw toStorageError(error, `count flagged hours for ${accountId(account)}`);
    }
  };
}
