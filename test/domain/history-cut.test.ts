// The opening position at a venue's history cut (src/domain/history-cut.ts) and the engine's
// venue-history-cut flag, on the hand-computed case: 10,000 USDT deposited, 0.1 BTC bought at
// 50,000 before the cut (not in the history), sold at 49,000 after it; the venue reports 9,900 USDT.
import test from 'ava';
import { openingAtHistoryCut } from '../../src/domain/history-cut.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import type { Candle, CashFlow, Fill } from '../../src/domain/types.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const CUT = T0 + 10 * H + 30 * 60_000;
const deposit: CashFlow = { exchangeFlowId: 'd1', kind: 'deposit', asset: 'USDT', amount: '10000', occurredAt: T0 + 60_000 };
const sale: Fill = { exchangeTradeId: 's1', symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'sell', quantity: '0.1', price: '49000', fee: '0', feeAsset: 'USDT', executedAt: T0 + 20 * H + 60_000 };
const candles: Candle[] = Array.from({ length: 30 }, (_, i) => ({ symbol: 'BTC/USDT', openTime: T0 - H + i * H, open: '50000', high: '50000', low: '50000', close: '50000', volume: '1' }));

test('what the history cannot explain is the opening position at the cut; equity is 9,900, hours up to the cut are flagged', (t) => {
  const opening = openingAtHistoryCut({ balances: [{ asset: 'USDT', total: '9900' }], fills: [sale], flows: [deposit], coverageStart: CUT });
  t.deepEqual(opening.map((c) => [c.kind, c.asset, c.amount, c.occurredAt]), [['adjustment-in', 'BTC', '0.1', CUT], ['adjustment-out', 'USDT', '5000', CUT]]);
  const untilHour = T0 + 24 * H;
  const without = aggregate({ baseCurrency: 'USDT', costMethod: 'average', state: null, openingBalances: [], fills: [sale], cashFlows: [deposit], candles, untilHour });
  t.true(Math.abs(without.snapshot!.equity - 14_900) < 1e-9);
  t.true(without.gaps.some((g) => g.kind === 'oversold'));
  const r = aggregate({ baseCurrency: 'USDT', costMethod: 'average', state: null, openingBalances: [], fills: [sale], cashFlows: [deposit, ...opening], candles, untilHour, historyCutAt: CUT });
  t.true(Math.abs(r.snapshot!.equity - 9_900) < 1e-9);
  t.false(r.gaps.some((g) => g.kind === 'oversold'));
  const cutHour = Math.floor(CUT / H) * H;
  t.true(r.hourlyReturns.filter((h) => h.hourStart <= cutHour).every((h) => h.flags?.includes('venue-history-cut') === true));
  t.false(r.hourlyReturns.filter((h) => h.hourStart > cutHour).some((h) => h.flags?.includes('venue-history-cut') === true));
  // The opening is worth 0.1 × 50,000 − 5,000 = 0 at the cut's mark: no flow, no return there.
  const atCut = r.hourlyReturns.find((h) => h.hourStart === cutHour)!;
  t.is(atCut.return, 0);
  // The sale 1,000 below the mark is the only return: −1,000 / 10,000.
  t.true(Math.abs((1 + r.metrics.cumulativeReturn) - 0.99) < 1e-12, String(r.metrics.cumulativeReturn));
});

test('a history that explains the balances needs no opening', (t) => {
  t.deepEqual(openingAtHistoryCut({ balances: [{ asset: 'USDT', total: '10000' }], fills: [], flows: [deposit], coverageStart: CUT }), []);
});
