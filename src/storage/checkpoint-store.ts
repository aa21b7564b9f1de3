// The hash chain over an account's published hours and its signed checkpoints (issue 14, part 3;
// layouts in src/crypto/track-record.ts and docs/statements.md). `recordCheckpoint` runs inside the
// aggregate write's transaction: it extends the last checkpoint's head over the hours just
// published (after checking that checkpoint's signature), or, when the write recomputed hours the
// chain already covered, starts a new chain over every published hour (a fork a verifier sees).
// After a rotation of the statement-signing key, the last checkpoint (signed by the previous key)
// is first handed over: the previous key signs a hand-over row naming the current key, and the
// chain continues under the current key with the same pseudonym.
import { z } from 'zod';
import type { DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { canonicalJson } from '../domain/canonical-json.js';
import { flagsToMask } from '../domain/hour-flags.js';
import { accountId, type AccountKey, type HourlyReturn } from '../domain/types.js';
import { chainGenesis, checkpointDocument, extendChain, handoverDocument, verifyText, type ChainedHour, type Checkpoint, type CheckpointSigner, type KeyHandover } from '../crypto/track-record.js';
import { isoTime } from './copy-ingest.js';
import { StorageRejectedError, toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

const checkpointRow = z.object({
  seq: z.number().int(),
  account: z.string(),
  hours: z.number().int(),
  lastHour: z.number(),
  head: z.instanceof(Buffer),
  signedAt: z.number(),
  publicKey: z.instanceof(Buffer),
  signature: z.instanceof(Buffer),
  nextPublicKey: z.instanceof(Buffer).nullable(),
});
const chainedRow = z.object({ hourStart: z.number(), return: z.number(), flags: z.number().int() });

export interface StoredCheckpoint extends Checkpoint {
  readonly seq: number;
  readonly publicKey: Buffer;
  readonly signature: Buffer;
  /** Set on a key hand-over row: the key the chain continues under (signed by `publicKey`). */
  readonly nextPublicKey: Buffer | null;
}

const toCheckpoint = (r: z.infer<typeof checkpointRow>): StoredCheckpoint => ({
  seq: r.seq, account: r.account, hours: r.hours, lastHourMs: r.lastHour, head: r.head.toString('hex'), signedAtMs: r.signedAt, publicKey: r.publicKey, signature: r.signature, nextPublicKey: r.nextPublicKey,
});


/** True when the stored checkpoint carries a valid signature by `publicKey`. */
export function checkpointSignedBy(c: StoredCheckpoint, publicKey: Uint8Array): boolean {
  return c.nextPublicKey === null && Buffer.from(publicKey).equals(c.publicKey) && verifyText(publicKey, canonicalJson(checkpointDocument(c)), c.signature);
}

async function latest(db: DatabasePool | DatabaseTransactionConnection, account: AccountKey): Promise<StoredCheckpoint | null> {
  const row = await db.maybeOne(sql.type(checkpointRow)`
    SELECT seq, account, hours, last_hour AS "lastHour", head, signed_at AS "signedAt", public_key AS "publicKey", signature, next_public_key AS "nextPublicKey"
    FROM statement_checkpoints WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}
    ORDER BY seq DESC LIMIT 1`);
  return row === null ? null : toCheckpoint(row);
}

async function publishedHours(db: DatabasePool | DatabaseTransactionConnection, account: AccountKey): Promise<ChainedHour[]> {
  const rows = await db.any(sql.type(chainedRow)`
    SELECT hour_start AS "hourStart", return, flags FROM hourly_returns
    WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} ORDER BY hour_start`);
  return [...rows];
}

/** An account's newest checkpoint as this process wrote it: the next one chains on it without reading it back. */
export interface CheckpointHead {
  readonly seq: number;
  readonly checkpoint: Checkpoint;
  readonly publicKey: Buffer;
  readonly signature: Buffer;
}

/** Per process: each account's newest checkpoint as written here (bounded; the oldest entries go first). */
export interface CheckpointHeads {
  get(account: AccountKey): CheckpointHead | undefined;
  set(account: AccountKey, head: CheckpointHead): void;
  forget(account: AccountKey): void;
}

export function createCheckpointHeads(limit = 50_000): CheckpointHeads {
  const heads = new Map<string, CheckpointHead>();
  return {
    get: (account) => heads.get(accountId(account)),
    set(account, head) {
      const id = accountId(account);
      heads.delete(id);
      if (heads.size >= limit) heads.delete(heads.keys().next().value!);
      heads.set(id, head);
    },
    forget(account) {
      heads.delete(accountId(account));
    },
  };
}

const chained = (written: readonly HourlyReturn[]): ChainedHour[] =>
  written.map((h): ChainedHour => ({ hourStart: h.hourStart, return: h.return, flags: flagsToMask(h.flags ?? []) })).sort((a, b) => a.hourStart - b.hourStart);

/**
 * The checkpoint after `head` over `written`, signed, without reading storage (issue 19): only when
 * the hours extend the chain and `head` is signed by the current key. Null otherwise (a recompute
 * or a key hand-over reads the chain: recordCheckpoint). The caller's statement stores it only
 * while `head` is still the newest stored checkpoint, byte for byte (latestCheckpointIs).
 */
export async function nextCheckpoint(written: readonly HourlyReturn[], signer: CheckpointSigner, head: CheckpointHead): Promise<CheckpointHead | null> {
  if (written.length === 0 || !head.publicKey.equals(signer.publicKey)) return null;
  const hours = chained(written);
  if (hours[0]!.hourStart <= head.checkpoint.lastHourMs) return null;
  const checkpoint: Checkpoint = {
    account: head.checkpoint.account, hours: head.checkpoint.hours + hours.length, lastHourMs: hours.at(-1)!.hourStart,
    head: extendChain(Buffer.from(head.checkpoint.head, 'hex'), hours).toString('hex'), signedAtMs: signer.now(),
  };
  const signature = await signer.sign(canonicalJson(checkpointDocument(checkpoint)));
  return { seq: head.seq + 1, checkpoint, publicKey: signer.publicKey, signature };
}

type Fragment = ReturnType<typeof sql.fragment>;

/** SQL condition: the account's newest stored checkpoint is `head` as it was written (seq, chain head, key, signature). */
export function latestCheckpointIs(account: AccountKey, head: CheckpointHead): Fragment {
  return sql.fragment`EXISTS (SELECT 1 FROM (
      SELECT seq, head, public_key, signature, next_public_key FROM statement_checkpoints
      WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} ORDER BY seq DESC LIMIT 1) c
    WHERE c.seq = ${head.seq} AND c.head = ${sql.binary(Buffer.from(head.checkpoint.head, 'hex'))} AND c.public_key = ${sql.binary(head.publicKey)}
      AND c.signature = ${sql.binary(head.signature)} AND c.next_public_key IS NULL)`;
}

/** SQL: inserts `next` for each row of the CTE `fence` (a data-modifying CTE of the caller's statement). */
export function checkpointInsert(account: AccountKey, next: CheckpointHead): Fragment {
  const c = next.checkpoint;
  return sql.fragment`
    INSERT INTO statement_checkpoints (user_uid, exchange, seq, account, hours, last_hour, head, signed_at, public_key, signature, next_public_key)
    SELECT ${account.userUid}, ${account.exchange}, ${next.seq}, ${c.account}, ${c.hours}, ${isoTime(c.lastHourMs)}::timestamptz,
           ${sql.binary(Buffer.from(c.head, 'hex'))}, ${isoTime(c.signedAtMs)}::timestamptz, ${sql.binary(next.publicKey)}, ${sql.binary(next.signature)}, NULL
    FROM fence`;
}

/**
 * Inside the aggregate write: chains the hours just published and stores a signed checkpoint.
 * Returns the checkpoint stored (null when no hour was written), for CheckpointHeads once committed.
 */
export async function recordCheckpoint(tx: DatabaseTransactionConnection, account: AccountKey, written: readonly HourlyReturn[], signer: CheckpointSigner): Promise<CheckpointHead | null> {
  if (written.length === 0) return null;
  const hours = chained(written);
  const previous = await latest(tx, account);
  let seq = previous?.seq ?? 0;
  if (previous !== null && !checkpointSignedBy(previous, signer.publicKey)) {
    // Signed by an earlier key of this deployment (a rotation), and valid under it: hand over.
    const oldKey = previous.publicKey.toString('hex');
    const handover: KeyHandover = {
      account: previous.account, hours: previous.hours, lastHourMs: previous.lastHourMs, head: previous.head,
      signedAtMs: signer.now(), nextSigningKey: signer.publicKey.toString('hex'),
    };
    const valid = previous.nextPublicKey === null && checkpointSignedBy(previous, previous.publicKey);
    const signing = valid ? signer.signWithPrevious(oldKey, canonicalJson(handoverDocument(handover))) : null;
    if (signing === null) throw new StorageRejectedError(`${accountId(account)}: the last track-record checkpoint does not carry this enclave's signature`);
    seq += 1;
    await insertRow(tx, account, seq, handover, previous.publicKey, await signing, signer.publicKey);
  }
  // The chain keeps the pseudonym it started with (a rotation changes the pseudonym key).
  const pseudonym = previous?.account ?? signer.pseudonym(account);
  let head: Buffer;
  let count: number;
  if (previous !== null && hours[0]!.hourStart > previous.lastHourMs) {
    head = extendChain(Buffer.from(previous.head, 'hex'), hours);
    count = previous.hours + hours.length;
  } else {
    // Hours the chain covered were recomputed: a new chain over everything now published.
    const all = await publishedHours(tx, account);
    head = extendChain(chainGenesis(pseudonym), all);
    count = all.length;
  }
  const checkpoint: Checkpoint = { account: pseudonym, hours: count, lastHourMs: hours.at(-1)!.hourStart, head: head.toString('hex'), signedAtMs: signer.now() };
  const signature = await signer.sign(canonicalJson(checkpointDocument(checkpoint)));
  await insertRow(tx, account, seq + 1, checkpoint, signer.publicKey, signature, null);
  return { seq: seq + 1, checkpoint, publicKey: signer.publicKey, signature };
}

async function insertRow(tx: DatabaseTransactionConnection, account: AccountKey, seq: number, c: Checkpoint, publicKey: Buffer, signature: Buffer, nextPublicKey: Buffer | null): Promise<void> {
  await tx.query(sql.type(noRows)`
    INSERT INTO statement_checkpoints (user_uid, exchange, seq, account, hours, last_hour, head, signed_at, public_key, signature, next_public_key)
    VALUES (${account.userUid}, ${account.exchange}, ${seq}, ${c.account}, ${c.hours}, ${isoTime(c.lastHourMs)}::timestamptz,
            ${sql.binary(Buffer.from(c.head, 'hex'))}, ${isoTime(c.signedAtMs)}::timestamptz, ${sql.binary(publicKey)}, ${sql.binary(signature)},
            ${nextPublicKey === null ? null : sql.binary(nextPublicKey)})`);
}

export interface CheckpointStore {
  /** The account's newest checkpoint (null before its first published hour). */
  latestCheckpoint(account: AccountKey): Promise<StoredCheckpoint | null>;
  /** The account's key hand-over rows, oldest first (what a verifier needs to follow a rotation). */
  handovers(account: AccountKey): Promise<StoredCheckpoint[]>;
  /** Every published hour of the account as the chain covers it, oldest first. */
  chainedHours(account: AccountKey): Promise<ChainedHour[]>;
}

export function createCheckpointStore(pool: DatabasePool): CheckpointStore {
  return {
    async latestCheckpoint(account) {
      try {
        return await latest(pool, account);
      } catch (error) {
        throw toStorageError(error, `load checkpoint for ${accountId(account)}`);
      }
    },
    async handovers(account) {
      try {
        const rows = await pool.any(sql.type(checkpointRow)`
          SELECT seq, account, hours, last_hour AS "lastHour", head, signed_at AS "signedAt", public_key AS "publicKey", signature, next_public_key AS "nextPublicKey"
          FROM statement_checkpoints WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} AND next_public_key IS NOT NULL
          ORDER BY seq`);
        return rows.map(toCheckpoint);
      } catch (error) {
        throw toStorageError(error, `load key hand-overs for ${accountId(account)}`);
      }
    },
    async chainedHours(account) {
      try {
        return await publishedHours(pool, account);
      } catch (error) {
        throw toStorageError(error, `load published hours for ${accountId(account)}`);
      }
    },
  };
}
