// The metrics read as a named prepared statement (issue 19): the same answers as the unnamed
// statement, and PostgreSQL keeps its plan per connection instead of planning every read.
import test from 'ava';
import { z } from 'zod';
import type { AccountKey } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createDatabasePool, sql } from '../../src/storage/pool.js';
import { sealEnvelope } from '../../src/crypto/envelope.js';
import { TEST_KEYRING } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);

test('the named metrics read answers what the unnamed one answers, for every account, and its plan is reused', async (t) => {
  // One connection: the prepared statement and pg_prepared_statements are per session.
  const pool = await createDatabasePool(db().url, { maxPoolSize: 1 });
  t.teardown(() => pool.end());
  const unnamed = createAccountStore(pool);
  const named = createAccountStore(pool, { namedStatements: true });
  const hour = Date.UTC(2026, 3, 1, 10);
  const accounts: AccountKey[] = [{ userUid: 'named-a', exchange: 'bybit' }, { userUid: 'named-b', exchange: 'binance' }, { userUid: 'named-none', exchange: 'bybit' }];
  for (const [i, account] of accounts.slice(0, 2).entries()) {
    const generation = await unnamed.saveConnection(account, sealEnvelope(TEST_KEYRING, account, Buffer.from('{}')));
    const stats = {
      hours: 3 + i, cumulativeReturn: 0.02 * (i + 1), annualizedReturn: null, annualizedVolatility: 0.1, maxDrawdown: 0.01, maxDrawdownPeakHour: hour - 7_200_000,
      maxDrawdownTroughHour: hour - 3_600_000, sharpe: null, sortino: 1.5, calmar: null, positiveHourShare: 2 / 3, bestHour: 0.02, worstHour: -0.01,
      totalFees: 1.25, realizedPnl: 10 + i, unrealizedPnl: -2,
    };
    await unnamed.saveAggregates(account, { hourlyReturns: [], snapshot: { at: hour, balance: 100 + i, equity: 102 + i }, engineState: {}, performance: { stats, computedUntil: hour } }, generation);
  }
  // More reads than PostgreSQL's five custom plans, alternating accounts (the parameters are not baked in).
  for (let round = 0; round < 4; round++) {
    for (const account of accounts) t.deepEqual(await named.loadPublishedPerformance!(account), await unnamed.loadPublishedPerformance!(account), `${account.userUid}, round ${round}`);
  }
  t.is((await named.loadPublishedPerformance!(accounts[1]!)).performance?.snapshot?.equity, 103);
  const prepared = await pool.maybeOne(sql.type(z.object({ generic: z.number(), custom: z.number() }))`
    SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE name = 'published_performance'`);
  t.not(prepared, null, 'prepared by name on the connection');
  t.true(prepared!.generic >= 1, 'after the custom plans, the generic plan is kept and reused');
  t.true(prepared!.custom <= 5);
});
