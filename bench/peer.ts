// `npm run bench -- peer`: our engine beside a peer on the same trades (issue 19, item 6).
// The peer has to be a well-known open-source portfolio calculator installable from the npm
// registry as a package. None is: Ghostfolio's calculator (the one the issue measured) ships only
// inside its application, not as a package, and the npm package list of this environment
// (/work/.library/env/packages/npm.tsv, searched December 2026 for portfolio / performance /
// return / pnl calculators) holds no maintained library that computes returns from trades. So the reference stays the floor (bench/support/floor.ts):
// a minimal single pass over the same input, at 1k, 10k and 100k activities, in the same run.
import { availableParallelism, loadavg } from 'node:os';
import type { AggregationInput } from '../src/domain/aggregation.js';
import { aggregate } from '../src/domain/in-process-aggregator.js';
import { prng } from '../src/domain/prng.js';
import type { Candle, Fill } from '../src/domain/types.js';
import { floorAggregate } from './support/floor.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const ASSETS = ['BTC', 'ETH', 'SOL'];

function trades(count: number, hours: number): AggregationInput {
  const random = prng(count);
  const prices = ASSETS.map((_, a) => 100 + a * 50);
  const candles: Candle[] = [];
  const marks: number[][] = ASSETS.map(() => []);
  for (let h = -1; h < hours; h++) {
    for (let a = 0; a < ASSETS.length; a++) {
      const open = prices[a]!;
      prices[a] = open * (1 + (random() - 0.5) * 0.01);
      if (h >= 0) marks[a]![h] = open;
      candles.push({ symbol: `${ASSETS[a]}/USDT`, openTime: T0 + h * H, open: open.toFixed(4), high: Math.max(open, prices[a]!).toFixed(4), low: Math.min(open, prices[a]!).toFixed(4), close: prices[a]!.toFixed(4), volume: '1' });
    }
  }
  const fills: Fill[] = [];
  for (let i = 0; i < count; i++) {
    const t = T0 + Math.floor((i / count) * hours * H);
    const a = i % ASSETS.length;
    fills.push({
      exchangeTradeId: `p${i}`, symbol: `${ASSETS[a]}/USDT`, baseAsset: ASSETS[a]!, quoteAsset: 'USDT', side: (i / ASSETS.length) % 2 < 1 ? 'buy' : 'sell',
      quantity: (0.01 + random() * 0.1).toFixed(6), price: marks[a]![Math.floor((t - T0) / H)]!.toFixed(4), fee: '0.01', feeAsset: 'USDT', executedAt: t,
    });
  }
  return {
    baseCurrency: 'USDT', costMethod: 'average', state: null, startHour: T0, untilHour: T0 + hours * H,
    openingBalances: [{ asset: 'USDT', total: '1000000' }, ...ASSETS.map((asset) => ({ asset, total: '1000' }))], fills, cashFlows: [], candles,
  };
}

function cpuMs(run: () => unknown, rounds: number): number {
  run();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c = process.cpuUsage();
    run();
    const u = process.cpuUsage(c);
    best = Math.min(best, (u.user + u.system) / 1000);
  }
  return best;
}

const sizes = [1_000, 10_000, 100_000];
const rows = [];
for (const size of sizes) {
  const input = trades(size, 24 * 365);
  const engineMs = cpuMs(() => aggregate(input), 3);
  const floorMs = cpuMs(() => floorAggregate(input), 3);
  rows.push({ activities: size, engineCpuMs: Math.round(engineMs * 10) / 10, floorCpuMs: Math.round(floorMs * 10) / 10, ratio: Number((engineMs / floorMs).toFixed(2)) });
  console.log(`${size} activities over a year of hours: engine ${engineMs.toFixed(1)} ms CPU, floor ${floorMs.toFixed(1)} ms CPU, ratio ${(engineMs / floorMs).toFixed(2)}`);
}
console.log('peer: no well-known portfolio calculator installs from the npm registry as a package (see the header); the floor is the reference');
console.log(JSON.stringify({ bench: 'peer', peer: null, reason: 'no npm package', rows, loadAverage: Number(loadavg()[0]!.toFixed(2)), cores: availableParallelism() }));
