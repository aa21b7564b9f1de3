// The write fence of issue 18, in one statement: the first statement of every write transaction
// checks both that the connection still has the generation the writer loaded (FOR SHARE on its
// row: a removal waits for the write) and that this instance still holds the lease on the
// account's shard with the epoch it has in its lease book, unexpired in database time (FOR KEY SHARE
// on the placement row: a takeover changes the epoch, a unique column, so it waits for this
// transaction and SKIP LOCKED passes over the shard meanwhile; a renewal does not wait).
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { DatabaseTransactionConnection } from 'slonik';
import { shardOf } from '../domain/shards.js';
import { accountId, type AccountKey } from '../domain/types.js';
import type { Generation } from './account-store.js';
import { ShardLeaseLostError, StaleGenerationError } from './errors.js';
import { sql } from './pool.js';

/** A lease this instance holds: the shard and the epoch it was claimed with. */
export interface ShardLease {
  readonly shard: number;
  readonly epoch: number;
}

/** What the fence asks: who this instance is, and which lease (if any) covers the account now. */
export interface ShardFence {
  readonly instanceId: string;
  /** The lease covering the account's shard, or null (not held, or past its acting deadline): writes are refused. */
  leaseOf(account: AccountKey): ShardLease | null;
}

/**
 * The in-memory book of this instance's leases, filled by the lease keeper (src/app/shard-leases.ts)
 * and read by the fence and the supervisor. Past `usableUntil` on the local monotonic clock every
 * lease is treated as lost, whatever the database would still say.
 */
export interface LeaseBook extends ShardFence {
  readonly shardCount: number;
  /** The account's shard. */
  shardOf(account: AccountKey): number;
  /** True when the account's shard is held and usable now. */
  owns(account: AccountKey): boolean;
  epochOf(shard: number): number | undefined;
  /** Held shards, ascending. */
  shards(): number[];
  readonly size: number;
  set(shard: number, epoch: number): void;
  delete(shard: number): void;
  clear(): void;
  /** Leases may be acted on until this local monotonic instant (ms). */
  setUsableUntil(monotonicMs: number): void;
  /** The acting deadline now (local monotonic ms; -Infinity before the first renewal). */
  usableUntil(): number;
  /**
   * The acting deadline in shared memory (microseconds on this thread's performance.now()
   * timeline): the off-loop renewal worker (lease-renewer.ts) advances it with Atomics.store, and
   * every `leaseOf` reads it with Atomics.load, so a renewal counts even while this loop is busy.
   */
  readonly deadlineCell: BigInt64Array;
  /**
   * An actor of the account starts: its writes are fenced with the shard's epoch of now, until
   * `unpin`. Should the shard be lost and claimed again meanwhile (a new epoch), its writes are
   * refused: the actor stops, and the next one starts from what was committed.
   */
  pin(account: AccountKey): void;
  unpin(account: AccountKey): void;
}

const NO_DEADLINE = -(2n ** 63n);

/** Milliseconds (performance.now() timeline) to the shared cell's microseconds. */
export function toDeadlineCell(monotonicMs: number): bigint {
  if (monotonicMs === Number.POSITIVE_INFINITY) return 2n ** 63n - 1n;
  return Number.isFinite(monotonicMs) ? BigInt(Math.floor(monotonicMs * 1000)) : NO_DEADLINE;
}

function fromDeadlineCell(micros: bigint): number {
  return micros === NO_DEADLINE ? Number.NEGATIVE_INFINITY : Number(micros) / 1000;
}

export function createLeaseBook(instanceId: string, shardCount: number, now: () => number = () => performance.now()): LeaseBook {
  const epochs = new Map<number, number>();
  // Per account with a running actor: the epoch its shard had when the actor started.
  const pinned = new Map<string, number>();
  const deadlineCell = new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT));
  Atomics.store(deadlineCell, 0, NO_DEADLINE);
  const usableUntil = (): number => fromDeadlineCell(Atomics.load(deadlineCell, 0));
  const shardOfAccount = (account: AccountKey): number => shardOf(account.userUid, shardCount);
  const leaseOf = (account: AccountKey): ShardLease | null => {
    if (now() >= usableUntil()) return null;
    const shard = shardOfAccount(account);
    const epoch = epochs.get(shard);
    if (epoch === undefined) return null;
    const started = pinned.get(accountId(account));
    // The actor started under another lease of this shard: refused here, before the database.
    return started === undefined || started === epoch ? { shard, epoch } : null;
  };
  return {
    instanceId,
    shardCount,
    shardOf: shardOfAccount,
    leaseOf,
    owns: (account) => leaseOf(account) !== null,
    epochOf: (shard) => epochs.get(shard),
    shards: () => [...epochs.keys()].sort((a, b) => a - b),
    get size() {
      return epochs.size;
    },
    set: (shard, epoch) => {
      epochs.set(shard, epoch);
    },
    delete: (shard) => {
      epochs.delete(shard);
    },
    clear: () => {
      epochs.clear();
    },
    setUsableUntil: (monotonicMs) => {
      Atomics.store(deadlineCell, 0, toDeadlineCell(monotonicMs));
    },
    usableUntil,
    deadlineCell,
    pin: (account) => {
      const epoch = epochs.get(shardOfAccount(account));
      if (epoch === undefined) pinned.delete(accountId(account));
      else pinned.set(accountId(account), epoch);
    },
    unpin: (account) => {
      pinned.delete(accountId(account));
    },
  };
}

const fenceRow = z.object({ generation: z.number().int().nullable(), epoch: z.number().int().nullable() });
type FenceRow = z.infer<typeof fenceRow>;

/** The same statement for the COPY path's pg client: $1 user, $2 exchange, $3 shard, $4 owner, $5 epoch. */
export const FENCE_SQL = `SELECT
  (SELECT generation FROM exchange_connections WHERE user_uid = $1 AND exchange = $2 FOR SHARE) AS generation,
  (SELECT epoch FROM placement WHERE shard = $3 AND owner_id = $4 AND epoch = $5 AND expires_at > now() FOR KEY SHARE) AS epoch`;

/** Parameters of FENCE_SQL (a lease of shard -1 never matches: no fence configured). */
export function fenceParameters(account: AccountKey, lease: ShardLease | null, instanceId: string | null): [string, string, number, string, number] {
  return [account.userUid, account.exchange, lease?.shard ?? -1, instanceId ?? '', lease?.epoch ?? -1];
}

/** Refuses the write (thrown inside the transaction, so it rolls back) when either check failed. */
export function checkFence(row: FenceRow | undefined, account: AccountKey, generation: Generation, fence: ShardFence | undefined, lease: ShardLease | null): void {
  if (generation !== undefined && row?.generation !== generation) {
    throw new StaleGenerationError(`${accountId(account)}: the connection changed since it was loaded; write rolled back`);
  }
  if (fence !== undefined && (lease === null || row?.epoch !== lease.epoch)) {
    throw new ShardLeaseLostError(`${accountId(account)}: this instance no longer holds the account's shard; write rolled back`);
  }
}

/**
 * The fence as the first statement of a slonik write transaction: generation (when given) and
 * shard lease (when a fence is configured), one round trip. Nothing to check: no statement.
 */
export async function assertFence(tx: DatabaseTransactionConnection, account: AccountKey, generation: Generation, fence: ShardFence | undefined): Promise<void> {
  if (generation === undefined && fence === undefined) return;
  const lease = fence?.leaseOf(account) ?? null;
  // Without a lease there is nothing the database could confirm: refuse before asking.
  if (fence !== undefined && lease === null) checkFence(undefined, account, undefined, fence, null);
  const [user, exchange, shard, owner, epoch] = fenceParameters(account, lease, fence?.instanceId ?? null);
  const row = await tx.one(sql.type(fenceRow)`
    SELECT
      (SELECT generation FROM exchange_connections WHERE user_uid = ${user} AND exchange = ${exchange} FOR SHARE) AS generation,
      (SELECT epoch FROM placement WHERE shard = ${shard} AND owner_id = ${owner} AND epoch = ${epoch} AND expires_at > now() FOR KEY SHARE) AS epoch`);
  checkFence(row, account, generation, fence, lease);
}
