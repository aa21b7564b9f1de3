import test from 'ava';
import fc from 'fast-check';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { historyArb } from './arbitrary.js';
import { referenceAggregate, toNumber } from './exact-reference.js';

const BOUND = 1e-9;

for (const costMethod of ['average', 'fifo'] as const) test(`float64 equity, growth and P&L stay within 1e-9 of an exact decimal reference on random histories (${costMethod})`, (t) => {
  let compared = 0;
  fc.assert(fc.property(historyArb({ maxHours: 24, maxFills: 60, costMethod }), ({ input }) => {
    const fast = aggregate(input);
    const exact = referenceAggregate({ ...input, costMethod, startHour: input.startHour! });
    const byHour = new Map(fast.hourlyReturns.map((h) => [h.hourStart, h]));
    let growthFast = 1;
    for (const h of exact.hours) {
      const got = byHour.get(h.hourStart);
      if (h.growth === null) {
        if (got !== undefined) throw new Error(`hour ${h.hourStart}: engine returned a value the reference has none for`);
        continue;
      }
      if (got === undefined) throw new Error(`hour ${h.hourStart}: engine has no return`);
      const g = toNumber(h.growth);
      if (Math.abs(1 + got.return - g) > BOUND * Math.max(1, Math.abs(g))) throw new Error(`hour ${h.hourStart}: growth ${1 + got.return} vs ${g}`);
      const e = toNumber(h.equityEnd);
      if (Math.abs(got.equityEnd - e) > BOUND * Math.max(1, Math.abs(e))) throw new Error(`hour ${h.hourStart}: equity ${got.equityEnd} vs ${e}`);
      growthFast *= 1 + got.return;
      compared++;
    }
    const g = toNumber(exact.growth);
    if (Math.abs(growthFast - g) > BOUND * Math.max(1, Math.abs(g))) throw new Error(`growth ${growthFast} vs ${g}`);
    // The metrics the engine keeps incrementally carry the same cumulative return.
    if (Math.abs(1 + fast.metrics.cumulativeReturn - g) > BOUND * Math.max(1, Math.abs(g))) throw new Error(`metrics' cumulative return ${fast.metrics.cumulativeReturn} vs ${g - 1}`);
    // P&L is a sum of many signed terms: bounded relative to the money that moved through it.
    const turnover = input.fills.reduce((s, f) => s + Number(f.quantity) * Number(f.price) * (f.quoteAsset === 'BTC' ? 1e5 : 1), 0) + Math.abs(fast.snapshot?.equity ?? 0) + 1;
    for (const [name, a, b] of [['realized', fast.realizedPnl, exact.realized], ['unrealized', fast.unrealizedPnl, exact.unrealized], ['fees', fast.totalFees, exact.fees]] as const) {
      if (Math.abs(a - toNumber(b)) > BOUND * turnover) throw new Error(`${name}: ${a} vs ${toNumber(b)}`);
    }
  }), { numRuns: 300 });
  t.true(compared > 1000, `compared ${compared} hours`);
});
