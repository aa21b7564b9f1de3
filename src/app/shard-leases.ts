// The shard lease keeper (issue 18): heartbeats this instance, renews its leases every TTL/3,
// claims free or expired shards up to its fair share, hands back its excess when instances join,
// and stops the actors of any shard it did not renew. It trusts its leases only until the acting
// deadline on the local monotonic clock (counted from when the renewal was sent, a margin before
// the TTL: src/domain/shards.ts); a watchdog timer fires at that deadline even while a renewal
// hangs (a frozen database connection), so a paused or cut-off instance stops acting by itself.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { actingDeadline, claimBudget, excessShards, fairShare, leaseMarginMs, renewIntervalMs } from '../domain/shards.js';
import type { ShardHealth } from '../grpc/enclave-api.js';
import type { PlacementRepository } from '../storage/placement.js';
import type { LeaseRenewer, RenewalHandlers } from '../storage/lease-renewer.js';
import type { LeaseBook, ShardLease } from '../storage/shard-fence.js';

export interface ShardLeaseKeeperOptions {
  readonly placement: PlacementRepository;
  readonly book: LeaseBook;
  /** This instance's address for forwarded commands (INSTANCE_ADDR). */
  readonly addr: string;
  readonly ttlMs: number;
  /** Stops every actor of these shards (credentials zeroed); resolves when they are stopped. */
  readonly stopShards: (shards: readonly number[]) => Promise<void>;
  /** The shards were claimed: restore their accounts' schedules. */
  readonly shardsGained: (shards: readonly number[]) => Promise<void>;
  /** Shards handed back per round at most when a newcomer needs its share (default 32). */
  readonly maxReleasePerRound?: number;
  readonly registry?: Registry;
  readonly logger?: Logger;
  /** Local monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
  /**
   * Renewal off the event loop (lease-renewer.ts): started after the first round with the book's
   * shared deadline cell; it renews on its own timer and hands each result over. Without it (the
   * embedded database: one session) the keeper renews in this loop every TTL/3.
   */
  readonly offLoop?: (deadline: BigInt64Array, handlers: RenewalHandlers) => LeaseRenewer;
}

export interface ShardLeaseKeeper {
  /** Sets up the shard rows, beats once and claims a first share; then keeps renewing. */
  start(): Promise<void>;
  /** One renewal round now (tests; the timer runs them every TTL/3). */
  round(): Promise<void>;
  /** Resolves when the actor work queued so far (stops, hand-backs, restores) is done. */
  settled(): Promise<void>;
  /** Stops renewing, releases every held shard (after the caller drained their actors) and leaves. */
  stop(): Promise<void>;
  /** What HealthCheck reports: the shards usable now (none past the acting deadline), the last renewal's round trip. */
  health(): ShardHealth;
}

export function createShardLeaseKeeper(options: ShardLeaseKeeperOptions): ShardLeaseKeeper {
  const { placement, book, addr, ttlMs, logger } = options;
  const now = options.now ?? (() => performance.now());
  const margin = leaseMarginMs(ttlMs);
  const maxRelease = options.maxReleasePerRound ?? 32;
  // Names as deploy/prometheus/enclave-rules.yml (EnclaveShardLeaseLost, EnclaveShardsUnowned) expects them.
  const owned = options.registry === undefined ? undefined : new Gauge({ name: 'enclave_shard_leases_held', help: 'Shards this instance holds a usable lease on', registers: [options.registry] });
  const configured = options.registry === undefined ? undefined : new Gauge({ name: 'enclave_shards_configured', help: 'Virtual shards accounts map to (SHARD_COUNT)', registers: [options.registry] });
  configured?.set(book.shardCount);
  const losses = options.registry === undefined ? undefined : new Counter({ name: 'enclave_shard_lease_losses_total', help: 'Shard leases lost without a release (not renewed in time, or past the acting deadline)', registers: [options.registry] });
  const renewLatency = options.registry === undefined ? undefined : new Histogram({
    name: 'enclave_lease_renew_seconds', help: 'Time of one lease renewal round trip (heartbeat and renew)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [options.registry],
  });
  const renewFailures = options.registry === undefined ? undefined : new Gauge({ name: 'enclave_lease_renew_failures', help: 'Consecutive failed lease renewals', registers: [options.registry] });
  if (options.registry !== undefined) {
    new Gauge({
      name: 'enclave_lease_acting_seconds_left', help: 'Seconds this instance may still act on its leases without another renewal (0: past the acting deadline)', registers: [options.registry],
      collect() { this.set(Math.max(0, (book.usableUntil() - now()) / 1000)); },
    });
  }
  let timer: NodeJS.Timeout | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let renewer: LeaseRenewer | null = null;
  // Renewal results are booked one at a time, in order (the in-loop round or the worker's messages).
  let booking: Promise<void> = Promise.resolve();
  const serialize = (work: () => Promise<void>): Promise<void> => {
    booking = booking.then(work).catch((error: unknown) => {
      logger?.warn({ error: error instanceof Error ? error.name : typeof error }, 'lease round failed');
    });
    return booking;
  };
  let stopped = false;
  let failures = 0;
  let lastRenewMs: number | null = null;

  const report = () => owned?.set(book.size);

  // Stopping actors (which drains their running syncs) and restoring schedules run one after the
  // other on their own chain, never inside a renewal round: a slow drain must not delay renewals.
  let actorWork: Promise<void> = Promise.resolve();
  const enqueue = (work: () => Promise<void>): Promise<void> => {
    actorWork = actorWork.then(work).catch((error: unknown) => {
      logger?.warn({ error: error instanceof Error ? error.name : typeof error }, 'stopping or restoring a shard\'s actors failed');
    });
    return actorWork;
  };
  let handingBack = false;
  // Shards of the hand-back under way: dropped from the book, their release not yet committed.
  const releasing = new Set<number>();
  // When (local ms) a claim or a release of a shard was answered: a renewal sent before then may
  // not have seen it (the worker renews on its own connection), so it neither loses a shard claimed
  // since nor regains one released since.
  const claimedAt = new Map<number, number>();
  const releasedAt = new Map<number, number>();
  const after = (at: Map<number, number>, shard: number, sent: number): boolean => (at.get(shard) ?? Number.NEGATIVE_INFINITY) > sent;
  const forgetUpTo = (at: Map<number, number>, sent: number): void => {
    for (const [shard, when] of at) if (when <= sent) at.delete(shard);
  };

  /** Forgets shards (book first, so no write passes the fence any more), then stops their actors. */
  const lose = (shards: readonly number[], why: string): void => {
    if (shards.length === 0) return;
    for (const shard of shards) book.delete(shard);
    losses?.inc(shards.length);
    report();
    logger?.warn({ shards: shards.length, why }, 'shard leases lost: stopping their actors');
    void enqueue(() => options.stopShards(shards));
  };

  const armWatchdog = (deadline: number): void => {
    if (watchdog !== null) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      watchdog = null;
      if (stopped) return;
      // The worker may have renewed while this loop was busy: the shared deadline is the one that counts.
      const until = book.usableUntil();
      if (now() < until) {
        armWatchdog(until);
        return;
      }
      lose(book.shards(), 'acting deadline passed without a renewal');
    }, Math.max(0, deadline - now()));
    watchdog.unref();
  };

  const renewalAnswered = (roundTripMs: number): void => {
    lastRenewMs = roundTripMs;
    renewLatency?.observe(roundTripMs / 1000);
    failures = 0;
    renewFailures?.set(0);
  };
  const renewalFailed = (count: number, error: string): void => {
    failures = count;
    renewFailures?.set(failures);
    logger?.warn({ error, failures }, 'lease renewal failed');
  };

  const renewAndClaim = async (): Promise<void> => {
    const sent = now();
    let renewed;
    try {
      // First thing in the round and one statement (heartbeat and renewal together): nothing of
      // this instance's own queues in front of it (the keeper has its own connection, see service.ts).
      renewed = await placement.renew(book.instanceId, ttlMs, addr);
      renewalAnswered(now() - sent);
    } catch (error) {
      renewalFailed(failures + 1, error instanceof Error ? error.name : typeof error);
      return;
    }
    await booked(sent, renewed);
  };

  /** Books a renewal sent at `sent` (in this loop, or by the worker), then hands back or claims. */
  const booked = async (sent: number, renewed: readonly ShardLease[]): Promise<void> => {
    if (stopped) return;
    const deadline = actingDeadline(sent, ttlMs, margin);
    const held = new Set(renewed.map((l) => l.shard));
    const lostShards = book.shards().filter((s) => !held.has(s) && !after(claimedAt, s, sent));
    const inTime = now() < deadline;
    // A renewal that came back after the watchdog fired re-books what the database still grants
    // (same epochs); their actors were stopped, so their schedules are restored like a claim's.
    // Only in time: booked without that restore, a later renewal would find them booked and never
    // restore them (every account of those shards left without a schedule). Shards being handed
    // back are not regained: the renewal merely ran before their release.
    const regained = inTime
      ? renewed.filter((l) => book.epochOf(l.shard) === undefined && !releasing.has(l.shard) && !after(releasedAt, l.shard, sent)).map((l) => l.shard)
      : [];
    for (const lease of renewed) {
      if (after(claimedAt, lease.shard, sent)) continue;
      if (book.epochOf(lease.shard) !== undefined || regained.includes(lease.shard)) book.set(lease.shard, lease.epoch);
    }
    forgetUpTo(claimedAt, sent);
    forgetUpTo(releasedAt, sent);
    if (inTime) {
      // Off the loop the worker has stored the deadline already (and maybe a later one since).
      if (renewer === null) book.setUsableUntil(deadline);
      armWatchdog(book.usableUntil());
    }
    lose(lostShards, 'not renewed');
    if (regained.length > 0) {
      logger?.info({ shards: regained.length }, 'shard leases renewed after the acting deadline: resuming them');
      void enqueue(() => options.shardsGained(regained));
    }

    const share = fairShare(book.shardCount, await placement.liveInstances());
    // Counted from what the database says this instance holds (the renewal's answer), not from the
    // book, which a watchdog firing mid-round may have emptied: claims never go past the share.
    const heldCount = renewed.length;
    const excess = handingBack ? 0 : excessShards(heldCount, share, maxRelease);
    if (excess > 0) {
      // The highest-numbered ones go: their actors drain and stop while the lease (still renewed
      // meanwhile) fences their last writes in; then the book forgets them and they are handed back.
      const handBack = book.shards().slice(-excess);
      handingBack = true;
      void enqueue(async () => {
        try {
          await options.stopShards(handBack);
          for (const shard of handBack) {
            book.delete(shard);
            releasing.add(shard);
          }
          report();
          await placement.release(book.instanceId, handBack);
          for (const shard of handBack) releasedAt.set(shard, now());
          logger?.info({ shards: handBack.length, share }, 'shards handed back to make room for another instance');
        } finally {
          releasing.clear();
          handingBack = false;
        }
      });
    }
    const budget = handingBack ? 0 : claimBudget(heldCount, share);
    // Claimed leases expire later than the renewed ones: acting on all of them until `deadline` is safe.
    if (budget > 0 && now() < deadline) {
      const claimed = await placement.claim(book.instanceId, addr, ttlMs, budget);
      if (claimed.length > 0) {
        for (const lease of claimed) {
          book.set(lease.shard, lease.epoch);
          claimedAt.set(lease.shard, now());
        }
        logger?.info({ shards: claimed.length, share, held: book.size }, 'shards claimed');
        const gained = claimed.map((l) => l.shard);
        void enqueue(() => options.shardsGained(gained));
      }
    }
    report();
  };

  const round = (): Promise<void> => {
    if (running !== null) return running;
    running = serialize(renewAndClaim).finally(() => { running = null; });
    return running;
  };

  const renewInLoop = (): void => {
    timer = setInterval(() => { void round(); }, renewIntervalMs(ttlMs));
    timer.unref();
  };

  return {
    async start() {
      await placement.ensureShards(book.shardCount);
      await placement.heartbeat(book.instanceId, addr, ttlMs);
      await round();
      if (options.offLoop === undefined) {
        renewInLoop();
        return;
      }
      renewer = options.offLoop(book.deadlineCell, {
        renewed: (result) => {
          renewalAnswered(result.roundTripMs);
          void serialize(() => booked(result.sentMs, result.leases));
        },
        failed: renewalFailed,
        exited: (error) => {
          if (stopped) return;
          logger?.error({ error }, 'the lease renewal worker ended: renewing in the event loop from now on');
          renewer = null;
          renewInLoop();
        },
      });
      await renewer.ready;
    },
    round,
    settled: () => actorWork,
    health: () => ({
      instanceId: book.instanceId,
      shardCount: book.shardCount,
      owned: now() < book.usableUntil() ? book.shards() : [],
      lastRenewMs,
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== null) clearInterval(timer);
      if (watchdog !== null) clearTimeout(watchdog);
      await renewer?.close();
      await running;
      await booking;
      await actorWork;
      const shards = book.shards();
      book.clear();
      report();
      await options.stopShards(shards);
      try {
        await placement.release(book.instanceId, shards);
        await placement.leave(book.instanceId);
      } catch (error) {
        // The leases then expire by themselves after the TTL.
        logger?.warn({ error: error instanceof Error ? error.name : typeof error }, 'could not release the shard leases');
      }
    },
  };
}
