import test from 'ava';
import fc from 'fast-check';
import { link, modifiedDietz, trueTimeWeighted } from '../../src/domain/report/dietz.js';
import { internalRateOfReturn } from '../../src/domain/report/irr.js';
import { annualize, buildPerformanceReport, drawdownOf, moneyWeightedOf, NOTE_NOT_ANNUALIZED } from '../../src/domain/report/report.js';
import { monthlyReturns } from '../../src/domain/report/calendar.js';
import { resolvePeriod } from '../../src/domain/report/periods.js';
import { compositeOf, convertSeries, reportHoursOf, type ReportHour } from '../../src/domain/report/series.js';
import { compareWithBenchmark } from '../../src/domain/report/benchmark.js';
import { tradeStatistics } from '../../src/domain/report/trade-statistics.js';
import { flagsToMask, maskToFlags, HOUR_FLAGS } from '../../src/domain/hour-flags.js';
import type { Fill } from '../../src/domain/types.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const near = (t: { true(v: boolean, m?: string): void }, a: number | null, b: number, tol = 1e-9, what = ''): void =>
  t.true(a !== null && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what} ${a} ≉ ${b}`);

const hoursOf = (rs: readonly (number | null)[], from = T0): ReportHour[] =>
  rs.map((r, i) => ({ hourStart: from + i * H, return: r, equityStart: 100, equityEnd: 100, netFlow: 0, flags: r === null ? ['unvalued'] : [] }));

// ---- Published worked examples ----

test('Modified Dietz reproduces the Wikipedia "Modified Dietz method" example (100 → 300 with 50 in at mid-period: 120 %)', (t) => {
  // en.wikipedia.org/wiki/Modified_Dietz_method, section "Example": A = 100, B = 300, F = 50 at the
  // end of year 1 of 2 → gain 150 over average capital 125 = 120 %.
  near(t, modifiedDietz(100, 300, [{ at: 0.5, amount: 50 }]), 1.2, 1e-15);
});

test('true TWR reproduces the CFA Level I quarterly example (valuation at each flow, linked: 31.85 %)', (t) => {
  // CFA Program curriculum, Level I, Quantitative Methods ("Rates and Returns"), practice problem:
  // quarter values before flows 2.0/2.4/2.6/3.2 (USD m), flows +0.2/+0.4/−0.2/+1.0 at each quarter's
  // start, end values 2.4/2.6/3.2/4.1 → holding-period returns 2.4/2.2, 2.6/2.8, 3.2/2.4, 4.1/4.2,
  // annual TWR 31.85 %.
  const twr = trueTimeWeighted(2.0, [
    { valueBeforeFlow: 2.0, flow: 0.2 },
    { valueBeforeFlow: 2.4, flow: 0.4 },
    { valueBeforeFlow: 2.6, flow: -0.2 },
    { valueBeforeFlow: 3.2, flow: 1.0 },
  ], 4.1);
  near(t, twr, 0.3185, 5e-5);
  near(t, twr, link([2.4 / 2.2 - 1, 2.6 / 2.8 - 1, 3.2 / 2.4 - 1, 4.1 / 4.2 - 1]), 1e-14);
});

test('IRR and TWR reproduce the CFA Level I share example (TWR 10.75 % a year, MWR 9.39 %)', (t) => {
  // CFA Program curriculum, Level I, Quantitative Methods ("Rates and Returns"), money-weighted vs
  // time-weighted example: buy one share at 200 (t = 0), a second at 225 (t = 1), dividend 5 per
  // share each year, sell both at 235 (t = 2). Cash flows −200, −220, +480 → IRR 9.39 %; holding
  // period returns 15 % and 6.67 % → TWR 10.75 % a year.
  const irr = internalRateOfReturn([{ years: 0, amount: -200 }, { years: 1, amount: -220 }, { years: 2, amount: 480 }]);
  near(t, irr, 0.0939, 5e-5);
  const twr = trueTimeWeighted(200, [{ valueBeforeFlow: 230, flow: 225 - 5 }], 480);
  near(t, (1 + twr) ** 0.5 - 1, 0.1075, 5e-5);
  // The same through the report's money-weighted path: two years of flows on the hour grid.
  t.is(internalRateOfReturn([{ years: 0, amount: 100 }, { years: 1, amount: 10 }]), null, 'no sign change: no IRR');
});

// ---- Properties ----

const returnArb = fc.oneof(fc.double({ min: -0.2, max: 0.2, noNaN: true }), fc.constant(null));

test('linking sub-period returns equals the period return (report TWR over [a, c) = link of [a, b) and [b, c))', (t) => {
  fc.assert(fc.property(fc.array(returnArb, { minLength: 2, maxLength: 400 }), fc.nat(), (rs, cut) => {
    const hours = hoursOf(rs);
    const b = 1 + (cut % (hours.length - 1));
    const whole = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + rs.length * H }, hours });
    const left = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + b * H }, hours: hours.slice(0, b) });
    const right = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0 + b * H, to: T0 + rs.length * H }, hours: hours.slice(b) });
    const linked = link([left.timeWeightedReturn, right.timeWeightedReturn]);
    return Math.abs(linked - whole.timeWeightedReturn) <= 1e-12 * Math.max(1, Math.abs(whole.timeWeightedReturn));
  }), { numRuns: 300 });
  t.pass();
});

test('monthly returns link to the period return and months follow the UTC calendar', (t) => {
  fc.assert(fc.property(fc.array(fc.double({ min: -0.01, max: 0.01, noNaN: true }), { minLength: 1, maxLength: 3000 }), (rs) => {
    const hours = hoursOf(rs, Date.UTC(2024, 1, 27));
    const months = monthlyReturns(hours);
    const linked = link(months.map((m) => m.return));
    const direct = link(rs);
    return Math.abs(linked - direct) <= 1e-11 && months.every((m) => new Date(m.from).getUTCDate() === 1);
  }), { numRuns: 100 });
  t.pass();
});

test('a period shorter than a year is not annualized and says why; a year or more is', (t) => {
  const five = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + 5 * H }, hours: hoursOf([0.1, 0.1, 0.1, 0.1, 0.1]) });
  t.is(five.annualizedReturn, null);
  t.is(five.annualizedMoneyWeightedReturn, null);
  t.true(five.notes.includes(NOTE_NOT_ANNUALIZED));
  near(t, annualize(0.21, 2 * 8760), 0.1, 1e-12);
});

test('hours that could not be valued stay in the series, count as flagged and do not move the return', (t) => {
  const report = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + 4 * H }, hours: hoursOf([0.01, null, 0.02, null]) });
  t.is(report.hours, 4);
  t.is(report.valuedHours, 2);
  t.is(report.flaggedHourShare, 0.5);
  t.deepEqual(report.flagShares, [{ flag: 'unvalued', share: 0.5 }]);
  near(t, report.timeWeightedReturn, 1.01 * 1.02 - 1, 1e-15);
});

test('drawdown reports peak, trough and recovery time', (t) => {
  const dd = drawdownOf(hoursOf([0.1, -0.5, 0.5, 0.5, 0.1]), T0);
  near(t, dd.depth, 0.5, 1e-15);
  t.is(dd.peakAt, T0 + H);
  t.is(dd.troughAt, T0 + 2 * H);
  // 1.1 → 0.55 → 0.825 → 1.2375 ≥ 1.1 at the end of hour 3.
  t.is(dd.recoveredAt, T0 + 4 * H);
  t.is(dd.recoveryHours, 2);
  t.is(drawdownOf(hoursOf([0.1, -0.5]), T0).recoveredAt, null);
});

test('GIPS three-year standard deviation uses 36 complete months, population formula, × √12', (t) => {
  // 37 months of hourly data where each month has one moving hour: monthly returns alternate ±1 %.
  const start = Date.UTC(2021, 0, 1);
  const end = Date.UTC(2024, 1, 1);
  const hours: ReportHour[] = [];
  let month = -1;
  for (let h = start; h < end; h += H) {
    const d = new Date(h);
    const first = d.getUTCDate() === 1 && d.getUTCHours() === 0;
    if (first) month++;
    hours.push({ hourStart: h, return: first ? (month % 2 === 0 ? 0.01 : -0.01) : 0, equityStart: 1, equityEnd: 1, netFlow: 0, flags: [] });
  }
  const report = buildPerformanceReport({ currency: 'USDT', period: { kind: 'SI', from: start, to: end }, hours });
  t.is(report.monthly.length, 37);
  near(t, report.threeYearStandardDeviation, 0.01 * Math.sqrt(12), 1e-12);
  t.is(report.calmarMonths, 36);
  t.not(report.annualizedReturn, null);
  near(t, report.bestMonth?.return ?? null, 0.01, 1e-12);
  near(t, report.positiveMonthShare, 19 / 37, 1e-15);
});

test('Sharpe and Sortino use the stated risk-free rate and target', (t) => {
  const rs = [0.01, -0.005, 0.002, 0.003, -0.001];
  const hours = hoursOf(rs);
  const a = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + 5 * H }, hours, options: { riskFreeRate: 0, sortinoTarget: 0 } });
  const b = buildPerformanceReport({ currency: 'USDT', period: { kind: 'CUSTOM', from: T0, to: T0 + 5 * H }, hours, options: { riskFreeRate: 0.05, sortinoTarget: 0.05 } });
  const mean = link([]) + rs.reduce((s, x) => s + x, 0) / 5;
  const sd = Math.sqrt(rs.reduce((s, x) => s + (x - mean) ** 2, 0) / 4);
  near(t, a.sharpe, (mean / sd) * Math.sqrt(8760), 1e-12);
  const rf = 1.05 ** (1 / 8760) - 1;
  near(t, b.sharpe, ((mean - rf) / sd) * Math.sqrt(8760), 1e-12);
  t.true(b.sortino! < a.sortino!);
  t.is(b.riskFreeRate, 0.05);
});

test('the money-weighted return of a flow-free history equals its time-weighted return', (t) => {
  const hours: ReportHour[] = [0.01, 0.02, -0.01].map((r, i, all) => {
    const start = 100 * link(all.slice(0, i)) + 100;
    return { hourStart: T0 + i * H, return: r, equityStart: start, equityEnd: start * (1 + r), netFlow: 0, flags: [] };
  });
  near(t, moneyWeightedOf(hours), link([0.01, 0.02, -0.01]), 1e-9);
});

test('periods resolve on the UTC calendar and never start before inception', (t) => {
  const end = Date.UTC(2026, 2, 15, 10);
  t.deepEqual(resolvePeriod('YTD', end, 0), { kind: 'YTD', from: Date.UTC(2026, 0, 1), to: end });
  t.is(resolvePeriod('1Y', end, 0).from, Date.UTC(2025, 2, 15, 10));
  t.is(resolvePeriod('7D', end, 0).from, end - 7 * 24 * H);
  t.is(resolvePeriod('3Y', end, Date.UTC(2025, 0, 1)).from, Date.UTC(2025, 0, 1));
  t.is(resolvePeriod('1Y', Date.UTC(2024, 1, 29), 0).from, Date.UTC(2023, 1, 28));
});

test('published hours rebuild equity at the start; a currency conversion compounds with the rate change', (t) => {
  const hours = reportHoursOf([
    { hourStart: T0, return: 0.1, cumulativeReturn: 0.1, equityEnd: 110, netFlow: 0 },
    { hourStart: T0 + H, return: 0, cumulativeReturn: 0.1, equityEnd: 110, netFlow: 0, flags: ['unvalued'] },
  ]);
  near(t, hours[0]!.equityStart, 100, 1e-12);
  t.is(hours[1]!.return, null);
  const rate = (at: number): number => (at === T0 ? 1 / 50_000 : 1 / 55_000);
  const btc = convertSeries(hours.slice(0, 1), rate);
  near(t, btc[0]!.return, 1.1 * (50_000 / 55_000) - 1, 1e-15);
  t.deepEqual(convertSeries(hours.slice(0, 1), () => null)[0]!.flags, ['unvalued']);
});

test('a composite of one account is that account; transfers between accounts net out of its flows', (t) => {
  const a: ReportHour[] = [{ hourStart: T0, return: 0.02, equityStart: 100, equityEnd: 52, netFlow: -50, flags: [] }];
  const b: ReportHour[] = [{ hourStart: T0, return: -0.01, equityStart: 300, equityEnd: 346.5, netFlow: 50, flags: ['stale-mark'] }];
  t.is(compositeOf([a]).hours[0]!.return, 0.02);
  const c = compositeOf([a, b]);
  t.is(c.hours[0]!.netFlow, 0);
  t.is(c.nettedTransferHours, 1);
  near(t, c.hours[0]!.return, (75 * 0.02 + 325 * -0.01) / 400, 1e-15);
  t.deepEqual(c.hours[0]!.flags, ['stale-mark']);
});

test('benchmark comparison: an account that is the benchmark has beta 1, correlation 1, no tracking error', (t) => {
  const rs = [0.01, -0.02, 0.015, 0.003, -0.004];
  const bench = new Map(rs.map((r, i) => [T0 + i * H, r]));
  const c = compareWithBenchmark('BTC', hoursOf(rs), bench);
  near(t, c.beta, 1, 1e-12);
  near(t, c.correlation, 1, 1e-12);
  near(t, c.trackingError, 0, 1e-12);
  near(t, c.excessReturn, 0, 1e-15);
  near(t, c.upCapture, 1, 1e-12);
  const doubled = compareWithBenchmark('BTC', hoursOf(rs.map((r) => 2 * r)), bench);
  near(t, doubled.beta, 2, 1e-12);
  near(t, doubled.downCapture, 2, 1e-12);
});

const fill = (i: number, side: 'buy' | 'sell', price: string, hour: number): Fill => ({
  exchangeTradeId: `t${i}`, symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side, quantity: '1', price, fee: '0', feeAsset: 'USDT', executedAt: T0 + hour * H,
});

test('trade statistics are ratios over closed positions and absent below five positions', (t) => {
  // Five round trips: +10, −5, +20, −5, −5 → win rate 2/5, profit factor 30/15, win/loss 15/5.
  const results = [10, -5, 20, -5, -5];
  const fills = results.flatMap((p, k) => [fill(2 * k, 'buy', '100', 4 * k), fill(2 * k + 1, 'sell', String(100 + p), 4 * k + 2)]);
  const stats = tradeStatistics(fills, T0, T0 + 100 * H);
  t.deepEqual(stats, { winRate: 0.4, profitFactor: 2, averageWinLossRatio: 3, averageHoldingHours: 2, longestLosingStreak: 2 });
  t.is(tradeStatistics(fills.slice(0, 8), T0, T0 + 100 * H), null);
});

test('hour flags round-trip through the stored bit mask', (t) => {
  fc.assert(fc.property(fc.subarray([...HOUR_FLAGS]), (flags) => JSON.stringify(maskToFlags(flagsToMask(flags))) === JSON.stringify(flags)));
  t.pass();
});
