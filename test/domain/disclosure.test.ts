import test from 'ava';
import {
  discloseCount, discloseHour, discloseLatestSnapshot, disclosePerformance, discloseProgress, discloseSnapshots, endsDay, publishedAmounts, publishedSnapshot, roundSignificant,
} from '../../src/domain/disclosure.js';
import { computePerformanceStats } from '../../src/domain/performance.js';

const HOUR = 3_600_000;
const MIDNIGHT = Date.UTC(2026, 2, 3);
const hour = (hourStart: number) => ({ hourStart, return: 0.01, cumulativeReturn: 0.05, equityEnd: 12_345.678, netFlow: 250.5 });

test('two significant figures, whatever the magnitude', (t) => {
  t.is(roundSignificant(12_345.678), 12_000);
  t.is(roundSignificant(1_250_000), 1_300_000);
  t.is(roundSignificant(0.012345), 0.012);
  t.is(roundSignificant(-987), -990);
  t.is(roundSignificant(0), 0);
});

test('returns publishes no amount at all', (t) => {
  t.deepEqual(publishedAmounts(hour(MIDNIGHT - HOUR), 'returns'), { equityEnd: null, netFlow: null });
  t.deepEqual(publishedSnapshot({ at: MIDNIGHT, balance: 5, equity: 10 }, 'returns'), { balance: null, equity: null });
  t.deepEqual(discloseSnapshots([{ at: MIDNIGHT, balance: 5, equity: 10 }], 'returns'), []);
  const shown = discloseHour(hour(MIDNIGHT - HOUR), 'returns');
  t.is(shown.equityEnd, 0);
  t.is(shown.netFlow, 0);
  t.is(shown.return, 0.01);
});

test('equity publishes a rounded equity once a day (the hour ending at midnight UTC) and never a flow', (t) => {
  t.true(endsDay(MIDNIGHT - HOUR));
  t.false(endsDay(MIDNIGHT));
  t.deepEqual(publishedAmounts(hour(MIDNIGHT - HOUR), 'equity'), { equityEnd: 12_000, netFlow: null });
  t.deepEqual(publishedAmounts(hour(MIDNIGHT - 2 * HOUR), 'equity'), { equityEnd: null, netFlow: null });
  t.deepEqual(publishedSnapshot({ at: MIDNIGHT, balance: 5, equity: 12_345 }, 'equity'), { balance: null, equity: 12_000 });
  t.deepEqual(publishedSnapshot({ at: MIDNIGHT + HOUR, balance: 5, equity: 12_345 }, 'equity'), { balance: null, equity: null });
  t.deepEqual(discloseSnapshots([{ at: MIDNIGHT, balance: 5, equity: 12_345 }, { at: MIDNIGHT + HOUR, balance: 5, equity: 12_345 }], 'equity'), [{ at: MIDNIGHT, balance: 0, equity: 12_000 }]);
});

test('full publishes everything exactly', (t) => {
  t.deepEqual(publishedAmounts(hour(MIDNIGHT), 'full'), { equityEnd: 12_345.678, netFlow: 250.5 });
  t.deepEqual(discloseHour(hour(MIDNIGHT), 'full'), hour(MIDNIGHT));
});

test('counts are exact only at full; otherwise whether anything arrived', (t) => {
  t.is(discloseCount(37, 'full'), 37);
  t.is(discloseCount(37, 'equity'), 1);
  t.is(discloseCount(0, 'returns'), 0);
  const p = { phase: 'fetching' as const, fillPages: 4, fillsFetched: 400, cashFlowPages: 0, cashFlowsFetched: 0, hoursDone: 3, hoursTotal: 9 };
  t.deepEqual(discloseProgress(p, 'returns'), { ...p, fillPages: 1, fillsFetched: 1 });
  t.is(discloseLatestSnapshot({ at: MIDNIGHT, balance: 1, equity: 2 }, 'equity'), null);
});

test('amounts in metrics become ratios to equity below full', (t) => {
  const stats = computePerformanceStats([], { realizedPnl: 500, unrealizedPnl: -100, totalFees: 20 });
  const shown = disclosePerformance(stats, 'returns', 10_000);
  t.is(shown.realizedPnl, 0.05);
  t.is(shown.unrealizedPnl, -0.01);
  t.is(shown.totalFees, 0.002);
  t.is(disclosePerformance(stats, 'equity', null).realizedPnl, 0);
  t.is(disclosePerformance(stats, 'full', 10_000).realizedPnl, 500);
});
