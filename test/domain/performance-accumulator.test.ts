import test from 'ava';
import fc from 'fast-check';
import { AggregationInputError } from '../../src/domain/errors.js';
import { EMPTY_PERFORMANCE, HOURS_PER_YEAR, addHour, draftOf, parsePerformanceAccumulator, performanceStatsFrom, type PerformanceAccumulator } from '../../src/domain/performance.js';
import { H, T0 } from './history.js';

const pnl = { realizedPnl: 1.25, unrealizedPnl: -0.5, totalFees: 0.125 };

/** Folds returns into `from` (a saved accumulator), as the engine does for one run. */
function fold(from: PerformanceAccumulator, returns: readonly number[], firstHour: number): PerformanceAccumulator {
  const draft = draftOf(from);
  returns.forEach((r, i) => addHour(draft, T0 + (firstHour + i) * H, r));
  return draft;
}

/** Hourly returns as whole millionths (exact in BigInt, so the reference below is exact). */
const millionthsArb = (maxLength: number) => fc.array(fc.integer({ min: -300_000, max: 300_000 }), { minLength: 0, maxLength });

test('metrics kept across any split of the hours, the accumulator stored as JSON in between, equal one pass over all of them', (t) => {
  fc.assert(fc.property(
    millionthsArb(400).chain((k) => fc.tuple(fc.constant(k), fc.uniqueArray(fc.integer({ min: 0, max: k.length }), { maxLength: 8 }))),
    ([millionths, cutAt]) => {
      const returns = millionths.map((k) => k / 1e6);
      const whole = fold(EMPTY_PERFORMANCE, returns, 0);
      let saved: PerformanceAccumulator = EMPTY_PERFORMANCE;
      let from = 0;
      for (const cut of [...[...cutAt].sort((a, b) => a - b), returns.length]) {
        saved = parsePerformanceAccumulator(JSON.parse(JSON.stringify(fold(saved, returns.slice(from, cut), from))));
        from = cut;
      }
      // Bit for bit (through JSON, as the engine state is stored).
      const a = JSON.stringify(performanceStatsFrom(saved, pnl));
      const b = JSON.stringify(performanceStatsFrom(whole, pnl));
      if (a !== b) throw new Error(`split ${a}\nwhole ${b}`);
    }), { numRuns: 300 });
  t.pass();
});

/** Exact moments of integer millionths: mean and Σ(r − mean)² as rationals, then to float64. */
function exactMoments(millionths: readonly number[]): { mean: number; m2: number; downside: number } {
  const n = BigInt(millionths.length);
  let sum = 0n;
  let squares = 0n;
  let downside = 0n;
  for (const k of millionths) {
    const b = BigInt(k);
    sum += b;
    squares += b * b;
    if (k < 0) downside += b * b;
  }
  // Σ(k − K/n)² = (nΣk² − K²) / n, exact; scaled back by 1e6 and 1e12. 1e18 extra digits keep the division exact enough.
  const SCALE = 10n ** 18n;
  const m2 = Number(((n * squares - sum * sum) * SCALE) / n) / 1e18 / 1e12;
  return { mean: Number((sum * SCALE) / n) / 1e18 / 1e6, m2, downside: Number(downside) / 1e12 };
}

function checkAgainstExact(millionths: readonly number[]): void {
  const n = millionths.length;
  const stats = performanceStatsFrom(fold(EMPTY_PERFORMANCE, millionths.map((k) => k / 1e6), 0), pnl);
  const exact = exactMoments(millionths);
  const sd = Math.sqrt(exact.m2 / (n - 1));
  const annual = Math.sqrt(HOURS_PER_YEAR);
  const close = (what: string, got: number | null, want: number, scale: number): void => {
    if (got === null || !(Math.abs(got - want) <= 1e-9 * scale)) throw new Error(`${what}: ${got} vs exact ${want} (n ${n})`);
  };
  close('annualized volatility', stats.annualizedVolatility, sd * annual, sd * annual);
  // The mean's error is relative to the returns' own size (a mean near 0 is cancellation).
  const meanScale = millionths.reduce((s, k) => s + Math.abs(k), 0) / n / 1e6;
  if (sd > 0) close('Sharpe', stats.sharpe, (exact.mean / sd) * annual, (Math.abs(exact.mean) + meanScale) / sd * annual);
  if (exact.downside > 0) {
    const dd = Math.sqrt(exact.downside / n);
    close('Sortino', stats.sortino, (exact.mean / dd) * annual, (Math.abs(exact.mean) + meanScale) / dd * annual);
  }
}

test('volatility, Sharpe and Sortino stay within 1e-9 of the exact moments on random series', (t) => {
  fc.assert(fc.property(millionthsArb(2_000).filter((k) => k.length >= 2), (millionths) => { checkAgainstExact(millionths); }), { numRuns: 300 });
  t.pass();
});

test('a long history whose mean dwarfs its spread keeps the volatility to 1e-9 (a one-pass Σr² − (Σr)²/n would not)', (t) => {
  // 200,000 hours of +1% ± 1e-6: mean / stdev ≈ 10,000, where naive sums of squares lose ~8 digits.
  let seed = 7;
  const millionths = Array.from({ length: 200_000 }, () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return 10_000 + (seed % 3) - 1;
  });
  checkAgainstExact(millionths);
  t.pass();
});

test('an accumulator from storage that does not add up is refused as an engine input error', (t) => {
  const good = fold(EMPTY_PERFORMANCE, [0.01, -0.02], 0);
  t.deepEqual(parsePerformanceAccumulator(JSON.parse(JSON.stringify(good))), good);
  for (const bad of [null, [], { ...good, hours: -1 }, { ...good, hours: 1.5 }, { ...good, positiveHours: 3 }, { ...good, growth: null }, { ...good, best: 'x' }, { ...good, peakAt: undefined }, { ...EMPTY_PERFORMANCE, best: 0.1 }]) {
    t.throws(() => parsePerformanceAccumulator(bad), { instanceOf: AggregationInputError });
  }
});
