// 1,000,000 synthetic fills over one year on 10 assets with hourly marks and 50 cash flows →
// 8,760 hourly returns and the metrics; once in the worker pool, once on the main thread.
// Pool time counts everything the caller waits for: encoding the strings into columns on the
// main thread, the transfer, the engine in the worker, the transfer back and decoding.
import { availableParallelism, loadavg } from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { aggregate, type EngineInput, type EngineResult } from '../src/domain/in-process-aggregator.js';
import type { Candle, CashFlow, Fill } from '../src/domain/types.js';
import { createAggregationPool } from '../src/pool/aggregation-pool.js';
import { prng } from '../src/domain/prng.js';
import { EMPTY_PERFORMANCE, addHour, draftOf } from '../src/domain/performance.js';
import { floorAggregate } from './support/floor.js';

const FILLS = Number(process.env['BENCH_FILLS'] ?? 1_000_000);
const HOURS = 8760;
const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const ASSETS = ['BTC', 'ETH', 'SOL', 'BNB', 'XRP', 'ADA', 'DOGE', 'AVAX', 'DOT', 'LINK'];

// Deterministic pseudo-random numbers (mulberry32) so every run measures the same history.
const random = prng(0x5eed);

function history(): EngineInput {
  const prices = ASSETS.map((_, a) => 10 + a * 97.3);
  const markAt: number[][] = ASSETS.map(() => []);
  const candles: Candle[] = [];
  for (let h = -1; h < HOURS; h++) {
    for (let a = 0; a < ASSETS.length; a++) {
      const open = prices[a]!;
      prices[a] = open * (1 + (random() - 0.5) * 0.01);
      if (h >= 0) markAt[a]![h] = open;
      candles.push({ symbol: `${ASSETS[a]}/USDT`, openTime: T0 + h * H, open: open.toFixed(4), high: Math.max(open, prices[a]!).toFixed(4), low: Math.min(open, prices[a]!).toFixed(4), close: prices[a]!.toFixed(4), volume: '1000' });
    }
  }
  const fills: Fill[] = new Array<Fill>(FILLS);
  for (let i = 0; i < FILLS; i++) {
    const t = T0 + Math.floor((i / FILLS) * HOURS * H);
    const a = i % ASSETS.length;
    const mark = markAt[a]![Math.floor((t - T0) / H)]!;
    const asset = ASSETS[a]!;
    fills[i] = {
      exchangeTradeId: `b${i}`, symbol: `${asset}/USDT`, baseAsset: asset, quoteAsset: 'USDT',
      side: (i / ASSETS.length) % 2 < 1 ? 'buy' : 'sell', quantity: (0.01 + random() * 0.5).toFixed(6),
      price: (mark * (1 + (random() - 0.5) * 0.002)).toFixed(4), fee: (random() * 0.01).toFixed(6),
      feeAsset: i % 7 === 0 ? 'BNB' : 'USDT', executedAt: t,
    };
  }
  const cashFlows: CashFlow[] = Array.from({ length: 50 }, (_, k) => ({
    exchangeFlowId: `c${k}`, kind: k % 5 === 4 ? 'withdrawal' : 'deposit', asset: k % 3 === 0 ? 'BTC' : 'USDT',
    amount: k % 3 === 0 ? '0.5' : '25000', occurredAt: T0 + Math.floor(((k + 0.5) / 50) * HOURS * H) + 1234,
  }));
  return {
    baseCurrency: 'USDT', costMethod: 'average', state: null, startHour: T0, untilHour: T0 + HOURS * H,
    openingBalances: [{ asset: 'USDT', total: '1000000' }, ...ASSETS.map((asset) => ({ asset, total: '100' }))],
    fills, cashFlows, candles,
    // BENCH_LARGE_FLOW_SHARE=0.1 measures the true-TWR path syncs run (large flows split their hour).
    ...(process.env['BENCH_LARGE_FLOW_SHARE'] === undefined ? {} : { largeFlowShare: Number(process.env['BENCH_LARGE_FLOW_SHARE']) }),
  };
}

const input = history();
const pool = createAggregationPool({ threads: Number(process.env['POOL_THREADS'] ?? 0) });
// Warm-up: worker start-up (and tsx's compile of the worker) is paid once per process, not per task.
await pool.aggregate({ ...input, fills: input.fills.slice(0, 1000), untilHour: T0 + 24 * H });

// Collect the generator's garbage before each timed section so neither run pays for it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

// Main-thread garbage collection inside each timed section (the 1M input objects make it costly).
let gcMs = 0;
const gc = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; });
gc.observe({ entryTypes: ['gc'] });
const timed = async <T>(run: () => T | Promise<T>): Promise<{ value: T; ms: number; cpuMs: number; gcMs: number }> => {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gcMs = 0;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const value = await run();
  const ms = performance.now() - t;
  const cpuMs = process.cpuUsage(cpu).user / 1000;
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { value, ms, cpuMs, gcMs };
};

// First (cold) runs include V8 compiling the hot loops in each thread; then warm runs, as a
// long-running service sees them. The JSON reports the warm figures and the cold pool time.
const poolCold = await timed(() => pool.aggregate(input));
const mainCold = await timed(() => aggregate(input));
const pooled = await timed(() => pool.aggregate(input));
const main = await timed(() => aggregate(input));
// The floor (bench/support/floor.ts): a minimal single pass over the same input, in the same run,
// alternated with the engine on the main thread so both see the same machine load.
floorAggregate(input);
const floorRuns: number[] = [];
const engineRuns: number[] = [main.cpuMs];
let floorValue = floorAggregate(input);
for (let round = 0; round < 2; round++) {
  const f = await timed(() => floorAggregate(input));
  floorRuns.push(f.cpuMs);
  floorValue = f.value;
  if (round === 0) engineRuns.push((await timed(() => aggregate(input))).cpuMs);
}
const floorCpuMs = Math.min(...floorRuns);
const engineCpuMs = Math.min(...engineRuns);
const floorRatio = engineCpuMs / floorCpuMs;
// The sync activity runs the engine in about CHUNKS pool tasks, each resuming from the state the
// previous one returned: the difference to one task is the chunking's overhead.
const CHUNKS = 10;
const chunked = async (): Promise<EngineResult> => {
  const step = Math.ceil(HOURS / CHUNKS) * H;
  let state: unknown = null;
  let last: EngineResult | null = null;
  let fillAt = 0;
  let flowAt = 0;
  let candleAt = 0;
  for (let from = T0; from < input.untilHour; from += step) {
    const until = Math.min(input.untilHour, from + step);
    const fillEnd = indexBefore(input.fills, fillAt, until, (f) => f.executedAt);
    const flowEnd = indexBefore(input.cashFlows, flowAt, until, (c) => c.occurredAt);
    while (candleAt < input.candles.length && input.candles[candleAt]!.openTime < from - H) candleAt += 1;
    const candleEnd = indexBefore(input.candles, candleAt, until, (c) => c.openTime);
    last = await pool.aggregate({
      ...input, state, untilHour: until, startHour: state === null ? input.startHour : null, openingBalances: state === null ? input.openingBalances : [],
      fills: input.fills.slice(fillAt, fillEnd), cashFlows: input.cashFlows.slice(flowAt, flowEnd), candles: input.candles.slice(candleAt, candleEnd),
    });
    state = last.state;
    fillAt = fillEnd;
    flowAt = flowEnd;
  }
  return last!;
};
await chunked();
const pooledChunks = await timed(chunked);
await pool.close();
gc.disconnect();
// What keeping the metrics costs the engine per hour: the accumulator's update alone, over the run's returns.
const rs = pooled.value.hourlyReturns;
const statsRounds = 200;
const statsStart = performance.now();
for (let round = 0; round < statsRounds; round++) {
  const draft = draftOf(EMPTY_PERFORMANCE);
  for (const h of rs) addHour(draft, h.hourStart, h.return);
  if (draft.hours !== rs.length) throw new Error('accumulator lost hours');
}
const statsNsPerHour = ((performance.now() - statsStart) * 1e6) / (statsRounds * rs.length);
const inPool = pooled.value;
const onMain = main.value;
const poolMs = pooled.ms;
const mainThreadMs = main.ms;
console.log(`cold: pool ${poolCold.ms.toFixed(0)} ms (process CPU ${poolCold.cpuMs.toFixed(0)} ms, main-thread GC ${poolCold.gcMs.toFixed(0)} ms); main thread ${mainCold.ms.toFixed(0)} ms (CPU ${mainCold.cpuMs.toFixed(0)} ms)`);
const m = inPool.metrics;
console.log(`fills ${FILLS}, candles ${input.candles.length}, flows ${input.cashFlows.length}, pool threads ${pool.threads}`);
console.log(`hourly returns ${inPool.hourlyReturns.length}, gaps ${inPool.gaps.length}, cumulative ${(m.cumulativeReturn * 100).toFixed(3)}%, max drawdown ${(m.maxDrawdown * 100).toFixed(3)}%, Sharpe ${m.sharpe?.toFixed(3)}`);
console.log(`warm: pool ${poolMs.toFixed(0)} ms (process CPU ${pooled.cpuMs.toFixed(0)} ms, main-thread GC ${pooled.gcMs.toFixed(0)} ms); main thread ${mainThreadMs.toFixed(0)} ms (CPU ${main.cpuMs.toFixed(0)} ms, GC ${main.gcMs.toFixed(0)} ms)`);
console.log(`same result both ways: ${JSON.stringify(inPool) === JSON.stringify(onMain)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
const chunkOverheadMs = (pooledChunks.ms - poolMs) / CHUNKS;
console.log(`warm, in ${CHUNKS} pool tasks resuming from state: ${pooledChunks.ms.toFixed(0)} ms (process CPU ${pooledChunks.cpuMs.toFixed(0)} ms), ${chunkOverheadMs.toFixed(1)} ms per chunk over one task`);
console.log(`metrics accumulator update: ${statsNsPerHour.toFixed(0)} ns per hour (${((statsNsPerHour * rs.length) / 1e6).toFixed(2)} ms for the year)`);
console.log(`floor (single pass, floats): ${floorCpuMs.toFixed(0)} ms CPU, engine on the main thread ${engineCpuMs.toFixed(0)} ms CPU: ratio ${floorRatio.toFixed(2)} (goal ≤ 1.2); floor cumulative ${(floorValue.cumulativeReturn * 100).toFixed(3)}% over ${floorValue.hours} hours`);
console.log(JSON.stringify({ fills: FILLS, floorCpuMs: Math.round(floorCpuMs), engineCpuMs: Math.round(engineCpuMs), floorRatio: Number(floorRatio.toFixed(2)), floorGoal: 1.2, hours: inPool.hourlyReturns.length, poolMs: Math.round(poolMs), mainThreadMs: Math.round(mainThreadMs), poolColdMs: Math.round(poolCold.ms), mainThreadColdMs: Math.round(mainCold.ms), poolChunkedMs: Math.round(pooledChunks.ms), chunks: CHUNKS, chunkOverheadMs: Number(chunkOverheadMs.toFixed(1)), statsNsPerHour: Math.round(statsNsPerHour) }));

/** First index ≥ `from` whose time is ≥ `limit` (rows are sorted by time). */
function indexBefore<T>(rows: readonly T[], from: number, limit: number, timeOf: (row: T) => number): number {
  let i = from;
  while (i < rows.length && timeOf(rows[i]!) < limit) i += 1;
  return i;
}
