// SIGTERM during concurrent syncs, fast variant (scripts/soak.ts: 100 accounts): the process
// exits 0 within its bound, no page is torn, and a restart re-syncs every fill exactly once.
import test from 'ava';
import { runShutdown } from '../../testkit/support/shutdown.js';

test('SIGTERM during concurrent syncs exits within the bound with every page transaction whole or absent', async (t) => {
  t.timeout(300_000);
  const f = await runShutdown({ accounts: 8 });
  t.log(JSON.stringify(f));
  t.true(f.syncsInFlightAtSigterm > 0, 'syncs were running at SIGTERM');
  t.true(f.tradesAtSigterm > 0);
  t.is(f.exitCode, 0);
  t.true(f.exitedWithinBound, `exit took ${f.exitMs} ms`);
  t.is(f.partialPages, 0);
  t.is(f.inconsistentCursors, 0);
  t.deepEqual(f.afterResync, { trades: 8 * 6_000, expected: 8 * 6_000 });
});
