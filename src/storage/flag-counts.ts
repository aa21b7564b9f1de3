// How many of an account's published hours carry each data-quality flag: one aggregate over
// hourly_returns.flags (sql/006 bit mask, HOUR_FLAGS order), so metrics can state the share of
// flagged hours they rest on without reading the hours themselves.
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

const totals = z.object({ hours: z.number().int(), flagged: z.number().int() });
const perFlagRow = z.object({ k: z.number().int(), n: z.number().int() });

export function createFlagCounter(pool: DatabasePool): (account: AccountKey) => Promise<FlagCounts> {
  const bits = HOUR_FLAGS.map((f) => FLAG_BIT[f]);
  return async (account) => {
    try {
      const mine = sql.fragment`h.user_uid = ${account.userUid} AND h.exchange = ${account.exchange}`;
      const t = await pool.one(sql.type(totals)`
        SELECT count(*)::int AS hours, count(*) FILTER (WHERE h.flags <> 0)::int AS flagged
        FROM hourly_returns h WHERE ${mine}`);
      const per = await pool.any(sql.type(perFlagRow)`
        SELECT u.k::int AS k, count(*)::int AS n
        FROM hourly_returns h CROSS JOIN unnest(${sql.array(bits, 'int4')}) WITH ORDINALITY AS u(b, k)
        WHERE ${mine} AND h.flags <> 0 AND (h.flags & u.b) <> 0
        GROUP BY u.k`);
      const perFlag = Object.fromEntries(HOUR_FLAGS.map((f) => [f, 0])) as Record<HourFlag, number>;
      for (const p of per) { const f = HOUR_FLAGS[p.k - 1]; if (f !== undefined) perFlag[f] = p.n; }
      return { hours: t.hours, flagged: t.flagged, perFlag };
    } catch (error) {
      throw toStorageError(error, `count flagged hours for ${accountId(account)}`);
    }
  };
}
