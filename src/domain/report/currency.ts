// Currencies of reports: each venue's base currency, and how a report currency is reached from it
// through public candles. Pure.
import type { Exchange } from '../types.js';

/** The currency a venue's equity is measured in (connectors: ccxt venues USDT, brokers USD). */
export const VENUE_BASE_CURRENCY: Readonly<Record<Exchange, string>> = {
  binance: 'USDT', bybit: 'USDT', bitget: 'USDT', mexc: 'USDT', alpaca: 'USD', ibkr: 'USD', simulated: 'USDT',
};

export const REPORT_CURRENCIES = ['USD', 'BTC'] as const;
export type ReportCurrency = (typeof REPORT_CURRENCIES)[number];

/** Dollar stablecoins counted as USD one to one (stated in the reply's notes when used). */
export const USD_PEGGED = ['USDT', 'USDC'] as const;
export const NOTE_USD_PEG = 'USDT and USDC are counted as USD one to one';

export type Conversion =
  | { readonly kind: 'identity' }
  /** Divide by the close of `symbol` (e.g. BTC/USDT: USDT → BTC). */
  | { readonly kind: 'inverse'; readonly symbol: string };

/** How to express `base` in `target`; null when no public candle path exists. */
export function conversionOf(base: string, target: string): Conversion | null {
  const usdLike = (c: string): boolean => c === 'USD' || (USD_PEGGED as readonly string[]).includes(c);
  if (base === target || (usdLike(base) && target === 'USD')) return { kind: 'identity' };
  if (target === 'BTC' && usdLike(base)) return { kind: 'inverse', symbol: `BTC/${base}` };
  return null;
}

export const BENCHMARKS = ['BTC', 'ETH', 'CRYPTO_EQUAL_WEIGHT', 'SPY'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];

/** The symbols a benchmark holds, quoted in `base` (equal weights, rebalanced hourly). */
export function benchmarkSymbols(benchmark: BenchmarkName, base: string): readonly string[] {
  switch (benchmark) {
    case 'BTC': return [`BTC/${base}`];
    case 'ETH': return [`ETH/${base}`];
    case 'CRYPTO_EQUAL_WEIGHT': return [`BTC/${base}`, `ETH/${base}`];
    case 'SPY': return [`SPY/${base}`];
  }
}
