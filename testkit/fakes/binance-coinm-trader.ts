// A COIN-M-only Binance trader (tests of issue 15): BTCUSD_PERP (100 USD a contract), a long closed at
// a gain, a short liquidated, funding paid and received, a spot → COIN-M transfer (internal) and one
// BTC deposit (the only external flow), with the wallet, mark prices and unrealized P&L a test needs
// to compute the published figures by hand. Rendered by binance-futures-routes.ts under /dapi.
import type { BinanceFuturesHistory, BinanceIncomeRow } from './binance-futures-routes.js';
import { addTransfer, type SyntheticAccount } from './history.js';

const H = 3_600_000;
const M = 60_000;
/** Binance books income with 8 decimals. */
const coin = (x: number): string => x.toFixed(8);

export interface CoinmTrader {
  readonly account: SyntheticAccount;
  readonly coinm: BinanceFuturesHistory;
  /** Every income row, the internal TRANSFER included. */
  readonly ledger: readonly BinanceIncomeRow[];
  /** The COIN-M wallet (BTC) from the ledger rows before `until`, after the 1 BTC moved in. */
  walletBefore(until: number): number;
  /** Unrealized P&L (BTC) at the end of hour k (T0 + (k + 1)h), from the contract's mark then. */
  readonly unrealized: readonly number[];
  /** USD notional open at the end of hour k. */
  readonly exposure: readonly number[];
}

/** The history over [T0, T0 + 6h): positions are open in hours 0–2, flat from hour 3 on. */
export function coinmTrader(T0: number): CoinmTrader {
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { BTC: '0', USDT: '0' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'BTC', amount: '1', fee: '0', time: T0 });
  const size = 100;
  const realized1 = coin(10 * size * (1 / 60_000 - 1 / 62_000)); // the long of 10 contracts closed
  const realized2 = coin(-20 * size * (1 / 62_000 - 1 / 64_000)); // the short of 20 contracts liquidated
  let tran = 7000;
  const income = (incomeType: string, at: number, amount: string, symbol = 'BTCUSD_PERP'): BinanceIncomeRow => ({ symbol, incomeType, income: amount, asset: 'BTC', time: at, tranId: ++tran });
  const ledger = [
    income('TRANSFER', T0 + 5 * M, '1', ''), // spot → COIN-M: internal
    income('COMMISSION', T0 + 10 * M, '-0.00000833'),
    income('FUNDING_FEE', T0 + H + M, '-0.00000500'), // paid by the long
    income('REALIZED_PNL', T0 + 2 * H + 30 * M, realized1),
    income('COMMISSION', T0 + 2 * H + 30 * M, '-0.00000806'),
    income('COMMISSION', T0 + 2 * H + 31 * M, '-0.00001613'),
    income('FUNDING_FEE', T0 + 3 * H + M, '0.00000400'), // received by the short
    income('REALIZED_PNL', T0 + 3 * H + 30 * M, realized2),
    income('INSURANCE_CLEAR', T0 + 3 * H + 30 * M, '-0.00010000'),
  ];
  const marks: Record<number, number> = { [T0]: 61_000, [T0 + H]: 63_000, [T0 + 2 * H]: 62_500 };
  const markAt = (openTime: number): number => marks[openTime] ?? 64_500;
  const walletBefore = (until: number): number => ledger.filter((r) => r.incomeType !== 'TRANSFER' && r.time < until).reduce((s, r) => s + Number(r.income), 1);
  const coinm: BinanceFuturesHistory = {
    contracts: [{ raw: 'BTCUSD_PERP', category: 'inverse', base: 'BTC', quote: 'USD', settle: 'BTC', deliveryTime: 0 }],
    trades: [
      { id: '11', raw: 'BTCUSD_PERP', category: 'inverse', side: 'Buy', qty: '10', price: '60000', execType: 'Trade', fee: '0.00000833', time: T0 + 10 * M },
      { id: '12', raw: 'BTCUSD_PERP', category: 'inverse', side: 'Sell', qty: '10', price: '62000', execType: 'Trade', fee: '0.00000806', time: T0 + 2 * H + 30 * M },
      { id: '13', raw: 'BTCUSD_PERP', category: 'inverse', side: 'Sell', qty: '20', price: '62000', execType: 'Trade', fee: '0.00001613', time: T0 + 2 * H + 31 * M },
      { id: '14', raw: 'BTCUSD_PERP', category: 'inverse', side: 'Buy', qty: '20', price: '64000', execType: 'BustTrade', fee: '0', time: T0 + 3 * H + 30 * M },
    ],
    income: ledger,
    wallet: { BTC: coin(walletBefore(Number.POSITIVE_INFINITY)) },
    markClose: (_raw, openTime) => String(markAt(openTime)),
  };
  return {
    account, coinm, ledger, walletBefore,
    unrealized: [
      10 * size * (1 / 60_000 - 1 / markAt(T0)),
      10 * size * (1 / 60_000 - 1 / markAt(T0 + H)),
      -20 * size * (1 / 62_000 - 1 / markAt(T0 + 2 * H)),
      0, 0, 0,
    ],
    exposure: [1000, 1000, 2000, 0, 0, 0],
  };
}
