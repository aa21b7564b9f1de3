// Actor isolation and venue faults under load, fast variant (scripts/soak.ts runs 1,000 accounts
// and prints the reply p99s; timing is not asserted here): 100 accounts on the real supervisor,
// store and engine; 20 behind a venue answering 429/418/503/hang/malformed at random, 10 whose
// actor crashes on every sync.
import test from 'ava';
import { runFaultLoad } from '../../testkit/support/fault-load.js';

test('under venue faults and crashing neighbours, healthy accounts all sync, faulty ones end typed within the bound, crashers end failed', async (t) => {
  t.timeout(300_000);
  const f = await runFaultLoad({ accounts: 100 });
  t.log(JSON.stringify(f));
  t.is(f.healthy.total, 70);
  t.is(f.healthy.syncsFailed, 0);
  t.is(f.healthy.syncsOk, 70);
  t.is(f.faulty.total, 20);
  t.is(f.faulty.completed + f.faulty.typedFailures, 20);
  t.is(f.faulty.untypedFailures, 0);
  t.is(f.faulty.overBound, 0);
  t.true(f.faulty.faultsServed > 0, 'the venue did inject faults');
  t.is(f.crashing.total, 10);
  t.is(f.crashing.failedState, 10);
  t.true(f.crashing.refusedAsFailed > 0);
  t.is(f.crashing.restartLoops, 0);
});
