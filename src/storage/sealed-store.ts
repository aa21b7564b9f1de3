// Sealed storage of an account's private rows (issue 14 part 1; format in docs/sealed-storage.md).
// The database holds only ciphertext and blind indexes:
//   sealed_pages    one AES-256-GCM box per committed page of fills or cash flows, AAD = (version,
//                   key id, account, stream, seq); seq = 0, 1, 2 … per account and stream
//   sealed_index    blind index (keyed PRF: HMAC or CBC-MAC, per account) of each venue id: the dedup constraint
//   sealed_records  'account': cursors, page and row counts, the chain head over the pages' tags,
//                   the engine record's tag, a write counter; 'engine': the engine state
// Every load checks the account record against the pages (count, order, chain) and the blind
// indexes (count; on a full row load, the exact set); any mismatch is TamperDetectedError.
// Legacy plaintext rows (trades, cash_flows, sync_cursors, engine_states) are sealed at the
// account's first load by this process and deleted in the same transaction.
import { z } from 'zod';
import type { CommonQueryMethods, DatabasePool, DatabaseTransactionConnection, SerializableValue } from 'slonik';
import { CASH_FLOW_KINDS } from '../domain/events.js';
import { accountId, PARKED_REASONS, type AccountKey, type CashFlow, type ConnectionStatus, type EpochMs, type Fill, type ParkedReason, type SyncCursor, type SyncStream } from '../domain/types.js';
import { SealedDataError } from '../crypto/errors.js';
import { addIndexSums, BLIND_INDEX_BYTES, CURRENT_BLIND_INDEX_VERSION, EMPTY_CHAIN_HEAD, EMPTY_INDEX_SUM, nextChainHead, TAG_BYTES, type AccountSealer, type SealedAddress, type SealedBox } from '../crypto/sealed-rows.js';
import { StorageSchemaError, TamperDetectedError } from './errors.js';
import { noRows, sql } from './pool.js';
import type { RollbackAnchors } from './rollback-anchors.js';

/** Largest page sealed as one box (legacy migration splits into these). */
const LEGACY_PAGE_ROWS = 5_000;
/** Blind indexes sent per statement (the HMACs of the next chunk are computed meanwhile). */
const INDEX_CHUNK_ROWS = 4_096;
/** Accounts whose write counter this process remembers (rollback seen while running); oldest first out. */
const HIGH_WATER_LIMIT = 100_000;
/** Pages whose latest row time the account record keeps one by one (older ones: one maximum). */
const TAIL_PAGES = 64;
/** Accounts whose current record (plaintext and tag) this process keeps for a compare-and-set write; oldest first out. */
const KNOWN_LIMIT = 50_000;

/**
 * Where a stream's rows lie in time, kept in the sealed account record so a load from a time
 * parses only the pages that can hold rows at or after it (an incremental sync: the last ones),
 * and the keyed sum of its blind indexes so a load checks the stored index set without an HMAC
 * per row. Absent in records written before it: the next page commit computes it once.
 */
const streamTail = z.object({
  /** Latest row time of the pages before `recent` (null: none). */
  olderMax: z.number().int().nullable(),
  /** Latest row time of each of the last ≤ TAIL_PAGES pages, oldest first, the last one is page `pages - 1`. */
  recent: z.array(z.number().int()).max(TAIL_PAGES),
  /** AccountSealer.indexSum of the stream's blind indexes (hex). */
  indexSum: z.string().regex(/^[0-9a-f]{32}$/u),
}).strict();
type StreamTail = z.infer<typeof streamTail>;
const streamState = z.object({
  cursor: z.string().nullable(), pages: z.number().int().nonnegative(), rows: z.number().int().nonnegative(), head: z.string().regex(/^[0-9a-f]{64}$/u),
  tail: streamTail.optional(),
}).strict();
const accountRecordSchema = z.object({
  v: z.literal(1),
  /** Root id of the blind-index key: fixed at the account's first write (rotation must not break dedup). */
  indexKeyId: z.number().int().min(0).max(255),
  /**
   * The account's blind-index function (sealed-rows.ts BlindIndexVersion), fixed at its first write
   * like indexKeyId: its stored indexes are the dedup keys. Absent in records written before
   * version 2 existed: HMAC (1).
   */
  indexVersion: z.literal(2).optional(),
  /** Moves on at every write of this record. */
  writes: z.number().int().nonnegative(),
  fills: streamState,
  cash_flows: streamState,
  /** GCM tag (hex) of the engine record this account record goes with (null: none). */
  engineTag: z.string().regex(/^[0-9a-f]{32}$/u).nullable(),
}).strict();
type AccountRecord = z.infer<typeof accountRecordSchema>;
type StreamState = z.infer<typeof streamState>;

const boxRow = z.object({ keyId: z.number().int(), iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer) });
const recordRow = boxRow.extend({ kind: z.string() });
/** One statement's rows of a stream load (part 0: the account record, 1: a page, 2: a stream's blind indexes, count in `seq`). */
const streamPartRow = boxRow.extend({ part: z.number().int(), stream: z.string(), seq: z.number().int() });
type StreamPart = z.infer<typeof streamPartRow>;
/** One statement's rows of an actor start (part 0/1: account/engine record; 2: a stream's pages; 3: a stream's index count). */
const startPartRow = z.object({
  part: z.number().int(), stream: z.string(), keyId: z.number().int(), n: z.number().int(), lo: z.number().int(), hi: z.number().int(),
  iv: z.instanceof(Buffer), tag: z.instanceof(Buffer), ciphertext: z.instanceof(Buffer),
});
const dupsRow = z.object({ dups: z.array(z.number().int()) });
const connectionStatus = z.enum(['active', 'failed', 'disabled']);
const parkedReason = z.enum(PARKED_REASONS);

/** The connection row as `loadConnectionAndStart` reads it beside the sealed start. */
export interface StartConnection {
  readonly envelope: Buffer;
  readonly status: ConnectionStatus;
  readonly generation: number;
  readonly parkedReason: ParkedReason | null;
  readonly acceptTradingKeyRisk: boolean;
}

/** Both cursors and the engine state an actor starts from. */
export interface SealedStart {
  readonly fillsCursor: SyncCursor | null;
  readonly cashFlowsCursor: SyncCursor | null;
  readonly engineState: unknown;
}
const legacyRow = z.object({ legacy: z.boolean() });
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const legacyFillRow = z.object({
  exchangeTradeId: z.string(), symbol: z.string(), baseAsset: z.string(), quoteAsset: z.string(), side: z.enum(['buy', 'sell']),
  quantity: decimal, price: decimal, fee: decimal, feeAsset: z.string(), executedAt: z.number(),
});
const legacyFlowRow = z.object({ exchangeFlowId: z.string(), kind: z.enum(CASH_FLOW_KINDS), asset: z.string(), amount: decimal, occurredAt: z.number() });
const legacyCursorRow = z.object({ stream: z.enum(['fills', 'cash_flows']), cursor: z.string() });
const legacyEngineRow = z.object({ state: z.unknown() });

// Page plaintext: JSON array of rows, each a fixed-order array (no key names repeated per row).
type FillTuple = [string, string, string, string, 'buy' | 'sell', string, string, string, string, number];
type FlowTuple = [string, CashFlow['kind'], string, string, number];
// Checked by hand, not by zod: a load opens every row of the account (zod per row was a third of it).
const DECIMAL = /^-?\d+(\.\d+)?$/u;
const FLOW_KINDS: ReadonlySet<string> = new Set(CASH_FLOW_KINDS);
const isString = (v: unknown): v is string => typeof v === 'string';
const isDecimal = (v: unknown): v is string => typeof v === 'string' && DECIMAL.test(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
function isFillTuple(t: unknown): t is FillTuple {
  return Array.isArray(t) && t.length === 10 && isString(t[0]) && isString(t[1]) && isString(t[2]) && isString(t[3])
    && (t[4] === 'buy' || t[4] === 'sell') && isDecimal(t[5]) && isDecimal(t[6]) && isDecimal(t[7]) && isString(t[8]) && isTime(t[9]);
}
function isFlowTuple(t: unknown): t is FlowTuple {
  return Array.isArray(t) && t.length === 5 && isString(t[0]) && isString(t[1]) && FLOW_KINDS.has(t[1]) && isString(t[2]) && isDecimal(t[3]) && isTime(t[4]);
}

interface Codec<T> {
  readonly stream: SyncStream;
  idOf(item: T): string;
  timeOf(item: T): EpochMs;
  encode(item: T): unknown;
  decode(tuple: unknown): T;
}

const fillCodec: Codec<Fill> = {
  stream: 'fills',
  idOf: (f) => f.exchangeTradeId,
  timeOf: (f) => f.executedAt,
  encode: (f): FillTuple => [f.exchangeTradeId, f.symbol, f.baseAsset, f.quoteAsset, f.side, f.quantity, f.price, f.fee, f.feeAsset, f.executedAt],
  decode: (tuple) => {
    if (!isFillTuple(tuple)) throw new StorageSchemaError(['sealed fills page']);
    const [exchangeTradeId, symbol, baseAsset, quoteAsset, side, quantity, price, fee, feeAsset, executedAt] = tuple;
    return { exchangeTradeId, symbol, baseAsset, quoteAsset, side, quantity, price, fee, feeAsset, executedAt };
  },
};

const flowCodec: Codec<CashFlow> = {
  stream: 'cash_flows',
  idOf: (c) => c.exchangeFlowId,
  timeOf: (c) => c.occurredAt,
  encode: (c): FlowTuple => [c.exchangeFlowId, c.kind, c.asset, c.amount, c.occurredAt],
  decode: (tuple) => {
    if (!isFlowTuple(tuple)) throw new StorageSchemaError(['sealed cash flows page']);
    const [exchangeFlowId, kind, asset, amount, occurredAt] = tuple;
    return { exchangeFlowId, kind, asset, amount, occurredAt };
  },
};

/** A write of the account record inside a caller's transaction. */
export interface SealedWrite {
  readonly account: AccountKey;
  /** New rows stored (0 for an engine-state write). */
  readonly inserted: number;
  /** The account record's write counter after it. */
  readonly writes: number;
}

/** A stored sealed record replaced only if it still carries `expected` (its GCM tag). */
export interface RecordSwap {
  readonly expected: Buffer;
  readonly box: SealedBox;
}

/** The engine-state write as a compare-and-set: both records, each with the tag it replaces. */
export interface EngineStateSwap {
  readonly account: RecordSwap;
  readonly engine: RecordSwap;
  /** Pass to `committed` once the statement writing both records committed. */
  readonly write: SealedWrite;
}

export interface SealedStore {
  /** The account sealer this store seals with (the sealed amounts share it: sealed-amounts.ts). */
  readonly sealer: AccountSealer;
  /** The stream's cursor, after checking the account record, both streams' pages and index counts and the engine record. */
  loadCursor(db: DatabasePool, account: AccountKey, stream: SyncStream): Promise<SyncCursor | null>;
  /** Both cursors and the engine state an actor starts from, checked as loadCursor checks, in one statement. */
  loadStart(db: DatabasePool, account: AccountKey): Promise<SealedStart>;
  /**
   * The connection row and, when it is active, loadStart's result, in one statement (issue 19: a
   * cold actor's first read). Null when the account's legacy check has not run in this process yet
   * (migrateLegacy, then the two reads apart). A connection that is not active: no sealed check.
   */
  loadConnectionAndStart(db: DatabasePool, account: AccountKey): Promise<{ connection: StartConnection | null; start: SealedStart | null } | null>;
  /** Inside the caller's (fenced) transaction: dedups on blind indexes, seals the new rows as one page, advances the cursor. */
  commitFillsPage(tx: DatabaseTransactionConnection, account: AccountKey, fills: readonly Fill[], cursor: SyncCursor): Promise<SealedWrite>;
  commitCashFlowsPage(tx: DatabaseTransactionConnection, account: AccountKey, flows: readonly CashFlow[], cursor: SyncCursor): Promise<SealedWrite>;
  /**
   * Rows with time ≥ fromMs, oldest first (ties by id). Opens every page of the stream (checking
   * chain, counts and the blind-index set against the record's sum) and parses only those the
   * record's tail says can hold such rows.
   */
  loadFills(db: DatabasePool, account: AccountKey, fromMs: EpochMs): Promise<Fill[]>;
  loadCashFlows(db: DatabasePool, account: AccountKey, fromMs: EpochMs): Promise<CashFlow[]>;
  /** Both streams from `fromMs`, checked as loadFills and loadCashFlows check them, in one statement. */
  loadRecords(db: DatabasePool, account: AccountKey, fromMs: EpochMs): Promise<{ fills: Fill[]; cashFlows: CashFlow[] }>;
  loadEngineState(db: DatabasePool, account: AccountKey): Promise<unknown>;
  /** Inside the caller's transaction: seals the engine state and binds its tag into the account record. */
  saveEngineState(tx: DatabaseTransactionConnection, account: AccountKey, state: unknown): Promise<SealedWrite>;
  /**
   * saveEngineState without a locked read (issue 19): both records sealed from the account record
   * this process last opened or wrote, each to replace the stored row only while it still carries
   * the tag this process knows (the caller's statement checks it under a row lock; a mismatch means
   * another writer or an edit, and the caller takes the locked path, which checks everything).
   * Null when this process knows no record with an engine state for the account.
   */
  prepareEngineState(account: AccountKey, state: unknown): EngineStateSwap | null;
  /**
   * After the transaction of a SealedWrite committed: this process now refuses an older account
   * record (a rollback). Not before: a rolled-back write must not make the stored record look old.
   */
  committed(write: SealedWrite): void;
  /** Seals the account's legacy plaintext rows, if any, and deletes them (one transaction; once per process per account). */
  migrateLegacy(db: DatabasePool, account: AccountKey): Promise<void>;
  /** The account was removed: forget what this process remembers of it. */
  forget(account: AccountKey): void;
}

/**
 * `anchors`: the account records' write counters kept outside the database (rollback-anchors.ts):
 * a stored record older than its anchor is a rollback, detected across restarts and instances.
 */
export function createSealedStore(sealer: AccountSealer, options: { readonly anchors?: RollbackAnchors } = {}): SealedStore {
  const { anchors } = options;
  const highWater = new Map<string, number>();
  const migrated = new Set<string>();
  const migrating = new Map<string, Promise<void>>();
  // Per account: the newest record this process opened or committed (plaintext, tag), the base of a
  // compare-and-set write. Kept as text: a record object is changed in place by a write in progress.
  const known = new Map<string, { readonly text: string; readonly tag: Buffer; readonly writes: number }>();
  // A write's record, remembered in `known` only once its transaction committed.
  const unconfirmed = new WeakMap<SealedWrite, { readonly text: string; readonly tag: Buffer }>();

  const where = (a: AccountKey) => sql.fragment`user_uid = ${a.userUid} AND exchange = ${a.exchange}`;
  const tamper = (account: AccountKey, what: string): TamperDetectedError =>
    new TamperDetectedError(`sealed storage of ${accountId(account)}: ${what}`);

  function open(address: SealedAddress, box: SealedBox): Buffer {
    try {
      return sealer.open(address, box);
    } catch (error) {
      if (error instanceof SealedDataError) throw tamper(address.account, `a ${address.table} entry does not open`);
      throw error;
    }
  }

  function remember(account: AccountKey, writes: number): void {
    const id = accountId(account);
    // Never lowered: a read of an older snapshot (below) must not take back what was seen committed.
    if ((highWater.get(id) ?? 0) > writes) return;
    highWater.delete(id);
    if (highWater.size >= HIGH_WATER_LIMIT) highWater.delete(highWater.keys().next().value!);
    highWater.set(id, writes);
    anchors?.note(account, 'account', writes);
  }
  function know(account: AccountKey, text: string, tag: Buffer, writes: number): void {
    const id = accountId(account);
    const current = known.get(id);
    if (current !== undefined && current.writes > writes) return;
    known.delete(id);
    if (known.size >= KNOWN_LIMIT) known.delete(known.keys().next().value!);
    known.set(id, { text, tag: Buffer.from(tag), writes });
  }
  const markOf = (account: AccountKey): number => Math.max(highWater.get(accountId(account)) ?? 0, anchors?.floor(account, 'account') ?? 0);

  function freshRecord(): AccountRecord {
    const empty = (): StreamState => ({
      cursor: null, pages: 0, rows: 0, head: EMPTY_CHAIN_HEAD.toString('hex'), tail: { olderMax: null, recent: [], indexSum: EMPTY_INDEX_SUM.toString('hex') },
    });
    return { v: 1, indexKeyId: sealer.currentId, indexVersion: CURRENT_BLIND_INDEX_VERSION, writes: 0, fills: empty(), cash_flows: empty(), engineTag: null };
  }

  /** The account record (null when none is stored), opened and checked against this process's high-water mark. */
  async function readRecord(db: CommonQueryMethods, account: AccountKey, lock: boolean): Promise<AccountRecord | null> {
    const floor = markOf(account);
    const row = await db.maybeOne(sql.type(boxRow)`
      SELECT key_id AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind = 'account'
      ${lock ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
    // A locked read returns the newest committed record (no write can commit while it holds the lock):
    // checked against everything seen so far. An unlocked one, against what was seen before it was sent.
    return acceptRecord(account, row, lock ? markOf(account) : floor);
  }

  /** Upserts sealed records (the account record, the engine record) in one statement. */
  async function upsertRecords(tx: CommonQueryMethods, account: AccountKey, boxes: readonly { kind: 'account' | 'engine'; box: SealedBox }[]): Promise<void> {
    const rows = boxes.map(({ kind, box }) =>
      sql.fragment`(${account.userUid}, ${account.exchange}, ${kind}, ${box.keyId}, ${sql.binary(box.iv)}, ${sql.binary(box.tag)}, ${sql.binary(box.ciphertext)})`);
    await tx.query(sql.type(noRows)`
      INSERT INTO sealed_records (user_uid, exchange, kind, key_id, iv, tag, ciphertext)
      VALUES ${sql.join(rows, sql.fragment`, `)}
      ON CONFLICT (user_uid, exchange, kind) DO UPDATE SET key_id = excluded.key_id, iv = excluded.iv, tag = excluded.tag, ciphertext = excluded.ciphertext`);
  }

  /** The record's next version sealed (its write counter moved on). */
  function sealRecord(account: AccountKey, record: AccountRecord): { box: SealedBox; writes: number; text: string } {
    const next: AccountRecord = { ...record, writes: record.writes + 1 };
    const text = JSON.stringify(next);
    return { box: sealer.seal({ account, table: 'account', seq: 0 }, Buffer.from(text, 'utf8')), writes: next.writes, text };
  }

  async function writeRecord(tx: CommonQueryMethods, account: AccountKey, record: AccountRecord): Promise<{ writes: number; text: string; tag: Buffer }> {
    const { box, writes, text } = sealRecord(account, record);
    await upsertRecords(tx, account, [{ kind: 'account', box }]);
    return { writes, text, tag: box.tag };
  }

  /** A SealedWrite whose record `known` takes once it is committed. */
  function sealedWrite(account: AccountKey, inserted: number, sealedRecord: { writes: number; text: string; tag: Buffer }): SealedWrite {
    const write: SealedWrite = { account, inserted, writes: sealedRecord.writes };
    unconfirmed.set(write, { text: sealedRecord.text, tag: sealedRecord.tag });
    return write;
  }

  /** Pages' tags in seq order → count, order and chain against the record. */
  function checkChain(account: AccountKey, stream: SyncStream, state: StreamState, tags: readonly { seq: number; tag: Buffer }[]): void {
    if (tags.length !== state.pages) throw tamper(account, `${stream}: ${tags.length > state.pages ? 'a page was inserted' : 'a page is missing'}`);
    let head: Buffer = EMPTY_CHAIN_HEAD;
    for (let i = 0; i < tags.length; i++) {
      if (tags[i]!.seq !== i) throw tamper(account, `${stream}: pages out of sequence`);
      head = nextChainHead(head, i, tags[i]!.tag);
    }
    if (head.toString('hex') !== state.head) throw tamper(account, `${stream}: the page chain does not match`);
  }

  function checkEngine(account: AccountKey, record: AccountRecord | null, row: SealedBox | null): Buffer | null {
    const expected = record?.engineTag ?? null;
    if (row === null && expected === null) return null;
    if (row === null || expected === null || row.tag.toString('hex') !== expected) throw tamper(account, 'the engine record does not belong to the account record');
    return open({ account, table: 'engine', seq: 0 }, row);
  }

  /**
   * Opens and checks the account record of a stored box (null: none stored). `floor`: this
   * process's mark (markOf) taken before the statement that read the box was sent. A statement
   * sees every commit that completed before it started, so a record below that mark is a rollback;
   * a commit this process registered after sending it (its reply handled first: another sync of
   * the account still in flight, a read beside the actor's write) may be newer than the statement's
   * snapshot, and must not be taken for one (the false `tamper` park under shard churn).
   */
  function acceptRecord(account: AccountKey, row: SealedBox | null, floor: number): AccountRecord | null {
    if (row === null) {
      if (floor > 0) throw tamper(account, 'the account record is gone');
      return null;
    }
    const plaintext = open({ account, table: 'account', seq: 0 }, row);
    const text = plaintext.toString('utf8');
    const parsed = accountRecordSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new StorageSchemaError(['sealed account record']);
    if (parsed.data.writes < floor) throw tamper(account, 'the account record was rolled back');
    // What was read is committed: never accept an older record from now on.
    if (parsed.data.writes > markOf(account)) remember(account, parsed.data.writes);
    know(account, text, row.tag, parsed.data.writes);
    return parsed.data;
  }

  /**
   * An actor start in one statement: the account record, the engine record, each stream's page
   * count, first and last seq and tags in seq order, and each stream's blind-index count. Checks
   * the chain and counts of both streams and the engine record against the account record.
   */
  async function loadStart(db: CommonQueryMethods, account: AccountKey, withConnection = false):
  Promise<{ record: AccountRecord | null; engine: Buffer | null; connection?: StartConnection | null }> {
    const floor = markOf(account);
    const parts = await db.any(sql.type(startPartRow)`
      ${withConnection ? sql.fragment`
      -- Part -1, the connection: status in stream, generation in n, the trading-key opt-in in lo,
      -- the parked reason (UTF-8) in iv, the envelope in ciphertext.
      SELECT -1 AS part, status AS stream, 0 AS "keyId", generation AS n, accept_trading_key_risk::int AS lo, 0 AS hi,
          convert_to(coalesce(parked_reason, ''), 'UTF8') AS iv, ''::bytea AS tag, envelope AS ciphertext
        FROM exchange_connections WHERE ${where(account)}
      UNION ALL ` : sql.fragment``}SELECT 0 AS part, '' AS stream, key_id::int AS "keyId", 0 AS n, 0 AS lo, 0 AS hi, iv, tag, ciphertext
        FROM sealed_records WHERE ${where(account)} AND kind = 'account'
      UNION ALL SELECT 1, '', key_id::int, 0, 0, 0, iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind = 'engine'
      -- The primary key makes seq unique: n pages from 0 to n - 1 are exactly 0 … n - 1.
      UNION ALL SELECT 2, stream, 0, count(*)::int, min(seq), max(seq), ''::bytea, string_agg(tag, ''::bytea ORDER BY seq), ''::bytea
        FROM sealed_pages WHERE ${where(account)} GROUP BY stream
      UNION ALL SELECT 3, stream, 0, count(*)::int, 0, 0, ''::bytea, ''::bytea, ''::bytea FROM sealed_index WHERE ${where(account)} GROUP BY stream`);
    let connection: StartConnection | null | undefined;
    if (withConnection) {
      const row = parts.find((p) => p.part === -1);
      connection = row === undefined ? null : {
        envelope: row.ciphertext, status: connectionStatus.parse(row.stream), generation: row.n,
        parkedReason: row.iv.length === 0 ? null : parkedReason.parse(row.iv.toString('utf8')), acceptTradingKeyRisk: row.lo === 1,
      };
      // Read apart, the sealed start was not read at all for such a connection: nothing to check.
      if (connection === null || connection.status !== 'active') return { record: null, engine: null, connection };
    }
    const box = (part: number): SealedBox | null => parts.find((p) => p.part === part) ?? null;
    const record = acceptRecord(account, box(0), floor);
    for (const stream of ['fills', 'cash_flows'] as const) {
      const state = record?.[stream] ?? freshRecord()[stream];
      const pages = parts.find((p) => p.part === 2 && p.stream === stream);
      const n = pages?.n ?? 0;
      if (n !== state.pages) throw tamper(account, `${stream}: ${n > state.pages ? 'a page was inserted' : 'a page is missing'}`);
      if (pages !== undefined && (pages.lo !== 0 || pages.hi !== n - 1 || pages.tag.length !== n * TAG_BYTES)) throw tamper(account, `${stream}: pages out of sequence`);
      const tags = Array.from({ length: n }, (_, seq) => ({ seq, tag: pages!.tag.subarray(seq * TAG_BYTES, (seq + 1) * TAG_BYTES) }));
      checkChain(account, stream, state, tags);
      const indexed = parts.find((p) => p.part === 3 && p.stream === stream)?.n ?? 0;
      if (indexed !== state.rows) throw tamper(account, `${stream}: the blind indexes do not match the rows`);
    }
    return { record, engine: checkEngine(account, record, box(1)), ...(connection === undefined ? {} : { connection }) };
  }

  const startOf = (record: AccountRecord | null, engine: Buffer | null): SealedStart => ({
    fillsCursor: record?.fills.cursor ?? null, cashFlowsCursor: record?.cash_flows.cursor ?? null,
    engineState: engine === null ? null : (JSON.parse(engine.toString('utf8')) as unknown),
  });

  /** First page that can hold a row at or after `fromMs` (pages before it hold only older rows). */
  function firstPageFrom(tail: StreamTail, pages: number, fromMs: EpochMs): number {
    if (tail.olderMax !== null && tail.olderMax >= fromMs) return 0;
    const base = pages - tail.recent.length;
    for (let j = 0; j < tail.recent.length; j++) if (tail.recent[j]! >= fromMs) return base + j;
    return pages;
  }

  /** The tail after a page of rows with latest time `pageMax` and blind indexes `indexes` was appended. */
  function appendTail(account: AccountKey, indexKeyId: number, tail: StreamTail, pageMax: EpochMs, indexes: Buffer): StreamTail {
    const recent = [...tail.recent, pageMax];
    let olderMax = tail.olderMax;
    while (recent.length > TAIL_PAGES) {
      const dropped = recent.shift()!;
      olderMax = olderMax === null ? dropped : Math.max(olderMax, dropped);
    }
    const indexSum = addIndexSums(Buffer.from(tail.indexSum, 'hex'), sealer.indexSum(account, indexKeyId, indexes)).toString('hex');
    return { olderMax, recent, indexSum };
  }

  /** Dedups `items` on their blind indexes and seals the new ones as the stream's next page. */
  async function appendRows<T>(tx: CommonQueryMethods, account: AccountKey, record: AccountRecord, codec: Codec<T>, items: readonly T[]): Promise<number> {
    if (items.length === 0) return 0;
    // One entry per id within the page (the first wins, as ON CONFLICT keeps the first stored).
    const seen = new Set<string>();
    const unique: T[] = [];
    for (const item of items) {
      const id = codec.idOf(item);
      if (!seen.has(id)) { seen.add(id); unique.push(item); }
    }
    // Chunks pipeline the two CPUs: while the database inserts one chunk's blind indexes, this
    // process computes the next chunk's HMACs (queries on one connection run in order). Each
    // statement returns only the positions that were already stored (duplicates: usually none).
    const pending: Promise<readonly number[]>[] = [];
    const blobs: Buffer[] = [];
    for (let start = 0; start < unique.length; start += INDEX_CHUNK_ROWS) {
      const chunk = unique.slice(start, start + INDEX_CHUNK_ROWS);
      const blob = sealer.blindIndexes(account, record.indexKeyId, codec.stream, chunk.map((item) => codec.idOf(item)), record.indexVersion);
      blobs.push(blob);
      // One bytea parameter split server-side: no per-row parameter encoding, one row back.
      const statement = tx.oneFirst(sql.type(dupsRow)`
        WITH input AS (
          SELECT g, substring(${sql.binary(blob)}::bytea FROM g * ${BLIND_INDEX_BYTES} + 1 FOR ${BLIND_INDEX_BYTES}) AS b
          FROM generate_series(0, ${chunk.length - 1}::int) AS g
        ), inserted AS (
          INSERT INTO sealed_index (user_uid, exchange, stream, blind_index)
          SELECT ${account.userUid}, ${account.exchange}, ${codec.stream}, b FROM input
          -- In key order: the btree is then walked leaf by leaf, not at random (~20% less server CPU).
          ORDER BY b
          ON CONFLICT DO NOTHING
          RETURNING blind_index
        )
        SELECT COALESCE(array_agg(${start}::int + g), '{}') AS dups FROM input WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.blind_index = input.b)`);
      // Awaited below with the others; handled now so an early failure is never an unhandled rejection.
      statement.catch(() => undefined);
      pending.push(statement);
      // Let the driver send this statement before computing the next chunk.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Meanwhile, seal as if every row were new (the usual case); redone without the duplicates otherwise.
    const encode = (rows: readonly T[]) => Buffer.from(JSON.stringify(rows.map((item) => codec.encode(item))), 'utf8');
    const all = encode(unique);
    const dups = new Set((await Promise.all(pending)).flat());
    if (dups.size === unique.length) return 0;
    const rows = dups.size === 0 ? unique : unique.filter((_, i) => !dups.has(i));
    const plaintext = dups.size === 0 ? all : encode(rows);
    const state = record[codec.stream];
    const seq = state.pages;
    const box = sealer.seal({ account, table: codec.stream, seq }, plaintext);
    await tx.query(sql.type(noRows)`
      INSERT INTO sealed_pages (user_uid, exchange, stream, seq, key_id, iv, tag, ciphertext)
      VALUES (${account.userUid}, ${account.exchange}, ${codec.stream}, ${seq}, ${box.keyId}, ${sql.binary(box.iv)}, ${sql.binary(box.tag)}, ${sql.binary(box.ciphertext)})`);
    let tail = state.tail;
    if (tail !== undefined) {
      const allIndexes = Buffer.concat(blobs);
      const inserted = dups.size === 0 ? allIndexes
        : Buffer.concat(unique.flatMap((_, i) => (dups.has(i) ? [] : [allIndexes.subarray(i * BLIND_INDEX_BYTES, (i + 1) * BLIND_INDEX_BYTES)])));
      let pageMax = Number.NEGATIVE_INFINITY;
      for (const item of rows) pageMax = Math.max(pageMax, codec.timeOf(item));
      tail = appendTail(account, record.indexKeyId, tail, pageMax, inserted);
    }
    record[codec.stream] = {
      ...state, pages: seq + 1, rows: state.rows + rows.length, head: nextChainHead(Buffer.from(state.head, 'hex'), seq, box.tag).toString('hex'),
      ...(tail === undefined ? {} : { tail }),
    };
    return rows.length;
  }

  async function commitPage<T>(tx: DatabaseTransactionConnection, account: AccountKey, codec: Codec<T>, items: readonly T[], cursor: SyncCursor): Promise<SealedWrite> {
    const record = (await readRecord(tx, account, true)) ?? freshRecord();
    // A record from before the tail existed: computed once, from a full checked load, under the lock.
    if (record[codec.stream].tail === undefined) record[codec.stream] = { ...record[codec.stream], tail: (await readRows(tx, account, codec, 0, record)).tail };
    const inserted = await appendRows(tx, account, record, codec, items);
    record[codec.stream] = { ...record[codec.stream], cursor };
    return sealedWrite(account, inserted, await writeRecord(tx, account, record));
  }

  /**
   * One statement: the account record, every page of the stream and its blind indexes (count and
   * concatenation). Every page is opened (an edited or moved page fails at every load) and the
   * chain checked; only the pages that can hold rows at or after `fromMs` are parsed. The stored
   * index set must sum to the record's index sum (records without a tail: be exactly the HMACs of
   * all rows, which are then all parsed). `known`: the record already read under a lock.
   */
  /**
   * One statement: the account record, every page of the stream (both streams when `stream` is
   * null) and, per stream, its blind indexes (count in `seq` and concatenation).
   */
  async function fetchParts(db: CommonQueryMethods, account: AccountKey, stream: SyncStream | null): Promise<readonly StreamPart[]> {
    const only = stream === null ? sql.fragment`` : sql.fragment`AND stream = ${stream}`;
    return db.any(sql.type(streamPartRow)`
      SELECT 0 AS part, '' AS stream, 0 AS seq, key_id::int AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind = 'account'
      UNION ALL SELECT 1, stream, seq, key_id::int, iv, tag, ciphertext FROM sealed_pages WHERE ${where(account)} ${only}
      UNION ALL SELECT 2, stream, count(*)::int, 0, ''::bytea, ''::bytea, string_agg(blind_index, ''::bytea)
        FROM sealed_index WHERE ${where(account)} ${only} GROUP BY stream
      ORDER BY 1, 2, 3`);
  }

  async function readRows<T>(db: CommonQueryMethods, account: AccountKey, codec: Codec<T>, fromMs: EpochMs, known?: AccountRecord):
  Promise<{ rows: T[]; tail: StreamTail }> {
    const floor = markOf(account);
    const parts = await fetchParts(db, account, codec.stream);
    const record = known ?? acceptRecord(account, parts.find((p) => p.part === 0) ?? null, floor);
    return checkRows(account, codec, fromMs, parts, record);
  }

  /**
   * Every page of the stream is opened (an edited or moved page fails at every load) and the chain
   * checked; only the pages that can hold rows at or after `fromMs` are parsed. The stored index
   * set must sum to the record's index sum (records without a tail: be exactly the HMACs of all
   * rows, which are then all parsed).
   */
  function checkRows<T>(account: AccountKey, codec: Codec<T>, fromMs: EpochMs, parts: readonly StreamPart[], record: AccountRecord | null): { rows: T[]; tail: StreamTail } {
    const state = record?.[codec.stream] ?? freshRecord()[codec.stream];
    const pages = parts.filter((p) => p.part === 1 && p.stream === codec.stream);
    checkChain(account, codec.stream, state, pages);
    const index = parts.find((p) => p.part === 2 && p.stream === codec.stream);
    const indexes = index?.ciphertext ?? Buffer.alloc(0);
    if ((index?.seq ?? 0) !== state.rows || indexes.length !== state.rows * BLIND_INDEX_BYTES) {
      throw tamper(account, `${codec.stream}: the blind indexes do not match the rows`);
    }
    const first = state.tail === undefined ? 0 : firstPageFrom(state.tail, state.pages, fromMs);
    const all: T[] = [];
    const pageMax: number[] = [];
    for (const page of pages) {
      // Opened whether parsed or not: AES-GCM checks it (the cost is the parsing, not the cipher).
      const plaintext = open({ account, table: codec.stream, seq: page.seq }, page);
      if (page.seq < first) continue;
      const tuples: unknown = JSON.parse(plaintext.toString('utf8'));
      if (!Array.isArray(tuples)) throw new StorageSchemaError([`sealed ${codec.stream} page`]);
      let max = Number.NEGATIVE_INFINITY;
      for (const tuple of tuples) {
        const item = codec.decode(tuple);
        max = Math.max(max, codec.timeOf(item));
        all.push(item);
      }
      pageMax.push(max);
    }
    if (first === 0 && all.length !== state.rows) throw tamper(account, `${codec.stream}: the row count does not match`);
    let tail: StreamTail;
    if (state.tail !== undefined) {
      if (record === null || sealer.indexSum(account, record.indexKeyId, indexes).toString('hex') !== state.tail.indexSum) {
        throw tamper(account, `${codec.stream}: the blind indexes do not match the rows`);
      }
      tail = state.tail;
    } else {
      // Before the tail: the stored blind indexes must be exactly those of the rows (a deleted or
      // substituted index would let a re-delivered record in twice).
      const expected = record === null || all.length === 0 ? Buffer.alloc(0) : sealer.blindIndexes(account, record.indexKeyId, codec.stream, all.map((item) => codec.idOf(item)), record.indexVersion);
      const storedSet = new Set<string>();
      for (let i = 0; i < indexes.length; i += BLIND_INDEX_BYTES) storedSet.add(indexes.subarray(i, i + BLIND_INDEX_BYTES).toString('latin1'));
      if (storedSet.size !== all.length) throw tamper(account, `${codec.stream}: the blind indexes do not match the rows`);
      for (let i = 0; i < expected.length; i += BLIND_INDEX_BYTES) {
        if (!storedSet.has(expected.subarray(i, i + BLIND_INDEX_BYTES).toString('latin1'))) throw tamper(account, `${codec.stream}: the blind indexes do not match the rows`);
      }
      const split = Math.max(0, pageMax.length - TAIL_PAGES);
      const older = pageMax.slice(0, split);
      tail = {
        olderMax: older.length === 0 ? null : Math.max(...older), recent: pageMax.slice(split),
        indexSum: (record === null ? EMPTY_INDEX_SUM : sealer.indexSum(account, record.indexKeyId, indexes)).toString('hex'),
      };
    }
    const rows = all.filter((item) => codec.timeOf(item) >= fromMs);
    rows.sort((a, b) => codec.timeOf(a) - codec.timeOf(b) || (codec.idOf(a) < codec.idOf(b) ? -1 : codec.idOf(a) > codec.idOf(b) ? 1 : 0));
    return { rows, tail };
  }

  /** Seals the engine state and names its tag in the record (stored by the caller with the record). */
  function sealEngine(account: AccountKey, record: AccountRecord, state: unknown): SealedBox {
    const box = sealer.seal({ account, table: 'engine', seq: 0 }, Buffer.from(JSON.stringify(state as SerializableValue), 'utf8'));
    record.engineTag = box.tag.toString('hex');
    return box;
  }

  async function migrate(db: DatabasePool, account: AccountKey): Promise<void> {
    const legacy = await db.oneFirst(sql.type(legacyRow)`
      SELECT EXISTS (SELECT 1 FROM trades WHERE ${where(account)}) OR EXISTS (SELECT 1 FROM cash_flows WHERE ${where(account)})
          OR EXISTS (SELECT 1 FROM sync_cursors WHERE ${where(account)}) OR EXISTS (SELECT 1 FROM engine_states WHERE ${where(account)}) AS legacy`);
    if (!legacy) return;
    const written = await db.transaction(async (tx) => {
      const sealedBefore = await readRecord(tx, account, true);
      // Legacy rows exist only from before the account was first sealed: plaintext rows next to a
      // sealed record were written by hand (the "buy 1 BTC @ $1" attack), never by the service.
      if (sealedBefore !== null) throw tamper(account, 'plaintext rows appeared after the account was sealed');
      const record = freshRecord();
      const fills = await tx.any(sql.type(legacyFillRow)`
        SELECT exchange_trade_id AS "exchangeTradeId", symbol, base_asset AS "baseAsset", quote_asset AS "quoteAsset",
               side, quantity, price, fee, fee_asset AS "feeAsset", executed_at AS "executedAt"
        FROM trades WHERE ${where(account)} ORDER BY executed_at, exchange_trade_id FOR UPDATE`);
      for (let at = 0; at < fills.length; at += LEGACY_PAGE_ROWS) await appendRows(tx, account, record, fillCodec, fills.slice(at, at + LEGACY_PAGE_ROWS));
      const flows = await tx.any(sql.type(legacyFlowRow)`
        SELECT exchange_flow_id AS "exchangeFlowId", kind, asset, amount, occurred_at AS "occurredAt"
        FROM cash_flows WHERE ${where(account)} ORDER BY occurred_at, exchange_flow_id FOR UPDATE`);
      for (let at = 0; at < flows.length; at += LEGACY_PAGE_ROWS) await appendRows(tx, account, record, flowCodec, flows.slice(at, at + LEGACY_PAGE_ROWS));
      for (const row of await tx.any(sql.type(legacyCursorRow)`SELECT stream, cursor FROM sync_cursors WHERE ${where(account)}`)) {
        record[row.stream] = { ...record[row.stream], cursor: row.cursor };
      }
      const engine = await tx.maybeOne(sql.type(legacyEngineRow)`SELECT state FROM engine_states WHERE ${where(account)}`);
      if (engine !== null) await upsertRecords(tx, account, [{ kind: 'engine', box: sealEngine(account, record, engine.state) }]);
      await tx.query(sql.type(noRows)`DELETE FROM trades WHERE ${where(account)}`);
      await tx.query(sql.type(noRows)`DELETE FROM cash_flows WHERE ${where(account)}`);
      await tx.query(sql.type(noRows)`DELETE FROM sync_cursors WHERE ${where(account)}`);
      await tx.query(sql.type(noRows)`DELETE FROM engine_states WHERE ${where(account)}`);
      return writeRecord(tx, account, record);
    });
    remember(account, written.writes);
    know(account, written.text, written.tag, written.writes);
  }

  return {
    sealer,
    async loadCursor(db, account, stream) {
      const { record } = await loadStart(db, account);
      return record?.[stream].cursor ?? null;
    },
    async loadStart(db, account) {
      const { record, engine } = await loadStart(db, account);
      return startOf(record, engine);
    },
    async loadConnectionAndStart(db, account) {
      if (!migrated.has(accountId(account))) return null;
      const { record, engine, connection = null } = await loadStart(db, account, true);
      return { connection, start: connection?.status === 'active' ? startOf(record, engine) : null };
    },
    commitFillsPage: (tx, account, fills, cursor) => commitPage(tx, account, fillCodec, fills, cursor),
    commitCashFlowsPage: (tx, account, flows, cursor) => commitPage(tx, account, flowCodec, flows, cursor),
    loadFills: async (db, account, fromMs) => (await readRows(db, account, fillCodec, fromMs)).rows,
    loadCashFlows: async (db, account, fromMs) => (await readRows(db, account, flowCodec, fromMs)).rows,
    async loadRecords(db, account, fromMs) {
      const floor = markOf(account);
      const parts = await fetchParts(db, account, null);
      const record = acceptRecord(account, parts.find((p) => p.part === 0) ?? null, floor);
      return { fills: checkRows(account, fillCodec, fromMs, parts, record).rows, cashFlows: checkRows(account, flowCodec, fromMs, parts, record).rows };
    },
    async loadEngineState(db, account) {
      // Both records in one statement (one snapshot): read apart, another writer's commit between
      // the two reads paired an account record with the next engine record (a false tamper).
      const floor = markOf(account);
      const rows = await db.any(sql.type(recordRow)`
        SELECT kind, key_id AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind IN ('account', 'engine')`);
      const box = (kind: string): SealedBox | null => rows.find((r) => r.kind === kind) ?? null;
      const record = acceptRecord(account, box('account'), floor);
      const plaintext = checkEngine(account, record, box('engine'));
      return plaintext === null ? null : (JSON.parse(plaintext.toString('utf8')) as unknown);
    },
    async saveEngineState(tx, account, state) {
      // Both records in one locked read and one write (two statements, not four).
      const rows = await tx.any(sql.type(recordRow)`
        SELECT kind, key_id AS "keyId", iv, tag, ciphertext FROM sealed_records WHERE ${where(account)} AND kind IN ('account', 'engine') FOR UPDATE`);
      const box = (kind: string): SealedBox | null => rows.find((r) => r.kind === kind) ?? null;
      // Locked: the newest committed records, checked against everything seen so far.
      const record = acceptRecord(account, box('account'), markOf(account)) ?? freshRecord();
      // The stored state must be the one the record names: never written over silently.
      checkEngine(account, record, box('engine'));
      const engine = sealEngine(account, record, state);
      const sealedRecord = sealRecord(account, record);
      await upsertRecords(tx, account, [{ kind: 'account', box: sealedRecord.box }, { kind: 'engine', box: engine }]);
      return sealedWrite(account, 0, { ...sealedRecord, tag: sealedRecord.box.tag });
    },
    prepareEngineState(account, state) {
      const base = known.get(accountId(account));
      // Unknown here, or older than a floor learnt since (the locked path then says why).
      if (base === undefined || base.writes < markOf(account)) return null;
      const record = JSON.parse(base.text) as AccountRecord;
      if (record.engineTag === null) return null;
      const engineTag = Buffer.from(record.engineTag, 'hex');
      const engine = sealEngine(account, record, state);
      const sealedRecord = sealRecord(account, record);
      return {
        account: { expected: base.tag, box: sealedRecord.box },
        engine: { expected: engineTag, box: engine },
        write: sealedWrite(account, 0, { ...sealedRecord, tag: sealedRecord.box.tag }),
      };
    },
    committed: (write) => {
      remember(write.account, write.writes);
      const record = unconfirmed.get(write);
      if (record !== undefined) know(write.account, record.text, record.tag, write.writes);
    },
    async migrateLegacy(db, account) {
      const id = accountId(account);
      if (migrated.has(id)) return;
      let running = migrating.get(id);
      if (running === undefined) {
        running = migrate(db, account).then(
          () => {
            if (migrated.size >= HIGH_WATER_LIMIT) migrated.clear();
            migrated.add(id);
          },
        ).finally(() => migrating.delete(id));
        migrating.set(id, running);
      }
      await running;
    },
    forget(account) {
      highWater.delete(accountId(account));
      known.delete(accountId(account));
      anchors?.reset(account);
      migrated.delete(accountId(account));
    },
  };
}
