// Exactly-once under crashes. One fake Binance serves the same history to two accounts in one
// database: `ref` is synced once without interruption; `crash` is synced by a service process
// that is SIGKILLed at chosen points, restarted, and synced again, round after round. A kill
// point is either a write boundary (the n-th committed change of the account's rows or cursors,
// seen by polling the database, so the kill lands just after a commit) or a delay after the sync
// began (anywhere, mid-transaction included). At the end, trades, cash_flows and hourly_returns
// of `crash` must equal those of `ref`.
import pg from 'pg';
import { SyncType } from '../../src/grpc/generated/enclave.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, startCanaryVenue, type CanaryVenue } from './canary-venue.js';
import { connectAccount, startServiceProcess, type ServiceProcess } from './service-process.js';
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

const STATE_QUERY = `
  SELECT (SELECT count(*) FROM trades WHERE user_uid = $1)::text
    || '/' || (SELECT count(*) FROM cash_flows WHERE user_uid = $1)::text
    || '/' || (SELECT coalesce(string_agg(stream || cursor, ',' ORDER BY stream), '') FROM sync_cursors WHERE user_uid = $1)
    || '/' || (SELECT count(*) FROM hourly_returns WHERE user_uid = $1)::text
    || '/' || (SELECT coalesce(max(updated_at)::text, '') FROM engine_states WHERE user_uid = $1) AS state`;

async function syncAccount(svc: ServiceProcess, account: typeof REF | typeof CRASH): Promise<void> {
  await unary(svc.client.processSyncJob.bind(svc.client), { ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 300_000 });
}

/** Runs one round: sync `crash`, SIGKILL at the point; true when the sync finished first. */
async function killRound(db: TestDatabase, venue: CanaryVenue, point: KillPoint, watcher: pg.Client, before?: (svc: ServiceProcess) => Promise<void>): Promise<boolean> {
  const svc = await startServiceProcess({ DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, LOG_LEVEL: 'info' });
  try {
    await before?.(svc);
    let finished = false;
    const sync = syncAccount(svc, CRASH).then(() => { finished = true; }, () => undefined);
    if ('afterMs' in point) {
      await Promise.race([sync, new Promise((r) => setTimeout(r, point.afterMs))]);
    } else {
      let last = (await watcher.query<{ state: string }>(STATE_QUERY, [CRASH.userUid])).rows[0]!.state;
      let commits = 0;
      const wanted = 'afterCommits' in point ? point.afterCommits : point.afterTradePages;
      const trades = (state: string): string => state.slice(0, state.indexOf('/'));
      while (!finished && commits < wanted) {
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

const TRADES = `SELECT exchange_trade_id, symbol, base_asset, quote_asset, side, quantity::text, price::text, fee::text, fee_asset, executed_at FROM trades WHERE user_uid =`;
const CASH_FLOWS = `SELECT exchange_flow_id, kind, asset, amount::text, occurred_at FROM cash_flows WHERE user_uid =`;
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

export async function runCrashSync(options: { readonly fills: number; readonly points: readonly KillPoint[]; readonly days?: number; readonly onRound?: (round: number, completed: boolean) => void }): Promise<CrashFigures> {
  const db = await createTestDatabase(undefined, {});
  const venue = await startCanaryVenue({ fills: options.fills, days: options.days ?? 10, firstId: 1_000_001 });
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
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
      const trades = diff(await rows(watcher, order(TRADES, 'exchange_trade_id'), REF.userUid), await rows(watcher, order(TRADES, 'exchange_trade_id'), CRASH.userUid));
      const flows = diff(await rows(watcher, order(CASH_FLOWS, 'exchange_flow_id'), REF.userUid), await rows(watcher, order(CASH_FLOWS, 'exchange_flow_id'), CRASH.userUid));
      const hours = diff(await rows(watcher, order(HOURLY, 'hour_start'), REF.userUid), await rows(watcher, order(HOURLY, 'hour_start'), CRASH.userUid));
      sum.lost += trades.lost + flows.lost;
      sum.duplicated += trades.extra + flows.extra;
      sum.trades += trades.mismatched;
      sum.cashFlows += flows.mismatched;
      sum.hourlyReturns += hours.mismatched;
      sum.comparisons += 1;
      if (!reset) return;
      for (const table of ['trades', 'cash_flows', 'sync_cursors', 'engine_states', 'hourly_returns', 'balance_snapshots']) {
        await watcher.query(`DELETE FROM ${table} WHERE user_uid = $1`, [CRASH.userUid]);
      }
    };
    let completedBeforeKill = 0;
    for (const [round, point] of options.points.entries()) {
      // The first round's process syncs the reference first, saving a start.
      const completed = await killRound(db, venue, point, watcher, round === 0 ? (svc) => syncAccount(svc, REF) : undefined);
      if (completed) {
        completedBeforeKill += 1;
        await compareAndReset(true);
      }
      options.onRound?.(round, completed);
    }
    const svc = await startServiceProcess({ DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, LOG_LEVEL: 'info' });
    try {
      await syncAccount(svc, CRASH);
    } finally {
      await svc.stop('SIGTERM');
    }
    await compareAndReset(false);
    const refHours = await rows(watcher, order(HOURLY, 'hour_start'), REF.userUid);
    const refTrades = await rows(watcher, order(TRADES, 'exchange_trade_id'), REF.userUid);
    return {
      fills: options.fills,
      crashPointsTried: options.points.length,
      completedBeforeKill,
      comparisons: sum.comparisons,
      lost: sum.lost,
      duplicated: sum.duplicated,
      mismatches: { trades: sum.trades, cashFlows: sum.cashFlows, hourlyReturns: sum.hourlyReturns },
      compared: { trades: refTrades.length, cashFlows: (await rows(watcher, order(CASH_FLOWS, 'exchange_flow_id'), REF.userUid)).length, hourlyReturns: refHours.length },
    };
  } finally {
    await watcher.end();
    await venue.fake.stop();
    await db.drop();
  }
}
