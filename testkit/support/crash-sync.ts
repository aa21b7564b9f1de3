// Exactly-once under crashes. One fake Binance serves the same history to two accounts in one
// database: `ref` is synced once without interruption; `crash` is synced by a service process
// that is SIGKILLed at chosen points, restarted, and synced again, round after round. A kill
// point is either a write boundary (the n-th committed change of the account's rows or cursors,
// seen by polling the database, so the kill lands just after a commit) or a delay after the sync
// began (anywhere, mid-transaction included). At the end, trades, cash_flows and hourly_returns
// of `crash` must equal those of `ref`. Fills and cash flows are sealed (docs/sealed-storage.md):
// they are read back through the sealed store with the service's test key; commits are seen as
// changes of the account's sealed rows.
import pg from 'pg';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountStore } from '../../src/storage/account-store.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { SyncType } from '../../src/grpc/generated/enclave.js';
import { createTestDatabase } from './database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, startCanaryVenue } from './canary-venue.js';
import { connectAccount, startServiceProcess, TEST_KEY_HEX, TEST_KEY_ID, type ServiceProcess } from './service-process.js';
import { unary } from './grpc-client.js';

/** afterCommits: any committed change; afterTradePages: commits that added trades; afterMs: a delay. */
export type KillPoint = { readonly afterCommits: number } | { readonly afterTradePages: number } | { readonly afterMs: number };

export interface CrashFigures {
  readonly fills: number;
  readonly crashPointsTried: number;
  /** Kill points the sync finished before reaching (nothing left to interrupt). */
  readonly completedBeforeKill: number;
  /** Comparisons with the reference: after every round whose sync completed, and at the end. */
  readonly comparisons: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly mismatches: { readonly trades: number; readonly cashFlows: number; readonly hourlyReturns: number };
  readonly compared: { readonly trades: number; readonly cashFlows: number; readonly hourlyReturns: number };
}

const REF = { userUid: 'ref', exchange: 'binance' } as const;
const CRASH = { userUid: 'crash', exchange: 'binance' } as const;

// Fill rows (blind indexes of the fills stream) first: "a commit that added trades" changes it.
const STATE_QUERY = `
  SELECT (SELECT count(*) FROM sealed_index WHERE user_uid = $1 AND stream = 'fills')::text
    || '/' || (SELECT count(*) FROM sealed_index WHERE user_uid = $1 AND stream = 'cash_flows')::text
    || '/' || (SELECT coalesce(string_agg(kind || encode(tag, 'hex'), ',' ORDER BY kind), '') FROM sealed_records WHERE user_uid = $1)
    || '/' || (SELECT count(*) FROM hourly_returns WHERE user_uid = $1)::text AS state`;

// A SIGKILLed instance still holds every shard's lease until it expires (issue 18): the next
// instance answers UNAVAILABLE until it owns the shard, so a sync is asked again until then.
const LEASE_TTL_MS = '2000';
const UNAVAILABLE = 14;

async function syncAccount(svc: ServiceProcess, account: typeof REF | typeof CRASH): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      await unary(svc.client.processSyncJob.bind(svc.client), { ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline });
      return;
    } catch (error) {
      // A process that exited answers UNAVAILABLE forever: say so now, not after the deadline.
      if (svc.child.exitCode !== null || svc.child.signalCode !== null) {
        throw new Error(`the service process exited (${svc.child.exitCode ?? svc.child.signalCode ?? '?'}):\n${svc.lines.slice(-20).join('\n')}`, { cause: error });
      }
      if ((error as { code?: unknown }).code !== UNAVAILABLE || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Runs one round: sync `crash`, SIGKILL at the point; true when the sync finished first. */
async function killRound(env: Record<string, string>, point: KillPoint, watcher: pg.Client, before?: (svc: ServiceProcess) => Promise<void>): Promise<boolean> {
  const svc = await startServiceProcess(env);
  try {
    await before?.(svc);
    let finished = false;
    let settled = false;
    const sync = syncAccount(svc, CRASH).then(() => { finished = true; }, () => undefined).finally(() => { settled = true; });
    if ('afterMs' in point) {
      await Promise.race([sync, new Promise((r) => setTimeout(r, point.afterMs))]);
    } else {
      let last = (await watcher.query<{ state: string }>(STATE_QUERY, [CRASH.userUid])).rows[0]!.state;
      let commits = 0;
      const wanted = 'afterCommits' in point ? point.afterCommits : point.afterTradePages;
      const trades = (state: string): string => state.slice(0, state.indexOf('/'));
      while (!settled && commits < wanted) {
        const state = (await watcher.query<{ state: string }>(STATE_QUERY, [CRASH.userUid])).rows[0]!.state;
        if (state !== last) {
          if ('afterCommits' in point || trades(state) !== trades(last)) commits += 1;
          last = state;
        }
      }
    }
    await svc.stop('SIGKILL');
    return finished;
  } finally {
    await svc.stop('SIGKILL');
  }
}

async function rows(client: pg.Client, query: string, userUid: string): Promise<string[]> {
  const result = await client.query<Record<string, unknown>>(query, [userUid]);
  return result.rows.map((r) => JSON.stringify(r));
}

/** The account's fills and cash flows opened as the service opens them, one JSON string per row. */
async function sealedRows(store: AccountStore, userUid: string, stream: 'fills' | 'cash_flows'): Promise<string[]> {
  const account = { userUid, exchange: 'binance' } as const;
  const rows = stream === 'fills' ? await store.loadFills(account, 0) : await store.loadCashFlows(account, 0);
  return rows.map((r) => JSON.stringify(r));
}
const HOURLY = `SELECT hour_start, return, cumulative_return, equity_end, net_flow FROM hourly_returns WHERE user_uid =`;

function diff(a: readonly string[], b: readonly string[]): { lost: number; extra: number; mismatched: number } {
  const left = new Map<string, number>();
  for (const row of a) left.set(row, (left.get(row) ?? 0) + 1);
  let extra = 0;
  for (const row of b) {
    const n = left.get(row) ?? 0;
    if (n === 0) extra += 1;
    else left.set(row, n - 1);
  }
  let lost = 0;
  for (const n of left.values()) lost += n;
  return { lost, extra, mismatched: Math.max(lost, extra) };
}

/**
 * `venueRateLimitMs`: ccxt's pacing of venue requests in the service (VENUE_RATE_LIMIT_MS; default:
 * Binance's own, 50). A sync is mostly that pacing, so a lower value makes every round shorter and
 * `afterMs` points proportionally later in the sync.
 */
export async function runCrashSync(options: { readonly fills: number; readonly points: readonly KillPoint[]; readonly days?: number; readonly venueRateLimitMs?: number; readonly onRound?: (round: number, completed: boolean) => void }): Promise<CrashFigures> {
  const db = await createTestDatabase(undefined, {});
  const venue = await startCanaryVenue({ fills: options.fills, days: options.days ?? 10, firstId: 1_000_001 });
  const env = {
    DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, LOG_LEVEL: 'info', LEASE_TTL_MS,
    ...(options.venueRateLimitMs === undefined ? {} : { VENUE_RATE_LIMIT_MS: String(options.venueRateLimitMs) }),
  };
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  const keys = await deriveEnclaveKeys({ currentId: TEST_KEY_ID, secrets: new Map([[TEST_KEY_ID, Buffer.from(TEST_KEY_HEX, 'hex')]]) });
  // A fresh sealed store per read: the rows of `crash` are wiped behind its back between rounds.
  const reader = (): AccountStore => createAccountStore(db.pool, { sealed: createSealedStore(createAccountSealer({ currentId: TEST_KEY_ID, accountDataKey: (a, id) => keys.accountDataKey(a, id) })) });
  try {
    await connectAccount(db.pool, REF, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET });
    await connectAccount(db.pool, CRASH, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET });
    const refStart = Date.now();
    // Hours up to the one the reference ran in: later hours exist only in the later run.
    const hourCut = `AND hour_start < to_timestamp(${Math.floor(refStart / 3_600_000) * 3_600})`;
    const order = (q: string, by: string): string => q.replace('user_uid =', `user_uid = $1 ${q === HOURLY ? hourCut : ''} ORDER BY ${by} --`);
    const sum = { lost: 0, duplicated: 0, trades: 0, cashFlows: 0, hourlyReturns: 0, comparisons: 0 };
    // Compares `crash` with `ref`, then (unless last) wipes `crash` so the next kill meets a whole sync again.
    const compareAndReset = async (reset: boolean): Promise<void> => {
      const trades = diff(await sealedRows(reader(), REF.userUid, 'fills'), await sealedRows(reader(), CRASH.userUid, 'fills'));
      const flows = diff(await sealedRows(reader(), REF.userUid, 'cash_flows'), await sealedRows(reader(), CRASH.userUid, 'cash_flows'));
      const hours = diff(await rows(watcher, order(HOURLY, 'hour_start'), REF.userUid), await rows(watcher, order(HOURLY, 'hour_start'), CRASH.userUid));
      sum.lost += trades.lost + flows.lost;
      sum.duplicated += trades.extra + flows.extra;
      sum.trades += trades.mismatched;
      sum.cashFlows += flows.mismatched;
      sum.hourlyReturns += hours.mismatched;
      sum.comparisons += 1;
      if (!reset) return;
      // Every row of the account but its connection: a partial wipe (sealed rows without their
      // sealed amounts, say) is what the service rightly reports as tampering.
      const tables = await watcher.query<{ t: string }>(`SELECT c.table_name AS t FROM information_schema.columns c
        JOIN information_schema.tables USING (table_schema, table_name)
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND column_name = 'user_uid' AND c.table_name <> 'exchange_connections'`);
      for (const { t } of tables.rows) await watcher.query(`DELETE FROM ${pg.escapeIdentifier(t)} WHERE user_uid = $1`, [CRASH.userUid]);
    };
    let completedBeforeKill = 0;
    for (const [round, point] of options.points.entries()) {
      // The first round's process syncs the reference first, saving a start.
      const completed = await killRound(env, point, watcher, round === 0 ? (svc) => syncAccount(svc, REF) : undefined);
      if (completed) {
        completedBeforeKill += 1;
        await compareAndReset(true);
      }
      options.onRound?.(round, completed);
    }
    const svc = await startServiceProcess(env);
    try {
      await syncAccount(svc, CRASH);
    } finally {
      await svc.stop('SIGTERM');
    }
    await compareAndReset(false);
    const refHours = await rows(watcher, order(HOURLY, 'hour_start'), REF.userUid);
    const refTrades = await sealedRows(reader(), REF.userUid, 'fills');
    return {
      fills: options.fills,
      crashPointsTried: options.points.length,
      completedBeforeKill,
      comparisons: sum.comparisons,
      lost: sum.lost,
      duplicated: sum.duplicated,
      mismatches: { trades: sum.trades, cashFlows: sum.cashFlows, hourlyReturns: sum.hourlyReturns },
      compared: { trades: refTrades.length, cashFlows: (await sealedRows(reader(), REF.userUid, 'cash_flows')).length, hourlyReturns: refHours.length },
    };
  } finally {
    await watcher.end();
    await venue.fake.stop();
    await db.drop();
  }
}
