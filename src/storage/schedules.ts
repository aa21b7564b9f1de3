// Each account's next scheduled sync (exchange_connections.next_sync_at, sql/012): kept so that a
// shard's next owner (issue 18) carries on with the schedule instead of drawing a new one.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { accountId, EXCHANGES, type AccountKey, type ConnectionStatus, type EpochMs } from '../domain/types.js';
import { isoTime } from './copy-ingest.js';
import { toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

const scheduleRow = z.object({
  userUid: z.string(),
  exchange: z.enum(EXCHANGES),
  status: z.enum(['active', 'failed', 'disabled']),
  nextSyncAt: z.number().nullable(),
});

export interface StoredSchedule {
  readonly account: AccountKey;
  readonly status: ConnectionStatus;
  /** Null when never stored (a connection from before sql/012, or one that never synced on schedule). */
  readonly nextSyncAt: EpochMs | null;
}

export interface ScheduleRepository {
  save(account: AccountKey, at: EpochMs | null): Promise<void>;
  /** Every connection's status and stored schedule (no envelope), ordered by user then exchange. */
  list(): Promise<StoredSchedule[]>;
  /** The same for the connections of these shards only (exchange_connections.shard, indexed: sql/018). */
  listShards(shards: readonly number[]): Promise<StoredSchedule[]>;
}

export function createScheduleRepository(pool: DatabasePool): ScheduleRepository {
  return {
    async save(account, at) {
      try {
        await pool.query(sql.type(noRows)`
          UPDATE exchange_connections SET next_sync_at = ${at === null ? null : isoTime(at)}::timestamptz
          WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
      } catch (error) {
        throw toStorageError(error, `save next sync time for ${accountId(account)}`);
      }
    },
    async list() {
      try {
        const rows = await pool.any(sql.type(scheduleRow)`
          SELECT user_uid AS "userUid", exchange, status, next_sync_at AS "nextSyncAt"
          FROM exchange_connections ORDER BY user_uid, exchange`);
        return rows.map((r) => ({ account: { userUid: r.userUid, exchange: r.exchange }, status: r.status, nextSyncAt: r.nextSyncAt }));
      } catch (error) {
        throw toStorageError(error, 'list schedules');
      }
    },
    async listShards(shards) {
      try {
        const rows = await pool.any(sql.type(scheduleRow)`
          SELECT user_uid AS "userUid", exchange, status, next_sync_at AS "nextSyncAt"
          FROM exchange_connections WHERE shard = ANY(${sql.array([...shards], 'int4')}) ORDER BY user_uid, exchange`);
        return rows.map((r) => ({ account: { userUid: r.userUid, exchange: r.exchange }, status: r.status, nextSyncAt: r.nextSyncAt }));
      } catch (error) {
        throw toStorageError(error, 'list schedules of shards');
      }
    },
  };
}
