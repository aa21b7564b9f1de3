// The end-of-sync aggregate write as ONE statement (issue 19): the fences, the sealed account and
// engine records, the exact amounts and their record, the published hours and snapshot at the
// account's disclosure level, the chain checkpoint and the metrics, as data-modifying CTEs. It was a
// transaction of ~18 statements (BEGIN, fence, locked record reads, level, old tags, each insert,
// checkpoint read, COMMIT); at ~0.5 ms of database CPU per statement that was most of a sync's cost.
//
// What replaces the locked reads is a compare-and-set, decided before anything is written:
//   f0, pass   the generation fence (connection row FOR SHARE, which also yields the disclosure
//              level of the row's newest version) and the shard lease (FOR KEY SHARE): fenced-writes.ts's fenceCtes
//   held       the account's sealed records FOR UPDATE, taken only once `pass` has a row (a one-time
//              filter): the newest committed tags, held until commit
//   fence      one row only when every precondition holds: each record still carries the tag this
//              process sealed its write from, none of the new exact rows' times is stored yet, and
//              the newest checkpoint is the one this process chained on
// Every write selects FROM fence, so either all of them run or none does (and the statement answers
// `wrote = 0`); the caller then takes the transaction path, which reads, locks and checks everything
// as before (a concurrent writer, an edited record, a recomputed hour, a key hand-over).
import { z } from 'zod';
import type { CommonQueryMethods } from 'slonik';
import { DISCLOSURE_LEVELS, publishedAmounts, publishedSnapshot, type DisclosureLevel } from '../domain/disclosure.js';
import { flagsToMask } from '../domain/hour-flags.js';
import { accountId, type AccountKey } from '../domain/types.js';
import type { SealedBox } from '../crypto/sealed-rows.js';
import type { AggregateWrite, Generation } from './account-store.js';
import { checkpointInsert, latestCheckpointIs, type CheckpointHead } from './checkpoint-store.js';
import { isoTime } from './copy-ingest.js';
import { StaleGenerationError } from './errors.js';
import { engineStateUpsert, fenceCtes, performanceInsert } from './fenced-writes.js';
import { sql } from './pool.js';
import type { AmountsSwap, SealedAmountRow } from './sealed-amounts.js';
import type { EngineStateSwap } from './sealed-store.js';
import { checkFence, type ShardFence } from './shard-fence.js';

type Fragment = ReturnType<typeof sql.fragment>;

const outcomeRow = z.object({
  fenced: z.number().int(), wrote: z.number().int(), generation: z.number().int().nullable(), epoch: z.number().int().nullable(),
});

/** What the statement writes besides `write` itself; each part sealed by its owner beforehand. */
export interface AggregateStatementParts {
  /** Sealed storage: the engine state as a swap of both records (null: plaintext engine_states, or no state). */
  readonly state: EngineStateSwap | null;
  /** Sealed exact amounts (null: the plaintext layout's exact rows, written as upserts). */
  readonly amounts: AmountsSwap | null;
  /** The chain checkpoint and the stored head it extends (null: no signer, or no hour published). */
  readonly checkpoint: { readonly head: CheckpointHead; readonly next: CheckpointHead } | null;
}

const binary = (b: Buffer) => sql.binary(b);
const boxValues = (kind: string, box: SealedBox) =>
  sql.fragment`(${kind}::text, ${box.keyId}::int2, ${binary(box.iv)}::bytea, ${binary(box.tag)}::bytea, ${binary(box.ciphertext)}::bytea)`;

/** `CASE fence.level WHEN … THEN t.<prefix>_<level> … END`: the column of the level read inside the statement. */
function byLevel(prefix: string): Fragment {
  const arms = DISCLOSURE_LEVELS.map((level) => sql.fragment`WHEN ${level}::text THEN ${sql.identifier(['t', `${prefix}_${level}`])}`);
  return sql.fragment`CASE fence.level::text ${sql.join(arms, sql.fragment` `)} END`;
}

function sealedRowsInsert(key: AccountKey, table: 'hourly_amounts' | 'snapshot_amounts', rows: readonly SealedAmountRow[]): Fragment {
  const time = table === 'hourly_amounts' ? 'hour_start' : 'at';
  const tuples = rows.map((r) => [isoTime(r.at), r.box.keyId, r.box.iv.toString('base64'), r.box.tag.toString('base64'), r.box.ciphertext.toString('base64')]);
  return sql.fragment`
    INSERT INTO ${sql.identifier([table])} (user_uid, exchange, ${sql.identifier([time])}, key_id, iv, tag, ciphertext)
    SELECT ${key.userUid}, ${key.exchange}, t.at, t.key_id, decode(t.iv, 'base64'), decode(t.tag, 'base64'), decode(t.ct, 'base64')
    FROM ${sql.unnest(tuples, ['timestamptz', 'int2', 'text', 'text', 'text'])} AS t(at, key_id, iv, tag, ct), fence`;
}

/**
 * Runs the write as one statement. True: everything was written. False: a precondition did not
 * hold and nothing was written (the caller takes the transaction path). A failed fence throws
 * StaleGenerationError or ShardLeaseLostError, as every fenced write does.
 */
export async function saveAggregatesInOneStatement(
  pool: CommonQueryMethods, key: AccountKey, write: AggregateWrite, generation: Generation, fence: ShardFence | undefined, parts: AggregateStatementParts,
): Promise<boolean> {
  const lease = fence?.leaseOf(key) ?? null;
  // Past the acting deadline (or a shard not held) nothing reaches the database.
  if (fence !== undefined && lease === null) checkFence(undefined, key, undefined, fence, null);
  const account = sql.fragment`user_uid = ${key.userUid} AND exchange = ${key.exchange}`;
  const { state, amounts, checkpoint } = parts;

  // Preconditions, all evaluated before any write (every write selects FROM fence).
  const held: string[] = [];
  const conditions: Fragment[] = [];
  const heldTag = (kind: string, expected: Buffer) => {
    held.push(kind);
    conditions.push(sql.fragment`(SELECT tag FROM held WHERE kind = ${kind}) = ${binary(expected)}`);
  };
  if (state !== null) {
    heldTag('account', state.account.expected);
    heldTag('engine', state.engine.expected);
  }
  if (amounts !== null) {
    heldTag('amounts', amounts.expected);
    if (amounts.hours.length > 0) {
      conditions.push(sql.fragment`NOT EXISTS (SELECT 1 FROM hourly_amounts WHERE ${account}
        AND hour_start = ANY(${sql.array(amounts.hours.map((h) => isoTime(h.at)), 'timestamptz')}))`);
    }
    if (amounts.snapshot !== null) conditions.push(sql.fragment`NOT EXISTS (SELECT 1 FROM snapshot_amounts WHERE ${account} AND at = ${isoTime(amounts.snapshot.at)}::timestamptz)`);
  }
  if (checkpoint !== null) conditions.push(latestCheckpointIs(key, checkpoint.head));

  const writes: Fragment[] = [];
  if (state !== null || amounts !== null) {
    const boxes = [
      ...(state === null ? [] : [boxValues('account', state.account.box), boxValues('engine', state.engine.box)]),
      ...(amounts === null ? [] : [boxValues('amounts', amounts.record)]),
    ];
    writes.push(sql.fragment`
      UPDATE sealed_records r SET key_id = v.key_id, iv = v.iv, tag = v.tag, ciphertext = v.ct
      FROM (VALUES ${sql.join(boxes, sql.fragment`, `)}) AS v(kind, key_id, iv, tag, ct), fence
      WHERE r.user_uid = ${key.userUid} AND r.exchange = ${key.exchange} AND r.kind = v.kind`);
  }
  if (state === null && write.engineState !== undefined) writes.push(engineStateUpsert(key, write.engineState));

  const hours = write.hourlyReturns;
  if (hours.length > 0) {
    if (amounts !== null) writes.push(sealedRowsInsert(key, 'hourly_amounts', amounts.hours));
    else {
      const exact = hours.map((h) => [isoTime(h.hourStart), h.equityEnd, h.netFlow]);
      writes.push(sql.fragment`
        INSERT INTO hourly_amounts (user_uid, exchange, hour_start, equity_end, net_flow)
        SELECT ${key.userUid}, ${key.exchange}, t.*
        FROM ${sql.unnest(exact, ['timestamptz', 'float8', 'float8'])} AS t(hour_start, equity_end, net_flow), fence
        ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE SET equity_end = excluded.equity_end, net_flow = excluded.net_flow`);
    }
    // The published amounts for every level; the statement picks the one of the level it read.
    const published = hours.map((h) => [
      isoTime(h.hourStart), h.return, h.cumulativeReturn, flagsToMask(h.flags ?? []),
      ...DISCLOSURE_LEVELS.flatMap((level) => { const shown = publishedAmounts(h, level); return [shown.equityEnd, shown.netFlow]; }),
    ]);
    const levelColumns = DISCLOSURE_LEVELS.flatMap((level) => [`e_${level}`, `n_${level}`]);
    writes.push(sql.fragment`
      INSERT INTO hourly_returns (user_uid, exchange, hour_start, return, cumulative_return, equity_end, net_flow, flags)
      SELECT ${key.userUid}, ${key.exchange}, t.hour_start, t.return, t.cumulative_return, ${byLevel('e')}, ${byLevel('n')}, t.flags
      FROM ${sql.unnest(published, ['timestamptz', 'float8', 'float8', 'int4', ...levelColumns.map(() => 'float8' as const)])}
        AS t(${sql.join([sql.identifier(['hour_start']), sql.identifier(['return']), sql.identifier(['cumulative_return']), sql.identifier(['flags']), ...levelColumns.map((c) => sql.identifier([c]))], sql.fragment`, `)}), fence
      -- Recomputed hours (late fills) replace what was published before.
      ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE
        SET return = excluded.return, cumulative_return = excluded.cumulative_return,
            equity_end = excluded.equity_end, net_flow = excluded.net_flow, flags = excluded.flags`);
  }
  const snapshot = write.snapshot;
  if (snapshot !== null) {
    if (amounts !== null && amounts.snapshot !== null) writes.push(sealedRowsInsert(key, 'snapshot_amounts', [amounts.snapshot]));
    else {
      writes.push(sql.fragment`
        INSERT INTO snapshot_amounts (user_uid, exchange, at, balance, equity)
        SELECT ${key.userUid}, ${key.exchange}, ${isoTime(snapshot.at)}::timestamptz, ${snapshot.balance}::float8, ${snapshot.equity}::float8 FROM fence
        ON CONFLICT (user_uid, exchange, at) DO UPDATE SET balance = excluded.balance, equity = excluded.equity`);
    }
    const shown = (level: DisclosureLevel) => publishedSnapshot(snapshot, level);
    const arms = (field: 'balance' | 'equity') =>
      sql.join(DISCLOSURE_LEVELS.map((level) => sql.fragment`WHEN ${level}::text THEN ${shown(level)[field]}::float8`), sql.fragment` `);
    writes.push(sql.fragment`
      INSERT INTO balance_snapshots (user_uid, exchange, at, balance, equity)
      SELECT ${key.userUid}, ${key.exchange}, ${isoTime(snapshot.at)}::timestamptz,
        CASE fence.level::text ${arms('balance')} END, CASE fence.level::text ${arms('equity')} END
      FROM fence
      ON CONFLICT (user_uid, exchange, at) DO UPDATE SET balance = excluded.balance, equity = excluded.equity`);
  }
  if (checkpoint !== null) writes.push(checkpointInsert(key, checkpoint.next));
  if (write.performance !== null) writes.push(performanceInsert(key, write.performance));

  const heldCte = held.length === 0 ? sql.fragment`` : sql.fragment`
    -- After the fence's locks (a one-time filter on pass), as every other writer of these rows takes them.
    held AS MATERIALIZED (SELECT kind, tag FROM sealed_records
      WHERE ${account} AND kind = ANY(${sql.array(held, 'text')}) AND EXISTS (SELECT 1 FROM pass) FOR UPDATE),`;
  const ctes = writes.map((w, i) => sql.fragment`${sql.identifier([`w${i}`])} AS (${w})`);
  const row = await pool.one(sql.type(outcomeRow)`
    -- The level is read locked like the generation: the newest version of the row, so a level change
    -- that committed meanwhile is the level published here (one waiting for this statement republishes after it).
    WITH ${fenceCtes(key, generation, fence, lease, 'pass', true)},${heldCte}
      fence AS (SELECT pass.level FROM pass WHERE ${conditions.length === 0 ? sql.fragment`true` : sql.join(conditions, sql.fragment` AND `)})
      ${ctes.length === 0 ? sql.fragment`` : sql.fragment`, ${sql.join(ctes, sql.fragment`, `)}`}
    SELECT (SELECT count(*) FROM pass)::int AS fenced, (SELECT count(*) FROM fence)::int AS wrote,
      (SELECT generation FROM f0) AS generation, (SELECT epoch FROM f0) AS epoch`);
  if (row.fenced !== 1) {
    checkFence(row, key, generation, fence, lease);
    throw new StaleGenerationError(`${accountId(key)}: the connection changed since it was loaded; write rolled back`);
  }
  return row.wrote === 1;
}
