// Contracts as the derivatives book sees them, read from ccxt's unified contract symbols:
// `BASE/QUOTE:SETTLE` (a perpetual) and `BASE/QUOTE:SETTLE-YYMMDD` (a dated future). The settle
// (margin) asset decides the kind: settled in the quote → linear (P&L in the quote, quantity in base
// units); settled in the base → inverse (P&L in the coin, quantity in quote units, e.g. USD
// contracts). Quantities reach the book already multiplied by the contract size (the connector knows
// the venue's contract size; the book never sees contract counts). Pure.
import { AggregationInputError } from '../errors.js';
import type { EpochMs } from '../types.js';

export type ContractKind = 'linear' | 'inverse';

export interface Contract {
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
  /** The margin asset: P&L, funding and settlement are paid in it. */
  readonly settle: string;
  readonly kind: ContractKind;
  /** Delivery date suffix (YYMMDD) of a dated future; null for a perpetual. */
  readonly expiry: string | null;
}

/** True for a ccxt contract symbol (`BTC/USDT:USDT`, `BTC/USD:BTC-250328`); spot symbols have no `:`. */
export function isContractSymbol(symbol: string): boolean {
  return symbol.includes(':');
}

/** The ccxt contract symbol of a venue's contract: `BASE/QUOTE:SETTLE`, dated ones `-YYMMDD` of their delivery (UTC). */
export function contractSymbol(base: string, quote: string, settle: string, deliveryMs: EpochMs | null): string {
  if (deliveryMs === null) return `${base}/${quote}:${settle}`;
  const d = new Date(deliveryMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${base}/${quote}:${settle}-${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}`;
}

/** Parses a ccxt contract symbol; refuses anything else (naming the field, never the text). */
export function parseContract(symbol: string): Contract {
  const m = /^([A-Z0-9]+)\/([A-Z0-9]+):([A-Z0-9]+)(?:-(\d{6}))?$/.exec(symbol);
  if (m === null) throw new AggregationInputError('contract symbol is not BASE/QUOTE:SETTLE[-YYMMDD]');
  const [, base, quote, settle, expiry] = m as unknown as [string, string, string, string, string | undefined];
  let kind: ContractKind;
  if (settle === quote) kind = 'linear';
  else if (settle === base) kind = 'inverse';
  else throw new AggregationInputError('contract settles in neither its base nor its quote asset');
  return { symbol, base, quote, settle, kind, expiry: expiry ?? null };
}

/**
 * When a dated future delivers: 08:00 UTC of its expiry date (Binance, Bybit, Bitget and MEXC all
 * deliver quarterlies then); null for a perpetual.
 */
export function deliveryTime(contract: Pick<Contract, 'expiry'>): EpochMs | null {
  if (contract.expiry === null) return null;
  const [yy, mm, dd] = [contract.expiry.slice(0, 2), contract.expiry.slice(2, 4), contract.expiry.slice(4, 6)].map(Number) as [number, number, number];
  return Date.UTC(2000 + yy, mm - 1, dd, 8);
}

/**
 * P&L, in the settle asset, of `quantity` (signed: + long, − short) held from `entry` to `exit`.
 * Linear: q × (exit − entry). Inverse: q × (1/entry − 1/exit) (q in quote units, P&L in the coin).
 */
export function contractPnl(kind: ContractKind, quantity: number, entry: number, exit: number): number {
  if (quantity === 0) return 0;
  if (kind === 'linear') return quantity * (exit - entry);
  if (!(entry > 0) || !(exit > 0)) throw new AggregationInputError('inverse contract price is not positive');
  return quantity * (1 / entry - 1 / exit);
}

/**
 * Notional of `quantity` at `price`, in the quote asset: |q| × price for linear, |q| for inverse
 * (its quantity is already quote units). Gross exposure sums these.
 */
export function contractNotional(kind: ContractKind, quantity: number, price: number): number {
  return kind === 'linear' ? Math.abs(quantity) * price : Math.abs(quantity);
}
