// `enclave metrics` shows the share of flagged hours the metrics rest on, and each flag's share,
// when the server states them; an older server's reply shows no such row (not a made-up 0 %).
import test from 'ava';
import { performanceTable } from '../../src/cli/render.js';
import { computePerformanceStats } from '../../src/domain/performance.js';

const stats = computePerformanceStats([], { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 });

test('the flagged share and each flag are rows of the metrics table', (t) => {
  const text = performanceTable({ ...stats, flaggedHourShare: 0.25, flagShares: [{ flag: 'stale-mark', share: 0.2 }, { flag: 'unvalued', share: 0.05 }] });
  t.regex(text, /flagged hours\s*│?\s*25(\.0+)?\s*%/u);
  t.regex(text, /stale-mark\s*│?\s*20(\.0+)?\s*%/u);
  t.regex(text, /unvalued\s*│?\s*5(\.0+)?\s*%/u);
});

test('without the figures (an older server) there is no flagged row', (t) => {
  t.notRegex(performanceTable(stats), /flagged/u);
});
