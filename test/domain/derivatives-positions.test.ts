// The venue's position snapshot against the book rebuilt from executions (positions.ts). Pure.
import test from 'ava';
import { bookPositions, comparePositions, positionGaps } from '../../src/domain/derivatives/positions.js';
import { parseContract } from '../../src/domain/derivatives/instrument.js';
import type { Fill, Side } from '../../src/domain/types.js';

let seq = 0;
function cfill(side: Side, symbol: string, quantity: string, price: string): Fill {
  const c = parseContract(symbol);
  return { exchangeTradeId: `drv:trade:${++seq}`, symbol, baseAsset: c.base, quoteAsset: c.quote, side, quantity, price, fee: '0', feeAsset: c.settle, executedAt: seq };
}

test('the book adds fills up per contract, signed: a long, a cross to short, an inverse contract in USD', (t) => {
  const book = bookPositions([
    cfill('buy', 'BTC/USDT:USDT', '1', '100'), cfill('sell', 'BTC/USDT:USDT', '3', '110'),
    cfill('sell', 'BTC/USD:BTC', '500', '60000'), cfill('buy', 'ETH/USDT:USDT', '2', '10'), cfill('sell', 'ETH/USDT:USDT', '2', '11'),
  ], 1_000);
  t.deepEqual([...book.entries()].sort(), [['BTC/USD:BTC', -500], ['BTC/USDT:USDT', -2], ['ETH/USDT:USDT', 0]]);
});

test('positions that agree (hedge-mode legs summed, rounding within tolerance, flat on both sides) give no difference', (t) => {
  const book = new Map([['BTC/USDT:USDT', 0.3], ['ETH/USDT:USDT', 0]]);
  t.deepEqual(comparePositions(book, [{ symbol: 'BTC/USDT:USDT', quantity: 0.5 }, { symbol: 'BTC/USDT:USDT', quantity: -0.2000000001 }]), []);
});

test('a size, a side or a contract the book does not have is a difference, in symbol order; each becomes an unreconciled gap', (t) => {
  const book = new Map([['BTC/USDT:USDT', 1], ['BTC/USD:BTC', -500]]);
  const differences = comparePositions(book, [{ symbol: 'BTC/USDT:USDT', quantity: -1 }, { symbol: 'SOL/USDT:USDT', quantity: 3 }]);
  t.deepEqual(differences, [
    { symbol: 'BTC/USD:BTC', book: -500, venue: 0 },
    { symbol: 'BTC/USDT:USDT', book: 1, venue: -1 },
    { symbol: 'SOL/USDT:USDT', book: 0, venue: 3 },
  ]);
  const gaps = positionGaps(differences, 7_200_000 + 5);
  t.deepEqual(gaps.map((g) => [g.kind, g.asset, g.hourStart]), [['unreconciled', 'BTC/USD:BTC', 7_200_000], ['unreconciled', 'BTC/USDT:USDT', 7_200_000], ['unreconciled', 'SOL/USDT:USDT', 7_200_000]]);
});
