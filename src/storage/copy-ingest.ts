// The bulk path for large pages (a first full sync can bring hundreds of thousands of fills):
// COPY the page into a per-connection temporary staging table, then one
// INSERT … SELECT … ON CONFLICT DO NOTHING, and the cursor, all in one transaction.
// slonik 49 exposes no COPY, so this keeps its own small `pg` pool on the same database.
// The COPY payload is data, not SQL: nothing here builds SQL from values.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { accountId, type AccountKey, type CashFlow, type Fill, type SyncCursor, type SyncStream } from '../domain/types.js';
import { StorageRejectedError, toStorageError } from './errors.js';
import { checkFence, FENCE_SQL, fenceParameters, type ShardFence } from './shard-fence.js';

export interface CopyIngest {
  commitFillsPage(account: AccountKey, fills: readonly Fill[], cursor: SyncCursor, generation?: number): Promise<{ inserted: number }>;
  commitCashFlowsPage(account: AccountKey, flows: readonly CashFlow[], cursor: SyncCursor, generation?: number): Promise<{ inserted: number }>;
  end(): Promise<void>;
}

// COPY text format: backslash, tab, newline and carriage return must be escaped in a field.
const NEEDS_ESCAPE = /[\\\t\n\r]/u;
function field(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/gu, '\\\\').replace(/\t/gu, '\\t').replace(/\n/gu, '\\n').replace(/\r/gu, '\\r');
}

/** Epoch ms → ISO text for a timestamptz parameter; refuses what Date would silently round. */
export function isoTime(ms: number): string {
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) throw new StorageRejectedError('a timestamp is not an integer epoch-ms number');
  return new Date(ms).toISOString();
}

const CHUNK_ROWS = 2_000;

// Times travel as epoch-ms integers (formatting an ISO string per row was a third of this
// process's cost); to_timestamp(ms / 1000.0) is exact to the millisecond: the double's error
// (< 1e-7 s) is far below the microsecond rounding PostgreSQL applies.
function epochMs(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new StorageRejectedError('a timestamp is not an integer epoch-ms number');
  return String(ms);
}

function* fillLines(fills: readonly Fill[]): Generator<string> {
  for (let start = 0; start < fills.length; start += CHUNK_ROWS) {
    let chunk = '';
    const end = Math.min(fills.length, start + CHUNK_ROWS);
    for (let i = start; i < end; i++) {
      const f = fills[i]!;
      chunk += `${field(f.exchangeTradeId)}\t${field(f.symbol)}\t${field(f.baseAsset)}\t${field(f.quoteAsset)}\t${field(f.side)}\t${field(f.quantity)}\t${field(f.price)}\t${field(f.fee)}\t${field(f.feeAsset)}\t${epochMs(f.executedAt)}\n`;
    }
    yield chunk;
  }
}

function* flowLines(flows: readonly CashFlow[]): Generator<string> {
  for (let start = 0; start < flows.length; start += CHUNK_ROWS) {
    let chunk = '';
    const end = Math.min(flows.length, start + CHUNK_ROWS);
    for (let i = start; i < end; i++) {
      const c = flows[i]!;
      chunk += `${field(c.exchangeFlowId)}\t${field(c.kind)}\t${field(c.asset)}\t${field(c.amount)}\t${epochMs(c.occurredAt)}\n`;
    }
    yield chunk;
  }
}

const STAGING_DDL = [
  `CREATE TEMP TABLE IF NOT EXISTS trades_staging (
     exchange_trade_id text, symbol text, base_asset text, quote_asset text, side text,
     quantity numeric, price numeric, fee numeric, fee_asset text, executed_ms bigint
   ) ON COMMIT DELETE ROWS`,
  `CREATE TEMP TABLE IF NOT EXISTS cash_flows_staging (
     exchange_flow_id text, kind text, asset text, amount numeric, occurred_ms bigint
   ) ON COMMIT DELETE ROWS`,
];

const UPSERT_CURSOR = `INSERT INTO sync_cursors (user_uid, exchange, stream, cursor) VALUES ($1, $2, $3, $4)
  ON CONFLICT (user_uid, exchange, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = now()`;


const INSERT_FILLS = `INSERT INTO trades (user_uid, exchange, exchange_trade_id, symbol, base_asset, quote_asset, side,
    quantity, price, fee, fee_asset, executed_at)
  SELECT $1, $2, exchange_trade_id, symbol, base_asset, quote_asset, side, quantity, price, fee, fee_asset,
    to_timestamp(executed_ms / 1000.0)
  FROM trades_staging
  ON CONFLICT DO NOTHING`;

const INSERT_FLOWS = `INSERT INTO cash_flows (user_uid, exchange, exchange_flow_id, kind, asset, amount, occurred_at)
  SELECT $1, $2, exchange_flow_id, kind, asset, amount, to_timestamp(occurred_ms / 1000.0) FROM cash_flows_staging
  ON CONFLICT DO NOTHING`;

/** Opens the bulk path on `url` with up to `maxConnections` connections (default 2). */
export function createCopyIngest(url: string, maxConnections = 2, fence?: ShardFence): CopyIngest {
  const pool = new pg.Pool({ connectionString: url, max: maxConnections, idleTimeoutMillis: 30_000 });
  pool.on('error', () => {
    // An idle client died; the next checkout opens a fresh one.
  });
  const prepared = new WeakSet<pg.PoolClient>();

  async function commitPage(
    account: AccountKey,
    stream: SyncStream,
    cursor: SyncCursor,
    copySql: string,
    lines: () => Iterable<string>,
    insertSql: string,
    generation: number | undefined,
  ): Promise<{ inserted: number }> {
    const operation = `bulk commit ${stream} page for ${accountId(account)}`;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw toStorageError(error, operation);
    }
    let broken = false;
    try {
      if (!prepared.has(client)) {
        for (const ddl of STAGING_DDL) await client.query(ddl);
        prepared.add(client);
      }
      await client.query('BEGIN');
      try {
        // Same fence as assertFence (shard-fence.ts): generation and shard lease, one statement.
        if (generation !== undefined || fence !== undefined) {
          const lease = fence?.leaseOf(account) ?? null;
          if (fence !== undefined && lease === null) checkFence(undefined, account, undefined, fence, null);
          const result = await client.query<{ generation: string | null; epoch: string | null }>(FENCE_SQL, fenceParameters(account, lease, fence?.instanceId ?? null));
          const row = result.rows[0];
          const asNumber = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
          checkFence({ generation: asNumber(row?.generation), epoch: asNumber(row?.epoch) }, account, generation, fence, lease);
        }
        await pipeline(Readable.from(lines()), client.query(copyFrom(copySql)));
        const result = await client.query(insertSql, [account.userUid, account.exchange]);
        await client.query(UPSERT_CURSOR, [account.userUid, account.exchange, stream, cursor]);
        await client.query('COMMIT');
        return { inserted: result.rowCount ?? 0 };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      }
    } catch (error) {
      throw toStorageError(error, operation);
    } finally {
      client.release(broken);
    }
  }

  return {
    commitFillsPage: (account, fills, cursor, generation) =>
      commitPage(account, 'fills', cursor, 'COPY trades_staging FROM STDIN', () => fillLines(fills), INSERT_FILLS, generation),
    commitCashFlowsPage: (account, flows, cursor, generation) =>
      commitPage(account, 'cash_flows', cursor, 'COPY cash_flows_staging FROM STDIN', () => flowLines(flows), INSERT_FLOWS, generation),
    end: () => pool.end(),
  };
}
