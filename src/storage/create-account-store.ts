// AccountStore on slonik. Every method is one parameterized statement or one transaction;
// rows come back through zod schemas (validated by the pool's result-parser interceptor).
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { accountId, PARKED_REASONS, type AccountKey, type CashFlow, type Fill, type SyncCursor, type SyncStream } from '../domain/types.js';
import type { AccountStore, AggregateWrite, Generation, ReconciliationWrite, StoredConnection } from './account-store.js';
import { CASH_FLOW_KINDS } from '../domain/events.js';
import type { CopyIngest } from './copy-ingest.js';
import { createConnectionRepository } from './connections.js';
import { isoTime } from './copy-ingest.js';
import { toStorageError } from './errors.js';
import { assertFence, type ShardFence } from './shard-fence.js';
import { noRows, sql } from './pool.js';
import { createMinuteMarkStore } from './minute-mark-store.js';
import { createFlagCounter } from './flag-counts.js';
import type { SealedStore, SealedWrite } from './sealed-store.js';
import { saveAggregatesFenced, saveReconciliationFenced } from './fenced-writes.js';
import { loadSyncStart } from './sync-start.js';
import { loadPublishedPerformance } from './published-performance.js';
import { PERFORMANCE_COLUMNS, performanceRow, splitPerformanceRow } from './performance-row.js';
import { createSealedAmounts, type SealedAmounts } from './sealed-amounts.js';
import { maskToFlags } from '../domain/hour-flags.js';
import { loadDerivatives, saveDerivatives } from './derivatives-repository.js';
import { disclosureLevelIn, writeHours, writeSnapshot } from './disclosure-store.js';
import { createCheckpointHeads, nextCheckpoint, recordCheckpoint, type CheckpointHead } from './checkpoint-store.js';
import { saveAggregatesInOneStatement } from './aggregate-statement.js';
import type { CheckpointSigner } from '../crypto/track-record.js';

const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const epochMs = z.number().finite();

const fillRow = z.object({
  exchangeTradeId: z.string(),
  symbol: z.string(),
  baseAsset: z.string(),
  quoteAsset: z.string(),
  side: z.enum(['buy', 'sell']),
  quantity: decimal,
  price: decimal,
  fee: decimal,
  feeAsset: z.string(),
  executedAt: epochMs,
});

const cashFlowRow = z.object({
  exchangeFlowId: z.string(),
  kind: z.enum(CASH_FLOW_KINDS),
  asset: z.string(),
  amount: decimal,
  occurredAt: epochMs,
});

const candleRow = z.object({
  symbol: z.string(),
  openTime: epochMs,
  open: decimal,
  high: decimal,
  low: decimal,
  close: decimal,
  volume: decimal,
});

const hourlyReturnRow = z.object({
  hourStart: epochMs,
  return: z.number(),
  cumulativeReturn: z.number(),
  equityEnd: z.number(),
  netFlow: z.number(),
  flags: z.number().int(),
  // The exact amounts' sealed box (sql/016; null in the plaintext layout or for an hour without one).
  keyId: z.number().int().nullable(),
  iv: z.instanceof(Buffer).nullable(),
  tag: z.instanceof(Buffer).nullable(),
  ciphertext: z.instanceof(Buffer).nullable(),
});

const reconciliationRow = z.object({
  at: epochMs,
  status: z.enum(['reconciled', 'unreconciled']),
  explainedShare: z.number(),
  differingAssets: z.number().int(),
  differingPositions: z.number().int(),
  quarantined: z.number().int(),
  fillsCoverageStart: epochMs.nullable(),
  cashFlowsCoverageStart: epochMs.nullable(),
});

const snapshotRow = z.object({ at: epochMs, balance: z.number(), equity: z.number() });
const connectionRow = z.object({
  envelope: z.instanceof(Buffer),
  status: z.enum(['active', 'failed', 'disabled']),
  generation: z.number().int(),
  parkedReason: z.enum(PARKED_REASONS).nullable(),
  acceptTradingKeyRisk: z.boolean(),
});
const statusRow = z.object({ status: z.enum(['active', 'failed', 'disabled']) });
const cursorRow = z.object({ cursor: z.string() });
const engineStateRow = z.object({ state: z.unknown() });
export interface AccountStoreOptions {
  /** Bulk COPY path for large pages (not available on the embedded database). */
  readonly copy?: CopyIngest;
  /** Pages with at least this many rows go through `copy` (default 2,000). */
  readonly copyThreshold?: number;
  /**
   * Sealed storage (sealed-store.ts): fills, cash flows, cursors and engine state are stored as
   * ciphertext with blind indexes, checked on every load. The service always passes it; without it
   * (tests and tools of the plaintext layout) the legacy plaintext tables are used.
   */
  readonly sealed?: SealedStore;
  /**
   * The exact amounts (hourly_amounts, snapshot_amounts) sealed at rest (sealed-amounts.ts).
   * Defaults to one over `sealed`'s sealer; pass the instance the disclosure store shares.
   */
  readonly amounts?: SealedAmounts;
  /** Shard leases (issue 18): every write transaction also checks this instance's lease on the account's shard. */
  readonly fence?: ShardFence;
  /** Signs a track-record checkpoint with every aggregate write that publishes hours (checkpoint-store.ts). */
  readonly checkpoints?: CheckpointSigner;
  /**
   * Each pooled connection is its own database session (a PostgreSQL server, not the embedded
   * PGlite): the metrics read may then be a named prepared statement (published-performance.ts).
   */
  readonly namedStatements?: boolean;
}

// One unnest statement per slice keeps the parameter arrays moderate.
const UNNEST_SLICE = 5_000;

async function upsertCursor(tx: DatabaseTransactionConnection, account: AccountKey, stream: SyncStream, cursor: SyncCursor): Promise<void> {
  await tx.query(sql.type(noRows)`
    INSERT INTO sync_cursors (user_uid, exchange, stream, cursor)
    VALUES (${account.userUid}, ${account.exchange}, ${stream}, ${cursor})
    ON CONFLICT (user_uid, exchange, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = now()`);
}

/**
 * Inside a write transaction: the connection still exists with the generation the writer loaded.
 * FOR SHARE holds the row until commit, so a removal waits for this write and then deletes it.
 * With a fence, the same statement also checks the shard lease (src/storage/shard-fence.ts).
 */
export async function assertGeneration(tx: DatabaseTransactionConnection, account: AccountKey, generation: Generation, fence?: ShardFence): Promise<void> {
  await assertFence(tx, account, generation, fence);
}

async function insertFills(tx: DatabaseTransactionConnection, account: AccountKey, fills: readonly Fill[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < fills.length; start += UNNEST_SLICE) {
    const slice = fills.slice(start, start + UNNEST_SLICE);
    const tuples = slice.map((f) => [f.exchangeTradeId, f.symbol, f.baseAsset, f.quoteAsset, f.side, f.quantity, f.price, f.fee, f.feeAsset, isoTime(f.executedAt)]);
    const result = await tx.query(sql.type(noRows)`
      INSERT INTO trades (user_uid, exchange, exchange_trade_id, symbol, base_asset, quote_asset, side, quantity, price, fee, fee_asset, executed_at)
      SELECT ${account.userUid}, ${account.exchange}, t.*
      FROM ${sql.unnest(tuples, ['text', 'text', 'text', 'text', 'text', 'numeric', 'numeric', 'numeric', 'text', 'timestamptz'])}
        AS t(exchange_trade_id, symbol, base_asset, quote_asset, side, quantity, price, fee, fee_asset, executed_at)
      ON CONFLICT DO NOTHING`);
    inserted += result.rowCount;
  }
  return inserted;
}

async function insertCashFlows(tx: DatabaseTransactionConnection, account: AccountKey, flows: readonly CashFlow[]): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < flows.length; start += UNNEST_SLICE) {
    const slice = flows.slice(start, start + UNNEST_SLICE);
    const tuples = slice.map((c) => [c.exchangeFlowId, c.kind, c.asset, c.amount, isoTime(c.occurredAt)]);
    const result = await tx.query(sql.type(noRows)`
      INSERT INTO cash_flows (user_uid, exchange, exchange_flow_id, kind, asset, amount, occurred_at)
      SELECT ${account.userUid}, ${account.exchange}, t.*
      FROM ${sql.unnest(tuples, ['text', 'text', 'text', 'numeric', 'timestamptz'])}
        AS t(exchange_flow_id, kind, asset, amount, occurred_at)
      ON CONFLICT DO NOTHING`);
    inserted += result.rowCount;
  }
  return inserted;
}

export function createAccountStore(pool: DatabasePool, options: AccountStoreOptions = {}): AccountStore {
  const copyThreshold = options.copyThreshold ?? 2_000;
  const sealed = options.sealed;
  const amounts = options.amounts ?? (sealed === undefined ? undefined : createSealedAmounts(sealed.sealer));
  // Each account's newest checkpoint as this process wrote it (the next one chains on it unread).
  const checkpointHeads = createCheckpointHeads();

  /**
   * The aggregate write as one statement (aggregate-statement.ts), each sealed record a
   * compare-and-set on what this process last read or wrote. False when that is not known here, or
   * the statement found a precondition broken (and wrote nothing): the caller takes the transaction path.
   */
  async function saveInOneStatement(key: AccountKey, write: AggregateWrite, generation: Generation): Promise<boolean> {
    const state = sealed === undefined || write.engineState === undefined ? null : sealed.prepareEngineState(key, write.engineState);
    if (sealed !== undefined && write.engineState !== undefined && state === null) return false;
    const publishes = write.hourlyReturns.length > 0 || write.snapshot !== null;
    const exact = amounts === undefined || !publishes ? null : amounts.prepareWrite(key, write.hourlyReturns, write.snapshot);
    if (amounts !== undefined && publishes && exact === null) return false;
    let checkpoint: { head: CheckpointHead; next: CheckpointHead } | null = null;
    if (options.checkpoints !== undefined && write.hourlyReturns.length > 0) {
      const head = checkpointHeads.get(key);
      const next = head === undefined ? null : await nextCheckpoint(write.hourlyReturns, options.checkpoints, head);
      if (head === undefined || next === null) return false;
      checkpoint = { head, next };
    }
    if (!await saveAggregatesInOneStatement(pool, key, write, generation, options.fence, { state, amounts: exact, checkpoint })) return false;
    if (state !== null) sealed?.committed(state.write);
    exact?.committed();
    if (checkpoint !== null) checkpointHeads.set(key, checkpoint.next);
    return true;
  }

  async function run<T>(operation: string, account: AccountKey | null, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStorageError(error, account === null ? operation : `${operation} for ${accountId(account)}`);
    }
  }

  const account = (a: AccountKey) => sql.fragment`user_uid = ${a.userUid} AND exchange = ${a.exchange}`;
  // Registering, removing and listing are the connection repository's statements (one place for that SQL).
  const connections = createConnectionRepository(pool);
  const loadConnection = async (key: AccountKey): Promise<StoredConnection | null> => {
    const row = await pool.maybeOne(sql.type(connectionRow)`
      SELECT envelope, status, generation, parked_reason AS "parkedReason", accept_trading_key_risk AS "acceptTradingKeyRisk"
      FROM exchange_connections WHERE ${account(key)}`);
    return row === null
      ? null
      : { account: key, envelope: row.envelope, status: row.status, generation: row.generation, parkedReason: row.parkedReason, acceptTradingKeyRisk: row.acceptTradingKeyRisk };
  };

  return {
    loadConnectionStatus: (key) =>
      run('load connection status', key, async () => {
        const row = await pool.maybeOne(sql.type(statusRow)`SELECT status FROM exchange_connections WHERE ${account(key)}`);
        return row?.status ?? null;
      }),

    saveConnection: (key, envelope, options) => connections.saveConnection(key, envelope, 'active', options?.acceptTradingKeyRisk ?? false),
    removeAccount: async (key, options) => {
      const removed = await connections.removeAccount(key, options);
      sealed?.forget(key);
      amounts?.forget(key);
      checkpointHeads.forget(key);
      return removed;
    },
    listConnections: () => connections.listConnections(),

    loadConnection: (key) => run('load connection', key, () => loadConnection(key)),

    // Plaintext layout: one statement. Sealed: one statement too once this process ran the
    // account's legacy check (the connection row beside the sealed start, which opens and checks
    // the cursors and engine state); before, the connection, the check, then the sealed start.
    loadSyncStart: (key: AccountKey) => run('load sync start', key, async () => {
      if (sealed === undefined) return loadSyncStart(pool, key);
      const both = await sealed.loadConnectionAndStart(pool, key);
      if (both !== null) {
        const connection = both.connection === null ? null : { account: key, ...both.connection };
        return { connection, ...(both.start ?? { fillsCursor: null, cashFlowsCursor: null, engineState: null }) };
      }
      const connection = await loadConnection(key);
      if (connection === null || connection.status !== 'active') return { connection, fillsCursor: null, cashFlowsCursor: null, engineState: null };
      await sealed.migrateLegacy(pool, key);
      return { connection, ...await sealed.loadStart(pool, key) };
    }),

    loadPublishedPerformance: (key) => run('load published performance', key, async () => {
      await amounts?.prepare(pool, key);
      return loadPublishedPerformance(pool, key, amounts, options.namedStatements === true);
    }),

    setConnectionStatus: (key, status, parkedReason = null) =>
      run('set connection status', key, async () => {
        await pool.query(sql.type(noRows)`
          UPDATE exchange_connections SET status = ${status}, parked_reason = ${status === 'failed' ? parkedReason ?? 'internal' : null}, updated_at = now()
          WHERE ${account(key)}`);
      }),

    loadCursor: (key, stream) =>
      run('load cursor', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          return sealed.loadCursor(pool, key, stream);
        }
        const row = await pool.maybeOne(sql.type(cursorRow)`
          SELECT cursor FROM sync_cursors WHERE ${account(key)} AND stream = ${stream}`);
        return row?.cursor ?? null;
      }),

    commitFillsPage: (key, fills, cursor, generation) =>
      run('commit fills page', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          const write = await pool.transaction(async (tx) => {
            await assertGeneration(tx, key, generation, options.fence);
            return sealed.commitFillsPage(tx, key, fills, cursor);
          });
          sealed.committed(write);
          return { inserted: write.inserted };
        }
        if (options.copy !== undefined && fills.length >= copyThreshold) return options.copy.commitFillsPage(key, fills, cursor, generation);
        return pool.transaction(async (tx) => {
          await assertGeneration(tx, key, generation, options.fence);
          const inserted = await insertFills(tx, key, fills);
          await upsertCursor(tx, key, 'fills', cursor);
          return { inserted };
        });
      }),

    commitCashFlowsPage: (key, flows, cursor, generation) =>
      run('commit cash flows page', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          const write = await pool.transaction(async (tx) => {
            await assertGeneration(tx, key, generation, options.fence);
            return sealed.commitCashFlowsPage(tx, key, flows, cursor);
          });
          sealed.committed(write);
          return { inserted: write.inserted };
        }
        if (options.copy !== undefined && flows.length >= copyThreshold) return options.copy.commitCashFlowsPage(key, flows, cursor, generation);
        return pool.transaction(async (tx) => {
          await assertGeneration(tx, key, generation, options.fence);
          const inserted = await insertCashFlows(tx, key, flows);
          await upsertCursor(tx, key, 'cash_flows', cursor);
          return { inserted };
        });
      }),

    loadFills: (key, fromMs) =>
      run('load fills', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          return sealed.loadFills(pool, key, fromMs);
        }
        const rows = await pool.any(sql.type(fillRow)`
          SELECT exchange_trade_id AS "exchangeTradeId", symbol, base_asset AS "baseAsset", quote_asset AS "quoteAsset",
                 side, quantity, price, fee, fee_asset AS "feeAsset", executed_at AS "executedAt"
          FROM trades
          WHERE ${account(key)} AND executed_at >= ${isoTime(fromMs)}::timestamptz
          ORDER BY executed_at, exchange_trade_id`);
        return [...rows];
      }),

    // Sealed: both streams in one statement, the account record opened once (sealed-store.ts).
    ...(sealed === undefined ? {} : {
      loadRecords: (key: AccountKey, fromMs: number) => run('load records', key, async () => {
        await sealed.migrateLegacy(pool, key);
        return sealed.loadRecords(pool, key, fromMs);
      }),
    }),

    loadCashFlows: (key, fromMs) =>
      run('load cash flows', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          return sealed.loadCashFlows(pool, key, fromMs);
        }
        const rows = await pool.any(sql.type(cashFlowRow)`
          SELECT exchange_flow_id AS "exchangeFlowId", kind, asset, amount, occurred_at AS "occurredAt"
          FROM cash_flows
          WHERE ${account(key)} AND occurred_at >= ${isoTime(fromMs)}::timestamptz
          ORDER BY occurred_at, exchange_flow_id`);
        return [...rows];
      }),

    upsertCandles: (exchange, candles) =>
      run(`upsert candles on ${exchange}`, null, async () => {
        if (candles.length === 0) return;
        for (let start = 0; start < candles.length; start += UNNEST_SLICE) {
          const tuples = candles
            .slice(start, start + UNNEST_SLICE)
            .map((c) => [c.symbol, isoTime(c.openTime), c.open, c.high, c.low, c.close, c.volume]);
          // Insert-only (issue 19): a stored candle is never rewritten, so repeated syncs leave no dead
          // rows. Only closed hours are fetched (up to the last hour boundary), so nothing is partial.
          await pool.query(sql.type(noRows)`
            INSERT INTO price_candles (exchange, symbol, open_time, open, high, low, close, volume)
            SELECT ${exchange}, t.*
            FROM ${sql.unnest(tuples, ['text', 'timestamptz', 'numeric', 'numeric', 'numeric', 'numeric', 'numeric'])}
              AS t(symbol, open_time, open, high, low, close, volume)
            ON CONFLICT (exchange, symbol, open_time) DO NOTHING`);
        }
      }),

    loadCandles: (exchange, symbols, fromMs, toMs) =>
      run(`load candles on ${exchange}`, null, async () => {
        if (symbols.length === 0) return [];
        const rows = await pool.any(sql.type(candleRow)`
          SELECT symbol, open_time AS "openTime", open, high, low, close, volume
          FROM price_candles
          WHERE exchange = ${exchange} AND symbol = ANY(${sql.array([...symbols], 'text')})
            AND open_time >= ${isoTime(fromMs)}::timestamptz AND open_time < ${isoTime(toMs)}::timestamptz
          ORDER BY open_time, symbol`);
        return [...rows];
      }),

    minuteMarks: createMinuteMarkStore(pool),
    loadFlagCounts: createFlagCounter(pool),

    loadEngineState: (key) =>
      run('load engine state', key, async () => {
        if (sealed !== undefined) {
          await sealed.migrateLegacy(pool, key);
          return sealed.loadEngineState(pool, key);
        }
        const row = await pool.maybeOne(sql.type(engineStateRow)`SELECT state FROM engine_states WHERE ${account(key)}`);
        return row === null ? null : row.state;
      }),

    // Without published hours or a sealed state: one statement (fence and inserts as CTEs,
    // fenced-writes.ts). Publishing hours reads the account's disclosure level and chains and
    // signs its checkpoint, and a sealed state binds its tag into the account record: one statement
    // too when this process knows the records and checkpoint it extends (aggregate-statement.ts),
    // else a transaction whose first statement is the fence, reading and checking each under a lock.
    saveAggregates: (key, write, generation) =>
      run('save aggregates', key, async () => {
        const publishes = write.hourlyReturns.length > 0 || write.snapshot !== null;
        const sealsState = sealed !== undefined && write.engineState !== undefined;
        if (!publishes && !sealsState) {
          await saveAggregatesFenced(pool, key, write, generation, options.fence);
          return;
        }
        // The exact amounts: legacy plaintext sealed and every row checked once per process first.
        if (publishes) await amounts?.prepare(pool, key);
        if (await saveInOneStatement(key, write, generation)) return;
        let amountsWrites: number | null = null;
        let checkpoint: CheckpointHead | null = null;
        const engineWrite = await pool.transaction(async (tx): Promise<SealedWrite | null> => {
          await assertGeneration(tx, key, generation, options.fence);
          const sealedWrite = sealed !== undefined && write.engineState !== undefined ? await sealed.saveEngineState(tx, key, write.engineState) : null;
          if (publishes) {
            // What the gateway may read follows the account's level (disclosure-store.ts).
            const level = await disclosureLevelIn(tx, key);
            const exact = amounts === undefined ? undefined : await amounts.begin(tx, key);
            if (write.hourlyReturns.length > 0) await writeHours(tx, key, write.hourlyReturns, level, exact);
            if (options.checkpoints !== undefined) checkpoint = await recordCheckpoint(tx, key, write.hourlyReturns, options.checkpoints);
            if (write.snapshot !== null) await writeSnapshot(tx, key, write.snapshot, level, exact);
            if (exact !== undefined) amountsWrites = await exact.finish();
          }
          // The plaintext state (no sealed store) and the metrics: one statement, fenced above; none when neither is left.
          const engineState = sealedWrite === null ? write.engineState : undefined;
          if (engineState !== undefined || write.performance !== null) {
            await saveAggregatesFenced(tx, key, { hourlyReturns: [], snapshot: null, engineState, performance: write.performance }, undefined);
          }
          return sealedWrite;
        });
        if (engineWrite !== null) sealed?.committed(engineWrite);
        if (amountsWrites !== null) amounts?.committed(key, amountsWrites);
        if (checkpoint !== null) checkpointHeads.set(key, checkpoint);
      }),

    saveReconciliation: (key, write, generation) =>
      run('save reconciliation', key, () => saveReconciliationFenced(pool, key, write, generation, options.fence)),

    saveDerivatives: (key, write, generation) => saveDerivatives(pool, (tx, account, g) => assertGeneration(tx, account, g, options.fence), key, write, generation),
    loadDerivatives: (key, hours) => loadDerivatives(pool, key, hours),

    loadReconciliation: (key) =>
      run('load reconciliation', key, async (): Promise<ReconciliationWrite | null> => {
        const row = await pool.maybeOne(sql.type(reconciliationRow)`
          SELECT at, status, explained_share AS "explainedShare", differing_assets AS "differingAssets", differing_positions AS "differingPositions", quarantined,
                 fills_coverage_start AS "fillsCoverageStart", cash_flows_coverage_start AS "cashFlowsCoverageStart"
          FROM account_reconciliations WHERE ${account(key)}`);
        if (row === null) return null;
        return {
          at: row.at, status: row.status, explainedShare: row.explainedShare, differingAssets: row.differingAssets, differingPositions: row.differingPositions, quarantined: row.quarantined,
          coverageStart: { fills: row.fillsCoverageStart, cashFlows: row.cashFlowsCoverageStart },
        };
      }),

    loadHourlyReturns: (key, fromMs, toMs) =>
      run('load hourly returns', key, async () => {
        const select = (db: CommonQueryMethods) => db.any(sql.type(hourlyReturnRow)`
          SELECT h.hour_start AS "hourStart", h.return, h.cumulative_return AS "cumulativeReturn",
                 coalesce(a.equity_end, h.equity_end, 0) AS "equityEnd", coalesce(a.net_flow, h.net_flow, 0) AS "netFlow", h.flags,
                 a.key_id AS "keyId", a.iv, a.tag, a.ciphertext
          FROM hourly_returns h
          LEFT JOIN hourly_amounts a ON a.user_uid = h.user_uid AND a.exchange = h.exchange AND a.hour_start = h.hour_start
          WHERE h.user_uid = ${key.userUid} AND h.exchange = ${key.exchange}
            AND h.hour_start >= ${isoTime(fromMs)}::timestamptz AND h.hour_start < ${isoTime(toMs)}::timestamptz
          ORDER BY h.hour_start`);
        let rows: readonly z.infer<typeof hourlyReturnRow>[];
        if (amounts === undefined) rows = await select(pool);
        else {
          await amounts.prepare(pool, key);
          // One snapshot: the range read, then its rows checked against the amounts record (the whole
          // set, or the set verified here before when the record has not changed since). The record
          // is held to what this process saw committed before the snapshot, not to a write of the
          // account it registers meanwhile (sealed-amounts.ts floorOf).
          const floor = amounts.floorOf(key);
          rows = await pool.transaction(async (tx) => {
            await tx.query(sql.type(noRows)`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
            const range = await select(tx);
            await amounts.vouch(tx, key, 'hourly_amounts', range.map((r) => ({ at: r.hourStart, tag: r.tag })), floor);
            return range;
          });
        }
        // A clean hour has no `flags` key, exactly as the engine returns it.
        return rows.map(({ flags, keyId, iv, tag, ciphertext, ...published }) => {
          const withFlags = <H extends object>(hour: H) => (flags === 0 ? hour : { ...hour, flags: maskToFlags(flags) });
          if (ciphertext === null || amounts === undefined) return withFlags(published);
          // The exact amounts from their sealed box (the whole set was verified above).
          const [equityEnd, netFlow] = amounts.open(key, 'hourly_amounts', published.hourStart, { keyId, iv, tag, ciphertext });
          return withFlags({ ...published, equityEnd, netFlow });
        });
      }),

    loadSnapshots: (key, fromMs, toMs) =>
      run('load snapshots', key, async () => {
        if (amounts !== undefined) {
          await amounts.prepare(pool, key);
          const floor = amounts.floorOf(key);
          return pool.transaction(async (tx) => {
            await tx.query(sql.type(noRows)`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
            return amounts.loadSnapshots(tx, key, fromMs, toMs, floor);
          });
        }
        const rows = await pool.any(sql.type(snapshotRow)`
          SELECT at, balance, equity FROM snapshot_amounts
          WHERE ${account(key)} AND at >= ${isoTime(fromMs)}::timestamptz AND at < ${isoTime(toMs)}::timestamptz
          ORDER BY at`);
        return [...rows];
      }),

    loadPerformanceStats: (key) =>
      run('load performance stats', key, async () => {
        // The snapshot at computed_until was written in the same transaction as the metrics (its exact
        // figures are in the private snapshot_amounts; the published row follows the level).
        await amounts?.prepare(pool, key);
        const row = await pool.maybeOne(sql.type(performanceRow)`
          SELECT ${PERFORMANCE_COLUMNS}
          FROM performance_stats p
          LEFT JOIN snapshot_amounts b
            ON b.user_uid = p.user_uid AND b.exchange = p.exchange AND b.at = p.computed_until
          WHERE p.user_uid = ${key.userUid} AND p.exchange = ${key.exchange}`);
        if (row === null) return null;
        const { computedUntil, stats, snapshot } = splitPerformanceRow(row, key, amounts);
        return { stats, computedUntil, snapshot };
      }),
  };
}
