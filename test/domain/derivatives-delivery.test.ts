// A dated future that expires without a Delivery/Settle execution (Binance never serves one) closes
// at the first hour boundary after its delivery, valued at its last mark until then (book.ts). Pure.
import test from 'ava';
import { bookAt, deliveredGaps, markToMarket, MarkSeries } from '../../src/domain/derivatives/book.js';
import { deliveryTime, parseContract } from '../../src/domain/derivatives/instrument.js';
import { executionId } from '../../src/domain/derivatives/records.js';
import type { Candle, Fill, Side } from '../../src/domain/types.js';

const H = 3_600_000;
const SYMBOL = 'BTC/USDT:USDT-250328';
const DELIVERY = Date.UTC(2025, 2, 28, 8);

function cfill(at: number, side: Side, quantity: string, price: string, kind: 'trade' | 'settlement' = 'trade'): Fill {
  const c = parseContract(SYMBOL);
  return { exchangeTradeId: executionId(kind, `d${at}`), symbol: SYMBOL, baseAsset: c.base, quoteAsset: c.quote, side, quantity, price, fee: '0', feeAsset: c.settle, executedAt: at };
}
/** Hourly mark candles up to the delivery (the venue stops marking a delivered contract). */
const marks = new MarkSeries(Array.from({ length: 6 }, (_, k): Candle => {
  const openTime = DELIVERY - (6 - k) * H;
  const close = String(100 + 2 * k);
  return { symbol: SYMBOL, openTime, open: close, high: close, low: close, close, volume: '0' };
}));

test('a dated future delivers at 08:00 UTC of its expiry date; a perpetual never', (t) => {
  t.is(deliveryTime(parseContract(SYMBOL)), DELIVERY);
  t.is(deliveryTime(parseContract('BTC/USD:BTC')), null);
});

test('a future still open at delivery without a settlement execution is valued at its last mark at the delivery boundary, closed at the next one, and reported', (t) => {
  const fills = [cfill(DELIVERY - 5 * H + 60_000, 'buy', '2', '100')];
  const start = DELIVERY - 6 * H;
  const mtm = markToMarket({ fills, marks, startHour: start, untilHour: DELIVERY + 3 * H });
  // Exposure at boundaries: open until the delivery boundary (at the last mark 110), 0 after.
  const exposure = [...mtm.exposure];
  t.is(exposure[5], 2 * 110, 'at the delivery boundary: the last mark');
  t.deepEqual(exposure.slice(6), [0, 0, 0], 'closed at the first boundary after delivery');
  t.is(mtm.unrealizedAtEnd.size, 0);
  t.deepEqual(mtm.delivered, [{ symbol: SYMBOL, at: DELIVERY + H }]);
  t.deepEqual(deliveredGaps(mtm.delivered).map((g) => [g.kind, g.asset, g.hourStart]), [['stale-mark', SYMBOL, DELIVERY]]);
  // The unrealized P&L booked at the delivery boundary is released in the hour after and not booked again.
  const booked = mtm.flows.filter((f) => f.occurredAt === DELIVERY - 1);
  const released = mtm.flows.filter((f) => f.occurredAt === DELIVERY);
  t.deepEqual(booked.map((f) => [f.kind, Number(f.amount)]), [['income', 2 * (110 - 100)]]);
  t.deepEqual(released.map((f) => [f.kind, Number(f.amount)]), [['expense', 2 * (110 - 100)]]);
  t.false(mtm.flows.some((f) => f.occurredAt > DELIVERY));
  t.is(bookAt(fills, DELIVERY + H).get(SYMBOL)?.quantity, 0, 'the position check sees it flat too');
});

test('resuming after the delivery gives the same events as one run; a late settlement row after the close moves nothing', (t) => {
  const fills = [cfill(DELIVERY - 5 * H + 60_000, 'buy', '2', '100'), cfill(DELIVERY + 2 * H + 5, 'sell', '1', '120')];
  const start = DELIVERY - 6 * H;
  const whole = markToMarket({ fills, marks, startHour: start, untilHour: DELIVERY + 4 * H });
  const first = markToMarket({ fills, marks, startHour: start, untilHour: DELIVERY + H });
  const second = markToMarket({ fills, marks, startHour: DELIVERY + H, untilHour: DELIVERY + 4 * H });
  t.deepEqual([...first.flows, ...second.flows], whole.flows);
  t.deepEqual([...first.exposure, ...second.exposure], [...whole.exposure]);
  t.deepEqual([...first.delivered, ...second.delivered], whole.delivered);
  t.is(whole.delivered.length, 1);
  t.deepEqual([...whole.exposure].slice(7), [0, 0, 0]);
});

test('a settlement execution at delivery closes the position itself: nothing is reported', (t) => {
  const fills = [cfill(DELIVERY - 5 * H + 60_000, 'buy', '2', '100'), cfill(DELIVERY, 'sell', '2', '111', 'settlement')];
  const mtm = markToMarket({ fills, marks, startHour: DELIVERY - 6 * H, untilHour: DELIVERY + 2 * H });
  t.deepEqual(mtm.delivered, []);
  t.deepEqual([...mtm.exposure].slice(6), [0, 0]);
});
