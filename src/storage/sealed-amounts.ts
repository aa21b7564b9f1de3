// Exact amounts sealed at rest (issue 14; docs/sealed-storage.md "Exact amounts"). The enclave keeps
// each account's exact equity, flows and balances for its own replies and for republishing at a
// level change; the database sees them only as ciphertext:
//   hourly_amounts / snapshot_amounts  one AES-256-GCM box per row, AAD = (account, table, seq 0,
//                                      row = the hour or snapshot time in epoch ms); plaintext
//                                      f64be ‖ f64be (equity_end, net_flow | balance, equity)
//   sealed_records kind 'amounts'      per table the row count and a keyed sum (mod 2^128) over
//                                      HMAC(row ‖ tag) of every row, and a write counter
// A box moved to another account, table or time does not open; a row deleted, inserted or replaced
// by an older box of the same time changes the count or the sum. Rows still in plaintext (written
// before migration 016) are sealed at the account's first load by this process.
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection } from 'slonik';
import { accountId, type AccountKey, type BalanceSnapshot, type EpochMs } from '../domain/types.js';
import { SealedDataError } from '../crypto/errors.js';
import { BLIND_INDEX_BYTES, TAG_BYTES, type AccountSealer, type SealedBox } from '../crypto/sealed-rows.js';
import { isoTime } from './copy-ingest.js';
import { StorageSchemaError, TamperDetectedError } from './errors.js';
import { noRows, sql } from './pool.js';
import type { RollbackAnchors } from './rollback-anchors.js';

export const AMOUNT_TABLES = ['hourly_amounts', 'snapshot_amounts'] as const;
export type AmountTable = (typeof AMOUNT_TABLES)[number];

/** The exact figures of one hour (what `hourly_amounts` seals). */
export interface ExactHour {
  readonly hourStart: EpochMs;
  readonly equityEnd: number;
  readonly netFlow: number;
}

/** A stored row's box columns as read (all null for a plaintext row). */
export interface AmountBoxColumns {
  readonly keyId: number | null;
  readonly iv: Buffer | null;
  readonly tag: Buffer | null;
  readonly ciphertext: Buffer | null;
}

const SUM_MODULUS = 1n << 128n;
const HIGH_WATER_LIMIT = 100_000;
/** Accounts whose current amounts record (plaintext and tag) this process keeps for a compare-and-set write. */
const KNOWN_LIMIT = 50_000;
/** Accounts whose verified row set this process keeps for range reads (a year of hours is ~210 kB). */
const VERIFIED_LIMIT = 64;

/** The rows of one table that summed to a record: times ascending, their tags concatenated in that order. */
interface VerifiedRows {
  readonly times: Float64Array;
  readonly tags: Buffer;
}
/** Both tables' rows as verified against the record that carried `recordTag`. */
interface VerifiedSet {
  readonly recordTag: Buffer;
  readonly tables: Record<AmountTable, VerifiedRows>;
}
const SLICE = 5_000;

const tableState = z.object({ rows: z.number().int().nonnegative(), sum: z.string().regex(/^[0-9a-f]{32}$/u) }).strict();
const amountsRecordSchema = z.object({
  v: z.literal(1),
  /** Root id of the digest key (the account's blind-index key): fixed at the first write. */
  indexKeyId: z.number().int().min(0).max(255),
  /** Moves on at every write of this record (the value an external anchor pins, docs/sealed-storage.md). */
  writes: z.number().int().nonnegative(),
  hourly_amounts: tableState,
  snapshot_amounts: tableState,
}).strict();
export type AmountsRecord = z.infer<typeof amountsRecordSchema>;

const boxRow = z.object({ keyId: z.number().int(), iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) });
const tagRow = z.object({ at: z.number(), tag: z.instanceof(Buffer).nullable() });
const legacyRow = z.object({ at: z.number(), a: z.number(), b: z.number() });
const sealedRow = z.object({ at: z.number(), keyId: z.number().int(), iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) });
const existsRow = z.object({ legacy: z.boolean() });

/** Opens and writes one account's amounts inside a caller's transaction; `finish` seals the record. */
export interface AmountsWriter {
  writeHours(hours: readonly ExactHour[]): Promise<void>;
  writeSnapshot(snapshot: BalanceSnapshot): Promise<void>;
  /** Seals the updated record; returns its write counter (pass to `committed` after the commit). */
  finish(): Promise<number>;
}

/** One new row's sealed box (time in epoch ms). */
export interface SealedAmountRow {
  readonly at: EpochMs;
  readonly box: SealedBox;
}

/**
 * An amounts write as a compare-and-set (issue 19): new rows only (the caller's statement writes
 * nothing when one of these times is already stored) and the record sealed over them, to replace
 * the stored record only while it still carries `expected`.
 */
export interface AmountsSwap {
  readonly hours: readonly SealedAmountRow[];
  readonly snapshot: SealedAmountRow | null;
  readonly expected: Buffer;
  readonly record: SealedBox;
  /** After the statement committed: the record is this process's from now on. */
  committed(): void;
}

export interface SealedAmounts {
  /** Seals the account's plaintext rows (if any) and checks every row against the record: once per process per account. */
  prepare(db: DatabasePool, account: AccountKey): Promise<void>;
  /** Inside the caller's transaction: locks the account's amounts record for a write. */
  begin(tx: DatabaseTransactionConnection, account: AccountKey): Promise<AmountsWriter>;
  /** After the write's transaction committed: this process refuses an older record from now on. */
  committed(account: AccountKey, writes: number): void;
  /**
   * The write of new rows without the advisory lock and locked read: sealed from the record this
   * process last read or wrote (null when it knows none, or the account was not prepared here).
   */
  prepareWrite(account: AccountKey, hours: readonly ExactHour[], snapshot: BalanceSnapshot | null): AmountsSwap | null;
  /**
   * The write counter below which a record read in a snapshot taken from now on is a rollback
   * (what this process saw committed, or the anchor). Take it before a REPEATABLE READ
   * transaction's first statement and pass it as `floor` to the reads in it: a commit this process
   * registers after the snapshot was taken may be newer than the snapshot, without any rollback.
   */
  floorOf(account: AccountKey): number;
  /**
   * Checks every row of both tables against the record (count, keyed sum; no plaintext row).
   * Run it in the same snapshot as the reads it vouches for (a REPEATABLE READ transaction).
   * Returns the record's write counter (0: none). `floor`: floorOf before the snapshot was taken
   * (default: floorOf now, before its own first statement).
   */
  verify(db: CommonQueryMethods, account: AccountKey, floor?: number): Promise<number>;
  /**
   * Checks rows a range read returned (time, tag; null tag: no sealed box) against the set last
   * verified in this process, if the record still carries the tag it had then; otherwise (or a row
   * not in that set) verifies the whole set again, as `verify`. Same snapshot as the rows, and
   * `floor` taken before that snapshot (as for verify).
   */
  vouch(db: CommonQueryMethods, account: AccountKey, table: AmountTable, rows: readonly { readonly at: number; readonly tag: Buffer | null }[], floor?: number): Promise<void>;
  /** Opens one row's box (AEAD and row binding only). TamperDetectedError when it does not open or is plaintext. */
  open(account: AccountKey, table: AmountTable, at: EpochMs, box: AmountBoxColumns): readonly [number, number];
  /** Every exact hour of the account, checked (for a republish). */
  loadHours(db: CommonQueryMethods, account: AccountKey): Promise<ExactHour[]>;
  /** Every exact snapshot of the account with `at` in [from, to), checked, oldest first (`floor` as for vouch). */
  loadSnapshots(db: CommonQueryMethods, account: AccountKey, fromMs?: EpochMs, toMs?: EpochMs, floor?: number): Promise<BalanceSnapshot[]>;
  forget(account: AccountKey): void;
}

function encodePair(a: number, b: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeDoubleBE(a, 0);
  out.writeDoubleBE(b, 8);
  return out;
}

const tableOf = (table: AmountTable) => (table === 'hourly_amounts' ? sql.identifier(['hourly_amounts']) : sql.identifier(['snapshot_amounts']));
const timeOf = (table: AmountTable) => (table === 'hourly_amounts' ? sql.identifier(['hour_start']) : sql.identifier(['at']));

/** `anchors`: the amounts records' write counters kept outside the database (as for sealed-store.ts). */
export function createSealedAmounts(sealer: AccountSealer, options: { readonly anchors?: RollbackAnchors } = {}): SealedAmounts {
  const { anchors } = options;
  const highWater = new Map<string, number>();
  const prepared = new Set<string>();
  const preparing = new Map<string, Promise<void>>();
  // Per account: the newest record read or committed here (plaintext, tag), the base of a compare-and-set.
  const known = new Map<string, { readonly text: string; readonly tag: Buffer; readonly writes: number }>();
  // A transaction's record write, taken into `known` when `committed` confirms it.
  const unconfirmed = new Map<string, { readonly text: string; readonly tag: Buffer; readonly writes: number }>();
  function know(account: AccountKey, entry: { readonly text: string; readonly tag: Buffer; readonly writes: number }): void {
    const id = accountId(account);
    const current = known.get(id);
    if (current !== undefined && current.writes > entry.writes) return;
    known.delete(id);
    if (known.size >= KNOWN_LIMIT) known.delete(known.keys().next().value!);
    known.set(id, entry);
  }
  const where = (a: AccountKey) => sql.fragment`user_uid = ${a.userUid} AND exchange = ${a.exchange}`;
  const tamper = (account: AccountKey, what: string): TamperDetectedError =>
    new TamperDetectedError(`sealed amounts of ${accountId(account)}: ${what}`);

  function remember(account: AccountKey, writes: number): void {
    const id = accountId(account);
    if ((highWater.get(id) ?? 0) >= writes) return;
    highWater.delete(id);
    if (highWater.size >= HIGH_WATER_LIMIT) highWater.delete(highWater.keys().next().value!);
    highWater.set(id, writes);
    anchors?.note(account, 'amounts', writes);
  }

  const freshRecord = (): AmountsRecord => ({
    v: 1, indexKeyId: sealer.currentId, writes: 0,
    hourly_amounts: { rows: 0, sum: '0'.repeat(32) }, snapshot_amounts: { rows: 0, sum: '0'.repeat(32) },
  });

  async function readRecord(db: CommonQueryMethods, account: AccountKey, lock: boolean): Promise<AmountsRecord | null> {
    return (await readRecordBox(db, account, lock))?.record ?? null;
  }

  const floorOf = (account: AccountKey): number => Math.max(highWater.get(accountId(account)) ?? 0, anchors?.floor(account, 'amounts') ?? 0);

  /**
   * The record and the tag of its box (null when none is stored), checked as readRecord checks it.
   * Not below `floor` (floorOf before the read's snapshot was taken: by default before this
   * statement); a locked read returns the newest committed record, so not below floorOf at all.
   */
  async function readRecordBox(db: CommonQueryMethods, account: AccountKey, lock: boolean, floor = floorOf(account)): Promise<{ record: AmountsRecord; tag: Buffer } | null> {
    const row = await db.maybeOne(sql.type(boxRow)`
      SELECT key_id AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind = 'amounts'
      ${lock ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
    const mark = lock ? Math.max(floor, floorOf(account)) : floor;
    if (row === null) {
      if (mark > 0) throw tamper(account, 'the amounts record is gone');
      return null;
    }
    let plaintext: Buffer;
    try {
      plaintext = sealer.open({ account, table: 'amounts', seq: 0 }, row);
    } catch (error) {
      if (error instanceof SealedDataError) throw tamper(account, 'the amounts record does not open');
      throw error;
    }
    const text = plaintext.toString('utf8');
    const parsed = amountsRecordSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new StorageSchemaError(['sealed amounts record']);
    if (parsed.data.writes < mark) throw tamper(account, 'the amounts record was rolled back');
    remember(account, parsed.data.writes);
    know(account, { text, tag: Buffer.from(row.tag), writes: parsed.data.writes });
    return { record: parsed.data, tag: Buffer.from(row.tag) };
  }

  /** Each row's keyed digest value: HMAC under the account's blind-index key of "time:tag". */
  function elements(account: AccountKey, record: AmountsRecord, table: AmountTable, rows: readonly { at: number; tag: Buffer }[]): bigint[] {
    if (rows.length === 0) return [];
    const macs = sealer.blindIndexes(account, record.indexKeyId, `amounts-digest:${table}`, rows.map((r) => `${r.at}:${r.tag.toString('hex')}`));
    const out: bigint[] = [];
    for (let i = 0; i < rows.length; i++) out.push(BigInt(`0x${macs.subarray(i * BLIND_INDEX_BYTES, (i + 1) * BLIND_INDEX_BYTES).toString('hex')}`));
    return out;
  }
  const sumOf = (values: readonly bigint[], start = 0n): bigint => values.reduce((acc, v) => (acc + v) % SUM_MODULUS, start);
  const hex = (n: bigint): string => n.toString(16).padStart(32, '0');

  function openBox(account: AccountKey, table: AmountTable, at: EpochMs, box: SealedBox): readonly [number, number] {
    let plaintext: Buffer;
    try {
      plaintext = sealer.open({ account, table, seq: 0, row: String(at) }, box);
    } catch (error) {
      if (error instanceof SealedDataError) throw tamper(account, `a ${table} row does not open`);
      throw error;
    }
    if (plaintext.length !== 16) throw new StorageSchemaError([`sealed ${table} row`]);
    return [plaintext.readDoubleBE(0), plaintext.readDoubleBE(8)];
  }

  function sealRecord(account: AccountKey, record: AmountsRecord): { box: SealedBox; text: string; writes: number } {
    const next: AmountsRecord = { ...record, writes: record.writes + 1 };
    const text = JSON.stringify(next);
    return { box: sealer.seal({ account, table: 'amounts', seq: 0 }, Buffer.from(text, 'utf8')), text, writes: next.writes };
  }

  async function writeRecord(tx: CommonQueryMethods, account: AccountKey, record: AmountsRecord): Promise<number> {
    const { box, text, writes } = sealRecord(account, record);
    unconfirmed.set(accountId(account), { text, tag: box.tag, writes });
    await tx.query(sql.type(noRows)`
      INSERT INTO sealed_records (user_uid, exchange, kind, key_id, iv, tag, ciphertext)
      VALUES (${account.userUid}, ${account.exchange}, 'amounts', ${box.keyId}, ${sql.binary(box.iv)}, ${sql.binary(box.tag)}, ${sql.binary(box.ciphertext)})
      ON CONFLICT (user_uid, exchange, kind) DO UPDATE SET key_id = excluded.key_id, iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext`);
    return writes;
  }

  /** Seals `rows` (time → pair) into `table`, replacing what is stored at those times; updates the record. */
  async function upsert(tx: CommonQueryMethods, account: AccountKey, record: AmountsRecord, table: AmountTable, rows: readonly { at: number; a: number; b: number }[]): Promise<void> {
    for (let start = 0; start < rows.length; start += SLICE) {
      const slice = rows.slice(start, start + SLICE);
      const times = slice.map((r) => isoTime(r.at));
      // What these rows replace leaves the sum; a plaintext row (legacy) was never in it.
      const old = await tx.any(sql.type(tagRow)`
        SELECT ${timeOf(table)} AS at, tag FROM ${tableOf(table)}
        WHERE ${where(account)} AND ${timeOf(table)} = ANY(${sql.array(times, 'timestamptz')}) FOR UPDATE`);
      const replaced = old.filter((r): r is { at: number; tag: Buffer } => r.tag !== null);
      const boxes = slice.map((r) => sealer.seal({ account, table, seq: 0, row: String(r.at) }, encodePair(r.a, r.b)));
      let sum = BigInt(`0x${record[table].sum}`);
      for (const v of elements(account, record, table, replaced)) sum = (sum - v + SUM_MODULUS) % SUM_MODULUS;
      sum = sumOf(elements(account, record, table, slice.map((r, i) => ({ at: r.at, tag: boxes[i]!.tag }))), sum);
      record[table] = { rows: record[table].rows + slice.length - replaced.length, sum: hex(sum) };
      const tuples = slice.map((_, i) => [times[i]!, boxes[i]!.keyId, boxes[i]!.iv.toString('base64'), boxes[i]!.tag.toString('base64'), boxes[i]!.ciphertext.toString('base64')]);
      const [a, b] = table === 'hourly_amounts' ? ['equity_end', 'net_flow'] as const : ['balance', 'equity'] as const;
      await tx.query(sql.type(noRows)`
        INSERT INTO ${tableOf(table)} (user_uid, exchange, ${timeOf(table)}, key_id, iv, tag, ciphertext)
        SELECT ${account.userUid}, ${account.exchange}, t.at, t.key_id, decode(t.iv, 'base64'), decode(t.tag, 'base64'), decode(t.ct, 'base64')
        FROM ${sql.unnest(tuples, ['timestamptz', 'int2', 'text', 'text', 'text'])} AS t(at, key_id, iv, tag, ct)
        ON CONFLICT (user_uid, exchange, ${timeOf(table)}) DO UPDATE
          SET key_id = excluded.key_id, iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext,
              ${sql.identifier([a])} = NULL, ${sql.identifier([b])} = NULL`);
    }
  }

  async function lockAccount(tx: CommonQueryMethods, account: AccountKey): Promise<void> {
    // Serializes the first write and the legacy conversion of an account across processes (the
    // record row does not exist yet to lock); 'amounts' keeps the key apart from other users. A
    // hash collision only serializes two accounts' writes.
    await tx.query(sql.type(noRows)`SELECT pg_advisory_xact_lock(hashtextextended(${`amounts:${accountId(account)}`}, 0))`);
  }

  async function convertLegacy(db: DatabasePool, account: AccountKey): Promise<void> {
    const legacy = await db.oneFirst(sql.type(existsRow)`
      SELECT EXISTS (SELECT 1 FROM hourly_amounts WHERE ${where(account)} AND ciphertext IS NULL)
          OR EXISTS (SELECT 1 FROM snapshot_amounts WHERE ${where(account)} AND ciphertext IS NULL) AS legacy`);
    if (!legacy) return;
    const writes = await db.transaction(async (tx) => {
      await lockAccount(tx, account);
      const before = await readRecord(tx, account, true);
      const hours = await tx.any(sql.type(legacyRow)`
        SELECT hour_start AS at, equity_end AS a, net_flow AS b FROM hourly_amounts WHERE ${where(account)} AND ciphertext IS NULL FOR UPDATE`);
      const snapshots = await tx.any(sql.type(legacyRow)`
        SELECT at, balance AS a, equity AS b FROM snapshot_amounts WHERE ${where(account)} AND ciphertext IS NULL FOR UPDATE`);
      if (hours.length === 0 && snapshots.length === 0) return null;
      // The service never writes plaintext next to a sealed record: such a row was put there by hand.
      if (before !== null) throw tamper(account, 'plaintext rows appeared after the amounts were sealed');
      const record = freshRecord();
      await upsert(tx, account, record, 'hourly_amounts', hours);
      await upsert(tx, account, record, 'snapshot_amounts', snapshots);
      return writeRecord(tx, account, record);
    });
    if (writes !== null) remember(account, writes);
  }

  /** The table's rows against the record (count, keyed sum, none in plaintext); returns them as verified. */
  async function verifyTable(db: CommonQueryMethods, account: AccountKey, record: AmountsRecord | null, table: AmountTable): Promise<VerifiedRows> {
    const rows = await db.any(sql.type(tagRow)`SELECT ${timeOf(table)} AS at, tag FROM ${tableOf(table)} WHERE ${where(account)} ORDER BY 1`);
    const state = record?.[table] ?? freshRecord()[table];
    if (rows.length !== state.rows) throw tamper(account, `${table}: ${rows.length > state.rows ? 'a row was inserted' : 'a row is missing'}`);
    if (rows.length === 0) return { times: new Float64Array(0), tags: Buffer.alloc(0) };
    if (record === null) throw tamper(account, `${table}: rows without a record`);
    const sealed = rows.filter((r): r is { at: number; tag: Buffer } => r.tag !== null);
    if (sealed.length !== rows.length) throw tamper(account, `${table}: a plaintext row next to sealed ones`);
    if (hex(sumOf(elements(account, record, table, sealed))) !== state.sum) throw tamper(account, `${table}: the rows do not match the record`);
    return { times: Float64Array.from(sealed, (r) => r.at), tags: Buffer.concat(sealed.map((r) => r.tag)) };
  }

  // Per account: the row set last verified here and the record tag it was verified under (bounded, oldest out).
  const verifiedSets = new Map<string, VerifiedSet>();
  function keepVerified(account: AccountKey, set: VerifiedSet): void {
    const id = accountId(account);
    verifiedSets.delete(id);
    if (verifiedSets.size >= VERIFIED_LIMIT) verifiedSets.delete(verifiedSets.keys().next().value!);
    verifiedSets.set(id, set);
  }

  async function verify(db: CommonQueryMethods, account: AccountKey, floor = floorOf(account)): Promise<number> {
    const stored = await readRecordBox(db, account, false, floor);
    const record = stored?.record ?? null;
    const hourly = await verifyTable(db, account, record, 'hourly_amounts');
    const snapshots = await verifyTable(db, account, record, 'snapshot_amounts');
    if (stored !== null) keepVerified(account, { recordTag: stored.tag, tables: { hourly_amounts: hourly, snapshot_amounts: snapshots } });
    return record?.writes ?? 0;
  }

  /** True when the row (time, tag) is in the verified rows. */
  function contains(rows: VerifiedRows, at: number, tag: Buffer): boolean {
    let lo = 0;
    let hi = rows.times.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const t = rows.times[mid]!;
      if (t === at) return rows.tags.subarray(mid * TAG_BYTES, (mid + 1) * TAG_BYTES).equals(tag);
      if (t < at) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** After this process's own write of new rows (times after every verified one): the set follows it, unverified writes drop it. */
  function extendVerified(account: AccountKey, fromTag: Buffer, toTag: Buffer, added: Record<AmountTable, readonly SealedAmountRow[]>): void {
    const id = accountId(account);
    const set = verifiedSets.get(id);
    if (set === undefined) return;
    verifiedSets.delete(id);
    if (!set.recordTag.equals(fromTag)) return;
    const tables = { ...set.tables };
    for (const table of AMOUNT_TABLES) {
      const rows = added[table];
      if (rows.length === 0) continue;
      const { times, tags } = set.tables[table];
      let last = times.length === 0 ? Number.NEGATIVE_INFINITY : times[times.length - 1]!;
      for (const r of rows) {
        // Not in time order after the set: rebuilt by the next range read's full check instead.
        if (r.at <= last) return;
        last = r.at;
      }
      const nextTimes = new Float64Array(times.length + rows.length);
      nextTimes.set(times);
      nextTimes.set(rows.map((r) => r.at), times.length);
      tables[table] = { times: nextTimes, tags: Buffer.concat([tags, ...rows.map((r) => r.box.tag)]) };
    }
    keepVerified(account, { recordTag: Buffer.from(toTag), tables });
  }

  async function vouch(db: CommonQueryMethods, account: AccountKey, table: AmountTable, rows: readonly { readonly at: number; readonly tag: Buffer | null }[], floor = floorOf(account)): Promise<void> {
    if (rows.length === 0) return;
    const stored = await readRecordBox(db, account, false, floor);
    const set = verifiedSets.get(accountId(account));
    const inSet = (s: VerifiedSet | undefined) => s !== undefined && stored !== null && s.recordTag.equals(stored.tag)
      && rows.every((r) => r.tag !== null && contains(s.tables[table], r.at, r.tag));
    if (inSet(set)) return;
    await verify(db, account, floor);
    // Verified in this snapshot: every sealed row returned is in the set (an hour without a sealed row passes, as before).
    const fresh = verifiedSets.get(accountId(account));
    if (stored !== null && fresh !== undefined && rows.some((r) => r.tag !== null && !contains(fresh.tables[table], r.at, r.tag))) {
      throw tamper(account, `${table}: a row does not match the record`);
    }
  }

  async function prepare(db: DatabasePool, account: AccountKey): Promise<void> {
    await convertLegacy(db, account);
    const floor = floorOf(account);
    await db.transaction(async (tx) => {
      await tx.query(sql.type(noRows)`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
      await verify(tx, account, floor);
    });
  }

  return {
    async prepare(db, account) {
      const id = accountId(account);
      if (prepared.has(id)) return;
      let running = preparing.get(id);
      if (running === undefined) {
        running = prepare(db, account).then(() => {
          if (prepared.size >= HIGH_WATER_LIMIT) prepared.clear();
          prepared.add(id);
        }).finally(() => preparing.delete(id));
        preparing.set(id, running);
      }
      await running;
    },
    async begin(tx, account) {
      await lockAccount(tx, account);
      const record = (await readRecord(tx, account, true)) ?? freshRecord();
      return {
        writeHours: (hours) => upsert(tx, account, record, 'hourly_amounts', hours.map((h) => ({ at: h.hourStart, a: h.equityEnd, b: h.netFlow }))),
        writeSnapshot: (s) => upsert(tx, account, record, 'snapshot_amounts', [{ at: s.at, a: s.balance, b: s.equity }]),
        finish: () => writeRecord(tx, account, record),
      };
    },
    committed(account, writes) {
      remember(account, writes);
      const id = accountId(account);
      const written = unconfirmed.get(id);
      if (written?.writes !== writes) return;
      unconfirmed.delete(id);
      know(account, written);
    },
    prepareWrite(account, hours, snapshot) {
      const id = accountId(account);
      const base = known.get(id);
      if (base === undefined || !prepared.has(id) || base.writes < Math.max(highWater.get(id) ?? 0, anchors?.floor(account, 'amounts') ?? 0)) return null;
      const record = JSON.parse(base.text) as AmountsRecord;
      const add = (table: AmountTable, rows: readonly { at: number; a: number; b: number }[]): SealedAmountRow[] => {
        if (rows.length === 0) return [];
        const sealed = rows.map((r) => ({ at: r.at, box: sealer.seal({ account, table, seq: 0, row: String(r.at) }, encodePair(r.a, r.b)) }));
        const sum = sumOf(elements(account, record, table, sealed.map((r) => ({ at: r.at, tag: r.box.tag }))), BigInt(`0x${record[table].sum}`));
        record[table] = { rows: record[table].rows + rows.length, sum: hex(sum) };
        return sealed;
      };
      const sealedHours = add('hourly_amounts', hours.map((h) => ({ at: h.hourStart, a: h.equityEnd, b: h.netFlow })));
      const sealedSnapshot = snapshot === null ? [] : add('snapshot_amounts', [{ at: snapshot.at, a: snapshot.balance, b: snapshot.equity }]);
      const next = sealRecord(account, record);
      return {
        hours: sealedHours, snapshot: sealedSnapshot[0] ?? null, expected: base.tag, record: next.box,
        committed: () => {
          remember(account, next.writes);
          know(account, { text: next.text, tag: next.box.tag, writes: next.writes });
          extendVerified(account, base.tag, next.box.tag, { hourly_amounts: sealedHours, snapshot_amounts: sealedSnapshot });
        },
      };
    },
    floorOf,
    verify,
    vouch,
    open(account, table, at, box) {
      if (box.keyId === null || box.iv === null || box.tag === null || box.ciphertext === null) throw tamper(account, `a ${table} row is not sealed`);
      return openBox(account, table, at, { keyId: box.keyId, iv: box.iv, tag: box.tag, ciphertext: box.ciphertext });
    },
    async loadHours(db, account) {
      await verify(db, account);
      const rows = await db.any(sql.type(sealedRow)`
        SELECT hour_start AS at, key_id AS "keyId", iv, tag, ciphertext FROM hourly_amounts WHERE ${where(account)} ORDER BY hour_start`);
      return rows.map((r) => {
        const [equityEnd, netFlow] = openBox(account, 'hourly_amounts', r.at, r);
        return { hourStart: r.at, equityEnd, netFlow };
      });
    },
    async loadSnapshots(db, account, fromMs, toMs, floor = floorOf(account)) {
      const rows = await db.any(sql.type(sealedRow)`
        SELECT at, key_id AS "keyId", iv, tag, ciphertext FROM snapshot_amounts WHERE ${where(account)}
          ${fromMs === undefined ? sql.fragment`` : sql.fragment`AND at >= ${isoTime(fromMs)}::timestamptz`}
          ${toMs === undefined ? sql.fragment`` : sql.fragment`AND at < ${isoTime(toMs)}::timestamptz`}
        ORDER BY at`);
      // Checked against the whole set verified here (again only when the record changed meanwhile).
      await vouch(db, account, 'snapshot_amounts', rows, floor);
      return rows.map((r) => {
        const [balance, equity] = openBox(account, 'snapshot_amounts', r.at, r);
        return { at: r.at, balance, equity };
      });
    },
    forget(account) {
      highWater.delete(accountId(account));
      prepared.delete(accountId(account));
      known.delete(accountId(account));
      unconfirmed.delete(accountId(account));
      verifiedSets.delete(accountId(account));
    },
  };
}
