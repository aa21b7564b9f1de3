// Rollback anchors (docs/sealed-storage.md "Whole-account rollback"): the write counters of each
// account's sealed records, kept outside the database by the key broker (the attested party that
// releases the secret), so that an account restored to an older consistent state (pages, indexes
// and records together) is refused after a restart or on another instance, not only by the process
// that saw the newer record. This is the in-process half: the floors fetched at start, and the
// counters noted since the last push. The pushing and fetching is the broker client's
// (src/attestation/rollback-anchor-client.ts), wired in src/app/service.ts.
import { createHmac, type KeyObject } from 'node:crypto';
import { accountId, type AccountKey } from '../domain/types.js';

/** The sealed record an anchor pins: the account record (sealed-store.ts) or the amounts record (sealed-amounts.ts). */
export type AnchoredRecord = 'account' | 'amounts';

export interface RollbackAnchors {
  /** The anchored write counter of the account's record (0: none); a stored record below it is a rollback. */
  floor(account: AccountKey, record: AnchoredRecord): number;
  /** A committed record's write counter (seen or written by this process): anchored at the next push. */
  note(account: AccountKey, record: AnchoredRecord, writes: number): void;
  /** Floors fetched from the keeper (label → counter); the larger of known and fetched wins. */
  load(floors: Iterable<readonly [string, number]>): void;
  /** The account was removed (its sealed rows deleted): its anchors are dropped at the next push. */
  reset(account: AccountKey): void;
  /** Takes every change since the last take (labels reset, then label → counter), for one batched push. */
  take(): AnchorPush;
  /** Puts back a push that failed (kept for the next one). */
  restore(failed: AnchorPush): void;
}

export interface AnchorPush {
  readonly reset: ReadonlySet<string>;
  readonly raise: ReadonlyMap<string, number>;
}

/**
 * `key`: the labels the keeper sees are HMAC-SHA-256(key, record ‖ 0x00 ‖ account id) in hex, so
 * the broker keeps counters without learning which customers exist (the deployment's pseudonym key).
 */
export function createRollbackAnchors(key: KeyObject): RollbackAnchors {
  const floors = new Map<string, number>();
  let pending = new Map<string, number>();
  let resets = new Set<string>();
  const label = (account: AccountKey, record: AnchoredRecord): string =>
    createHmac('sha256', key).update(`${record}\u0000${accountId(account)}`, 'utf8').digest('hex');
  const raise = (map: Map<string, number>, name: string, value: number): boolean => {
    if ((map.get(name) ?? 0) >= value) return false;
    map.set(name, value);
    return true;
  };
  return {
    floor: (account, record) => floors.get(label(account, record)) ?? 0,
    note(account, record, writes) {
      const name = label(account, record);
      if (raise(floors, name, writes)) raise(pending, name, writes);
    },
    load(fetched) {
      for (const [name, value] of fetched) raise(floors, name, value);
    },
    reset(account) {
      for (const record of ['account', 'amounts'] as const) {
        const name = label(account, record);
        floors.delete(name);
        pending.delete(name);
        resets.add(name);
      }
    },
    take() {
      const out = { reset: resets, raise: pending };
      pending = new Map();
      resets = new Set();
      return out;
    },
    restore(failed) {
      // A reset taken before a newer raise of the same label stays ordered: resets go first.
      for (const name of failed.reset) resets.add(name);
      for (const [name, value] of failed.raise) raise(pending, name, value);
    },
  };
}
