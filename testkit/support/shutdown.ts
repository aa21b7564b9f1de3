// SIGTERM during many concurrent syncs (test/reliability/shutdown.test.ts, scripts/soak.ts): the
// service process must exit 0 within SHUTDOWN_GRACE_MS plus main's 5 s margin, and every page
// transaction must be whole or absent. Binance pages fills by fromId, 1,000 to a page, and each
// account's 6,000 fills split evenly over 3 markets, so a market's stored count that is not a
// multiple of 1,000 is a torn page. A restart and re-sync then stores every fill exactly once,
// which holds only if no cursor was ever committed ahead of its rows. Fills are sealed
// (docs/sealed-storage.md): they are counted through the sealed store with the service's test key.
import pg from 'pg';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import type { AccountKey, Fill } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { SyncType } from '../../src/grpc/generated/enclave.js';
import { createTestDatabase } from './database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, startCanaryVenue } from './canary-venue.js';
import { connectAccount, startServiceProcess, TEST_KEY_HEX, TEST_KEY_ID } from './service-process.js';
import { unary } from './grpc-client.js';

export interface ShutdownFigures {
  readonly accounts: number;
  readonly syncsInFlightAtSigterm: number;
  readonly tradesAtSigterm: number;
  readonly partialPages: number;
  readonly inconsistentCursors: number;
  readonly exitCode: number | null;
  readonly exitMs: number;
  readonly boundMs: number;
  readonly exitedWithinBound: boolean;
  readonly afterResync: { readonly trades: number; readonly expected: number };
}

const FILLS = 6_000;
const PAGE = 1_000;
const GRACE_MS = 3_000;

export async function runShutdown(options: { readonly accounts: number }): Promise<ShutdownFigures> {
  const db = await createTestDatabase();
  const venue = await startCanaryVenue({ fills: FILLS, days: 10, firstId: 3_000_001 });
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  const accounts = Array.from({ length: options.accounts }, (_, i) => ({ userUid: `term_${i}`, exchange: 'binance' as const }));
  // No client-side pacing against the local fake: ccxt's Binance limits were 90 % of each sync's
  // time (the re-sync of every fill took 100 s of the test's 2 min). The syncs are still running at
  // SIGTERM: it is sent once the first page is committed.
  const env = { DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, VENUE_RATE_LIMIT_MS: '0', LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: String(GRACE_MS) };
  const keys = await deriveEnclaveKeys({ currentId: TEST_KEY_ID, secrets: new Map([[TEST_KEY_ID, Buffer.from(TEST_KEY_HEX, 'hex')]]) });
  const fillsOf = (account: AccountKey): Promise<Fill[]> =>
    createAccountStore(db.pool, { sealed: createSealedStore(createAccountSealer({ currentId: TEST_KEY_ID, accountDataKey: (a, id) => keys.accountDataKey(a, id) })) }).loadFills(account, 0);
  try {
    for (const a of accounts) await connectAccount(db.pool, a, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET });
    const svc = await startServiceProcess(env);
    let settled = 0;
    const syncs = accounts.map((a) => unary(svc.client.processSyncJob.bind(svc.client), { ...a, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 300_000 })
      .then(() => undefined, () => undefined).finally(() => { settled += 1; }));
    // SIGTERM once fill pages are being committed, while most syncs still run. (Incremental from
    // no cursor: a first sync without the full-sync concurrency limit.)
    let trades = 0;
    while (trades === 0 && settled < accounts.length) {
      trades = Number((await watcher.query<{ n: string }>("SELECT count(*) AS n FROM sealed_index WHERE stream = 'fills'")).rows[0]!.n);
      await new Promise((r) => setTimeout(r, 20));
    }
    const inFlight = accounts.length - settled;
    const exit = await svc.stop('SIGTERM');
    await Promise.all(syncs);
    const counts: number[] = [];
    for (const a of accounts) {
      const bySymbol = new Map<string, number>();
      for (const f of await fillsOf(a)) bySymbol.set(f.symbol, (bySymbol.get(f.symbol) ?? 0) + 1);
      counts.push(...bySymbol.values());
    }
    const perMarket = FILLS / 3;
    const partialPages = counts.filter((n) => n % PAGE !== 0 && n !== perMarket).length;

    // Restart and re-sync: every fill exactly once means no cursor ran ahead of its rows.
    const again = await startServiceProcess(env);
    try {
      for (let i = 0; i < accounts.length; i += 10) {
        await Promise.all(accounts.slice(i, i + 10).map((a) => unary(again.client.processSyncJob.bind(again.client), { ...a, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 300_000 })));
      }
    } finally {
      await again.stop('SIGTERM');
    }
    const perAccount: { n: number; d: number }[] = [];
    for (const a of accounts) {
      const fills = await fillsOf(a);
      perAccount.push({ n: fills.length, d: new Set(fills.map((f) => f.exchangeTradeId)).size });
    }
    const inconsistent = accounts.length - perAccount.filter((r) => r.n === FILLS && r.d === FILLS).length;
    const total = perAccount.reduce((n, r) => n + r.n, 0);
    const boundMs = GRACE_MS + 5_000;
    return {
      accounts: accounts.length,
      syncsInFlightAtSigterm: inFlight,
      tradesAtSigterm: trades,
      partialPages,
      inconsistentCursors: inconsistent,
      exitCode: exit.code,
      exitMs: exit.afterMs,
      boundMs,
      exitedWithinBound: exit.afterMs <= boundMs,
      afterResync: { trades: total, expected: FILLS * accounts.length },
    };
  } finally {
    await watcher.end();
    await venue.fake.stop();
    await db.drop();
  }
}
