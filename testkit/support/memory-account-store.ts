// Only for bench/actors.ts (10,000 actors on in-memory dependencies, as the issue asks); the
// actor tests run on the real PostgreSQL store. An in-memory AccountStore that keeps the interface's promises: rows deduplicated by venue id,
// a page and its cursor committed together, aggregates upserted by hour, engine state stored as
// JSON (as jsonb would). Failures are injected by the wrapper in instrumented-store.ts.
import type { AccountKey, BalanceSnapshot, Candle, CashFlow, EpochMs, Exchange, Fill, HourlyReturn, SyncCursor, SyncStream } from '../../src/domain/types.js';
import { accountId } from '../../src/domain/types.js';
import type { AccountStore, AggregateWrite, PerformanceWrite, ReconciliationWrite, StoredConnection, StoredPerformance } from '../../src/storage/account-store.js';
import type { ConnectionSummary } from '../../src/storage/connections.js';
import type { ConnectionStatus, ParkedReason } from '../../src/domain/types.js';
import { StaleGenerationError } from '../../src/storage/errors.js';

interface AccountData {
  readonly fills: Map<string, Fill>;
  readonly flows: Map<string, CashFlow>;
  readonly cursors: Map<SyncStream, SyncCursor>;
  readonly returns: Map<EpochMs, HourlyReturn>;
  readonly snapshots: Map<EpochMs, BalanceSnapshot>;
  engineState: string | null;
  performance: PerformanceWrite | null;
  reconciliation?: ReconciliationWrite;
}

const EMPTY: AccountData = Object.freeze({ fills: new Map(), flows: new Map(), cursors: new Map(), returns: new Map(), snapshots: new Map(), engineState: null, performance: null });

/** The memory store keeps no disclosure level: its readers see everything, as at `full`. */
export const FULL_DISCLOSURE = { loadDisclosureLevel: async (): Promise<'full'> => 'full' };

export class MemoryAccountStore implements AccountStore {
  private readonly connections = new Map<string, StoredConnection>();
  private readonly data = new Map<string, AccountData>();
  private readonly candles = new Map<string, Candle>();

  private generations = 0;

  putConnection(account: AccountKey, envelope: Buffer, status: ConnectionStatus = 'active'): number {
    this.generations += 1;
    this.connections.set(accountId(account), { account, envelope, status, generation: this.generations, parkedReason: null });
    return this.generations;
  }

  /** The trading-key opt-in of each saved connection, by account id. */
  readonly tradingKeyOptIns = new Map<string, boolean>();

  async saveConnection(account: AccountKey, envelope: Buffer, options?: { readonly acceptTradingKeyRisk?: boolean }): Promise<number> {
    this.tradingKeyOptIns.set(accountId(account), options?.acceptTradingKeyRisk ?? false);
    return this.putConnection(account, Buffer.from(envelope));
  }

  async loadConnectionStatus(account: AccountKey): Promise<ConnectionStatus | null> {
    return this.connections.get(accountId(account))?.status ?? null;
  }

  async removeAccount(account: AccountKey, { keepAggregates }: { readonly keepAggregates: boolean }): Promise<boolean> {
    const id = accountId(account);
    const removed = this.connections.delete(id);
    const data = this.data.get(id);
    if (data !== undefined) {
      // Published aggregates may stay; everything private goes.
      this.data.set(id, { ...data, fills: new Map(), flows: new Map(), cursors: new Map(), engineState: null,
        ...(keepAggregates ? {} : { returns: new Map(), snapshots: new Map() }) });
    }
    return removed;
  }

  async listConnections(): Promise<ConnectionSummary[]> {
    return [...this.connections.values()]
      .map((c) => ({ account: c.account, status: c.status, parkedReason: c.parkedReason, keyId: 0, updatedAt: 0, disclosureLevel: 'returns' as const }))
      .sort((a, b) => (a.account.userUid < b.account.userUid ? -1 : a.account.userUid > b.account.userUid ? 1 : a.account.exchange < b.account.exchange ? -1 : 1));
  }

  /** The fence of the real store: the connection exists with this generation (when one is given). */
  private fence(account: AccountKey, generation: number | undefined): void {
    if (generation !== undefined && this.connections.get(accountId(account))?.generation !== generation) {
      throw new StaleGenerationError(`${accountId(account)}: the connection changed since it was loaded; write rolled back`);
    }
  }


  /** Reads never create an account's maps (keeps 10,000 idle accounts cheap in the bench). */
  private peek(account: AccountKey): AccountData {
    return this.data.get(accountId(account)) ?? EMPTY;
  }

  private of(account: AccountKey): AccountData {
    const id = accountId(account);
    let entry = this.data.get(id);
    if (entry === undefined) {
      entry = { fills: new Map(), flows: new Map(), cursors: new Map(), returns: new Map(), snapshots: new Map(), engineState: null, performance: null };
      this.data.set(id, entry);
    }
    return entry;
  }

  async loadConnection(account: AccountKey): Promise<StoredConnection | null> {
    const found = this.connections.get(accountId(account));
    return found === undefined ? null : { ...found, envelope: Buffer.from(found.envelope) };
  }

  async setConnectionStatus(account: AccountKey, status: ConnectionStatus, parkedReason: ParkedReason | null = null): Promise<void> {
    const found = this.connections.get(accountId(account));
    if (found !== undefined) this.connections.set(accountId(account), { ...found, status, parkedReason: status === 'failed' ? parkedReason ?? 'internal' : null });
  }

  async loadCursor(account: AccountKey, stream: SyncStream): Promise<SyncCursor | null> {
    return this.peek(account).cursors.get(stream) ?? null;
  }

  async commitFillsPage(account: AccountKey, fills: readonly Fill[], cursor: SyncCursor, generation?: number): Promise<{ inserted: number }> {
    this.fence(account, generation);
    const data = this.of(account);
    let inserted = 0;
    for (const fill of fills) {
      if (!data.fills.has(fill.exchangeTradeId)) {
        data.fills.set(fill.exchangeTradeId, { ...fill });
        inserted += 1;
      }
    }
    data.cursors.set('fills', cursor);
    return { inserted };
  }

  async commitCashFlowsPage(account: AccountKey, flows: readonly CashFlow[], cursor: SyncCursor, generation?: number): Promise<{ inserted: number }> {
    this.fence(account, generation);
    const data = this.of(account);
    let inserted = 0;
    for (const flow of flows) {
      if (!data.flows.has(flow.exchangeFlowId)) {
        data.flows.set(flow.exchangeFlowId, { ...flow });
        inserted += 1;
      }
    }
    data.cursors.set('cash_flows', cursor);
    return { inserted };
  }

  async loadFills(account: AccountKey, fromMs: EpochMs): Promise<Fill[]> {
    return [...this.peek(account).fills.values()]
      .filter((f) => f.executedAt >= fromMs)
      .sort((a, b) => a.executedAt - b.executedAt || (a.exchangeTradeId < b.exchangeTradeId ? -1 : a.exchangeTradeId > b.exchangeTradeId ? 1 : 0));
  }

  async loadCashFlows(account: AccountKey, fromMs: EpochMs): Promise<CashFlow[]> {
    return [...this.peek(account).flows.values()].filter((c) => c.occurredAt >= fromMs).sort((a, b) => a.occurredAt - b.occurredAt);
  }

  async upsertCandles(exchange: Exchange, candles: readonly Candle[]): Promise<void> {
    // Insert-only, as the real store: a stored candle is kept.
    for (const candle of candles) {
      const key = `${exchange}|${candle.symbol}|${candle.openTime}`;
      if (!this.candles.has(key)) this.candles.set(key, { ...candle });
    }
  }

  async loadCandles(exchange: Exchange, symbols: readonly string[], fromMs: EpochMs, toMs: EpochMs): Promise<Candle[]> {
    const wanted = new Set(symbols);
    return [...this.candles.entries()]
      .filter(([key, c]) => key.startsWith(`${exchange}|`) && wanted.has(c.symbol) && c.openTime >= fromMs && c.openTime < toMs)
      .map(([, c]) => c)
      .sort((a, b) => a.openTime - b.openTime || (a.symbol < b.symbol ? -1 : 1));
  }

  async loadEngineState(account: AccountKey): Promise<unknown> {
    const stored = this.peek(account).engineState;
    return stored === null ? null : JSON.parse(stored) as unknown;
  }

  async saveAggregates(account: AccountKey, write: AggregateWrite, generation?: number): Promise<void> {
    this.fence(account, generation);
    const data = this.of(account);
    const state = JSON.stringify(write.engineState ?? null);
    for (const r of write.hourlyReturns) data.returns.set(r.hourStart, { ...r });
    if (write.snapshot !== null) data.snapshots.set(write.snapshot.at, { ...write.snapshot });
    data.engineState = state;
    if (write.performance !== null) data.performance = { stats: { ...write.performance.stats }, computedUntil: write.performance.computedUntil };
  }

  async loadPerformanceStats(account: AccountKey): Promise<StoredPerformance | null> {
    const stored = this.peek(account).performance;
    if (stored === null) return null;
    const snapshot = this.peek(account).snapshots.get(stored.computedUntil);
    return { stats: { ...stored.stats }, computedUntil: stored.computedUntil, snapshot: snapshot === undefined ? null : { ...snapshot } };
  }

  async loadHourlyReturns(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<HourlyReturn[]> {
    return [...this.peek(account).returns.values()].filter((r) => r.hourStart >= fromMs && r.hourStart < toMs).sort((a, b) => a.hourStart - b.hourStart);
  }

  async saveReconciliation(account: AccountKey, write: ReconciliationWrite, generation?: number): Promise<void> {
    this.fence(account, generation);
    this.of(account).reconciliation = structuredClone(write);
  }

  async loadReconciliation(account: AccountKey): Promise<ReconciliationWrite | null> {
    const stored = this.peek(account).reconciliation;
    return stored === undefined ? null : structuredClone(stored);
  }

  async loadSnapshots(account: AccountKey, fromMs: EpochMs, toMs: EpochMs): Promise<BalanceSnapshot[]> {
    return [...this.peek(account).snapshots.values()].filter((s) => s.at >= fromMs && s.at < toMs).sort((a, b) => a.at - b.at);
  }
}
