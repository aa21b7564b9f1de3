// Builders for engine inputs in tests and benchmarks (plain contract objects, decimal strings).
import type { EngineInput } from '../../src/domain/in-process-aggregator.js';
import type { Balance, Candle, CashFlow, Fill, Side } from '../../src/domain/types.js';

export const H = 3_600_000;
export const T0 = Date.UTC(2026, 0, 1);

let seq = 0;

export function fill(at: number, side: Side, symbol: string, quantity: string, price: string, fee = '0', feeAsset?: string): Fill {
  const [baseAsset = '', quoteAsset = ''] = symbol.split('/');
  return { exchangeTradeId: `t${++seq}`, symbol, baseAsset, quoteAsset, side, quantity, price, fee, feeAsset: feeAsset ?? quoteAsset, executedAt: at };
}

export function deposit(at: number, asset: string, amount: string): CashFlow {
  return { exchangeFlowId: `f${++seq}`, kind: 'deposit', asset, amount, occurredAt: at };
}

export function withdrawal(at: number, asset: string, amount: string): CashFlow {
  return { exchangeFlowId: `f${++seq}`, kind: 'withdrawal', asset, amount, occurredAt: at };
}

/** The candle [openTime, openTime + 1h): its close is the mark at openTime + 1h. */
export function candle(symbol: string, openTime: number, close: string, open = close): Candle {
  return { symbol, openTime, open, high: close, low: close, close, volume: '1' };
}

export function balance(asset: string, total: string): Balance {
  return { asset, total };
}

export function input(over: Partial<EngineInput>): EngineInput {
  return {
    baseCurrency: 'USDT', costMethod: 'average', state: null, openingBalances: [], fills: [], cashFlows: [], candles: [],
    untilHour: T0 + H, startHour: T0, ...over,
  };
}
