// Publication by disclosure level (issue 14, part 2). The tables the gateway reads
// (hourly_returns, balance_snapshots) receive amounts only as the account's level allows (null or
// rounded, decided by src/domain/disclosure.ts at write time); the exact figures go to the
// enclave-only hourly_amounts and snapshot_amounts, sealed (sealed-amounts.ts) whenever the store
// has the account keys, from which a level change rewrites the published rows in one transaction.
import { z } from 'zod';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { DEFAULT_DISCLOSURE_LEVEL, DISCLOSURE_LEVELS, publishedAmounts, publishedSnapshot, type DisclosureLevel } from '../domain/disclosure.js';
import { flagsToMask } from '../domain/hour-flags.js';
import { accountId, type AccountKey, type BalanceSnapshot, type HourlyReturn } from '../domain/types.js';
import { isoTime } from './copy-ingest.js';
import { toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';
import type { AmountsWriter, SealedAmounts } from './sealed-amounts.js';

const levelRow = z.object({ level: z.enum(DISCLOSURE_LEVELS) });
const amountsRow = z.object({ hourStart: z.number(), equityEnd: z.number(), netFlow: z.number() });
const snapshotAmountsRow = z.object({ at: z.number(), balance: z.number(), equity: z.number() });

const SLICE = 5_000;

/** The account's level inside a write transaction (the default when no connection is stored, e.g. a bench). */
export async function disclosureLevelIn(tx: DatabaseTransactionConnection, account: AccountKey): Promise<DisclosureLevel> {
  const row = await tx.maybeOne(sql.type(levelRow)`
    SELECT disclosure_level AS level FROM exchange_connections
    WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  return row?.level ?? DEFAULT_DISCLOSURE_LEVEL;
}

/**
 * Upserts hours: exact amounts privately (sealed through `sealed` when given, else the plaintext
 * layout of tests and tools), published amounts as `level` allows.
 */
export async function writeHours(tx: DatabaseTransactionConnection, account: AccountKey, hours: readonly HourlyReturn[], level: DisclosureLevel, sealed?: AmountsWriter): Promise<void> {
  if (sealed !== undefined) await sealed.writeHours(hours);
  for (let start = 0; start < hours.length; start += SLICE) {
    const slice = hours.slice(start, start + SLICE);
    const exact = slice.map((h) => [isoTime(h.hourStart), h.equityEnd, h.netFlow]);
    if (sealed === undefined) await tx.query(sql.type(noRows)`
      INSERT INTO hourly_amounts (user_uid, exchange, hour_start, equity_end, net_flow)
      SELECT ${account.userUid}, ${account.exchange}, t.*
      FROM ${sql.unnest(exact, ['timestamptz', 'float8', 'float8'])} AS t(hour_start, equity_end, net_flow)
      ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE SET equity_end = excluded.equity_end, net_flow = excluded.net_flow`);
    const published = slice.map((h) => {
      const shown = publishedAmounts(h, level);
      return [isoTime(h.hourStart), h.return, h.cumulativeReturn, shown.equityEnd, shown.netFlow, flagsToMask(h.flags ?? [])];
    });
    // Recomputed hours (late fills) replace what was published before.
    await tx.query(sql.type(noRows)`
      INSERT INTO hourly_returns (user_uid, exchange, hour_start, return, cumulative_return, equity_end, net_flow, flags)
      SELECT ${account.userUid}, ${account.exchange}, t.*
      FROM ${sql.unnest(published, ['timestamptz', 'float8', 'float8', 'float8', 'float8', 'int4'])}
        AS t(hour_start, return, cumulative_return, equity_end, net_flow, flags)
      ON CONFLICT (user_uid, exchange, hour_start) DO UPDATE
        SET return = excluded.return, cumulative_return = excluded.cumulative_return,
            equity_end = excluded.equity_end, net_flow = excluded.net_flow, flags = excluded.flags`);
  }
}

/** Upserts a snapshot: exact privately (sealed when `sealed` is given), published as `level` allows. */
export async function writeSnapshot(tx: DatabaseTransactionConnection, account: AccountKey, s: BalanceSnapshot, level: DisclosureLevel, sealed?: AmountsWriter): Promise<void> {
  const shown = publishedSnapshot(s, level);
  if (sealed !== undefined) await sealed.writeSnapshot(s);
  else await tx.query(sql.type(noRows)`
    INSERT INTO snapshot_amounts (user_uid, exchange, at, balance, equity)
    VALUES (${account.userUid}, ${account.exchange}, ${isoTime(s.at)}::timestamptz, ${s.balance}, ${s.equity})
    ON CONFLICT (user_uid, exchange, at) DO UPDATE SET balance = excluded.balance, equity = excluded.equity`);
  await tx.query(sql.type(noRows)`
    INSERT INTO balance_snapshots (user_uid, exchange, at, balance, equity)
    VALUES (${account.userUid}, ${account.exchange}, ${isoTime(s.at)}::timestamptz, ${shown.balance}::float8, ${shown.equity}::float8)
    ON CONFLICT (user_uid, exchange, at) DO UPDATE SET balance = excluded.balance, equity = excluded.equity`);
}

/** Rewrites every published amount of the account from the private exact figures, as `level` allows. */
async function republish(tx: DatabaseTransactionConnection, account: AccountKey, level: DisclosureLevel, sealed: SealedAmounts | undefined): Promise<void> {
  // Sealed: the exact figures are opened and checked against the account's amounts record (the
  // writer's lock keeps a sync's aggregate write out meanwhile); a tampered copy fails the change.
  if (sealed !== undefined) await sealed.begin(tx, account);
  const hours = sealed !== undefined ? await sealed.loadHours(tx, account) : await tx.any(sql.type(amountsRow)`
    SELECT hour_start AS "hourStart", equity_end AS "equityEnd", net_flow AS "netFlow" FROM hourly_amounts
    WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  for (let start = 0; start < hours.length; start += SLICE) {
    const tuples = hours.slice(start, start + SLICE).map((h) => {
      const shown = publishedAmounts(h, level);
      return [isoTime(h.hourStart), shown.equityEnd, shown.netFlow];
    });
    await tx.query(sql.type(noRows)`
      UPDATE hourly_returns h SET equity_end = t.equity_end, net_flow = t.net_flow
      FROM ${sql.unnest(tuples, ['timestamptz', 'float8', 'float8'])} AS t(hour_start, equity_end, net_flow)
      WHERE h.user_uid = ${account.userUid} AND h.exchange = ${account.exchange} AND h.hour_start = t.hour_start`);
  }
  const snapshots = sealed !== undefined ? await sealed.loadSnapshots(tx, account) : await tx.any(sql.type(snapshotAmountsRow)`
    SELECT at, balance, equity FROM snapshot_amounts WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  for (let start = 0; start < snapshots.length; start += SLICE) {
    const tuples = snapshots.slice(start, start + SLICE).map((s) => {
      const shown = publishedSnapshot(s, level);
      return [isoTime(s.at), shown.balance, shown.equity];
    });
    await tx.query(sql.type(noRows)`
      UPDATE balance_snapshots b SET balance = t.balance, equity = t.equity
      FROM ${sql.unnest(tuples, ['timestamptz', 'float8', 'float8'])} AS t(at, balance, equity)
      WHERE b.user_uid = ${account.userUid} AND b.exchange = ${account.exchange} AND b.at = t.at`);
  }
}

export interface DisclosureStore {
  /** The account's level; null when no connection is stored. */
  loadDisclosureLevel(account: AccountKey): Promise<DisclosureLevel | null>;
  /**
   * Sets the level and rewrites the account's published rows to it, in one transaction (a sync's
   * aggregate write waits for it, then publishes at the new level). False when no connection is stored.
   */
  setDisclosureLevel(account: AccountKey, level: DisclosureLevel): Promise<boolean>;
}

/** `sealed`: the exact amounts are sealed (the service always passes it; see open-storage.ts). */
export function createDisclosureStore(pool: DatabasePool, sealed?: SealedAmounts): DisclosureStore {
  return {
    async loadDisclosureLevel(account) {
      try {
        const row = await pool.maybeOne(sql.type(levelRow)`
          SELECT disclosure_level AS level FROM exchange_connections
          WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
        return row?.level ?? null;
      } catch (error) {
        throw toStorageError(error, `load disclosure level for ${accountId(account)}`);
      }
    },
    async setDisclosureLevel(account, level) {
      try {
        await sealed?.prepare(pool, account);
        return await pool.transaction(async (tx) => {
          const updated = await tx.query(sql.type(noRows)`
            UPDATE exchange_connections SET disclosure_level = ${level}, updated_at = now()
            WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
          if (updated.rowCount === 0) return false;
          await republish(tx, account, level, sealed);
          return true;
        });
      } catch (error) {
        throw toStorageError(error, `set disclosure level for ${accountId(account)}`);
      }
    },
  };
}
