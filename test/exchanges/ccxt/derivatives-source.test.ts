// The readers' shared loading rule: one load answers every caller; a failed one is asked again.
import test from 'ava';
import { accessProbe, sharedUntilFailure } from '../../../src/exchanges/ccxt/derivatives/derivatives-source.js';
import { VenueError } from '../../../src/exchanges/errors.js';

test('sharedUntilFailure loads once for concurrent and later callers, and again after a failure', async (t) => {
  let calls = 0;
  let fail = true;
  const load = sharedUntilFailure(async (n: number) => {
    calls += 1;
    await new Promise((resolve) => { setImmediate(resolve); });
    if (fail) throw new Error('venue down');
    return n * 2;
  });
  await t.throwsAsync(Promise.all([load(1), load(1)]), { message: 'venue down' });
  t.is(calls, 1, 'concurrent callers share the one failing load');
  fail = false;
  t.deepEqual(await Promise.all([load(2), load(3)]), [4, 4], 'the next load is shared too (its first arguments win)');
  t.is(calls, 2, 'the failure was forgotten, the success is kept');
  t.is(await load(5), 4);
  t.is(calls, 2);
});

test('accessProbe: an auth refusal is a lasting "no", any other failure is asked again', async (t) => {
  const answers: unknown[] = [new VenueError('bitget', 'unavailable'), 'ok'];
  let calls = 0;
  const probe = accessProbe(async () => {
    calls += 1;
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return next;
  });
  await t.throwsAsync(probe(undefined), { instanceOf: VenueError });
  t.true(await probe(undefined));
  t.true(await probe(undefined));
  t.is(calls, 2);
  const refused = accessProbe(async () => { throw new VenueError('mexc', 'auth'); });
  t.false(await refused(undefined));
  t.false(await refused(undefined));
});
