// The full flow with canary values (test/reliability/leak-canaries.test.ts, scripts/soak.ts): the
// real service process syncs a fake Binance seeded with a canary API key, secret and trade ids,
// then everything it emits is collected and scanned: every log line (debug level), /metrics,
// every gRPC reply and error, and whatever the gateway role can read. The figures also show that
// the canaries reached the venue and the enclave's sealed storage (opened with the service's key),
// so a scan finding nothing means something. The raw private tables are scanned too: the database
// must hold no canary trade id either (sealed storage, docs/sealed-storage.md).
import pg from 'pg';
import { z } from 'zod';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { SyncType, type SyncJobProgress } from '../../src/grpc/generated/enclave.js';
import { sql } from '../../src/storage/pool.js';
import { createTestDatabase } from './database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, CANARY_TRADE_ID_MARK, canaryHits, startCanaryVenue } from './canary-venue.js';
import { connectAccount, startServiceProcess, TEST_KEY_HEX, TEST_KEY_ID } from './service-process.js';
import { deriveEnclaveKeys } from '../../src/crypto/key-hierarchy.js';
import { createAccountSealer } from '../../src/crypto/sealed-rows.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createSealedStore } from '../../src/storage/sealed-store.js';
import { isServiceError, unary } from './grpc-client.js';

const DAY = 86_400_000;
export const CANARIES = [CANARY_API_KEY, CANARY_API_SECRET, CANARY_TRADE_ID_MARK] as const;

export interface LeakFigures {
  readonly fills: number;
  readonly fillsSynced: number;
  readonly returnsServed: number;
  readonly venueFillsServed: number;
  readonly tradeIdsStored: number;
  readonly tradeIdsCanary: number;
  readonly gatewayHourlyRows: number;
  readonly gatewayDenied: readonly string[];
  readonly rejectedKeyStatus: string;
  readonly unknownAccountStatus: string;
  readonly repliesScanned: number;
  readonly logLines: number;
  readonly logsNameAccount: boolean;
  readonly metricsNameAccount: boolean;
  readonly exitCode: number | null;
  /** Exact equity and flow figures of the account (read through the sealed store) that were checked, and how many appear in clear in the private amounts tables (must be 0). */
  readonly exactAmountsChecked: number;
  readonly exactAmountsInClear: number;
  /** Canary occurrences per surface (all must be 0). */
  readonly hits: { readonly logs: number; readonly metrics: number; readonly replies: number; readonly gatewayTables: number; readonly privateTables: number };
}

const total = (text: string): number => Object.values(canaryHits(text, CANARIES)).reduce((a, b) => a + b, 0);

export async function runLeakCanaries(options: { readonly fills: number }): Promise<LeakFigures> {
  const db = await createTestDatabase();
  const venue = await startCanaryVenue({ fills: options.fills });
  const account = { userUid: 'canary_user', exchange: 'binance' } as const;
  // A second account whose venue rejects the key: the failure path must not quote it either.
  const rejected = { userUid: 'canary_rejected', exchange: 'binance' } as const;
  let svc: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
  try {
    // At `full`, the level that publishes the most: the canaries must stay out even there.
    await connectAccount(db.pool, account, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET }, { disclosureLevel: 'full' });
    await connectAccount(db.pool, rejected, { apiKey: `${CANARY_API_KEY}x`, secret: CANARY_API_SECRET });
    // No client-side pacing against the local fake (it was most of the sync's time); the surfaces checked are the same.
    svc = await startServiceProcess({ DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, VENUE_RATE_LIMIT_MS: '0' });
    const emitted: string[] = [];
    const record = (value: unknown): void => { emitted.push(JSON.stringify(value)); };
    const errorOf = async (promise: Promise<unknown>): Promise<ServiceError | undefined> => {
      try {
        record(await promise);
        return undefined;
      } catch (error) {
        if (!isServiceError(error)) throw error;
        record({ code: error.code, details: error.details, message: error.message, metadata: error.metadata.getMap() });
        return error;
      }
    };
    const c = svc.client;
    const now = Date.now();
    const full = await unary(c.processSyncJob.bind(c), { ...account, type: SyncType.SYNC_TYPE_FULL }, { deadline: now + 300_000 });
    record(full);
    record(await new Promise<SyncJobProgress[]>((resolve, reject) => {
      const messages: SyncJobProgress[] = [];
      const stream = c.watchSyncJob({ ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }, new Metadata(), { deadline: Date.now() + 120_000 });
      stream.on('data', (m: SyncJobProgress) => messages.push(m));
      stream.on('error', reject);
      stream.on('end', () => resolve(messages));
    }));
    const range = { ...account, fromMs: now - 12 * DAY, toMs: now };
    const returns = await unary(c.calculateHistoricalReturns.bind(c), range);
    record(returns);
    record(await unary(c.getAggregatedMetrics.bind(c), account));
    record(await unary(c.getSnapshotTimeSeries.bind(c), range));
    record(await unary(c.healthCheck.bind(c), {}));
    record(await unary(svc.health.check.bind(svc.health), { service: '' }));

    // Errors: a rejected key, an unknown account, and canaries pasted where ids belong.
    const venueError = await errorOf(unary(c.processSyncJob.bind(c), { ...rejected, type: SyncType.SYNC_TYPE_FULL }, { deadline: Date.now() + 120_000 }));
    const unknown = await errorOf(unary(c.getAggregatedMetrics.bind(c), { userUid: 'nobody', exchange: 'binance' }));
    for (const canary of [CANARY_API_KEY, CANARY_API_SECRET, `${CANARY_TRADE_ID_MARK}000001`]) {
      await errorOf(unary(c.getAggregatedMetrics.bind(c), { userUid: `${canary}/x`, exchange: 'binance' }));
      await errorOf(unary(c.getAggregatedMetrics.bind(c), { userUid: canary, exchange: canary }));
      await errorOf(unary(c.calculateHistoricalReturns.bind(c), { userUid: canary, exchange: 'binance', fromMs: now, toMs: now - 1 }));
      await errorOf(unary(c.processSyncJob.bind(c), { userUid: canary, exchange: 'binance', type: SyncType.SYNC_TYPE_FULL }));
    }
    const metricsText = await svc.metricsText();

    // The stored fills, opened as the service opens them (same root secret, same derivation).
    const keys = await deriveEnclaveKeys({ currentId: TEST_KEY_ID, secrets: new Map([[TEST_KEY_ID, Buffer.from(TEST_KEY_HEX, 'hex')]]) });
    const sealed = createSealedStore(createAccountSealer({ currentId: TEST_KEY_ID, accountDataKey: (a, id) => keys.accountDataKey(a, id) }));
    const reader = createAccountStore(db.pool, { sealed });
    const tradeIds = (await reader.loadFills(account, 0)).map((f) => f.exchangeTradeId);
    // The exact amounts are sealed at rest (sql/016): none of the figures may be in those rows' text.
    const exactFigures = (await reader.loadHourlyReturns(account, 0, Date.now() + DAY))
      .flatMap((h) => [h.equityEnd, h.netFlow]).filter((v) => v !== 0).map(String).filter((v) => v.length >= 6);
    const amountsText = (await db.pool.anyFirst(sql.type(z.object({ row: z.string() }))`
      SELECT t::text AS row FROM hourly_amounts t UNION ALL SELECT t::text FROM snapshot_amounts t`)).join('\n');
    const exactAmountsInClear = exactFigures.filter((v) => amountsText.includes(v)).length;
    // Every private table as the database administrator sees it: each row as text.
    let privateText = '';
    for (const table of ['trades', 'cash_flows', 'sync_cursors', 'engine_states', 'sealed_pages', 'sealed_index', 'sealed_records', 'exchange_connections', 'hourly_amounts', 'snapshot_amounts']) {
      const rows = await db.pool.anyFirst(sql.type(z.object({ row: z.string() }))`SELECT t::text AS row FROM ${sql.identifier([table])} AS t`);
      privateText += rows.join('\n');
    }
    // What the gateway role can read: the two aggregate tables, and nothing else.
    const gateway = new pg.Client({ connectionString: db.urlAs('gateway_user') });
    await gateway.connect();
    let gatewayText: string;
    let gatewayHourlyRows: number;
    const gatewayDenied: string[] = [];
    try {
      const snapshots = await gateway.query('SELECT * FROM balance_snapshots');
      const hourly = await gateway.query('SELECT * FROM hourly_returns');
      gatewayHourlyRows = hourly.rows.length;
      gatewayText = JSON.stringify([snapshots.rows, hourly.rows]);
      for (const table of ['trades', 'cash_flows', 'exchange_connections', 'sync_cursors', 'engine_states', 'price_candles', 'sealed_pages', 'sealed_index', 'sealed_records']) {
        const denied = await gateway.query(`SELECT * FROM ${table} LIMIT 1`).then(() => false, (e: unknown) => e instanceof Error && /permission denied/u.test(e.message));
        if (denied) gatewayDenied.push(table);
      }
    } finally {
      await gateway.end();
    }
    const exit = await svc.stop('SIGTERM');
    const logText = svc.lines.join('\n');
    const name = (e: ServiceError | undefined): string => (e === undefined ? 'OK' : status[e.code] ?? String(e.code));
    return {
      fills: options.fills,
      fillsSynced: full.fillsSynced,
      returnsServed: returns.returns.length,
      venueFillsServed: venue.fake.counter('fillsServed'),
      tradeIdsStored: tradeIds.length,
      tradeIdsCanary: tradeIds.filter((id) => id.startsWith(CANARY_TRADE_ID_MARK)).length,
      gatewayHourlyRows,
      gatewayDenied,
      rejectedKeyStatus: name(venueError),
      unknownAccountStatus: name(unknown),
      repliesScanned: emitted.length,
      logLines: svc.lines.length,
      logsNameAccount: logText.includes('canary_user'),
      // Under its keyed pseudonym (issue 14): the user id itself must not be there.
      metricsNameAccount: /account="acct_[0-9a-f]{32}"/u.test(metricsText) && !metricsText.includes('canary_user'),
      exitCode: exit.code,
      exactAmountsChecked: exactFigures.length,
      exactAmountsInClear,
      hits: { logs: total(logText), metrics: total(metricsText), replies: total(emitted.join('\n')), gatewayTables: total(gatewayText), privateTables: total(privateText) },
    };
  } finally {
    await svc?.stop('SIGKILL');
    await venue.fake.stop();
    await db.drop();
  }
}
