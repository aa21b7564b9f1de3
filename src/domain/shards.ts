// Virtual shards (issue 18): the pure arithmetic of shard leases. Accounts map to a fixed number of
// shards by a hash of user_uid (all of a user's accounts land together, as a table distributed by
// user_uid would place them); instances lease shards in the database (src/storage/placement.ts) and
// this file decides how many to hold and until when to trust a lease. No clock, no I/O.

/** FNV-1a (32 bit) of the UTF-8 bytes of `text`: stable across processes, versions and platforms. */
export function fnv1a32(text: string): number {
  const bytes = new TextEncoder().encode(text);
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The shard of a user's accounts, in [0, shardCount). */
export function shardOf(userUid: string, shardCount: number): number {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) throw new RangeError('shardCount must be a positive integer');
  return fnv1a32(userUid) % shardCount;
}

/** The most shards one of `liveInstances` instances should hold (at least one instance: the caller). */
export function fairShare(shardCount: number, liveInstances: number): number {
  return Math.ceil(shardCount / Math.max(1, liveInstances));
}

/** How many more shards to claim now: up to the fair share, never negative. */
export function claimBudget(owned: number, share: number): number {
  return Math.max(0, share - owned);
}

/**
 * How many shards to hand back so that a newcomer can reach its share. Shares are rounded up, so
 * instances that each hold at most their share always cover every shard (no ping-pong), and at most
 * `maxPerRound` go per round, so that a join moves shards over a few polls instead of stopping
 * many actors at once.
 */
export function excessShards(owned: number, share: number, maxPerRound: number): number {
  return Math.min(Math.max(0, owned - share), Math.max(0, maxPerRound));
}

/** How often a lease is renewed: a third of its TTL, so that two renewals may fail before it expires. */
export function renewIntervalMs(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs / 3));
}

/** The safety margin kept before a lease's TTL on the local clock (a fifth of it, at least 100 ms). */
export function leaseMarginMs(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 5));
}

/**
 * Until when (local monotonic clock) this instance may act on leases renewed by a request sent at
 * `renewSentAt`. The database set the expiry to its now() + TTL when it ran the statement, which
 * is no earlier than the moment the request was sent: counting from the send time (not from the
 * reply) and stopping `margin` before the TTL is therefore always earlier than the database's
 * expiry, however long the reply took or however long the process was paused (SIGSTOP, a frozen VM).
 */
export function actingDeadline(renewSentAt: number, ttlMs: number, marginMs: number): number {
  return renewSentAt + ttlMs - marginMs;
}

/** Whether leases renewed at `renewSentAt` may still be acted on at `now` (both local monotonic ms). */
export function leaseUsable(renewSentAt: number | null, now: number, ttlMs: number, marginMs: number): boolean {
  return renewSentAt !== null && now < actingDeadline(renewSentAt, ttlMs, marginMs);
}

/** Owned shards per instance → the spread (min, max) across instances, for the soak's report. */
export function shardSpread(counts: readonly number[]): { readonly min: number; readonly max: number } {
  if (counts.length === 0) return { min: 0, max: 0 };
  return { min: Math.min(...counts), max: Math.max(...counts) };
}
