// A deterministic synthetic account every fake venue is seeded with: spot markets, fills,
// deposits/withdrawals and balances. Venue modules only render it in their wire format.
import { prng } from '../../src/domain/prng.js';

export interface SyntheticMarket { readonly base: string; readonly quote: string }

export interface SyntheticFill {
  /** Increasing with time across the account (venue trade ids). */
  readonly id: number;
  readonly orderId: number;
  readonly base: string;
  readonly quote: string;
  readonly side: 'buy' | 'sell';
  readonly qty: string;
  readonly price: string;
  readonly fee: string;
  readonly feeAsset: string;
  readonly time: number;
  readonly maker: boolean;
}

export interface SyntheticTransfer {
  readonly id: string;
  readonly kind: 'deposit' | 'withdrawal';
  readonly asset: string;
  readonly amount: string;
  readonly fee: string;
  /** Whole seconds: some venues report withdrawal times as "YYYY-MM-DD HH:mm:ss". */
  readonly time: number;
  status: 'ok' | 'pending';
  /** An internal (off-chain) transfer to another account of the venue (Bybit withdrawType 1). */
  readonly offChain?: boolean;
}

export interface SyntheticAccount {
  /** The venue's listed markets; a test may delist one. */
  readonly markets: SyntheticMarket[];
  readonly fills: SyntheticFill[];
  readonly transfers: SyntheticTransfer[];
  readonly balances: Record<string, string>;
  nextId: number;
}

/** What every crypto-venue fake serves and checks requests against. */
export interface SyntheticVenueFakeOptions {
  readonly account: SyntheticAccount;
  readonly apiKey: string;
  readonly secret: string;
  /** When set, pages overlap at their border the way the venue's paging can (see each fake). */
  readonly repeatBorderFill?: boolean;
}

/** Markets the fakes list; XRP/USDT and SOL/USDT are never touched by the account. */
export const MARKETS: readonly SyntheticMarket[] = [
  { base: 'BTC', quote: 'USDT' },
  { base: 'ETH', quote: 'USDT' },
  { base: 'ETH', quote: 'BTC' },
  { base: 'XRP', quote: 'USDT' },
  { base: 'SOL', quote: 'USDT' },
];
export const TRADED: readonly SyntheticMarket[] = MARKETS.slice(0, 3);

const PRICES: Record<string, number> = { 'BTC/USDT': 60_000, 'ETH/USDT': 3_000, 'ETH/BTC': 0.05 };

function decimal(value: number, places: number): string {
  const text = value.toFixed(places).replace(/0+$/u, '');
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Appends `count` fills spread over [fromMs, toMs); a few share a millisecond with the one before. */
export function addFills(account: SyntheticAccount, count: number, fromMs: number, toMs: number, markets: readonly SyntheticMarket[] = TRADED, seed = 7): SyntheticFill[] {
  const random = prng(seed + account.nextId);
  const step = (toMs - fromMs) / count;
  const added: SyntheticFill[] = [];
  for (let i = 0; i < count; i += 1) {
    const market = markets[i % markets.length] ?? { base: 'BTC', quote: 'USDT' };
    const price = (PRICES[`${market.base}/${market.quote}`] ?? 1) * (0.9 + random() * 0.2);
    const previous = added.at(-1);
    // Every 50th fill shares its millisecond with the previous one (same order, two executions).
    const time = previous !== undefined && i % 50 === 0 ? previous.time : Math.floor(fromMs + i * step);
    const qty = 0.001 + random();
    const fill: SyntheticFill = {
      id: account.nextId,
      orderId: 1_000_000 + Math.floor(account.nextId / 2),
      base: market.base,
      quote: market.quote,
      side: random() < 0.5 ? 'buy' : 'sell',
      qty: decimal(qty, 6),
      price: decimal(price, market.quote === 'BTC' ? 6 : 2),
      fee: decimal(qty * price * 0.001, 8),
      feeAsset: market.quote,
      time,
      maker: random() < 0.3,
    };
    account.nextId += 1;
    account.fills.push(fill);
    added.push(fill);
  }
  return added;
}

export function addTransfer(account: SyntheticAccount, transfer: Omit<SyntheticTransfer, 'id' | 'status'> & { status?: 'ok' | 'pending' }): SyntheticTransfer {
  const created: SyntheticTransfer = { ...transfer, id: String(900_000 + account.transfers.length), status: transfer.status ?? 'ok', time: Math.floor(transfer.time / 1000) * 1000 };
  account.transfers.push(created);
  return created;
}

/** A standard account: `fills` fills over [fromMs, toMs), 3 deposits and 2 withdrawals, balances. */
export function syntheticAccount(options: { fills: number; fromMs: number; toMs: number }): SyntheticAccount {
  const account: SyntheticAccount = { markets: [...MARKETS], fills: [], transfers: [], balances: { BTC: '1.25', ETH: '10.5', USDT: '25000.75', XRP: '0' }, nextId: 100_001 };
  const { fromMs, toMs } = options;
  const span = toMs - fromMs;
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '50000', fee: '0', time: fromMs - DAY_MS });
  addTransfer(account, { kind: 'deposit', asset: 'BTC', amount: '0.5', fee: '0', time: fromMs + span * 0.25 });
  addTransfer(account, { kind: 'withdrawal', asset: 'USDT', amount: '1000', fee: '1', time: fromMs + span * 0.5 });
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '2500.5', fee: '0', time: fromMs + span * 0.75 });
  addTransfer(account, { kind: 'withdrawal', asset: 'BTC', amount: '0.1', fee: '0.0005', time: fromMs + span * 0.9 });
  addFills(account, options.fills, fromMs, toMs);
  return account;
}

/** Deterministic hourly candle for any market and hour. */
export function candleAt(market: SyntheticMarket, openTime: number): { open: string; high: string; low: string; close: string; volume: string } {
  const base = PRICES[`${market.base}/${market.quote}`] ?? 10;
  const wave = 1 + 0.01 * Math.sin(openTime / HOUR_MS);
  const open = base * wave;
  const close = open * 1.001;
  return { open: decimal(open, 2), high: decimal(close * 1.002, 2), low: decimal(open * 0.998, 2), close: decimal(close, 2), volume: decimal(10 + (openTime / HOUR_MS) % 7, 4) };
}

export function sortedBy<T>(items: readonly T[], key: (item: T) => number): T[] {
  return [...items].sort((a, b) => key(a) - key(b));
}

export function marketId(market: SyntheticMarket, separator = ''): string {
  return `${market.base}${separator}${market.quote}`;
}
