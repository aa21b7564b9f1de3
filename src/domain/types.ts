// The normalized vocabulary every layer shares. Pure types and constants: no I/O.
import type { HourFlag } from './hour-flags.js';

/** Venues the enclave can sync. `simulated` is the deterministic demo venue (never in enclave mode). */
export const EXCHANGES = ['binance', 'bybit', 'bitget', 'mexc', 'alpaca', 'ibkr', 'simulated'] as const;
export type Exchange = (typeof EXCHANGES)[number];

export function isExchange(value: string): value is Exchange {
  return (EXCHANGES as readonly string[]).includes(value);
}

/** One account = one (user, venue) pair; it owns one actor, one credential, one cursor per stream. */
export interface AccountKey {
  readonly userUid: string;
  readonly exchange: Exchange;
}

/** Stable text form of an account, for actor names and map keys (never a metric label by itself). */
export function accountId(account: AccountKey): string {
  return `${account.exchange}:${account.userUid}`;
}

/**
 * A decimal amount as a canonical string, exactly as PostgreSQL `numeric` returns it
 * ("0.00012", "-3", "1234.5"). Money crosses layer boundaries as text so no float rounding
 * happens before the engine decides how to compute.
 */
export type DecimalString = string;

/** Epoch milliseconds, UTC. */
export type EpochMs = number;

export type Side = 'buy' | 'sell';

/** One execution (fill). Secret to the enclave: never logged, returned or exported. */
export interface Fill {
  /** The venue's trade id; unique per account. Never leaves the enclave. */
  readonly exchangeTradeId: string;
  /** Unified symbol, `BASE/QUOTE` (e.g. "BTC/USDT", "AAPL/USD"). */
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly side: Side;
  /** Base-asset quantity, positive. */
  readonly quantity: DecimalString;
  /** Price in the quote asset, ≥ 0 (0 for an option assignment or expiry). */
  readonly price: DecimalString;
  /** Fee amount in `feeAsset`; negative for a maker rebate (the venue pays it). */
  readonly fee: DecimalString;
  readonly feeAsset: string;
  readonly executedAt: EpochMs;
}

/**
 * deposit/withdrawal: external transfers (in cash or in kind); income/expense: dividends, interest,
 * rewards, taxes, fees (performance); split-in/split-out: quantity changes of a corporate action;
 * adjustment-in/out: reconciliation differences. The rule for each is in events.ts.
 */
export type CashFlowKind = 'deposit' | 'withdrawal' | 'income' | 'expense' | 'split-in' | 'split-out' | 'adjustment-in' | 'adjustment-out';

/** A transfer, income, expense or corporate action that moves one asset (see events.ts). */
export interface CashFlow {
  /** The venue's id for the transfer; unique per account. Never leaves the enclave. */
  readonly exchangeFlowId: string;
  readonly kind: CashFlowKind;
  readonly asset: string;
  /** Positive amount of `asset`; the direction is `kind` (a quantity for split-in/split-out). */
  readonly amount: DecimalString;
  readonly occurredAt: EpochMs;
}

/** A current holding reported by the venue. */
export interface Balance {
  readonly asset: string;
  /** Free + locked, in `asset`. */
  readonly total: DecimalString;
  /**
   * The venue wallet it sits in, where the venue reports wallets apart (funding, earn); absent for
   * the main trading wallet. An asset may appear once per wallet: reconciliation sums them.
   */
  readonly wallet?: string;
}

/** One hourly candle (public market data, cacheable, not secret). */
export interface Candle {
  /** Unified symbol, `BASE/QUOTE`. */
  readonly symbol: string;
  /** Start of the hour, epoch ms, aligned to the hour. */
  readonly openTime: EpochMs;
  readonly open: DecimalString;
  readonly high: DecimalString;
  readonly low: DecimalString;
  readonly close: DecimalString;
  readonly volume: DecimalString;
}

/**
 * Position in a stream of venue records, opaque to everyone but the connector that made it.
 * Serializable (the connector's own JSON), stored in `sync_cursors` with the rows it covers.
 */
export type SyncCursor = string;
export type SyncStream = 'fills' | 'cash_flows';

// ---- Aggregates: the only things that may leave the enclave. ----

/** One published hourly return. */
export interface HourlyReturn {
  /** Start of the hour, epoch ms. */
  readonly hourStart: EpochMs;
  /** Modified Dietz return for the hour, as a fraction (0.01 = 1%). */
  readonly return: number;
  /** Time-weighted cumulative return from the first published hour through this one. */
  readonly cumulativeReturn: number;
  /** Equity at the end of the hour, in the account's base currency. */
  readonly equityEnd: number;
  /** Net external flow during the hour, base currency (deposits positive). */
  readonly netFlow: number;
  /** Data-quality flags of the hour (absent: none); an `unvalued` hour has return 0 and carries the cumulative return. */
  readonly flags?: readonly HourFlag[];
}

/** Equity and cash at one instant, in the account's base currency. */
export interface BalanceSnapshot {
  readonly at: EpochMs;
  /** Cash: the base-currency balance. */
  readonly balance: number;
  /** Cash plus every position at its mark. */
  readonly equity: number;
}

export function assertNever(value: never): never {
  // Names only the tag: the value itself may be a fill or a credential.
  const tagged = value as { readonly type?: unknown } | null;
  const tag = typeof tagged === 'object' && tagged !== null ? String(tagged.type) : typeof tagged;
  throw new TypeError(`unhandled variant: ${tag}`);
}

/**
 * What an account's decrypted envelope holds. Per venue:
 * - ccxt venues and Alpaca: apiKey + secret (+ passphrase for Bitget);
 * - IBKR Flex: apiKey = Flex token, secret = Flex query id;
 * - IBKR TWS/Gateway: apiKey = account id (no secret; the socket is authenticated by the gateway).
 */
export interface VenueCredential {
  readonly apiKey: string;
  readonly secret: string;
  readonly passphrase?: string;
}

/** Stored state of a connection: syncing, parked by the crash-loop cut-off, or switched off. */
export type ConnectionStatus = 'active' | 'failed' | 'disabled';

/**
 * Why an account is parked (status failed): a fixed class an operator can act on, never an inner
 * message. venue_auth: the venue refused the key; venue_unavailable: the venue kept failing;
 * internal: our own failure; tamper: stored data failed its integrity check.
 */
export const PARKED_REASONS = ['venue_auth', 'venue_unavailable', 'internal', 'tamper'] as const;
export type ParkedReason = (typeof PARKED_REASONS)[number];

/**
 * Rights a venue can grant an API key, normalized across venues. Connectors map their venue's
 * permission answer onto these (e.g. Binance apiRestrictions: enableReading → read,
 * enableSpotAndMarginTrading → spot_trade + margin_trade, enableFutures → futures_trade,
 * enableWithdrawals → withdraw, enableInternalTransfer → internal_transfer,
 * permitsUniversalTransfer → sub_account_transfer). A flag or scope a connector does not know
 * becomes `unrecognized`, which the policy refuses: an unknown right fails closed.
 */
export const VENUE_RIGHTS = [
  'read',
  'spot_trade',
  'margin_trade',
  'futures_trade',
  'options_trade',
  'withdraw',
  'internal_transfer',
  'sub_account_transfer',
  'unrecognized',
] as const;
export type VenueRight = (typeof VENUE_RIGHTS)[number];

/**
 * What the venue said about a key; `reported: false` where the venue has no such endpoint.
 * `alwaysTrades`: the venue issues no key without trading rights (Alpaca), so a read-only key
 * cannot be asked for; only the account holder's explicit opt-in can accept such a key.
 */
export type VenuePermissions =
  | { readonly reported: true; readonly rights: readonly VenueRight[]; readonly alwaysTrades?: boolean }
  | { readonly reported: false };

export type SyncMode = 'incremental' | 'full';

/** How far a running sync has got (counts only), as the actor reports it while it runs. */
export interface SyncProgress {
  readonly phase: 'fetching' | 'aggregating';
  /** Pages and records fetched so far, per stream. */
  readonly fillPages: number;
  readonly fillsFetched: number;
  readonly cashFlowPages: number;
  readonly cashFlowsFetched: number;
  /** Hours valued so far, of hoursTotal (0 while not yet known: the engine knows it before it starts). */
  readonly hoursDone: number;
  readonly hoursTotal: number;
}
