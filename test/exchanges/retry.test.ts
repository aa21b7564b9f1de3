import test from 'ava';
import { VenueError } from '../../src/exchanges/errors.js';
import { parseRetryAfter, withRetry, type FailureClass, type RetryDeps } from '../../src/exchanges/retry.js';

function fakeClock(): RetryDeps & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, random: () => 1, sleep: async (ms) => { slept.push(ms); now += ms; } };
}

const rateLimited = (retryAfterMs?: number): FailureClass => ({ kind: 'rate-limited', retryable: true, status: 429, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

test('retries with exponential backoff and then succeeds', async (t) => {
  const deps = fakeClock();
  let calls = 0;
  const result = await withRetry('binance', async () => { calls += 1; if (calls < 4) throw new Error('x'); return 'ok'; }, () => rateLimited(), { deps, policy: { baseDelayMs: 100 } });
  t.is(result, 'ok');
  t.deepEqual(deps.slept, [100, 200, 400]);
});

test('honours Retry-After when it is longer than the backoff', async (t) => {
  const deps = fakeClock();
  let calls = 0;
  await withRetry('bybit', async () => { calls += 1; if (calls === 1) throw new Error('x'); return 1; }, () => rateLimited(5_000), { deps, policy: { baseDelayMs: 100 } });
  t.deepEqual(deps.slept, [5_000]);
});

test('a definitive failure is not retried and names venue and cause', async (t) => {
  const deps = fakeClock();
  const error = await t.throwsAsync(withRetry('mexc', async () => { throw new Error('secret-canary'); }, () => ({ kind: 'auth', retryable: false, status: 401 }), { deps }), { instanceOf: VenueError });
  t.is(error.kind, 'auth');
  t.is(error.exchange, 'mexc');
  t.deepEqual(deps.slept, []);
  t.false(error.message.includes('secret-canary'));
  t.is(error.cause, undefined);
});

test('gives up once the time budget would be exceeded', async (t) => {
  const deps = fakeClock();
  const error = await t.throwsAsync(withRetry('bitget', async () => { throw new Error('x'); }, () => rateLimited(60_000), { deps, policy: { budgetMs: 100_000 } }), { instanceOf: VenueError });
  t.is(error.kind, 'rate-limited');
  t.deepEqual(deps.slept, [60_000]);
});

test('Retry-After parses seconds and HTTP dates', (t) => {
  t.is(parseRetryAfter('3'), 3000);
  t.is(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
  t.is(parseRetryAfter('soon'), undefined);
  t.is(parseRetryAfter(undefined), undefined);
});
