// The demo venue `simulated`: deterministic given (seed, clock). Hourly prices are a seeded
// log-normal random walk per asset against USDT (shared by every account, like real market data);
// each account gets one deposit and seeded fills that never sell more than it holds. Records only
// appear once the clock has passed them, so later incremental syncs find new pages.
import type { AccountKey, Balance, Candle, CashFlow, EpochMs, Fill, SyncCursor } from '../domain/types.js';
import type { Page, VenueConnector } from './connector.js';
import { VenueError } from './errors.js';
import { connectorClosed } from './retry.js';
import type { VenuePermissions, VenueRight } from '../domain/types.js';
import { prng } from '../domain/prng.js';

const HOUR = 3_600_000;
/** Default start of every simulated history (fixed, so a stored demo account stays consistent). */
export const SIMULATED_GENESIS: EpochMs = Date.UTC(2026, 0, 1);
export const SIMULATED_BASE = 'USDT';
const DEFAULT_ASSETS = ['BTC', 'ETH', 'SOL'] as const;
const START_PRICES: Readonly<Record<string, number>> = { BTC: 60_000, ETH: 3_000, SOL: 150 };
const DEPOSIT = 10_000;

export interface SimulatedVenueOptions {
  /** Seeds the market; accounts derive their own fill seed from it and their user_uid. */
  readonly seed: number;
  readonly clock: { now(): EpochMs };
  /** First hour of the history (rounded down to the hour). */
  readonly startMs?: EpochMs;
  readonly pageSize?: number;
  readonly assets?: readonly string[];
  /** Chance of a fill in a given hour (0..1). */
  readonly fillsPerHour?: number;
  /**
   * The key's rights as the demo venue reports them (default read only). The registry grants
   * trading to keys named `trading-…`, so the read-only refusal can be shown without a real venue.
   */
  readonly rights?: readonly VenueRight[];
}

function hash(text: string, seed: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function decimal(value: number, digits: number): string {
  const fixed = value.toFixed(digits);
  return fixed.includes('.') ? fixed.replace(/0+$/u, '').replace(/\.$/u, '') : fixed;
}

/** Hourly price path per asset: price(asset, i) is the price at startMs + i hours. */
class Market {
  private readonly paths = new Map<string, { values: number[]; next: () => number }>();

  constructor(private readonly seed: number) {}

  price(asset: string, index: number): number {
    let path = this.paths.get(asset);
    if (path === undefined) {
      path = { values: [START_PRICES[asset] ?? 100], next: prng(hash(asset, this.seed)) };
      this.paths.set(asset, path);
    }
    while (path.values.length <= index) {
      // Box-Muller normal step, 1% hourly volatility, no drift.
      const u = Math.max(path.next(), 1e-12);
      const v = path.next();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      path.values.push((path.values.at(-1) ?? 100) * Math.exp(0.01 * z));
    }
    return path.values[index] ?? 0;
  }
}

const markets = new Map<string, Market>();
function marketFor(seed: number, startMs: EpochMs): Market {
  const key = `${seed}:${startMs}`;
  let market = markets.get(key);
  if (market === undefined) {
    market = new Market(seed);
    markets.set(key, market);
  }
  return market;
}

interface Ledger {
  readonly fills: Fill[];
  readonly flows: CashFlow[];
  /** Hours generated so far (index of the next hour to generate). */
  nextHour: number;
  cash: number;
  readonly holdings: Map<string, number>;
  readonly random: () => number;
}

function parseCursor(cursor: SyncCursor | null): number {
  if (cursor === null) return 0;
  try {
    const parsed = JSON.parse(cursor) as { i?: unknown };
    if (typeof parsed.i === 'number' && Number.isInteger(parsed.i) && parsed.i >= 0) return parsed.i;
  } catch {
    // fall through
  }
  throw new VenueError('simulated', 'rejected', { errorClass: 'InvalidCursor' });
}

export function createSimulatedConnector(account: AccountKey, options: SimulatedVenueOptions): VenueConnector {
  return new SimulatedConnector(account, options);
}

/** A class rather than closures: the bench keeps 10,000 of these alive. The ledger is built lazily. */
class SimulatedConnector implements VenueConnector {
  readonly exchange = 'simulated' as const;
  readonly baseCurrency = SIMULATED_BASE;
  private readonly startMs: EpochMs;
  private readonly market: Market;
  private ledger: Ledger | null = null;
  private closed = false;

  constructor(private readonly account: AccountKey, private readonly options: SimulatedVenueOptions) {
    // Hour-aligned, as a venue's candles are (the engine refuses an unaligned candle).
    this.startMs = Math.floor((options.startMs ?? SIMULATED_GENESIS) / HOUR) * HOUR;
    this.market = marketFor(options.seed, this.startMs);
  }

  fetchPermissions(): Promise<VenuePermissions> {
    this.ensureOpen();
    return Promise.resolve({ reported: true, rights: this.options.rights ?? ['read'] });
  }

  private ensureOpen(): void {
    if (this.closed) throw connectorClosed('simulated');
  }

  /** Generates every hour that has started by now. */
  private advance(): Ledger {
    const { account, options, startMs, market } = this;
    const assets = options.assets ?? DEFAULT_ASSETS;
    const chance = options.fillsPerHour ?? 0.15;
    const ledger: Ledger = this.ledger ?? { fills: [], flows: [], nextHour: 0, cash: 0, holdings: new Map(), random: prng(hash(account.userUid, options.seed)) };
    this.ledger = ledger;
    const now = options.clock.now();
    while (startMs + ledger.nextHour * HOUR <= now) {
      const h = ledger.nextHour;
      const hourStart = startMs + h * HOUR;
      if (h === 0) {
        ledger.flows.push({ exchangeFlowId: `sim-dep-${account.userUid}-0`, kind: 'deposit', asset: SIMULATED_BASE, amount: decimal(DEPOSIT, 2), occurredAt: hourStart + 60_000 });
        ledger.cash += DEPOSIT;
      } else if (ledger.random() < chance) {
        const asset = assets[Math.floor(ledger.random() * assets.length)] ?? 'BTC';
        const price = Number(decimal(market.price(asset, h), 2));
        const held = ledger.holdings.get(asset) ?? 0;
        const wantsSell = ledger.random() < 0.45 && held > 0;
        const share = 0.05 + ledger.random() * 0.25;
        const quantity = wantsSell ? Number((held * share).toFixed(6)) : Number(((ledger.cash * share) / price).toFixed(6));
        const executedAt = hourStart + 120_000 + Math.floor(ledger.random() * 3_000_000);
        const notional = quantity * price;
        const fee = Number((notional * 0.001).toFixed(8));
        // A buy never spends more cash than there is; a sell never exceeds the holding.
        if (quantity > 0 && (wantsSell || notional + fee <= ledger.cash)) {
          ledger.holdings.set(asset, wantsSell ? held - quantity : held + quantity);
          ledger.cash += wantsSell ? notional - fee : -(notional + fee);
          ledger.fills.push({
            exchangeTradeId: `sim-${account.userUid}-${h}`, symbol: `${asset}/${SIMULATED_BASE}`, baseAsset: asset, quoteAsset: SIMULATED_BASE,
            side: wantsSell ? 'sell' : 'buy', quantity: decimal(quantity, 6), price: decimal(price, 2), fee: decimal(fee, 8), feeAsset: SIMULATED_BASE, executedAt,
          });
        }
      }
      ledger.nextHour += 1;
    }
    return ledger;
  }

  private async *pages<T>(pick: (ledger: Ledger) => readonly T[], timeOf: (r: T) => EpochMs, since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<T>> {
    this.ensureOpen();
    const pageSize = this.options.pageSize ?? 100;
    let index = parseCursor(since);
    const all = pick(this.advance());
    const now = this.options.clock.now();
    for (;;) {
      signal?.throwIfAborted();
      const items: T[] = [];
      while (index < all.length && items.length < pageSize) {
        const record = all[index];
        if (record === undefined || timeOf(record) > now) break;
        items.push(record);
        index += 1;
      }
      if (items.length === 0) return;
      yield { items, cursor: JSON.stringify({ i: index }) };
      this.ensureOpen();
    }
  }

  fetchFills(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<Fill>> {
    return this.pages((l) => l.fills, (f) => f.executedAt, since, signal);
  }

  fetchCashFlows(since: SyncCursor | null, signal?: AbortSignal): AsyncIterable<Page<CashFlow>> {
    return this.pages((l) => l.flows, (c) => c.occurredAt, since, signal);
  }

  async fetchBalances(): Promise<readonly Balance[]> {
    this.ensureOpen();
    const ledger = this.advance();
    const balances: Balance[] = [{ asset: SIMULATED_BASE, total: decimal(ledger.cash, 8) }];
    for (const [asset, quantity] of ledger.holdings) if (quantity > 0) balances.push({ asset, total: decimal(quantity, 6) });
    return balances;
  }

  async fetchHourlyCandles(symbol: string, fromMs: number, toMs: number, signal?: AbortSignal): Promise<readonly Candle[]> {
    this.ensureOpen();
    signal?.throwIfAborted();
    const { startMs, market, options } = this;
    const [asset, quote] = symbol.split('/');
    if (asset === undefined || quote !== SIMULATED_BASE || !(options.assets ?? DEFAULT_ASSETS).includes(asset)) throw new VenueError('simulated', 'rejected', { errorClass: 'UnknownSymbol' });
    const now = options.clock.now();
    const candles: Candle[] = [];
    const first = Math.max(0, Math.ceil((fromMs - startMs) / HOUR));
    for (let i = first; startMs + i * HOUR < toMs && startMs + (i + 1) * HOUR <= now; i += 1) {
      const open = market.price(asset, i);
      const close = market.price(asset, i + 1);
      candles.push({
        symbol, openTime: startMs + i * HOUR, open: decimal(open, 2), close: decimal(close, 2),
        high: decimal(Math.max(open, close) * 1.002, 2), low: decimal(Math.min(open, close) * 0.998, 2), volume: decimal(10 + (hash(`${symbol}${i}`, options.seed) % 1000) / 10, 1),
      });
    }
    return candles;
  }

  /**
   * The simulated market has prices per hour only: a minute's bar is interpolated along its hour
   * (open to close), so valuations at a flow's instant have a bar as on a real venue.
   */
  async fetchMinuteCandle(symbol: string, minute: number, signal?: AbortSignal): Promise<Candle | null> {
    const hour = (await this.fetchHourlyCandles(symbol, minute - HOUR + 1, minute + 1, signal)).find((c) => c.openTime <= minute && minute < c.openTime + HOUR);
    if (hour === undefined) return null;
    const [open, close] = [Number(hour.open), Number(hour.close)];
    const at = (m: number): number => open + ((close - open) * (m - hour.openTime)) / HOUR;
    const [a, b] = [at(minute), at(minute + 60_000)];
    return { symbol, openTime: minute, open: decimal(a, 2), close: decimal(b, 2), high: decimal(Math.max(a, b), 2), low: decimal(Math.min(a, b), 2), volume: '1' };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.ledger = null;
  }
}
