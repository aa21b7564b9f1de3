// The shard lease table (sql/012_shard_placement.sql): claim, renew, release, and who owns what.
// Every expiry is computed by the database (now() + TTL): instances never compare their own clocks.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { ShardCountMismatchError, toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';
import type { ShardLease } from './shard-fence.js';

const leaseRow = z.object({ shard: z.number().int(), epoch: z.number().int() });
const countRow = z.object({ shards: z.number().int(), top: z.number().int().nullable() });
const liveRow = z.object({ live: z.number().int() });
const ownerRow = z.object({ ownerId: z.string().nullable(), ownerAddr: z.string().nullable(), live: z.boolean() });
const ownedRow = z.object({ ownerId: z.string(), owned: z.number().int() });

/** Who owns a shard now: null when nobody holds an unexpired lease on it. */
export interface ShardOwner {
  readonly instanceId: string;
  readonly addr: string;
}

export interface PlacementRepository {
  /** Creates the shard rows once; refuses a database set up with another shard count. */
  ensureShards(shardCount: number): Promise<void>;
  /** Records this instance as live until now() + TTL (and forgets instances dead for long). */
  heartbeat(instanceId: string, addr: string, ttlMs: number): Promise<void>;
  /** Instances whose heartbeat has not expired (this one included once it has beaten). */
  liveInstances(): Promise<number>;
  /**
   * Extends every unexpired lease this instance holds; returns those it still holds. With `addr`,
   * the same statement also beats this instance's heartbeat (one round trip per lease round).
   */
  renew(instanceId: string, ttlMs: number, addr?: string): Promise<ShardLease[]>;
  /** Claims up to `max` free or expired shards (SKIP LOCKED: shards mid-write or mid-claim elsewhere are passed over), each with a new epoch. */
  claim(instanceId: string, addr: string, ttlMs: number, max: number): Promise<ShardLease[]>;
  /** Hands shards back (a new epoch, expired): another instance may claim them at once. */
  release(instanceId: string, shards: readonly number[]): Promise<number>;
  /** Removes the heartbeat row (after releasing every shard at shutdown). */
  /**
   * The embedded database is opened by one process only: every lease and instance row a previous
   * run left is void. Frees every shard and forgets every instance (the caller claims them next).
   */
  resetForSoleInstance(): Promise<void>;
  leave(instanceId: string): Promise<void>;
  ownerOf(shard: number): Promise<ShardOwner | null>;
  /** Unexpired leases per instance. */
  ownedCounts(): Promise<ReadonlyMap<string, number>>;
}

const ttl = (ms: number) => sql.fragment`now() + ${Math.max(1, Math.round(ms))} * interval '1 millisecond'`;

export function createPlacementRepository(pool: DatabasePool): PlacementRepository {
  async function run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStorageError(error, operation);
    }
  }

  return {
    ensureShards: (shardCount) =>
      run('ensure shards', async () => {
        const counted = () => pool.one(sql.type(countRow)`SELECT count(*)::int AS shards, max(shard) AS top FROM placement`);
        let row = await counted();
        // Only an empty table is filled: a database set up with another count is refused, not extended.
        if (row.shards === 0) {
          await pool.query(sql.type(noRows)`
            INSERT INTO placement (shard) SELECT generate_series(0, ${shardCount - 1}) ON CONFLICT (shard) DO NOTHING`);
          row = await counted();
        }
        if (row.shards !== shardCount || row.top !== shardCount - 1) {
          throw new ShardCountMismatchError(`the database is set up for ${row.shards} shards, SHARD_COUNT is ${shardCount}; every instance must use the same count`);
        }
        // Connections stored before the shard rows existed have no shard yet (sql/018's trigger sets it from then on).
        await pool.query(sql.type(noRows)`UPDATE exchange_connections SET shard = shard_of(user_uid, ${shardCount}) WHERE shard IS NULL`);
      }),

    heartbeat: (instanceId, addr, ttlMs) =>
      run('instance heartbeat', async () => {
        await pool.query(sql.type(noRows)`
          INSERT INTO instances (instance_id, addr, expires_at) VALUES (${instanceId}, ${addr}, ${ttl(ttlMs)})
          ON CONFLICT (instance_id) DO UPDATE SET addr = excluded.addr, expires_at = excluded.expires_at`);
        await pool.query(sql.type(noRows)`DELETE FROM instances WHERE expires_at < now() - interval '1 day'`);
      }),

    liveInstances: () =>
      run('count live instances', async () => (await pool.one(sql.type(liveRow)`SELECT count(*)::int AS live FROM instances WHERE expires_at > now()`)).live),

    renew: (instanceId, ttlMs, addr) =>
      run('renew shard leases', async () => [...await pool.any(sql.type(leaseRow)`
        ${addr === undefined ? sql.fragment`` : sql.fragment`WITH beat AS (
          INSERT INTO instances (instance_id, addr, expires_at) VALUES (${instanceId}, ${addr}, ${ttl(ttlMs)})
          ON CONFLICT (instance_id) DO UPDATE SET addr = excluded.addr, expires_at = excluded.expires_at
        )`}
        UPDATE placement SET expires_at = ${ttl(ttlMs)}
        WHERE owner_id = ${instanceId} AND expires_at > now()
        RETURNING shard, epoch`)]),

    claim: (instanceId, addr, ttlMs, max) =>
      run('claim shards', async () => {
        if (max <= 0) return [];
        return [...await pool.any(sql.type(leaseRow)`
          WITH free AS (
            SELECT shard FROM placement WHERE expires_at <= now()
            ORDER BY shard FOR UPDATE SKIP LOCKED LIMIT ${max}
          )
          UPDATE placement p
          SET owner_id = ${instanceId}, owner_addr = ${addr}, epoch = nextval('placement_epoch_seq'), expires_at = ${ttl(ttlMs)}
          FROM free WHERE p.shard = free.shard
          RETURNING p.shard, p.epoch`)];
      }),

    release: (instanceId, shards) =>
      run('release shards', async () => {
        if (shards.length === 0) return 0;
        const result = await pool.query(sql.type(noRows)`
          UPDATE placement
          SET owner_id = NULL, owner_addr = NULL, epoch = nextval('placement_epoch_seq'), expires_at = '-infinity'
          WHERE owner_id = ${instanceId} AND shard = ANY(${sql.array([...shards], 'int4')})`);
        return result.rowCount;
      }),

    resetForSoleInstance: () =>
      run('reset placement for the sole instance', async () => {
        await pool.query(sql.type(noRows)`DELETE FROM instances`);
        await pool.query(sql.type(noRows)`
          UPDATE placement SET owner_id = NULL, owner_addr = NULL, epoch = nextval('placement_epoch_seq'), expires_at = '-infinity'
          WHERE owner_id IS NOT NULL`);
      }),

    leave: (instanceId) =>
      run('leave', async () => {
        await pool.query(sql.type(noRows)`DELETE FROM instances WHERE instance_id = ${instanceId}`);
      }),

    ownerOf: (shard) =>
      run('shard owner', async () => {
        const row = await pool.maybeOne(sql.type(ownerRow)`
          SELECT owner_id AS "ownerId", owner_addr AS "ownerAddr", expires_at > now() AS live FROM placement WHERE shard = ${shard}`);
        if (row === null || !row.live || row.ownerId === null || row.ownerAddr === null) return null;
        return { instanceId: row.ownerId, addr: row.ownerAddr };
      }),

    ownedCounts: () =>
      run('owned shard counts', async () => {
        const rows = await pool.any(sql.type(ownedRow)`
          SELECT owner_id AS "ownerId", count(*)::int AS owned FROM placement
          WHERE owner_id IS NOT NULL AND expires_at > now() GROUP BY owner_id`);
        return new Map(rows.map((r) => [r.ownerId, r.owned]));
      }),
  };
}
