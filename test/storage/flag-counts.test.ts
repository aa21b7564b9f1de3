// The share of flagged hours GetAggregatedMetrics states comes from one aggregate over
// hourly_returns.flags: every published hour counts (unvalued ones too), per flag and any flag,
// one account only.
import test from 'ava';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createFlagCounter } from '../../src/storage/flag-counts.js';
import { flagSharesOf } from '../../src/app/reads.js';
import type { AccountKey, HourlyReturn } from '../../src/domain/types.js';
import { sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

async function account(userUid: string): Promise<AccountKey> {
  const key: AccountKey = { userUid, exchange: 'binance' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${userUid}, 'binance', '\\x00'::bytea, 1)`);
  return key;
}

const hour = (i: number, flags?: HourlyReturn['flags']): HourlyReturn =>
  ({ hourStart: T0 + i * H, return: 0, cumulativeReturn: 0, equityEnd: 1, netFlow: 0, ...(flags === undefined ? {} : { flags }) });

test('counts every published hour, the flagged ones, and each flag, for one account only', async (t) => {
  const store = createAccountStore(db().pool);
  const a = await account('counted');
  const b = await account('other');
  await store.saveAggregates(a, { hourlyReturns: [hour(0), hour(1, ['stale-mark']), hour(2, ['stale-mark', 'revalued-at-flow']), hour(3, ['unvalued'])], snapshot: null, engineState: null, performance: null });
  await store.saveAggregates(b, { hourlyReturns: [hour(0, ['oversold'])], snapshot: null, engineState: null, performance: null });
  const counts = await createFlagCounter(db().pool)(a);
  t.is(counts.hours, 4);
  t.is(counts.flagged, 3);
  t.like(counts.perFlag, { 'stale-mark': 2, 'revalued-at-flow': 1, unvalued: 1, oversold: 0 });
  t.deepEqual(flagSharesOf(counts), {
    flaggedHourShare: 0.75,
    flagShares: [{ flag: 'stale-mark', share: 0.5 }, { flag: 'revalued-at-flow', share: 0.25 }, { flag: 'unvalued', share: 0.25 }],
  });
});

test('an account without published hours has no flagged share (0, not a division by zero)', async (t) => {
  const counts = await createFlagCounter(db().pool)(await account('empty'));
  t.is(counts.hours, 0);
  t.deepEqual(flagSharesOf(counts), { flaggedHourShare: 0, flagShares: [] });
});
