// Re-seals every stored envelope with the keyring's current key. Each envelope is swapped only
// if it is still the one we read (compare-and-swap), so a credential replaced meanwhile by the
// user is never overwritten with the old one.
import { accountId, type AccountKey } from '../domain/types.js';
import { envelopeKeyId, openEnvelope, sealEnvelope } from './envelope.js';
import type { Keyring } from './keyring.js';

export interface StoredEnvelope {
  readonly account: AccountKey;
  readonly envelope: Buffer;
}

/** What rotation needs from storage (the connections repository implements it). */
export interface EnvelopeStore {
  iterateEnvelopes(): AsyncIterable<StoredEnvelope>;
  /** Replaces `expected` with `next`; false when the stored envelope is no longer `expected`. */
  replaceEnvelope(account: AccountKey, expected: Buffer, next: Buffer): Promise<boolean>;
}

export interface RotationReport {
  readonly rotated: number;
  /** Already sealed with the current key. */
  readonly current: number;
  /** Changed by someone else during rotation (left as they are). */
  readonly raced: number;
  /** Could not be opened with any configured key; account ids only. */
  readonly failed: readonly string[];
}

function sealedWith(envelope: Buffer): number | null {
  try {
    return envelopeKeyId(envelope);
  } catch {
    return null;
  }
}

export async function rotateEnvelopes(store: EnvelopeStore, keyring: Keyring): Promise<RotationReport> {
  let rotated = 0;
  let current = 0;
  let raced = 0;
  const failed: string[] = [];
  for await (const { account, envelope } of store.iterateEnvelopes()) {
    if (sealedWith(envelope) === keyring.current.id) {
      current += 1;
      continue;
    }
    let plaintext: Buffer;
    try {
      plaintext = openEnvelope(keyring, account, envelope);
    } catch {
      failed.push(accountId(account));
      continue;
    }
    try {
      const next = sealEnvelope(keyring, account, plaintext);
      if (await store.replaceEnvelope(account, envelope, next)) rotated += 1;
      else raced += 1;
    } finally {
      plaintext.fill(0);
    }
  }
  return { rotated, current, raced, failed };
}
