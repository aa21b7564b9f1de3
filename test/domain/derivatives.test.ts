import test from 'ava';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import { applyContractFill, bookRealizedFlows, emptyBook, markToMarket, MarkSeries, unrealizedPnl } from '../../src/domain/derivatives/book.js';
import { contractSymbol, parseContract } from '../../src/domain/derivatives/instrument.js';
import { bookRealizedExecutionId, executionId, isBookRealized, ledgerFlow, ledgerKindOf, executionKindOf, type LedgerKind } from '../../src/domain/derivatives/records.js';
import { derivativesStats, hourlyLeverage } from '../../src/domain/derivatives/aggregates.js';
import { AggregationInputError } from '../../src/domain/errors.js';
import { withHistoryCut } from '../../src/domain/history-cut.js';
import type { CashFlow, Fill, Side } from '../../src/domain/types.js';
import { H, T0, candle, deposit, input } from './history.js';

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
let seq = 0;
function cfill(at: number, side: Side, symbol: string, quantity: string, price: string, kind: 'trade' | 'liquidation' = 'trade'): Fill {
  const c = parseContract(symbol);
  return { exchangeTradeId: executionId(kind, `x${++seq}`), symbol, baseAsset: c.base, quoteAsset: c.quote, side, quantity, price, fee: '0', feeAsset: c.settle, executedAt: at };
}
function ledger(kind: LedgerKind, at: number, amount: string, asset = 'USDT'): CashFlow {
  const f = ledgerFlow(kind, `l${++seq}`, asset, amount, at);
  if (f === null) throw new Error('zero ledger amount');
  return f;
}

test('contract symbols: settled in the quote is linear, in the base inverse; a dated future keeps its expiry', (t) => {
  t.like(parseContract('BTC/USDT:USDT'), { kind: 'linear', settle: 'USDT', expiry: null });
  t.like(parseContract('BTC/USD:BTC'), { kind: 'inverse', settle: 'BTC', expiry: null });
  t.like(parseContract('BTC/USDT:USDT-261225'), { kind: 'linear', expiry: '261225' });
  t.throws(() => parseContract('BTC/USDT'), { instanceOf: AggregationInputError });
  t.throws(() => parseContract('BTC/USDT:ETH'), { instanceOf: AggregationInputError });
});

test('a long adds at an average entry and realizes (exit − entry) × quantity on the part it closes', (t) => {
  const book = emptyBook();
  t.is(applyContractFill(book, cfill(T0, 'buy', 'BTC/USDT:USDT', '2', '100')), 0);
  t.is(applyContractFill(book, cfill(T0, 'buy', 'BTC/USDT:USDT', '2', '110')), 0);
  const p = book.get('BTC/USDT:USDT')!;
  t.is(p.entry, 105); // (2·100 + 2·110) / 4
  t.true(near(applyContractFill(book, cfill(T0, 'sell', 'BTC/USDT:USDT', '3', '120')), 45)); // 3 × (120 − 105)
  t.is(p.quantity, 1);
  t.true(near(unrealizedPnl(p, 100), -5)); // 1 × (100 − 105)
});

test('a short gains when the price falls, and a fill crossing zero opens the rest the other way at the fill price', (t) => {
  const book = emptyBook();
  applyContractFill(book, cfill(T0, 'sell', 'ETH/USDT:USDT', '1', '200'));
  t.true(near(applyContractFill(book, cfill(T0, 'buy', 'ETH/USDT:USDT', '0.4', '180')), 8)); // 0.4 × (200 − 180)
  const p = book.get('ETH/USDT:USDT')!;
  t.true(near(p.quantity, -0.6));
  t.true(near(unrealizedPnl(p, 210), -6)); // −0.6 × (210 − 200)
  t.true(near(applyContractFill(book, cfill(T0, 'buy', 'ETH/USDT:USDT', '1', '190')), 6)); // closes 0.6 × (200 − 190)
  t.true(near(p.quantity, 0.4));
  t.is(p.entry, 190);
});

test('an inverse contract pays P&L in the coin: q × (1/entry − 1/exit), entry averaged harmonically', (t) => {
  const book = emptyBook();
  applyContractFill(book, cfill(T0, 'buy', 'BTC/USD:BTC', '1000', '50000'));
  // 1000 × (1/50000 − 1/40000) = 1000 × (0.00002 − 0.000025) = −0.005 BTC
  t.true(near(applyContractFill(book, cfill(T0, 'sell', 'BTC/USD:BTC', '1000', '40000')), -0.005));
  applyContractFill(book, cfill(T0, 'buy', 'BTC/USD:BTC', '1000', '50000'));
  applyContractFill(book, cfill(T0, 'buy', 'BTC/USD:BTC', '1000', '40000'));
  const p = book.get('BTC/USD:BTC')!;
  t.true(near(p.entry, 2000 / 0.045)); // 2000 / (1000/50000 + 1000/40000)
  // 2000 × (1/44444.44… − 1/50000) = 2000 × (0.0000225 − 0.00002) = 0.005 BTC
  t.true(near(unrealizedPnl(p, 50000), 0.005));
});

test('ledger amounts become income or expense by sign, and ids carry their kind', (t) => {
  t.like(ledgerFlow('fee', 'a', 'USDT', '-0.06', T0), { kind: 'expense', amount: '0.06' });
  t.like(ledgerFlow('funding', 'b', 'USDT', '0.5', T0), { kind: 'income', amount: '0.5' });
  t.is(ledgerFlow('funding', 'c', 'USDT', '-0.000', T0), null);
  t.is(ledgerKindOf(ledgerFlow('funding', 'b', 'USDT', '0.5', T0)!.exchangeFlowId), 'funding');
  t.is(ledgerKindOf('deposit-123'), null);
  t.is(executionKindOf(executionId('liquidation', 'z')), 'liquidation');
  t.is(executionKindOf('plain-id'), 'trade');
});

test('hourly returns of a perpetuals history (a long, a short, funding both ways, a liquidation, a deposit) match a hand computation', (t) => {
  const S = 'BTC/USDT:USDT';
  const fills = [
    cfill(T0 + 10 * 60_000, 'buy', S, '1', '100'),
    cfill(T0 + 2 * H + 30 * 60_000, 'sell', S, '1', '115'), // closes the long: +15
    cfill(T0 + 2 * H + 31 * 60_000, 'sell', S, '2', '115'), // opens a short of 2
    cfill(T0 + 3 * H + 30 * 60_000, 'buy', S, '2', '130', 'liquidation'), // the short is liquidated: −30
  ];
  const ledgerRows = [
    ledger('fee', T0 + 10 * 60_000, '-0.06'),
    ledger('funding', T0 + H + 60_000, '-1'), // paid
    ledger('realized-pnl', T0 + 2 * H + 30 * 60_000, '15'),
    ledger('fee', T0 + 2 * H + 30 * 60_000, '-0.05'),
    ledger('fee', T0 + 2 * H + 31 * 60_000, '-0.1'),
    ledger('funding', T0 + 3 * H + 60_000, '0.5'), // received (the short earns it)
    ledger('realized-pnl', T0 + 3 * H + 30 * 60_000, '-30'),
    ledger('liquidation', T0 + 3 * H + 30 * 60_000, '-1'),
  ];
  // Mark-price candles: the close of [T − 1h, T) is the mark at T.
  const marks = new MarkSeries([candle(S, T0, '110'), candle(S, T0 + H, '120'), candle(S, T0 + 2 * H, '112'), candle(S, T0 + 3 * H, '131')]);
  const mtm = markToMarket({ fills, marks, startHour: T0, untilHour: T0 + 4 * H });
  const external = [deposit(T0, 'USDT', '1000'), deposit(T0 + 3 * H + 45 * 60_000, 'USDT', '500')];
  const cashFlows = [...external, ...ledgerRows, ...mtm.flows].sort((a, b) => a.occurredAt - b.occurredAt);
  const r = aggregate(input({ cashFlows, untilHour: T0 + 4 * H }));

  // Hour 0: deposit 1000 (weight 1), fee −0.06, unrealized 1 × (110 − 100) = 10 → E = 1009.94.
  // Hour 1: funding −1, unrealized 1 × (120 − 100) = 20 → E = 1018.94.
  // Hour 2: realized +15, fees −0.15, short 2 @ 115 marked at 112: +6 → wallet 1013.79, E = 1019.79.
  // Hour 3: funding +0.5, liquidation −30 and its fee −1, deposit 500 at 45 min (weight 0.25), flat → E = 1483.29.
  const expected = [
    (1009.94 - 0 - 1000) / (0 + 1000),
    (1018.94 - 1009.94) / 1009.94,
    (1019.79 - 1018.94) / 1018.94,
    (1483.29 - 1019.79 - 500) / (1019.79 + 0.25 * 500),
  ];
  t.is(r.hourlyReturns.length, 4);
  r.hourlyReturns.forEach((h, k) => t.true(near(h.return, expected[k]!), `hour ${k}: ${h.return} vs ${expected[k]}`));
  t.true(near(r.hourlyReturns[3]!.equityEnd, 1483.29));
  t.true(near(r.hourlyReturns[3]!.netFlow, 500));
  t.deepEqual(r.hourlyReturns.map((h) => h.flags ?? []), [[], [], [], []]);

  // Leverage: exposure at each hour's end over its equity; funding share of the derivatives P&L.
  const exposure = (hourStart: number): number => mtm.exposure[(hourStart - T0) / H]!;
  const leverage = hourlyLeverage(r.hourlyReturns, exposure);
  t.true(near(leverage[0]!.leverage, 110 / 1009.94));
  t.true(near(leverage[2]!.leverage, 224 / 1019.79));
  t.is(leverage[3]!.leverage, 0);
  const stats = derivativesStats(ledgerRows, 0, leverage, mtm.liquidations, () => 1);
  t.true(near(stats.maxLeverage, 224 / 1019.79));
  // funding −1 + 0.5 = −0.5 of 15 − 30 − 0.21 − 1 − 0.5 = −16.71
  t.true(near(stats.fundingShare!, -0.5 / -16.71));
  t.is(stats.liquidations, 1);
});

test('resuming from a saved state gives the same hours as one run (the released unrealized P&L is the one booked)', (t) => {
  const S = 'ETH/USDT:USDT';
  const fills = [cfill(T0 + 60_000, 'sell', S, '3', '100'), cfill(T0 + 2 * H + 60_000, 'buy', S, '3', '90')];
  const ledgerRows = [ledger('realized-pnl', T0 + 2 * H + 60_000, '30')];
  const marks = new MarkSeries([candle(S, T0, '95'), candle(S, T0 + H, '104'), candle(S, T0 + 2 * H, '90')]);
  const base = [deposit(T0, 'USDT', '100'), ...ledgerRows];
  const whole = markToMarket({ fills, marks, startHour: T0, untilHour: T0 + 3 * H });
  const one = aggregate(input({ cashFlows: [...base, ...whole.flows].sort((a, b) => a.occurredAt - b.occurredAt), untilHour: T0 + 3 * H }));
  const first = markToMarket({ fills, marks, startHour: T0, untilHour: T0 + H });
  const a = aggregate(input({ cashFlows: [...base.filter((c) => c.occurredAt < T0 + H), ...first.flows], untilHour: T0 + H }));
  const rest = markToMarket({ fills, marks, startHour: T0 + H, untilHour: T0 + 3 * H });
  const b = aggregate(input({ state: a.state, startHour: null, cashFlows: [...base.filter((c) => c.occurredAt >= T0 + H), ...rest.flows].sort((x, y) => x.occurredAt - y.occurredAt), untilHour: T0 + 3 * H }));
  const split = [...a.hourlyReturns, ...b.hourlyReturns].map((h) => h.return);
  // Short 3 @ 100: marks 95, 104, then closed at 90 → E = 115, 88, 130 (hand: 100 + 15, 100 − 12, 100 + 30).
  t.deepEqual(one.hourlyReturns.map((h) => Math.round(h.equityEnd * 1e9) / 1e9), [115, 88, 130]);
  split.forEach((r, k) => t.true(near(r, one.hourlyReturns[k]!.return)));
});

test('hours before the latest coverage start of any stream are flagged venue-history-cut, in flag order; complete streams flag nothing', (t) => {
  const hours = [0, 1, 2].map((k) => ({ hourStart: T0 + k * H, return: 0, cumulativeReturn: 0, equityEnd: 1, netFlow: 0, ...(k === 0 ? { flags: ['unvalued' as const] } : {}) }));
  const cut = withHistoryCut(hours, [T0 + 2 * H, null, T0 + H]);
  t.deepEqual(cut.map((h) => h.flags ?? []), [['venue-history-cut', 'unvalued'], ['venue-history-cut'], []]);
  t.is(withHistoryCut(hours, [null, null]), hours);
});

test('book-realized fills (a venue without a P&L ledger): the book books what a close realizes and the fill\'s fee, per run and in totals', (t) => {
  const S = 'BTC/USDT:USDT';
  const bfill = (at: number, side: Side, quantity: string, price: string, fee: string, kind: 'trade' | 'liquidation' = 'trade'): Fill =>
    ({ ...cfill(at, side, S, quantity, price, kind), exchangeTradeId: bookRealizedExecutionId(kind, `m${++seq}`), fee, feeAsset: 'USDT' });
  const fills = [
    bfill(T0 + 10 * 60_000, 'buy', '1', '100', '0.06'),
    bfill(T0 + 2 * H + 30 * 60_000, 'sell', '1', '115', '0.05'),
    bfill(T0 + 2 * H + 31 * 60_000, 'sell', '2', '115', '0.1'),
    bfill(T0 + 3 * H + 30 * 60_000, 'buy', '2', '130', '-0.2', 'liquidation'), // a maker rebate
  ];
  t.true(fills.every((f) => isBookRealized(f.exchangeTradeId)));
  t.false(isBookRealized(executionId('trade', 'book')), 'only the marker right after the kind counts');
  t.is(executionKindOf(fills[3]!.exchangeTradeId), 'liquidation');
  const signed = (flows: readonly CashFlow[]): number[] => flows.map((c) => (c.kind === 'income' ? 1 : -1) * Number(c.amount));
  // Open: fee only; close long 1 from 100 at 115: +15; open short: fee; close short 2 from 115 at 130: −30, rebate +0.2.
  t.deepEqual(signed(bookRealizedFlows(fills)), [-0.06, 15, -0.05, -0.1, -30, 0.2]);
  t.deepEqual(signed(bookRealizedFlows(fills, T0 + 3 * H)), [-30, 0.2], 'from a time: the book still starts at the first fill');
  t.deepEqual(bookRealizedFlows(fills.map((f) => ({ ...f, exchangeTradeId: executionId('trade', f.exchangeTradeId) }))), [], 'ledger venues: nothing');

  const marks = new MarkSeries([candle(S, T0, '110'), candle(S, T0 + H, '120'), candle(S, T0 + 2 * H, '112'), candle(S, T0 + 3 * H, '131')]);
  const resumed = markToMarket({ fills, marks, startHour: T0 + 2 * H, untilHour: T0 + 4 * H });
  const realizedIn = resumed.flows.filter((c) => !c.exchangeFlowId.startsWith('drv-mtm:release') && !c.exchangeFlowId.startsWith('drv-mtm:book'));
  t.deepEqual(signed(realizedIn), [15, -0.05, -0.1, -30, 0.2], 'a run books only its own hours\' fills');
  const totals = Object.fromEntries(resumed.bookLedger.map((c) => [ledgerKindOf(c.exchangeFlowId), signed([c])[0]]));
  t.true(near(totals['realized-pnl']!, -15) && near(totals['fee']!, -0.01), 'totals cover every fill before the run\'s end');
});

test('contractSymbol names a venue contract as parseContract reads it: perpetuals without, dated futures with their UTC delivery day', (t) => {
  t.is(contractSymbol('BTC', 'USDT', 'USDT', null), 'BTC/USDT:USDT');
  // 2025-03-28 08:00 UTC, and a delivery at 23:30 UTC that is still the 28th in UTC.
  t.is(contractSymbol('BTC', 'USD', 'BTC', Date.UTC(2025, 2, 28, 8)), 'BTC/USD:BTC-250328');
  t.is(contractSymbol('ETH', 'USD', 'ETH', Date.UTC(2025, 2, 28, 23, 30)), 'ETH/USD:ETH-250328');
  const parsed = parseContract(contractSymbol('BTC', 'USD', 'BTC', Date.UTC(2026, 11, 25, 8)));
  t.deepEqual([parsed.kind, parsed.expiry], ['inverse', '261225']);
});
