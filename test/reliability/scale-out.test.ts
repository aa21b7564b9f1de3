// Issue 18, the small variant of `npm run soak -- scale`: two service processes on one
// PostgreSQL, simulated accounts syncing every few seconds, one instance SIGKILLed mid-run.
import test from 'ava';
import { runScaleOut } from '../../testkit/support/scale-out.js';

test('two instances: one live sync per account, commands forwarded to the owner, takeover within TTL + one poll, no fill lost after a SIGKILL', async (t) => {
  t.timeout(240_000);
  const f = await runScaleOut({ instances: 2, accounts: 16, shardCount: 32, ttlMs: 5_000, syncIntervalMs: 8_000, scenarios: ['kill'], reference: false, forwardCheck: true });
  t.log(JSON.stringify(f));
  t.is(f.accountsNeverSynced, 0);
  t.true(f.forwardedSyncServed, 'a sync sent to the instance that does not own the account is served by the owner');
  t.true(f.syncs >= 2 * f.accounts, 'every account synced more than once');
  t.is(f.overlappingSyncs, 0);
  t.is(f.staleOwnerCommits, 0);
  t.is(f.takeoverSeconds.length, 1);
  // One poll of the checker (100 ms) and a start-up margin on a shared 2-core machine.
  t.true(f.takeoverSeconds[0]! <= f.takeoverBoundSeconds + 1, `takeover ${f.takeoverSeconds[0]} s`);
  t.true(f.longestGapSeconds <= f.gapBoundSeconds + 2, `longest gap ${f.longestGapSeconds} s`);
  t.true(f.fillsExpected > 0);
  t.is(f.fillsLost, 0);
  t.is(f.fillsDuplicated, 0);
  t.is(f.fillsUnexpected, 0);
});
