// fast-check generators of random account histories (decimal strings, as PostgreSQL returns them).
import fc from 'fast-check';
import type { EngineInput } from '../../src/domain/in-process-aggregator.js';
import type { Candle, CashFlow, Fill } from '../../src/domain/types.js';
import { H, T0 } from './history.js';

/** A decimal string for the integer `units` with `places` decimals, built without floats. */
export function decimal(units: number, places: number): string {
  const s = String(units).padStart(places + 1, '0');
  return places === 0 ? s : `${s.slice(0, -places)}.${s.slice(-places)}`;
}

const ASSETS = ['BTC', 'ETH', 'BNB'] as const;
const SYMBOLS = [['BTC', 'USDT'], ['ETH', 'USDT'], ['ETH', 'BTC'], ['BNB', 'USDT']] as const;

const fillArb = (hours: number) => fc.record({
  hour: fc.integer({ min: 0, max: hours - 1 }),
  offset: fc.integer({ min: 0, max: H - 1 }),
  symbol: fc.integer({ min: 0, max: SYMBOLS.length - 1 }),
  sell: fc.boolean(),
  quantity: fc.integer({ min: 1, max: 2_000_000 }),
  price: fc.integer({ min: 1, max: 10_000_000 }),
  fee: fc.integer({ min: 0, max: 10_000 }),
  feeIn: fc.integer({ min: 0, max: 2 }),
});

const flowArb = (hours: number) => fc.record({
  hour: fc.integer({ min: 0, max: hours - 1 }),
  offset: fc.integer({ min: 0, max: H - 1 }),
  btc: fc.boolean(),
  withdrawal: fc.boolean(),
  amount: fc.integer({ min: 1, max: 5_000_000 }),
});

export interface History {
  readonly input: EngineInput;
  readonly hours: number;
}

/** Random histories on USDT, BTC, ETH, BNB: gappy candles, fees in three kinds of asset, flows. */
export const historyArb = (opts: { maxHours?: number; maxFills?: number; costMethod?: 'average' | 'fifo' } = {}): fc.Arbitrary<History> =>
  fc.integer({ min: 1, max: opts.maxHours ?? 24 }).chain((hours) => fc.record({
    hours: fc.constant(hours),
    opening: fc.tuple(fc.integer({ min: 0, max: 100_000_00 }), fc.integer({ min: 0, max: 3_000_000 }), fc.integer({ min: 0, max: 50_000 })),
    prices: fc.array(fc.tuple(fc.integer({ min: 2_000_000, max: 9_000_000 }), fc.integer({ min: 100_000, max: 400_000 }), fc.integer({ min: 20_000, max: 70_000 }), fc.integer({ min: 0, max: 9 })), { minLength: hours + 1, maxLength: hours + 1 }),
    fills: fc.array(fillArb(hours), { maxLength: opts.maxFills ?? 40 }),
    flows: fc.array(flowArb(hours), { maxLength: 6 }),
  })).map(({ hours, opening, prices, fills, flows }): History => {
    const used = new Set<number>();
    const unique = (t: number): number => { while (used.has(t)) t++; used.add(t); return t; };
    const candles: Candle[] = [];
    prices.forEach(([btc, eth, bnb, gap], k) => {
      const openTime = T0 + (k - 1) * H;
      // About one candle in ten is missing (gap 0 drops BTC, gap 1 drops ETH).
      if (gap !== 0) candles.push({ symbol: 'BTC/USDT', openTime, open: decimal(btc, 2), high: decimal(btc, 2), low: decimal(btc, 2), close: decimal(btc, 2), volume: '1' });
      if (gap !== 1) candles.push({ symbol: 'ETH/USDT', openTime, open: decimal(eth, 2), high: decimal(eth, 2), low: decimal(eth, 2), close: decimal(eth, 2), volume: '1' });
      candles.push({ symbol: 'BNB/USDT', openTime, open: decimal(bnb, 2), high: decimal(bnb, 2), low: decimal(bnb, 2), close: decimal(bnb, 2), volume: '1' });
    });
    const fillRows: Fill[] = fills.map((f, i) => {
      const [baseAsset, quoteAsset] = SYMBOLS[f.symbol]!;
      const cross = quoteAsset === 'BTC';
      const feeAsset = f.feeIn === 0 ? quoteAsset : f.feeIn === 1 ? baseAsset : 'BNB';
      return {
        exchangeTradeId: `t${i}`, symbol: `${baseAsset}/${quoteAsset}`, baseAsset, quoteAsset, side: f.sell ? 'sell' : 'buy',
        quantity: decimal(f.quantity, 6), price: decimal(cross ? Math.ceil(f.price / 100) : f.price, cross ? 6 : 2), fee: decimal(f.fee, 6), feeAsset,
        executedAt: unique(T0 + f.hour * H + f.offset),
      };
    });
    const flowRows: CashFlow[] = flows.map((f, i) => ({
      exchangeFlowId: `f${i}`, kind: f.withdrawal ? 'withdrawal' : 'deposit', asset: f.btc ? 'BTC' : 'USDT',
      amount: decimal(f.btc ? Math.ceil(f.amount / 1000) : f.amount, f.btc ? 6 : 2), occurredAt: unique(T0 + f.hour * H + f.offset),
    }));
    return {
      hours,
      input: {
        baseCurrency: 'USDT', costMethod: opts.costMethod ?? 'average', state: null, startHour: T0, untilHour: T0 + hours * H,
        openingBalances: [{ asset: 'USDT', total: decimal(opening[0], 2) }, { asset: 'BTC', total: decimal(opening[1], 6) }, { asset: 'BNB', total: decimal(opening[2], 3) }],
        fills: fillRows.sort((a, b) => a.executedAt - b.executedAt),
        cashFlows: flowRows.sort((a, b) => a.occurredAt - b.occurredAt),
        candles,
      },
    };
  });

export { ASSETS };
