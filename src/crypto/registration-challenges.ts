// Single-use, expiring registration challenges (issue 13, item 6): GetRegistrationChallenge issues
// 32 random bytes for one account, the client binds them in the sealed credential's HPKE
// associated data (version 3), and the Register that opens such a blob consumes the challenge. A
// recorded blob replayed later finds its challenge used or expired and is refused.
//
// Kept in this process's memory, bounded: the oldest challenge is dropped when the map is full (a
// flood of requests can only make clients ask again, never let a blob in twice). Several instances
// behind one address do not share it: a client must register on the instance that issued its
// challenge (sticky routing) until a shared store exists (future work).
import { randomBytes } from 'node:crypto';
import { accountId, type AccountKey } from '../domain/types.js';
import { REGISTRATION_CHALLENGE_LENGTH } from './sealed-intake.js';

export const DEFAULT_CHALLENGE_TTL_MS = 10 * 60_000;
export const DEFAULT_MAX_OUTSTANDING_CHALLENGES = 10_000;

export interface RegistrationChallenge {
  readonly challenge: Buffer;
  readonly expiresAt: number;
}

export interface RegistrationChallenges {
  /** A fresh challenge for the account, valid until `expiresAt`. */
  issue(account: AccountKey): RegistrationChallenge;
  /** True (and the challenge is gone) when it was issued for this account, is unexpired and unused. */
  consume(account: AccountKey, challenge: Uint8Array): boolean;
  /** Challenges held now (for tests and metrics). */
  outstanding(): number;
}

export interface RegistrationChallengeOptions {
  readonly ttlMs?: number;
  readonly maxOutstanding?: number;
  readonly now?: () => number;
  readonly random?: (size: number) => Buffer;
}

export function createRegistrationChallenges(options: RegistrationChallengeOptions = {}): RegistrationChallenges {
  const ttlMs = options.ttlMs ?? DEFAULT_CHALLENGE_TTL_MS;
  const maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING_CHALLENGES;
  const now = options.now ?? Date.now;
  const random = options.random ?? randomBytes;
  // Insertion order is issue order: the first entries are the oldest.
  const live = new Map<string, { readonly account: string; readonly expiresAt: number }>();

  const dropExpired = (at: number): void => {
    for (const [key, entry] of live) {
      if (entry.expiresAt > at) break;
      live.delete(key);
    }
  };

  return {
    issue(account) {
      const at = now();
      dropExpired(at);
      while (live.size >= maxOutstanding) {
        const oldest = live.keys().next();
        if (oldest.done === true) break;
        live.delete(oldest.value);
      }
      const challenge = random(REGISTRATION_CHALLENGE_LENGTH);
      const expiresAt = at + ttlMs;
      live.set(challenge.toString('hex'), { account: accountId(account), expiresAt });
      return { challenge, expiresAt };
    },
    consume(account, challenge) {
      if (challenge.byteLength !== REGISTRATION_CHALLENGE_LENGTH) return false;
      const key = Buffer.from(challenge).toString('hex');
      const entry = live.get(key);
      if (entry === undefined) return false;
      // Used once, whatever the outcome: a blob bound to it never opens again.
      live.delete(key);
      return entry.account === accountId(account) && entry.expiresAt > now();
    },
    outstanding: () => live.size,
  };
}
