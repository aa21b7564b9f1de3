import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { aggregate, type EngineInput, type EngineResult } from '../../src/domain/in-process-aggregator.js';
import { computePerformanceStats } from '../../src/domain/performance.js';
import type { CashFlow, HourlyReturn } from '../../src/domain/types.js';
import { decimal, historyArb } from './arbitrary.js';
import { H, T0 } from './history.js';

const flatCandles = (hours: number, prices: Record<string, string>) =>
  Array.from({ length: hours + 1 }, (_, k) => Object.entries(prices).map(([asset, p]) => ({ symbol: `${asset}/USDT`, openTime: T0 + (k - 1) * H, open: p, high: p, low: p, close: p, volume: '1' }))).flat();

test('without trades and with flat prices every hourly return is zero', (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 10 ** 9 }), fc.integer({ min: 0, max: 10 ** 8 }), fc.integer({ min: 1, max: 10 ** 8 }),
    (hours, usdt, btc, price) => {
      const result = aggregate({
        baseCurrency: 'USDT', costMethod: 'average', state: null, startHour: T0, untilHour: T0 + hours * H,
        openingBalances: [{ asset: 'USDT', total: decimal(usdt, 2) }, { asset: 'BTC', total: decimal(btc, 6) }],
        fills: [], cashFlows: [], candles: flatCandles(hours, { BTC: decimal(price, 2) }),
      });
      return result.hourlyReturns.length === hours && result.hourlyReturns.every((h) => h.return === 0) && result.metrics.cumulativeReturn === 0;
    }), { numRuns: 200 });
  t.pass();
});

test('a deposit or withdrawal alone never creates a return', (t) => {
  const flowArb = fc.record({ hour: fc.integer({ min: 0, max: 11 }), offset: fc.integer({ min: 0, max: H - 1 }), asset: fc.constantFrom('USDT', 'BTC', 'ETH'), withdrawal: fc.boolean(), amount: fc.integer({ min: 1, max: 10 ** 7 }) });
  fc.assert(fc.property(fc.array(flowArb, { minLength: 1, maxLength: 10 }), (flows) => {
    const result = aggregate({
      baseCurrency: 'USDT', costMethod: 'average', state: null, startHour: T0, untilHour: T0 + 12 * H,
      openingBalances: [{ asset: 'USDT', total: '1000000' }, { asset: 'BTC', total: '100' }, { asset: 'ETH', total: '1000' }],
      fills: [],
      cashFlows: flows.map((f, i): CashFlow => ({ exchangeFlowId: `f${i}`, kind: f.withdrawal ? 'withdrawal' : 'deposit', asset: f.asset, amount: decimal(f.amount, 4), occurredAt: T0 + f.hour * H + f.offset })).sort((a, b) => a.occurredAt - b.occurredAt),
      candles: flatCandles(12, { BTC: '43210.5', ETH: '2345.67' }),
    });
    return result.hourlyReturns.length === 12 && result.hourlyReturns.every((h) => Math.abs(h.return) < 1e-14);
  }), { numRuns: 200 });
  t.pass();
});

/** Throws (so fast-check shrinks) unless the two values are deeply, strictly equal. */
function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) throw new Error(`${what} differ:\n${JSON.stringify(actual)}\n${JSON.stringify(expected)}`);
}

/** Runs `input` in batches ending at the given hours, passing the saved state through JSON. */
function inBatches(input: EngineInput, cuts: readonly number[]): { returns: HourlyReturn[]; last: EngineResult } {
  let state: unknown = null;
  let from = input.startHour!;
  const returns: HourlyReturn[] = [];
  let last: EngineResult | undefined;
  for (const until of [...cuts, input.untilHour]) {
    const inRange = <T>(rows: readonly T[], at: (r: T) => number) => rows.filter((r) => at(r) >= from && at(r) < until);
    last = aggregate({
      ...input, state, untilHour: until, startHour: state === null ? input.startHour : null,
      openingBalances: state === null ? input.openingBalances : [],
      fills: inRange(input.fills, (f) => f.executedAt), cashFlows: inRange(input.cashFlows, (f) => f.occurredAt),
      candles: input.candles.filter((c) => c.openTime >= from - H && c.openTime < until),
    });
    returns.push(...last.hourlyReturns);
    state = JSON.parse(JSON.stringify(last.state));
    from = until;
  }
  return { returns, last: last! };
}

for (const costMethod of ['average', 'fifo'] as const) {
  test(`any split of a history into batches gives the same returns as one full pass (${costMethod})`, (t) => {
    fc.assert(fc.property(historyArb({ maxHours: 30, costMethod }).chain((h) => fc.tuple(fc.constant(h), fc.uniqueArray(fc.integer({ min: 1, max: h.hours }), { maxLength: 6 }))), ([{ input }, cutHours]) => {
      const full = aggregate(input);
      const cuts = [...cutHours].sort((a, b) => a - b).map((k) => T0 + k * H);
      const split = inBatches(input, cuts);
      same(split.returns, full.hourlyReturns, 'returns');
      same(split.last.state, full.state, 'state');
      same([split.last.realizedPnl, split.last.unrealizedPnl, split.last.totalFees], [full.realizedPnl, full.unrealizedPnl, full.totalFees], 'P&L');
      same(split.last.snapshot, full.snapshot, 'snapshot');
      // The last batch's metrics cover the whole record (the accumulator rides in the saved state).
      same(split.last.metrics, full.metrics, 'metrics');
      same(full.metrics, computePerformanceStats(full.hourlyReturns, full), 'metrics of the returns');
    }), { numRuns: 150 });
    t.pass();
  });
}

test('permuting fills and flows within the same millisecond does not change the result', (t) => {
  const arb = historyArb({ maxHours: 6, maxFills: 30 }).chain((h) => fc.tuple(
    fc.constant(h),
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: h.input.fills.length, maxLength: h.input.fills.length }),
    fc.array(fc.integer(), { minLength: h.input.fills.length + h.input.cashFlows.length, maxLength: h.input.fills.length + h.input.cashFlows.length }),
  ));
  fc.assert(fc.property(arb, ([{ input }, slot, keys]) => {
    // Crowd the events into a few shared milliseconds, then shuffle by random keys.
    const at = (i: number) => T0 + (slot.length === 0 ? 0 : slot[i % slot.length]!) * 1000 + 7;
    const fills = input.fills.map((f, i) => ({ ...f, executedAt: at(i) }));
    const flows = input.cashFlows.map((f, i) => ({ ...f, occurredAt: at(i) }));
    const shuffle = <T>(rows: T[], offset: number) => rows.map((r, i) => [keys[i + offset]!, r] as const).sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    const ordered = aggregate({ ...input, fills, cashFlows: flows });
    const permuted = aggregate({ ...input, fills: shuffle(fills, 0), cashFlows: shuffle(flows, fills.length) });
    same(permuted.hourlyReturns, ordered.hourlyReturns, 'returns');
    same(permuted.state, ordered.state, 'state');
    same(permuted.gaps, ordered.gaps, 'gaps');
  }), { numRuns: 200 });
  t.pass();
});

test('realized plus unrealized P&L equals the change in equity net of flows', (t) => {
  fc.assert(fc.property(fc.tuple(historyArb({ maxHours: 24, maxFills: 60 }), fc.constantFrom('average' as const, 'fifo' as const)), ([{ input }, costMethod]) => {
    const run = { ...input, costMethod };
    const result = aggregate(run);
    // Hours without a return carry no netFlow row: keep to histories where every hour has one.
    fc.pre(result.hourlyReturns.length === (run.untilHour - run.startHour!) / H);
    const opening = aggregate({ ...run, untilHour: run.startHour! }).snapshot!.equity;
    const flows = result.hourlyReturns.reduce((sum, h) => sum + h.netFlow, 0);
    const change = result.snapshot!.equity - opening - flows;
    const scale = 1 + Math.abs(opening) + run.fills.reduce((s, f) => s + Number(f.quantity) * Number(f.price) * (f.quoteAsset === 'BTC' ? 1e5 : 1), 0);
    if (Math.abs(change - (result.realizedPnl + result.unrealizedPnl)) > 1e-9 * scale) {
      throw new Error(`equity change ${change} vs P&L ${result.realizedPnl + result.unrealizedPnl}`);
    }
  }), { numRuns: 200 });
  t.pass();
});
