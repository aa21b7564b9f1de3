// Published worked examples reproduced through the engine itself (aggregate(): the code that
// values every published hour), not only through the reference formulas of report/dietz.ts. An hour
// of the engine stands for the example's period; instants inside it scale the example's days.
//
// Sources:
// - CFA Program curriculum, Level I, Quantitative Methods, learning module "Rates and Returns"
//   (time-weighted vs money-weighted returns): the quarterly portfolio with flows at each quarter's
//   start (values 2.0 → 2.4 → 2.6 → 3.2 → 4.1, USD m; annual TWR 31.85 %). The same figures are in
//   test/domain/report.test.ts against the formula; here against the engine.
// - CFA Program curriculum, Level III, "Overview of the Global Investment Performance Standards":
//   the Modified Dietz composite-month practice problem as published by Bloomberg Prep
//   (https://www.bloombergprep.com/practice/cfa/400/question/bac110/performance-measurement-overview-of-the-global-investment-performance-standards-gips-verification):
//   V₀ 585.60, V₁ 602.34, 31 days, flows −15.05 (day 5), +19.82 (day 9), +16.42 (day 15),
//   −18.96 (day 24); w = (CD − Dᵢ)/CD; denominator ≈ 591.237, return ≈ 2.45 %. A secondary
//   publication of a curriculum problem: the primary text is not public.
// - GIPS Q&A 5084 (CFA Institute, https://www.gipsstandards.org/qadatabase/5084/), primary: on a
//   large external cash flow the portfolio is revalued; Modified Dietz is used for the partial
//   periods before and after it and the partial-period returns are geometrically linked.
import test from 'ava';
import fc from 'fast-check';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { link, modifiedDietz } from '../../src/domain/report/dietz.js';
import type { CashFlow } from '../../src/domain/types.js';
import { balance, candle, deposit, H, input, T0, withdrawal } from './history.js';

const flow = (at: number, amount: number): CashFlow => (amount >= 0 ? deposit(at, 'USDT', String(amount)) : withdrawal(at, 'USDT', String(-amount)));

test('CFA Level I quarterly example through the engine: four periods with a flow at each start link to 31.85 %', (t) => {
  // One engine hour per quarter, each flow at its hour's start. Holdings: 1 BTC whose marks make the
  // portfolio worth the example's values; the flows are cash.
  const values = { beforeFlow: [2.0, 2.4, 2.6, 3.2], flows: [0.2, 0.4, -0.2, 1.0], end: [2.4, 2.6, 3.2, 4.1] };
  let cash = 0;
  const marks: string[] = [];
  values.flows.forEach((f, q) => { cash += f; marks.push((values.end[q]! - cash).toFixed(10)); });
  const result = aggregate(input({
    untilHour: T0 + 4 * H,
    openingBalances: [balance('BTC', '1')],
    cashFlows: values.flows.map((f, q) => flow(T0 + q * H, f)),
    candles: [candle('BTC/USDT', T0 - H, '2.0'), ...marks.map((m, q) => candle('BTC/USDT', T0 + q * H, m))],
    largeFlowShare: 0.1,
  }));
  const hours = result.hourlyReturns;
  t.is(hours.length, 4);
  // Each quarter's holding-period return: end / (value before flow + flow).
  hours.forEach((h, q) => t.true(Math.abs(h.return - (values.end[q]! / (values.beforeFlow[q]! + values.flows[q]!) - 1)) < 1e-12, `quarter ${q + 1}: ${h.return}`));
  t.true(Math.abs(hours[3]!.cumulativeReturn - 0.3185) < 5e-5, String(hours[3]!.cumulativeReturn));
});

test('CFA Level III Modified Dietz composite month through the engine: ≈ 2.45 %, denominator ≈ 591.237', (t) => {
  // 31 days scaled onto one hour; the engine weights each flow by the share of the hour left.
  const days = 31;
  const flows: [number, number][] = [[5, -15.05], [9, 19.82], [15, 16.42], [24, -18.96]];
  const instant = (day: number): number => T0 + Math.round((day / days) * H);
  // 20 cash + 1 BTC at 565.60 = 585.60; the end mark makes the end value 602.34 with the flows' net 2.23.
  const result = aggregate(input({
    openingBalances: [balance('USDT', '20'), balance('BTC', '1')],
    cashFlows: flows.map(([day, amount]) => flow(instant(day), amount)),
    candles: [candle('BTC/USDT', T0 - H, '565.6'), candle('BTC/USDT', T0, '580.11')],
  }));
  const hour = result.hourlyReturns[0]!;
  t.true(Math.abs(hour.equityEnd - 602.34) < 1e-9);
  t.true(Math.abs(hour.return - 0.0245) < 5e-5, String(hour.return));
  // Exactly the published formula at the published weights (the instants are rounded to the millisecond).
  const published = modifiedDietz(585.60, 602.34, flows.map(([day, amount]) => ({ at: day / days, amount })));
  t.true(Math.abs(hour.return - published) < 1e-8, `${hour.return} vs ${published}`);
  const denominator = (602.34 - 585.60 - 2.23) / published;
  t.true(Math.abs(denominator - 591.237) < 5e-4, String(denominator));
});

test('GIPS Q&A 5084: a large flow revalues the portfolio; Modified Dietz before and after it, linked', (t) => {
  // 1,000 cash + 1 BTC (mark 100 at 00:00); small flows at 00:10 (+20) and 00:45 (−30), a large
  // deposit of 600 at 00:30 when BTC trades at 130 (its minute bar); BTC 120 at 01:00.
  const large = T0 + 30 * 60_000;
  const result = aggregate(input({
    openingBalances: [balance('USDT', '1000'), balance('BTC', '1')],
    cashFlows: [flow(T0 + 10 * 60_000, 20), flow(large, 600), flow(T0 + 45 * 60_000, -30)],
    candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '120')],
    minuteCandles: [candle('BTC/USDT', large, '130', '130')],
    largeFlowShare: 0.1,
  }));
  const hour = result.hourlyReturns[0]!;
  // Partial period 1: 1,100 → 1,150 (1,020 cash + BTC at 130), a +20 flow with 2/3 of it left.
  const before = modifiedDietz(1100, 1150, [{ at: 1 / 3, amount: 20 }]);
  // Partial period 2: 1,750 → 1,710 (1,590 cash + BTC at 120), a −30 flow with 1/2 of it left.
  const after = modifiedDietz(1750, 1710, [{ at: 1 / 2, amount: -30 }]);
  t.true(Math.abs(hour.return - link([before, after])) < 1e-12, `${hour.return} vs ${link([before, after])}`);
  t.deepEqual(hour.flags, ['revalued-at-flow']);
  // Modified Dietz over the whole hour (what GIPS no longer allows at a large flow) differs.
  const whole = modifiedDietz(1100, 1710, [{ at: 1 / 6, amount: 20 }, { at: 1 / 2, amount: 600 }, { at: 3 / 4, amount: -30 }]);
  t.true(Math.abs(whole - hour.return) > 1e-3);
});

test('property: an hour with flows is the link of Modified Dietz over the partial periods its large flows cut (GIPS Q&A 5084)', (t) => {
  const share = 0.1;
  const flowArb = fc.record({ minute: fc.integer({ min: 1, max: 59 }), second: fc.integer({ min: 0, max: 59 }), amount: fc.integer({ min: -400, max: 20_000 }), mark: fc.integer({ min: 800, max: 1_200 }) });
  fc.assert(fc.property(fc.uniqueArray(flowArb, { minLength: 1, maxLength: 8, selector: (f) => f.minute }), fc.integer({ min: 800, max: 1_200 }), (flows, endMark) => {
    const sorted = [...flows].filter((f) => f.amount !== 0).sort((a, b) => a.minute - b.minute);
    const at = (f: { minute: number; second: number }): number => T0 + f.minute * 60_000 + f.second * 1000;
    const result = aggregate(input({
      openingBalances: [balance('USDT', '10000'), balance('BTC', '10')],
      cashFlows: sorted.map((f) => flow(at(f), f.amount)),
      candles: [candle('BTC/USDT', T0 - H, '1000'), candle('BTC/USDT', T0, String(endMark))],
      minuteCandles: sorted.map((f) => candle('BTC/USDT', T0 + f.minute * 60_000, String(f.mark), String(f.mark))),
      largeFlowShare: share,
    }));
    // Independently: cut at each large flow, Modified Dietz per partial period (weights over its own length), link.
    let cash = 10_000;
    let subStart = T0;
    let startValue = 20_000;
    let small: { t: number; amount: number }[] = [];
    const parts: number[] = [];
    for (const f of sorted) {
      const before = cash + 10 * f.mark;
      if (Math.abs(f.amount) > share * before) {
        const length = at(f) - subStart;
        if (length > 0) parts.push(modifiedDietz(startValue, before, small.map((s) => ({ at: (s.t - subStart) / length, amount: s.amount }))));
        subStart = at(f);
        startValue = before + f.amount;
        small = [];
      } else small.push({ t: at(f), amount: f.amount });
      cash += f.amount;
    }
    const end = cash + 10 * endMark;
    parts.push(modifiedDietz(startValue, end, small.map((s) => ({ at: (s.t - subStart) / (T0 + H - subStart), amount: s.amount }))));
    const expected = link(parts);
    const got = result.hourlyReturns[0]!.return;
    return Math.abs(got - expected) <= 1e-9 * Math.max(1, Math.abs(expected)) && (parts.length > 1) === (result.hourlyReturns[0]!.flags ?? []).includes('revalued-at-flow');
  }), { numRuns: 300 });
  t.pass();
});
