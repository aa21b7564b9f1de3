// The end-of-sync writes as single statements (issue 19): the generation fence and every insert
// in one statement of data-modifying CTEs instead of a transaction (START, fence, inserts, COMMIT:
// 4 to 7 round trips). One statement is atomic by itself; the fence CTEs lock the connection row
// FOR SHARE and this instance's shard lease FOR KEY SHARE exactly as assertFence does, and every
// insert selects FROM the fence, so a stale generation or a lost lease writes nothing and the
// statement answers 0 (StaleGenerationError or ShardLeaseLostError, as on the transaction path).
import { z } from 'zod';
import type { CommonQueryMethods, SerializableValue } from 'slonik';
import { DEFAULT_DISCLOSURE_LEVEL } from '../domain/disclosure.js';
import { accountId, type AccountKey } from '../domain/types.js';
import { flagsToMask } from '../domain/hour-flags.js';
import type { AggregateWrite, Generation, PerformanceWrite, ReconciliationWrite } from './account-store.js';
import { isoTime } from './copy-ingest.js';
import { StaleGenerationError } from './errors.js';
import { sql } from './pool.js';
import { checkFence, fenceParameters, type ShardFence, type ShardLease } from './shard-fence.js';

const fencedRow = z.object({ fenced: z.number().int(), generation: z.number().int().nullable(), epoch: z.number().int().nullable() });
type Fragment = ReturnType<typeof sql.fragment>;

/**
 * The fence as CTEs: `f0` reads the connection's generation (FOR SHARE) and this instance's lease
 * on the account's shard with its epoch (FOR KEY SHARE), exactly the statement of assertFence
 * (shard-fence.ts); `fence` (or the name given) has one row when both checks pass, and every write
 * selects FROM it. `withLevel`: the row also carries the account's disclosure level, read from the
 * same locked connection row (its newest version; the default level when no connection is stored).
 */
export function fenceCtes(key: AccountKey, generation: Generation, fence: ShardFence | undefined, lease: ShardLease | null, as: 'fence' | 'pass' = 'fence', withLevel = false): Fragment {
  const [user, exchange, shard, owner, epoch] = fenceParameters(key, lease, fence?.instanceId ?? null);
  const generationOk = generation === undefined ? sql.fragment`true` : sql.fragment`f0.generation = ${generation}`;
  const leaseOk = fence === undefined ? sql.fragment`true` : sql.fragment`f0.epoch IS NOT NULL`;
  const level = withLevel
    ? sql.fragment`,
      (SELECT disclosure_level FROM exchange_connections WHERE user_uid = ${user} AND exchange = ${exchange} FOR SHARE) AS level`
    : sql.fragment``;
  return sql.fragment`f0 AS (SELECT
      (SELECT generation FROM exchange_connections WHERE user_uid = ${user} AND exchange = ${exchange} FOR SHARE) AS generation${level},
      (SELECT epoch FROM placement WHERE shard = ${shard} AND owner_id = ${owner} AND epoch = ${epoch} AND expires_at > now() FOR KEY SHARE) AS epoch),
    ${sql.identifier([as])} AS (SELECT 1 AS ok${withLevel ? sql.fragment`, coalesce(f0.level::text, ${DEFAULT_DISCLOSURE_LEVEL}) AS level` : sql.fragment``}
      FROM f0 WHERE ${generationOk} AND ${leaseOk})`;
}

async function fenced(pool: CommonQueryMethods, key: AccountKey, generation: Generation, fence: ShardFence | undefined, writes: readonly Fragment[]): Promise<void> {
  const lease = fence?.leaseOf(key) ?? null;
  // Past the acting deadline (or a shard not held) nothing reaches the database.
  if (fence !== undefined && lease === null) checkFence(undefined, key, undefined, fence, null);
  const ctes = writes.map((w, i) => sql.fragment`${sql.identifier([`w${i}`])} AS (${w})`);
  const row = await pool.one(sql.type(fencedRow)`
    WITH ${fenceCtes(key, generation, fence, lease)}${writes.length === 0 ? sql.fragment`` : sql.fragment`, ${sql.join(ctes, sql.fragment`, `)}`}
    SELECT (SELECT count(*) FROM fence)::int AS fenced, (SELECT generation FROM f0) AS generation, (SELECT epoch FROM f0) AS epoch`);
  if (row.fenced !== 1) {
    checkFence(row, key, generation, fence, lease);
    throw new StaleGenerationError(`${accountId(key)}: the connection changed since it was loaded; write rolled back`);
  }
}

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : isoTime(ms));

/** The metrics upsert, selecting FROM the statement's `fence` CTE. */
export function performanceInsert(key: AccountKey, write: PerformanceWrite): Fragment {
  const s = write.stats;
  return sql.fragment`
    INSERT INTO performance_stats (user_uid, exchange, computed_until, hours, cumulative_return, annualized_return, annualized_volatility,
      max_drawdown, max_drawdown_peak_hour, max_drawdown_trough_hour, sharpe, sortino, calmar, positive_hour_share,
      best_hour, worst_hour, total_fees, realized_pnl, unrealized_pnl)
    SELECT ${key.userUid}, ${key.exchange}, ${isoTime(write.computedUntil)}::timestamptz, ${s.hours},
      ${s.cumulativeReturn}::float8, ${s.annualizedReturn}::float8, ${s.annualizedVolatility}::float8, ${s.maxDrawdown}::float8,
      ${isoOrNull(s.maxDrawdownPeakHour)}::timestamptz, ${isoOrNull(s.maxDrawdownTroughHour)}::timestamptz,
      ${s.sharpe}::float8, ${s.sortino}::float8, ${s.calmar}::float8, ${s.positiveHourShare}::float8,
      ${s.bestHour}::float8, ${s.worstHour}::float8, ${s.totalFees}::float8, ${s.realizedPnl}::float8, ${s.unrealizedPnl}::float8
    FROM fence
    ON CONFLICT (user_uid, exchange) DO UPDATE SET
      computed_until = excluded.computed_until, hours = excluded.hours, cumulative_return = excluded.cumulative_return,
      annualized_return = excluded.annualized_return, annualized_volatility = excluded.annualized_volatility,
      max_drawdown = excluded.max_drawdown, max_drawdown_peak_hour = excluded.max_drawdown_peak_hour,
      max_drawdown_trough_hour = excluded.max_drawdown_trough_hour, sharpe = excluded.sharpe, sortino = excluded.sortino,
      calmar = excluded.calmar, positive_hour_share = excluded.positive_hour_share, best_hour = excluded.best_hour,
      worst_hour = excluded.worst_hour, total_fees = excluded.total_fees, realized_pnl = excluded.realized_pnl,
      unrealized_pnl = excluded.unrealized_pnl, updated_at = now()`;
}

/** The plaintext layout's engine state upsert, selecting FROM the statement's `fence` CTE. */
export function engineStateUpsert(key: AccountKey, state: unknown): Fragment {
  return sql.fragment`
    INSERT INTO engine_states (user_uid, exchange, state)
    SELECT ${key.userUid}, ${key.exchange}, ${sql.jsonb(state as SerializableValue)} FROM fence
    ON CONFLICT (user_uid, exchange) DO UPDATE SET state = excluded.state, updated_at = now()`;
}

/** Hourly returns, snapshot, engine state and metrics of one aggregation: one statement. */
export async function saveAggregatesFenced(pool: CommonQueryMethods, key: AccountKey, write: AggregateWrite, generation: Generation, fence?: ShardFence): Promise<void> {
  const writes: Fragment[] = [];
  if (write.hourlyReturns.length > 0) {
    const tuples = write.hourlyReturns.map((h) => [isoTime(h.hourStart), h.return, h.cumulativeReturn, h.equityEnd, h.netFlow, flagsToMask(h.flags ?? [])]);
    // Recomputed hours (late fills) replace what was published before.
    writes.push(sql.fragment`
      INSERT INTO hourly_returns (user_uid, exchange, hour_start, return, cumulative_return, equity_end, net_flow, flags)
      SELECT ${key.userUid}, ${key.exchange}, t.*
      FROM ${sql.unnest(tuples, ['timestamptz', 'float8', 'float8', 'float8', 'float8', 'int4'])}
        AS t(hour_start, return, cumulative_return, equity_end, net_flow, flags), fence
      ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE
        SET return = excluded.return, cumulative_return = excluded.cumulative_return,
            equity_end = excluded.equity_end, net_flow = excluded.net_flow, flags = excluded.flags`);
  }
  if (write.snapshot !== null) {
    const s = write.snapshot;
    writes.push(sql.fragment`
      INSERT INTO balance_snapshots (user_uid, exchange, at, balance, equity)
      SELECT ${key.userUid}, ${key.exchange}, ${isoTime(s.at)}::timestamptz, ${s.balance}, ${s.equity} FROM fence
      ON CONFLICT (user_uid, exchange, at) DO UPDATE SET balance = excluded.balance, equity = excluded.equity`);
  }
  if (write.engineState !== undefined) writes.push(engineStateUpsert(key, write.engineState));
  if (write.performance !== null) writes.push(performanceInsert(key, write.performance));
  await fenced(pool, key, generation, fence, writes);
}

/** The account's published reconciliation: one statement. */
export async function saveReconciliationFenced(pool: CommonQueryMethods, key: AccountKey, write: ReconciliationWrite, generation: Generation, fence?: ShardFence): Promise<void> {
  await fenced(pool, key, generation, fence, [sql.fragment`
    INSERT INTO account_reconciliations (user_uid, exchange, at, status, explained_share, differing_assets, quarantined, fills_coverage_start, cash_flows_coverage_start, differing_positions)
    SELECT ${key.userUid}, ${key.exchange}, ${isoTime(write.at)}::timestamptz, ${write.status}, ${write.explainedShare}, ${write.differingAssets}, ${write.quarantined},
           ${isoOrNull(write.coverageStart.fills)}::timestamptz, ${isoOrNull(write.coverageStart.cashFlows)}::timestamptz, ${write.differingPositions ?? 0}
    FROM fence
    ON CONFLICT (user_uid, exchange) DO UPDATE SET at = excluded.at, status = excluded.status, explained_share = excluded.explained_share,
      differing_assets = excluded.differing_assets, quarantined = excluded.quarantined,
      fills_coverage_start = excluded.fills_coverage_start, cash_flows_coverage_start = excluded.cash_flows_coverage_start,
      differing_positions = excluded.differing_positions`]);
}
