// Trades upserted per second with dedup: 200,000 fills of which 10% repeat earlier ones, committed
// as pages (rows + cursor in one transaction) through the AccountStore, on a throw-away database.
// Compares the COPY path (used for large pages) with plain unnest batches, and the sealed path
// the service uses (one AES-256-GCM box per page, an HMAC blind index per row; sealed-store.ts)
// against the plaintext COPY path in the same run (issue 19 item 7: goal sealed ≥ 0.8× plaintext).
// Env: BENCH_DATABASE_SERVER (default postgresql://postgres@127.0.0.1:5432), BENCH_PAGE (20000).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';
import { createLogger } from '../src/config/logger.js';
import type { AccountKey, Fill } from '../src/domain/types.js';
import { createCopyIngest } from '../src/storage/copy-ingest.js';
import { createAccountStore } from '../src/storage/create-account-store.js';
import { deriveEnclaveKeys } from '../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../src/crypto/sealed-rows.js';
import { createSealedStore } from '../src/storage/sealed-store.js';
import { migrate } from '../src/storage/migrate.js';
import { createDatabasePool, sql, type DatabasePool } from '../src/storage/pool.js';
import { z } from 'zod';

const SERVER = process.env.BENCH_DATABASE_SERVER ?? 'postgresql://postgres@127.0.0.1:5432';
const TOTAL = 200_000;
const DUPLICATE_SHARE = 0.1;
const PAGE = Number(process.env.BENCH_PAGE ?? 20_000);

function makeFills(): Fill[] {
  const unique = Math.round(TOTAL * (1 - DUPLICATE_SHARE));
  const start = Date.UTC(2025, 0, 1);
  const fills: Fill[] = [];
  for (let i = 0; i < unique; i++) {
    fills.push({
      exchangeTradeId: `${100_000_000 + i}`,
      symbol: i % 3 === 0 ? 'ETH/USDT' : 'BTC/USDT',
      baseAsset: i % 3 === 0 ? 'ETH' : 'BTC',
      quoteAsset: 'USDT',
      side: i % 2 === 0 ? 'buy' : 'sell',
      quantity: `0.${String(1 + (i % 99_999)).padStart(8, '0')}`,
      price: `${40_000 + (i % 5_000)}.${i % 100}`,
      fee: `0.0000${i % 97}`,
      feeAsset: 'USDT',
      executedAt: start + i * 1_000,
    });
  }
  // Duplicates: re-deliveries of fills already seen, a few positions later (as after a retry).
  const after = new Map<number, Fill[]>();
  for (let d = 0; d < TOTAL - unique; d++) {
    const original = (d * 7919) % unique;
    const at = Math.min(unique - 1, original + 1 + (d % 50));
    const list = after.get(at) ?? [];
    list.push(fills[original]!);
    after.set(at, list);
  }
  const stream: Fill[] = [];
  fills.forEach((f, i) => {
    stream.push(f, ...(after.get(i) ?? []));
  });
  return stream;
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

// CPU seconds used so far by this database's server backends (Linux /proc; the database is ours
// alone). With the machine shared, CPU time is the figure that does not depend on others' load.
async function backendCpuMs(pool: DatabasePool, database: string): Promise<number> {
  const pids = await pool.anyFirst(sql.type(z.object({ pid: z.number() }))`SELECT pid FROM pg_stat_activity WHERE datname = ${database}`);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // Backend exited between the query and the read.
    }
  }
  return ticks * 10; // USER_HZ = 100
}

interface RunResult {
  readonly rowsPerSec: number;
  readonly inserted: number;
  readonly ms: number;
  readonly backendCpuMs: number;
  readonly nodeCpuMs: number;
}

const benchKeys = await deriveEnclaveKeys({ currentId: 1, secrets: new Map([[1, randomBytes(32)]]) });

async function run(label: string, path: 'copy' | 'unnest' | 'sealed', fills: readonly Fill[], url: string, database: string): Promise<RunResult> {
  const pool = await createDatabasePool(url);
  const copy = path === 'copy' ? createCopyIngest(url) : undefined;
  try {
    const sealed = path === 'sealed' ? createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (a, id) => benchKeys.accountDataKey(a, id) })) : undefined;
    const store = createAccountStore(pool, copy !== undefined ? { copy, copyThreshold: 1 } : sealed !== undefined ? { sealed } : {});
    const account: AccountKey = { userUid: `bench-${label}`, exchange: 'binance' };
    // Warm the connections (and the staging table) outside the timing.
    await store.commitFillsPage({ userUid: 'warm', exchange: 'binance' }, fills.slice(0, 10), 'w');
    const cpu0 = await backendCpuMs(pool, database);
    const node0 = process.cpuUsage();
    const t0 = performance.now();
    let inserted = 0;
    for (let at = 0; at < fills.length; at += PAGE) {
      inserted += (await store.commitFillsPage(account, fills.slice(at, at + PAGE), `page-${at}`)).inserted;
    }
    const ms = performance.now() - t0;
    const nodeUsage = process.cpuUsage(node0);
    const nodeCpuMs = Math.round((nodeUsage.user + nodeUsage.system) / 1000);
    const backendCpu = (await backendCpuMs(pool, database)) - cpu0;
    const rowsPerSec = Math.round((fills.length / ms) * 1000);
    console.log(
      `${label.padEnd(7)} ${fills.length} rows (${inserted} new) in ${ms.toFixed(0)} ms = ${rowsPerSec.toLocaleString('en')} rows/s wall;` +
        ` CPU: server ${backendCpu} ms, node ${nodeCpuMs} ms = ${Math.round((fills.length / (backendCpu + nodeCpuMs)) * 1000).toLocaleString('en')} rows per CPU-second`,
    );
    return { rowsPerSec, inserted, ms: Math.round(ms), backendCpuMs: backendCpu, nodeCpuMs };
  } finally {
    await copy?.end();
    await pool.end();
  }
}

const fills = makeFills();
const expectedNew = new Set(fills.map((f) => f.exchangeTradeId)).size;
const name = `bench_ingest_${process.pid}_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
try {
  const url = `${SERVER}/${name}`;
  await migrate(url, createLogger('silent'));
  const loadBefore = loadavg()[0]!;
  console.log(`ingest: ${fills.length} fills, ${fills.length - expectedNew} duplicates, pages of ${PAGE}`);
  const copy = await run('copy', 'copy', fills, url, name);
  const unnest = await run('unnest', 'unnest', fills, url, name);
  const sealed = await run('sealed', 'sealed', fills, url, name);
  // Reading back what the sealed run stored: every page opened, chain, counts and blind indexes checked.
  const readPool = await createDatabasePool(url);
  let sealedLoad: { rows: number; ms: number };
  try {
    const reader = createAccountStore(readPool, { sealed: createSealedStore(createAccountSealer({ currentId: 1, accountDataKey: (a, id) => benchKeys.accountDataKey(a, id) })) });
    const t0 = performance.now();
    const rows = (await reader.loadFills({ userUid: 'bench-sealed', exchange: 'binance' }, 0)).length;
    sealedLoad = { rows, ms: Math.round(performance.now() - t0) };
  } finally {
    await readPool.end();
  }
  const perCpuSec = (r: RunResult) => Math.round((fills.length / (r.backendCpuMs + r.nodeCpuMs)) * 1000);
  if (copy.inserted !== expectedNew || unnest.inserted !== expectedNew || sealed.inserted !== expectedNew || sealedLoad.rows !== expectedNew) {
    throw new Error(`dedup mismatch: expected ${expectedNew} new rows`);
  }
  console.log(JSON.stringify({
    bench: 'ingest', rows: fills.length, duplicates: fills.length - expectedNew, page: PAGE,
    copy_rows_per_sec: copy.rowsPerSec, copy_ms: copy.ms, unnest_rows_per_sec: unnest.rowsPerSec, unnest_ms: unnest.ms,
    // Rows per second of CPU spent (server backends + this process), independent of other load.
    copy_rows_per_cpu_sec: perCpuSec(copy), copy_server_cpu_ms: copy.backendCpuMs, copy_node_cpu_ms: copy.nodeCpuMs,
    unnest_rows_per_cpu_sec: perCpuSec(unnest), unnest_server_cpu_ms: unnest.backendCpuMs, unnest_node_cpu_ms: unnest.nodeCpuMs,
    goal_rows_per_sec: 150_000, meets_goal: copy.rowsPerSec >= 150_000,
    // Sealed (what the service runs) against plaintext COPY, same data, same run.
    sealed_rows_per_sec: sealed.rowsPerSec, sealed_ms: sealed.ms, sealed_rows_per_cpu_sec: perCpuSec(sealed),
    sealed_server_cpu_ms: sealed.backendCpuMs, sealed_node_cpu_ms: sealed.nodeCpuMs,
    sealed_vs_plaintext: Math.round((sealed.rowsPerSec / copy.rowsPerSec) * 100) / 100,
    sealed_vs_plaintext_cpu: Math.round((perCpuSec(sealed) / perCpuSec(copy)) * 100) / 100,
    sealed_goal_ratio: 0.8, sealed_meets_goal: sealed.rowsPerSec >= 0.8 * copy.rowsPerSec,
    sealed_load_rows_per_sec: Math.round((sealedLoad.rows / Math.max(1, sealedLoad.ms)) * 1000),
    // The machine is shared: a 1-minute load average far above the 2 cores explains low figures.
    load_avg_before: Math.round(loadBefore * 10) / 10, load_avg_after: Math.round(loadavg()[0]! * 10) / 10,
  }));
} finally {
  await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}
