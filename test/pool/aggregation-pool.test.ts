import test from 'ava';
import fc from 'fast-check';
import { availableParallelism } from 'node:os';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { encodeInput } from '../../src/domain/columnar.js';
import { AggregationInputError } from '../../src/domain/errors.js';
import { createAggregationPool, workerFileFor } from '../../src/pool/aggregation-pool.js';
import { AggregationWorkerError } from '../../src/pool/errors.js';
import { historyArb } from '../domain/arbitrary.js';
import { H, T0, balance, candle, fill, input } from '../domain/history.js';
import { CANARY } from './crashing.worker.js';

const pool = createAggregationPool({ threads: 2, workerFile: new URL('./crashing.worker.ts', import.meta.url) });
test.after.always(() => pool.close());

const good = input({
  untilHour: T0 + 2 * H, openingBalances: [balance('USDT', '1000')],
  fills: [fill(T0 + 60_000, 'buy', 'BTC/USDT', '1', '100', '0.1')],
  candles: [candle('BTC/USDT', T0, '110'), candle('BTC/USDT', T0 + H, '120')],
});

test('the pool computes exactly what the in-process engine computes', async (t) => {
  const histories = fc.sample(historyArb({ maxHours: 48, maxFills: 200 }), { numRuns: 20, seed: 42 });
  for (const { input: history } of histories) {
    t.deepEqual(await pool.aggregate(history), aggregate(history));
  }
});

test('run in chunks of hours on the workers, each resuming from the state the last returned, the metrics are those of one in-process run', async (t) => {
  const histories = fc.sample(historyArb({ maxHours: 48, maxFills: 200 }), { numRuns: 20, seed: 43 });
  let compared = 0;
  for (const { input: history } of histories) {
    const whole = aggregate(history);
    const step = 7 * H;
    let state: unknown = null;
    let last = null;
    for (let from = history.startHour!; from < history.untilHour; from += step) {
      const until = Math.min(history.untilHour, from + step);
      const inRange = <T>(rows: readonly T[], at: (row: T) => number) => rows.filter((row) => at(row) >= from && at(row) < until);
      last = await pool.aggregate({
        ...history, state, untilHour: until, startHour: state === null ? history.startHour : null, openingBalances: state === null ? history.openingBalances : [],
        fills: inRange(history.fills, (f) => f.executedAt), cashFlows: inRange(history.cashFlows, (c) => c.occurredAt),
        candles: history.candles.filter((c) => c.openTime >= from - H && c.openTime < until),
      });
      state = last.state;
    }
    if (last === null) continue;
    t.deepEqual(JSON.parse(JSON.stringify(last.metrics)), JSON.parse(JSON.stringify(whole.metrics)));
    compared += whole.metrics.hours;
  }
  t.true(compared > 100, `compared metrics over ${compared} hours`);
});

test('input columns are transferred to the worker, not copied, and result columns come back', async (t) => {
  const columns = encodeInput(good);
  const result = await pool.runColumns(columns);
  t.is(columns.fillTime.byteLength, 0);
  t.is(columns.fillQuantity.byteLength, 0);
  t.is(columns.candleClose.byteLength, 0);
  t.true(result.returns instanceof Float64Array);
  t.is(result.returns.length, 2 * 5);
});

test('a worker that exits fails only its own task, and the pool keeps serving', async (t) => {
  const [crashed, ok1, ok2] = await Promise.allSettled([pool.aggregate({ ...good, baseCurrency: 'EXIT' }), pool.aggregate(good), pool.aggregate(good)]);
  t.is(crashed.status, 'rejected');
  const error = (crashed as PromiseRejectedResult).reason as unknown;
  t.true(error instanceof AggregationWorkerError);
  t.regex((error as Error).message, /worker exited with code: 7/u);
  t.is(ok1.status, 'fulfilled');
  t.is(ok2.status, 'fulfilled');
  t.is((await pool.aggregate(good)).hourlyReturns.length, 2);
});

test('a worker that throws fails with a clear error that does not repeat the worker’s text', async (t) => {
  const error = await t.throwsAsync(pool.aggregate({ ...good, baseCurrency: 'THROW' }), { instanceOf: AggregationWorkerError });
  t.false(error.message.includes('canary'));
  t.false(JSON.stringify(error).includes(CANARY));
  t.is(error.cause, undefined);
  t.is((await pool.aggregate(good)).hourlyReturns.length, 2);
});

test('an uncaught exception inside a worker fails its task and the pool recovers', async (t) => {
  const error = await t.throwsAsync(pool.aggregate({ ...good, baseCurrency: 'UNCAUGHT' }), { instanceOf: AggregationWorkerError });
  t.false(error.message.includes('canary'));
  const results = await Promise.all([pool.aggregate(good), pool.aggregate(good), pool.aggregate(good)]);
  t.true(results.every((r) => r.hourlyReturns.length === 2));
});

test('a task can be cancelled with an AbortSignal, and the pool keeps serving', async (t) => {
  const controller = new AbortController();
  const running = pool.aggregate({ ...good, baseCurrency: 'HANG' }, controller.signal);
  setTimeout(() => controller.abort(), 50);
  const error = await t.throwsAsync(running);
  t.is(error.name, 'AbortError');
  await t.throwsAsync(pool.aggregate(good, AbortSignal.abort()), { name: 'AbortError' });
  t.is((await pool.aggregate(good)).hourlyReturns.length, 2);
});

test('input the engine refuses comes back as an AggregationInputError, from either thread', async (t) => {
  await t.throwsAsync(pool.aggregate({ ...good, fills: [fill(T0, 'buy', 'BTC/USDT', 'abc', '1')] }), { instanceOf: AggregationInputError, message: 'fill 0: quantity is not a decimal string' });
  const first = aggregate(good);
  // Encoding passes; the engine in the worker refuses a fill older than the saved state.
  await t.throwsAsync(pool.aggregate({ ...good, state: first.state, untilHour: T0 + 3 * H, fills: [fill(T0, 'buy', 'BTC/USDT', '1', '1')] }), { instanceOf: AggregationInputError, message: /before the first hour/u });
});

test('the default pool runs the real worker file and is sized to the machine when threads is 0', async (t) => {
  const sized = createAggregationPool({ threads: 0 });
  try {
    t.is(sized.threads, availableParallelism());
    t.deepEqual(await sized.aggregate(good), aggregate(good));
  } finally {
    await sized.close();
  }
  await t.throwsAsync(sized.aggregate(good), { instanceOf: AggregationWorkerError, message: 'aggregation pool is closed' });
});

test('the worker file follows the extension of the running module (tsx source or built dist)', (t) => {
  t.is(workerFileFor('file:///app/src/pool/aggregation-pool.ts').href, 'file:///app/src/pool/aggregation.worker.ts');
  t.is(workerFileFor('file:///app/dist/pool/aggregation-pool.js').href, 'file:///app/dist/pool/aggregation.worker.js');
});
