// The derivatives part of a sync (issue 15), kept out of sync-activity.ts: split contract fills from
// spot ones, fetch and store the contracts' mark-price candles, compute the mark-to-market events the
// engine values equity at mark with (src/domain/derivatives/book.ts), and after the engine publish
// leverage per hour, its maximum, the funding share and the liquidation count.
import { derivativesStats, hourlyLeverage } from '../domain/derivatives/aggregates.js';
import { MarkSeries, markToMarket, type MarkToMarket } from '../domain/derivatives/book.js';
import { isContractSymbol } from '../domain/derivatives/instrument.js';
import { ledgerKindOf } from '../domain/derivatives/records.js';
import { parseEngineState } from '../domain/engine-state.js';
import type { AccountKey, CashFlow, EpochMs, Fill, HourlyReturn } from '../domain/types.js';
import type { VenueConnector } from '../exchanges/connector.js';
import type { AccountStore, Generation } from '../storage/account-store.js';

const HOUR = 3_600_000;
/** Mark-price candles share the candle table under their own symbol namespace (a distinct price kind). */
export const MARK_PRICE_PREFIX = 'mark:';

/** What the engine envelope carries between syncs for derivatives. */
export interface DerivativesEnvelope {
  /** Unrealized P&L per margin asset booked at computedUntil (part of the engine's holdings, not of the venue's wallet). */
  readonly unrealized: Readonly<Record<string, number>>;
  readonly maxLeverage: number;
  /** Funding share of the whole record (aggregates.ts); absent in envelopes sealed before statements carried it. */
  readonly fundingShare?: number | null;
  readonly liquidations: number;
  /** From when the venue served derivatives history, fixed at the first derivatives valuation. */
  readonly coverageStart?: EpochMs | null;
}

export function isSpotFill(fill: Fill): boolean {
  return !isContractSymbol(fill.symbol);
}

/** Every contract fill stored for the account, oldest first (the book is rebuilt from the first). */
export async function loadContractFills(store: AccountStore, account: AccountKey, needed: boolean): Promise<Fill[]> {
  if (!needed) return [];
  return (await store.loadFills(account, 0)).filter((f) => !isSpotFill(f));
}

/**
 * Fetches the mark-price candles of every contract the account traded for [firstHour − 1h, untilHour),
 * stores them, and computes the mark-to-market events of the hours [firstHour, untilHour).
 */
export async function prepareMarkToMarket(
  store: AccountStore, account: AccountKey, connector: VenueConnector, contractFills: readonly Fill[], firstHour: EpochMs, untilHour: EpochMs, signal: AbortSignal,
): Promise<MarkToMarket | null> {
  if (contractFills.length === 0) return null;
  const symbols = [...new Set(contractFills.map((f) => f.symbol))].sort();
  if (connector.fetchMarkCandles !== undefined && firstHour < untilHour) {
    for (const symbol of symbols) {
      const candles = await connector.fetchMarkCandles(symbol, firstHour - HOUR, untilHour, signal);
      if (candles.length > 0) await store.upsertCandles(account.exchange, candles.map((c) => ({ ...c, symbol: MARK_PRICE_PREFIX + c.symbol })));
    }
  }
  const from = Math.floor(contractFills[0]!.executedAt / HOUR) * HOUR - HOUR;
  const stored = await store.loadCandles(account.exchange, symbols.map((s) => MARK_PRICE_PREFIX + s), from, untilHour);
  const marks = new MarkSeries(stored.map((c) => ({ ...c, symbol: c.symbol.slice(MARK_PRICE_PREFIX.length) })));
  signal.throwIfAborted();
  return markToMarket({ fills: contractFills, marks, startHour: firstHour, untilHour });
}

/** Merges two time-sorted lists of cash flows (the engine's chunks take them in time order). */
export function mergeFlows(a: readonly CashFlow[], b: readonly CashFlow[]): CashFlow[] {
  const out: CashFlow[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.occurredAt <= b[j]!.occurredAt)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/**
 * Publishes leverage for the hours just computed and the account's derivatives summary; returns what
 * the next envelope carries. `previous` is null when the record was recomputed from its start.
 */
export async function publishDerivatives(
  store: AccountStore, account: AccountKey, generation: Generation, input: {
    readonly mtm: MarkToMarket; readonly firstHour: EpochMs; readonly untilHour: EpochMs; readonly hours: readonly HourlyReturn[];
    readonly engineState: unknown; readonly baseCurrency: string; readonly previous: DerivativesEnvelope | null; readonly coverageStart: EpochMs | null;
  },
): Promise<DerivativesEnvelope> {
  const { mtm, firstHour, hours, baseCurrency, previous } = input;
  const marks = new Map(parseEngineState(input.engineState).marks.map((m) => [m.asset, m.price]));
  const valueOf = (asset: string): number => (asset === baseCurrency ? 1 : marks.get(asset) ?? 0);
  // Contract notionals are in their quote asset (USDT, USDC, USD): taken at par with the base currency.
  const leverage = hourlyLeverage(hours, (hourStart) => mtm.exposure[(hourStart - firstHour) / HOUR] ?? 0);
  // The venue's ledger entries, plus what the book realized for venues without one (MEXC futures).
  const ledger = [...(await store.loadCashFlows(account, 0)).filter((c) => ledgerKindOf(c.exchangeFlowId) !== null), ...mtm.bookLedger];
  let unrealizedInBase = 0;
  for (const [asset, u] of mtm.unrealizedAtEnd) unrealizedInBase += u * valueOf(asset);
  const liquidations = (previous?.liquidations ?? 0) + mtm.liquidations;
  const stats = derivativesStats(ledger, unrealizedInBase, leverage, liquidations, (asset) => valueOf(asset));
  const maxLeverage = Math.max(previous?.maxLeverage ?? 0, stats.maxLeverage);
  await store.saveDerivatives?.(account, {
    computedUntil: input.untilHour, hours: leverage, replaceFrom: previous === null ? 0 : firstHour,
    maxLeverage, fundingShare: stats.fundingShare, liquidations, coverageStart: input.coverageStart,
  }, generation);
  return { unrealized: Object.fromEntries(mtm.unrealizedAtEnd), maxLeverage, fundingShare: stats.fundingShare, liquidations, coverageStart: input.coverageStart };
}
